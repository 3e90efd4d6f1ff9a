/**
 * UDP header (RFC 768).
 *
 * Invariants (hot path): reads only bytes in [pos, end); allocates nothing; never throws.
 * `pos` is out.transportOffset and out.ipPayloadLength bounds the datagram on the wire. On success
 * sets ports and the payload bounds and returns true.
 */
import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { type DecodedPacket, Layer } from './packet.ts';
import { stopAt, u16 } from './wire.ts';

/** The captured bytes end inside the 8-byte UDP header. */
const kTruncated = skipReason('udp.truncated');
/** UDP length field 1..7, or an IP payload too short for a UDP header. */
const kBadLength = skipReason('udp.bad_length');

const kHeaderLength = 8;
const kLengthOffset = 4;

export function decodeUdp(
  data: Uint8Array,
  pos: number,
  end: number,
  out: DecodedPacket,
  skips: SkipCounters,
): boolean {
  const ipPayloadLength = out.ipPayloadLength;
  if (ipPayloadLength < kHeaderLength) {
    stopAt(out, skips, Layer.Transport, kBadLength);
    return false;
  }
  if (end - pos < kHeaderLength) {
    stopAt(out, skips, Layer.Transport, kTruncated);
    return false;
  }
  const lengthField = u16(data, pos + kLengthOffset);
  if (lengthField !== 0 && lengthField < kHeaderLength) {
    stopAt(out, skips, Layer.Transport, kBadLength);
    return false;
  }
  // 0 is the jumbogram length (RFC 2675); a length beyond the IP payload is cut to it.
  const datagramLength = lengthField === 0 || lengthField > ipPayloadLength ? ipPayloadLength : lengthField;
  out.srcPort = u16(data, pos);
  out.dstPort = u16(data, pos + 2);
  out.payloadOffset = pos + kHeaderLength;
  out.payloadLength = Math.min(end, pos + datagramLength) - out.payloadOffset;
  out.payloadWireLength = datagramLength - kHeaderLength;
  return true;
}
