/** TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): every comparison goes through seqDiff. */

/** Signed distance from b to a in [-2^31, 2^31): positive when a is after b, wrapping correctly. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** a + n modulo 2^32, as an unsigned 32-bit number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
