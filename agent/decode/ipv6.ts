/**
 * IPv6 fixed header (RFC 8200) and extension-header chain.
 *
 * Invariants (hot path): reads only bytes in [pos, end); allocates nothing; never throws.
 * Returns the transport header's offset with the IP fields of `out` set (ipVersion 6,
 * addresses, ipProtocol = the header after the extension chain, transportOffset,
 * ipPayloadLength), or kStopped after recording a stop. The chain walk is bounded both by the
 * packet and by kMaxExtensionHeaders (a hostile chain of tiny headers cannot spin).
 */
import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { type DecodedPacket, Layer } from './packet.ts';
import { stopAt, u16 } from './wire.ts';

const kTruncated = skipReason('ipv6.truncated');
const kBadVersion = skipReason('ipv6.bad_version');
/** An extension header runs past the end the payload length gives. */
const kBadExtensionLength = skipReason('ipv6.bad_extension_length');
const kTooManyExtensionHeaders = skipReason('ipv6.too_many_extension_headers');
/** Non-atomic fragment: only a reassembler could find the transport header. */
const kFragment = skipReason('ipv6.fragment');
/** Next header 59: nothing follows the IPv6 headers. */
const kNoNextHeader = skipReason('ipv6.no_next_header');

const kHeaderLength = 40;
const kVersion = 6;
const kPayloadLengthOffset = 4;
const kNextHeaderOffset = 6;
const kSrcOffset = 8;
const kDstOffset = 24;

const kHopByHop = 0;
const kRouting = 43;
const kFragmentHeader = 44;
const kAuthentication = 51;
const kNoNext = 59;
const kDestinationOptions = 60;

/** Every extension header is at least 8 bytes (all of them are multiples of 8 octets, AH of 4). */
const kMinExtensionLength = 8;
const kFragmentHeaderLength = 8;
/** Fragment offset (upper 13 bits) and the M flag (bit 0) of the fragment header's second word. */
const kFragmentOffsetAndMore = 0xfff9;
/** More than any legitimate packet carries (RFC 8200 order has at most 8, with one repeat). */
const kMaxExtensionHeaders = 16;

export function decodeIpv6(
  data: Uint8Array,
  pos: number,
  end: number,
  out: DecodedPacket,
  skips: SkipCounters,
): number {
  if (end - pos < 1) return stopAt(out, skips, Layer.Network, kTruncated);
  if (data[pos]! >> 4 !== kVersion) return stopAt(out, skips, Layer.Network, kBadVersion);
  if (end - pos < kHeaderLength) return stopAt(out, skips, Layer.Network, kTruncated);
  const payloadLength = u16(data, pos + kPayloadLengthOffset);
  // Payload length 0: a jumbogram or Linux BIG TCP; only the capture bounds the packet.
  const wireEnd = payloadLength === 0 ? end : pos + kHeaderLength + payloadLength;

  out.ipVersion = kVersion;
  out.ipOffset = pos;
  out.src0 = u16(data, pos + kSrcOffset) * 0x10000 + u16(data, pos + kSrcOffset + 2);
  out.src1 = u16(data, pos + kSrcOffset + 4) * 0x10000 + u16(data, pos + kSrcOffset + 6);
  out.src2 = u16(data, pos + kSrcOffset + 8) * 0x10000 + u16(data, pos + kSrcOffset + 10);
  out.src3 = u16(data, pos + kSrcOffset + 12) * 0x10000 + u16(data, pos + kSrcOffset + 14);
  out.dst0 = u16(data, pos + kDstOffset) * 0x10000 + u16(data, pos + kDstOffset + 2);
  out.dst1 = u16(data, pos + kDstOffset + 4) * 0x10000 + u16(data, pos + kDstOffset + 6);
  out.dst2 = u16(data, pos + kDstOffset + 8) * 0x10000 + u16(data, pos + kDstOffset + 10);
  out.dst3 = u16(data, pos + kDstOffset + 12) * 0x10000 + u16(data, pos + kDstOffset + 14);

  let next = data[pos + kNextHeaderOffset]!;
  let cursor = pos + kHeaderLength;
  for (let count = 0; isExtensionHeader(next); count++) {
    if (count === kMaxExtensionHeaders) return stopAt(out, skips, Layer.Network, kTooManyExtensionHeaders);
    // Captured bytes first: with payload length 0 the wire end is only the capture's end.
    if (end - cursor < kMinExtensionLength) return stopAt(out, skips, Layer.Network, kTruncated);
    if (wireEnd - cursor < kMinExtensionLength) return stopAt(out, skips, Layer.Network, kBadExtensionLength);
    const lengthField = data[cursor + 1]!;
    const length =
      next === kFragmentHeader
        ? kFragmentHeaderLength
        : next === kAuthentication
          ? (lengthField + 2) * 4
          : (lengthField + 1) * 8;
    if (end - cursor < length) return stopAt(out, skips, Layer.Network, kTruncated);
    if (wireEnd - cursor < length) return stopAt(out, skips, Layer.Network, kBadExtensionLength);
    if (next === kFragmentHeader) {
      out.isFragment = true;
      // Only an atomic fragment (offset 0, no more fragments) holds a whole transport header and payload.
      if ((u16(data, cursor + 2) & kFragmentOffsetAndMore) !== 0) {
        out.ipProtocol = data[cursor]!;
        out.transportOffset = cursor + length;
        out.ipPayloadLength = wireEnd - out.transportOffset;
        return stopAt(out, skips, Layer.Network, kFragment);
      }
    }
    next = data[cursor]!;
    cursor += length;
  }

  out.ipProtocol = next;
  out.transportOffset = cursor;
  out.ipPayloadLength = wireEnd - cursor;
  if (next === kNoNext) return stopAt(out, skips, Layer.Transport, kNoNextHeader);
  return cursor;
}

function isExtensionHeader(next: number): boolean {
  return (
    next === kHopByHop ||
    next === kRouting ||
    next === kFragmentHeader ||
    next === kDestinationOptions ||
    next === kAuthentication
  );
}
