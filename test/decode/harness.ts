/** Runs decodePacket() on one buffer and checks the contract every call must keep. */
import assert from 'node:assert/strict';
import { decodePacket } from '../../agent/decode/decoder.ts';
import { DecodedPacket, Layer } from '../../agent/decode/packet.ts';
import { SkipCounters, skipReasonName } from '../../agent/shared/skips.ts';

export interface Decoded {
  ok: boolean;
  out: DecodedPacket;
  /** Name of the stop reason, '' when decoding completed. */
  reason: string;
}

/**
 * Decodes `bytes` (or the record at [offset, offset + length) in it) and asserts the contract:
 * the return value matches stopLayer, a stop is counted exactly once, and every offset the
 * decoder reports lies inside the record.
 */
export function decode(
  bytes: Uint8Array,
  linkType: number,
  offset = 0,
  length = bytes.length - offset,
  out = new DecodedPacket(),
): Decoded {
  const skips = new SkipCounters();
  const ok = decodePacket(bytes, offset, length, linkType, out, skips);
  assert.equal(ok, out.stopLayer === Layer.Complete);
  assert.equal(skips.total(), ok ? 0 : 1);
  if (!ok) assert.equal(skips.get(out.stopReason), 1);
  assertWithinRecord(out, offset, offset + length);
  return { ok, out, reason: ok ? '' : skipReasonName(out.stopReason) };
}

/** Every offset the decoder reports lies in [start, end]. */
export function assertWithinRecord(out: DecodedPacket, start: number, end: number): void {
  if (out.ipVersion !== 0) {
    assert.ok(out.ipOffset >= start && out.ipOffset <= end, `ipOffset ${out.ipOffset}`);
  }
  if (out.transportOffset !== 0) {
    assert.ok(
      out.transportOffset >= start && out.transportOffset <= end,
      `transportOffset ${out.transportOffset}`,
    );
  }
  if (out.stopLayer === Layer.Complete) {
    assert.ok(out.payloadOffset >= start, `payloadOffset ${out.payloadOffset}`);
    assert.ok(
      out.payloadLength >= 0 && out.payloadOffset + out.payloadLength <= end,
      `payload ${out.payloadLength}`,
    );
    assert.ok(out.payloadWireLength >= out.payloadLength, `payloadWireLength ${out.payloadWireLength}`);
  } else {
    assert.equal(out.payloadLength, 0);
  }
}
