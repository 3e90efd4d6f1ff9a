/**
 * IPv4 header (RFC 791).
 *
 * Invariants (hot path): reads only bytes in [pos, end); allocates nothing; never throws.
 * Returns the transport header's offset with the IP fields of `out` set (ipVersion 4,
 * addresses, ipProtocol, transportOffset, ipPayloadLength), or kStopped after recording a
 * Network-layer stop. Fragments are stopped: a later fragment's first bytes are payload, not a
 * transport header, and a first fragment's transport payload is incomplete.
 */
import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { type DecodedPacket, Layer } from './packet.ts';
import { stopAt, u16 } from './wire.ts';

const kTruncated = skipReason('ipv4.truncated');
const kBadVersion = skipReason('ipv4.bad_version');
/** IHL below 5 words. */
const kBadHeaderLength = skipReason('ipv4.bad_header_length');
/** Total length shorter than the header. */
const kBadTotalLength = skipReason('ipv4.bad_total_length');
const kFragment = skipReason('ipv4.fragment');

const kMinHeaderLength = 20;
const kVersion = 4;
const kTotalLengthOffset = 2;
const kFragmentOffset = 6;
/** More-fragments flag and the 13-bit fragment offset. */
const kFragmentMask = 0x3fff;
const kProtocolOffset = 9;
const kSrcOffset = 12;
const kDstOffset = 16;

export function decodeIpv4(
  data: Uint8Array,
  pos: number,
  end: number,
  out: DecodedPacket,
  skips: SkipCounters,
): number {
  const captured = end - pos;
  if (captured < 1) return stopAt(out, skips, Layer.Network, kTruncated);
  const versionIhl = data[pos]!;
  if (versionIhl >> 4 !== kVersion) return stopAt(out, skips, Layer.Network, kBadVersion);
  if (captured < kMinHeaderLength) return stopAt(out, skips, Layer.Network, kTruncated);
  const headerLength = (versionIhl & 0x0f) * 4;
  if (headerLength < kMinHeaderLength) return stopAt(out, skips, Layer.Network, kBadHeaderLength);
  const lengthField = u16(data, pos + kTotalLengthOffset);
  if (lengthField !== 0 && lengthField < headerLength) {
    return stopAt(out, skips, Layer.Network, kBadTotalLength);
  }
  // Total length 0 comes from TCP segmentation offload (the NIC fills it in after capture).
  const totalLength = lengthField === 0 ? captured : lengthField;
  if (captured < headerLength) return stopAt(out, skips, Layer.Network, kTruncated);

  out.ipVersion = kVersion;
  out.ipOffset = pos;
  out.src0 = u16(data, pos + kSrcOffset) * 0x10000 + u16(data, pos + kSrcOffset + 2);
  out.dst0 = u16(data, pos + kDstOffset) * 0x10000 + u16(data, pos + kDstOffset + 2);
  out.ipProtocol = data[pos + kProtocolOffset]!;
  out.transportOffset = pos + headerLength;
  // Bytes after totalLength (Ethernet padding, FCS) are not part of the packet.
  out.ipPayloadLength = totalLength - headerLength;
  if ((u16(data, pos + kFragmentOffset) & kFragmentMask) !== 0) {
    out.isFragment = true;
    return stopAt(out, skips, Layer.Network, kFragment);
  }
  return pos + headerLength;
}
