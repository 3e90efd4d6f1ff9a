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
 */

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

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function keyBegin(): void {
  laneA = 0x9747b28c;
  laneB = 0x2545f491;
  words = 0;
}

/** Adds one unsigned 32-bit word (ports, ids and protocol numbers are words too). */
export function keyWord(word: number): void {
  laneA = mix(laneA, word | 0);
  laneB = mix(laneB, (word ^ 0x5bd1e995) | 0);
  words++;
}

/** The key: a non-negative integer below 2^53. */
export function keyEnd(): number {
  const a = avalanche(laneA ^ words);
  const b = avalanche(laneB ^ Math.imul(words, 0x27d4eb2d));
  // 21 bits of lane b above the 32 bits of lane a: exact in a double.
  return (b & 0x1fffff) * 0x1_0000_0000 + a;
}
