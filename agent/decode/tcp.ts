/**
 * TCP header (RFC 9293).
 *
 * Invariants (hot path): reads only bytes in [pos, end); allocates nothing; never throws.
 * `pos` is out.transportOffset and out.ipPayloadLength bounds the segment on the wire. On success
 * sets ports, flags, seq/ack and the payload bounds (options skipped) and returns true.
 */
import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { type DecodedPacket, Layer } from './packet.ts';
import { stopAt, u16 } from './wire.ts';

/** The captured bytes end inside the TCP header (options included). */
const kTruncated = skipReason('tcp.truncated');
/** Data offset below 5 words, or a header longer than the segment the IP lengths give. */
const kBadHeaderLength = skipReason('tcp.bad_header_length');

const kMinHeaderLength = 20;
const kSeqOffset = 4;
const kAckOffset = 8;
const kDataOffsetOffset = 12;
const kFlagsOffset = 13;

export function decodeTcp(
  data: Uint8Array,
  pos: number,
  end: number,
  out: DecodedPacket,
  skips: SkipCounters,
): boolean {
  const segmentLength = out.ipPayloadLength;
  // Captured end of the segment: excludes link padding after the IP packet.
  const capturedEnd = Math.min(end, pos + segmentLength);
  if (capturedEnd - pos < kMinHeaderLength) {
    stopAt(out, skips, Layer.Transport, segmentLength < kMinHeaderLength ? kBadHeaderLength : kTruncated);
    return false;
  }
  const headerLength = (data[pos + kDataOffsetOffset]! >> 4) * 4;
  if (headerLength < kMinHeaderLength || headerLength > segmentLength) {
    stopAt(out, skips, Layer.Transport, kBadHeaderLength);
    return false;
  }
  if (capturedEnd - pos < headerLength) {
    stopAt(out, skips, Layer.Transport, kTruncated);
    return false;
  }
  out.srcPort = u16(data, pos);
  out.dstPort = u16(data, pos + 2);
  out.tcpSeq = u16(data, pos + kSeqOffset) * 0x10000 + u16(data, pos + kSeqOffset + 2);
  out.tcpAck = u16(data, pos + kAckOffset) * 0x10000 + u16(data, pos + kAckOffset + 2);
  out.tcpFlags = data[pos + kFlagsOffset]!;
  out.payloadOffset = pos + headerLength;
  out.payloadLength = capturedEnd - out.payloadOffset;
  out.payloadWireLength = segmentLength - headerLength;
  return true;
}
