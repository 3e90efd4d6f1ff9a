/**
 * Helpers shared by the layer decoders. Hot path: no allocation, no bounds checks of their own
 * (every caller has checked that the bytes it reads lie inside the packet).
 *
 * There is deliberately no u32(): 32-bit fields are assembled at the store site as
 * `u16(hi) * 0x10000 + u16(lo)`. A helper returning a uint32 above 2^30 (not a V8 small integer)
 * allocates a HeapNumber for the result whenever V8 declines to inline the call, which it does
 * once the decoder's inlining budget runs out.
 */
import type { SkipCounters } from '../shared/skips.ts';
import type { DecodedPacket, Layer } from './packet.ts';

/** Returned by layer decoders in place of the next header's offset. */
export const kStopped = -1;

/** Big-endian unsigned 16-bit read at `i` (caller guarantees i + 2 <= end). */
export function u16(data: Uint8Array, i: number): number {
  return (data[i]! << 8) | data[i + 1]!;
}

/** Records where and why decoding stopped, counts the reason and returns kStopped. */
export function stopAt(out: DecodedPacket, skips: SkipCounters, layer: Layer, reason: number): number {
  out.stopLayer = layer;
  out.stopReason = reason;
  skips.add(reason);
  return kStopped;
}
