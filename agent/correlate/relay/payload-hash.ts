/**
 * 64-bit payload fingerprints for the relay matcher: two independent 32-bit lanes of
 * MurmurHash3-style mixing over the payload bytes (lane A with murmur3_x86_32's constants,
 * lane B with the second lane's constants of murmur3_x86_128), computed in one pass.
 *
 * Allocation-free: the bytes are read in place (no views, no DataView), the result is left in
 * the reused PayloadHash's fields. Not cryptographic: it tells relayed copies apart from other
 * traffic, not from an attacker's crafted collisions.
 */

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** murmur3's finaliser: every input bit affects every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class PayloadHash {
  /** Lanes of the last computed hash, unsigned 32-bit. */
  laneA = 0;
  laneB = 0;
  /** Length of the last hashed payload. */
  length = 0;

  /** Hashes data[offset, offset + length); the caller guarantees the range is inside data. */
  compute(data: Uint8Array, offset: number, length: number): void {
    let a = 0x9747b28c;
    let b = 0x2545f491;
    const blocksEnd = offset + (length & ~3);
    let i = offset;
    for (; i < blocksEnd; i += 4) {
      const k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
      a ^= Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
      a = (Math.imul(rotl(a, 13), 5) + 0xe6546b64) | 0;
      b ^= Math.imul(rotl(Math.imul(k, 0xab0e9789), 17), 0x38b34ae5);
      b = (Math.imul(rotl(b, 15), 5) + 0x0bcaa747) | 0;
    }
    // 1..3 trailing bytes, zero-padded into one last block.
    const rest = length & 3;
    if (rest !== 0) {
      let tail = data[i]!;
      if (rest > 1) tail |= data[i + 1]! << 8;
      if (rest > 2) tail |= data[i + 2]! << 16;
      a ^= Math.imul(rotl(Math.imul(tail, 0xcc9e2d51), 15), 0x1b873593);
      b ^= Math.imul(rotl(Math.imul(tail, 0xab0e9789), 17), 0x38b34ae5);
    }
    this.length = length;
    this.laneA = fmix(a ^ length);
    this.laneB = fmix(b ^ length);
  }
}
