/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) echo request and reply: type, code, identifier,
 * sequence number. Other ICMP messages (unreachable, time exceeded, neighbour discovery...)
 * stop here as before, under ip.unsupported_protocol.
 *
 * Invariants (hot path): reads only bytes in [pos, end); allocates nothing; never throws.
 * `pos` is out.transportOffset and out.ipPayloadLength bounds the message on the wire. On an
 * echo sets the icmp* fields and the payload bounds (the echo data) and returns true.
 */
import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { type DecodedPacket, IpProtocol, Layer } from './packet.ts';
import { stopAt, u16 } from './wire.ts';

const kUnsupportedProtocol = skipReason('ip.unsupported_protocol');
/** The captured bytes (or the IP payload) end inside the 8-byte echo header. */
const kTruncated = skipReason('icmp.truncated');

const kEchoHeaderLength = 8;
export const IcmpType = { EchoReply: 0, EchoRequest: 8, V6EchoRequest: 128, V6EchoReply: 129 } as const;

export function decodeIcmp(
  data: Uint8Array,
  pos: number,
  end: number,
  out: DecodedPacket,
  skips: SkipCounters,
): boolean {
  if (end - pos < 1) {
    stopAt(out, skips, Layer.Transport, kTruncated);
    return false;
  }
  const type = data[pos]!;
  const echo =
    out.ipProtocol === IpProtocol.Icmp
      ? type === IcmpType.EchoRequest || type === IcmpType.EchoReply
      : type === IcmpType.V6EchoRequest || type === IcmpType.V6EchoReply;
  if (!echo) {
    stopAt(out, skips, Layer.Transport, kUnsupportedProtocol);
    return false;
  }
  if (end - pos < kEchoHeaderLength || out.ipPayloadLength < kEchoHeaderLength) {
    stopAt(out, skips, Layer.Transport, kTruncated);
    return false;
  }
  out.icmpType = type;
  out.icmpCode = data[pos + 1]!;
  out.icmpId = u16(data, pos + 4);
  out.icmpSeq = u16(data, pos + 6);
  out.payloadOffset = pos + kEchoHeaderLength;
  out.payloadLength = Math.min(end, pos + out.ipPayloadLength) - out.payloadOffset;
  out.payloadWireLength = out.ipPayloadLength - kEchoHeaderLength;
  return true;
}
