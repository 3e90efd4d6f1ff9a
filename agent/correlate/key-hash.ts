/**
 * 53-bit numeric keys for pending-request tables, built word by word with no strings and
 * no allocation: `keyBegin(); keyWord(a); keyWord(b); const key = keyEnd();`.
 *
 * Two independent 32-bit lanes (murmur3-style mixing with Math.imul) are folded into one
 * safe integer. The builder state is module-level: each thread (isolate) has its own, and a
 * key is always built start to end without interleaving.
 *
 * Collisions are possible (~1e-4 likely among a million live keys); tables that use these
 * keys keep the full key in the entry and treat a mismatch as a different request.
 *
 * key11() and key5() build the same key from eleven or five words in locals: the per-packet TCP
 * connection and DNS keys (twice as fast as the module-level builder, whose state V8 loads and
 * stores at every word). IPv4 keys use key5(): the three zero words of each address left out, a
 * connection key mixes 5 words instead of 11 (key11 was ~5 % of a one-thread run's loop).
 */

const kSeedA = 0x9747b28c;
const kSeedB = 0x2545f491;
/** Lane b sees every word xor this, so the lanes differ. */
const kLaneBWord = 0x5bd1e995;

let laneA = 0;
let laneB = 0;
let words = 0;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser, as int32: a small integer even where V8 does not inline the call. */
function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Where key11() leaves its key: read it right after the call. A key is a double, and V8 boxes a
 * double returned by a function it does not inline (key11 is too big to inline, and so is the
 * fold that ends it) in a new heap number: that was one per TCP packet and per DNS message. The
 * typed array holds it unboxed.
 */
export const key11Out = new Float64Array(1);

export function keyBegin(): void {
  laneA = kSeedA;
  laneB = kSeedB;
  words = 0;
}

/**
 * Adds one 32-bit word (ports, ids and protocol numbers are words too). Only its low 32 bits
 * count: pass words as int32 (`w | 0`, `(hi << 16) | lo`), since an unsigned word of 2^31 or
 * more is no small integer and V8 boxes it in a heap number at every call it does not inline.
 */
export function keyWord(word: number): void {
  laneA = mix(laneA, word | 0);
  laneB = mix(laneB, (word ^ kLaneBWord) | 0);
  words++;
}

/** The key: a non-negative integer below 2^53. */
export function keyEnd(): number {
  finish(laneA, laneB, words);
  return key11Out[0]!;
}

/** Folds the two lanes of `count` words into the key, left in key11Out[0]. */
function finish(a: number, b: number, count: number): void {
  const low = avalanche(a ^ count) >>> 0;
  const high = avalanche(b ^ Math.imul(count, 0x27d4eb2d));
  // 21 bits of lane b above the 32 bits of lane a: exact in a double.
  key11Out[0] = (high & 0x1fffff) * 0x1_0000_0000 + low;
}

/** The key keyBegin(), keyWord(w0) ... keyWord(w4), keyEnd() gives, built in locals, into key11Out[0]. */
export function key5(w0: number, w1: number, w2: number, w3: number, w4: number): void {
  let a = mix(kSeedA, w0 | 0);
  let b = mix(kSeedB, (w0 ^ kLaneBWord) | 0);
  a = mix(a, w1 | 0);
  b = mix(b, (w1 ^ kLaneBWord) | 0);
  a = mix(a, w2 | 0);
  b = mix(b, (w2 ^ kLaneBWord) | 0);
  a = mix(a, w3 | 0);
  b = mix(b, (w3 ^ kLaneBWord) | 0);
  a = mix(a, w4 | 0);
  b = mix(b, (w4 ^ kLaneBWord) | 0);
  finish(a, b, 5);
}

/** The key keyBegin(), keyWord(w0) ... keyWord(w10), keyEnd() gives, built in locals, into key11Out[0]. */
export function key11(
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  w4: number,
  w5: number,
  w6: number,
  w7: number,
  w8: number,
  w9: number,
  w10: number,
): void {
  let a = mix(kSeedA, w0 | 0);
  let b = mix(kSeedB, (w0 ^ kLaneBWord) | 0);
  a = mix(a, w1 | 0);
  b = mix(b, (w1 ^ kLaneBWord) | 0);
  a = mix(a, w2 | 0);
  b = mix(b, (w2 ^ kLaneBWord) | 0);
  a = mix(a, w3 | 0);
  b = mix(b, (w3 ^ kLaneBWord) | 0);
  a = mix(a, w4 | 0);
  b = mix(b, (w4 ^ kLaneBWord) | 0);
  a = mix(a, w5 | 0);
  b = mix(b, (w5 ^ kLaneBWord) | 0);
  a = mix(a, w6 | 0);
  b = mix(b, (w6 ^ kLaneBWord) | 0);
  a = mix(a, w7 | 0);
  b = mix(b, (w7 ^ kLaneBWord) | 0);
  a = mix(a, w8 | 0);
  b = mix(b, (w8 ^ kLaneBWord) | 0);
  a = mix(a, w9 | 0);
  b = mix(b, (w9 ^ kLaneBWord) | 0);
  a = mix(a, w10 | 0);
  b = mix(b, (w10 ^ kLaneBWord) | 0);
  finish(a, b, 11);
}
