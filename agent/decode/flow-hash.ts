/**
 * The correlator's flow shard straight from a record's raw bytes, without decodePacket():
 * the worker pipeline uses it to skip the records of other shards (they only advance the
 * capture clock there), so a worker decodes little more than its own share.
 *
 * Contract (test/decode/flow-hash.test.ts checks it on the corpus and on random bytes):
 * `rawFlowShard()` returns either kUnclassified, or the shard that `flowShard()` gives the
 * DecodedPacket of the same record, and then decodePacket() of that record is certain to
 * reach Layer.Complete (a TCP or UDP header), so that it stops nowhere and counts no skip.
 * Every condition below mirrors one of the decoder's checks; anything the decoder might
 * stop at, and the rare encapsulations (802.2 LLC/SNAP), is kUnclassified, which the caller
 * decodes as before. IP fragments are kUnclassified too: the decoder stops at them.
 *
 * Invariants (hot path): reads only data[offset, offset + length) (clamped to data.length);
 * allocates nothing; never throws.
 */
import { EtherType, IpProtocol, LinkType, LinkTypeMask } from './packet.ts';

/** rawFlowShard(): the record needs a full decode to know its shard (or is not TCP/UDP). */
export const kUnclassified = -1;

const kEthernetHeaderLength = 14;
const kVlanTagLength = 4;
const kMinEtherType = 0x0600;
const kPppoeSessionLength = 8;
const kPppIpv4 = 0x0021;
const kPppIpv6 = 0x0057;
const kSllHeaderLength = 16;
const kSll2HeaderLength = 20;
const kArphrdNetlink = 824;
const kNullHeaderLength = 4;

const kIpv6HeaderLength = 40;
const kFragmentHeader = 44;
const kAuthentication = 51;
const kMaxExtensionHeaders = 16;

function u16(data: Uint8Array, i: number): number {
  return (data[i]! << 8) | data[i + 1]!;
}

/**
 * The flow shard (0..shards-1) of the TCP/UDP packet in data[offset, offset + length)
 * captured with LINKTYPE `linkType`, or kUnclassified.
 */
export function rawFlowShard(
  data: Uint8Array,
  offset: number,
  length: number,
  linkType: number,
  shards: number,
): number {
  if (!(offset >= 0 && length >= 0)) return kUnclassified;
  const end = Math.min(offset + length, data.length);
  let pos = offset;
  let type = 0;
  switch (linkType & LinkTypeMask) {
    case LinkType.Ethernet:
      if (end - pos < kEthernetHeaderLength) return kUnclassified;
      type = u16(data, pos + 12);
      pos += kEthernetHeaderLength;
      break;
    case LinkType.LinuxSll:
      if (end - pos < kSllHeaderLength) return kUnclassified;
      if (u16(data, pos + 2) === kArphrdNetlink) return kUnclassified;
      type = u16(data, pos + 14);
      pos += kSllHeaderLength;
      break;
    case LinkType.LinuxSll2:
      if (end - pos < kSll2HeaderLength) return kUnclassified;
      if (u16(data, pos + 8) === kArphrdNetlink) return kUnclassified;
      type = u16(data, pos);
      pos += kSll2HeaderLength;
      break;
    case LinkType.Null:
    case LinkType.Loop: {
      if (end - pos < kNullHeaderLength) return kUnclassified;
      // Only the common spellings (family 2 / 24 / 28 / 30 in either byte order); the rest decodes.
      const high = u16(data, pos);
      const low = u16(data, pos + 2);
      const anyByteOrder = (linkType & LinkTypeMask) === LinkType.Null;
      const family = high === 0 ? low : anyByteOrder && low === 0 ? ((high & 0xff) << 8) | (high >>> 8) : -1;
      if (family === 2) type = EtherType.Ipv4;
      else if (family === 24 || family === 28 || family === 30) type = EtherType.Ipv6;
      else return kUnclassified;
      pos += kNullHeaderLength;
      break;
    }
    case LinkType.Raw:
    case LinkType.RawDlt12:
    case LinkType.RawDlt14:
      if (end - pos < 1) return kUnclassified;
      type = data[pos]! >> 4 === 4 ? EtherType.Ipv4 : EtherType.Ipv6;
      break;
    case LinkType.Ipv4:
      type = EtherType.Ipv4;
      break;
    case LinkType.Ipv6:
      type = EtherType.Ipv6;
      break;
    default:
      return kUnclassified;
  }
  // VLAN tags and PPPoE sessions (LLC/SNAP and anything else: decode).
  for (;;) {
    if (type === EtherType.Vlan || type === EtherType.QinQ || type === EtherType.QinQLegacy) {
      if (end - pos < kVlanTagLength) return kUnclassified;
      type = u16(data, pos + 2);
      pos += kVlanTagLength;
    } else if (type === EtherType.PppoeSession) {
      if (end - pos < kPppoeSessionLength) return kUnclassified;
      const protocol = u16(data, pos + 6);
      if (protocol === kPppIpv4) type = EtherType.Ipv4;
      else if (protocol === kPppIpv6) type = EtherType.Ipv6;
      else return kUnclassified;
      pos += kPppoeSessionLength;
    } else {
      break;
    }
  }
  if (type < kMinEtherType) return kUnclassified;

  // XORs of the two endpoints' address words (int32: the bits of the decoder's unsigned words),
  // computed in place from 16-bit reads for the reason given at the hash below.
  let x0: number;
  let x1 = 0;
  let x2 = 0;
  let x3 = 0;
  let protocol: number;
  /** Transport bytes on the wire (from the IP length fields). */
  let ipPayloadLength: number;
  if (type === EtherType.Ipv4) {
    const captured = end - pos;
    if (captured < 20) return kUnclassified;
    const versionIhl = data[pos]!;
    if (versionIhl >> 4 !== 4) return kUnclassified;
    const headerLength = (versionIhl & 0x0f) * 4;
    if (headerLength < 20 || captured < headerLength) return kUnclassified;
    const lengthField = u16(data, pos + 2);
    if (lengthField !== 0 && lengthField < headerLength) return kUnclassified;
    if ((u16(data, pos + 6) & 0x3fff) !== 0) return kUnclassified; // fragment
    ipPayloadLength = (lengthField === 0 ? captured : lengthField) - headerLength;
    protocol = data[pos + 9]!;
    x0 = ((u16(data, pos + 12) ^ u16(data, pos + 16)) << 16) | (u16(data, pos + 14) ^ u16(data, pos + 18));
    pos += headerLength;
  } else if (type === EtherType.Ipv6) {
    if (end - pos < kIpv6HeaderLength) return kUnclassified;
    if (data[pos]! >> 4 !== 6) return kUnclassified;
    const payloadLength = u16(data, pos + 4);
    const wireEnd = payloadLength === 0 ? end : pos + kIpv6HeaderLength + payloadLength;
    x0 = ((u16(data, pos + 8) ^ u16(data, pos + 24)) << 16) | (u16(data, pos + 10) ^ u16(data, pos + 26));
    x1 = ((u16(data, pos + 12) ^ u16(data, pos + 28)) << 16) | (u16(data, pos + 14) ^ u16(data, pos + 30));
    x2 = ((u16(data, pos + 16) ^ u16(data, pos + 32)) << 16) | (u16(data, pos + 18) ^ u16(data, pos + 34));
    x3 = ((u16(data, pos + 20) ^ u16(data, pos + 36)) << 16) | (u16(data, pos + 22) ^ u16(data, pos + 38));
    protocol = data[pos + 6]!;
    let cursor = pos + kIpv6HeaderLength;
    for (let count = 0; protocol !== IpProtocol.Tcp && protocol !== IpProtocol.Udp; count++) {
      // Extension headers as decodeIpv6 walks them; anything else (ICMPv6, no next header...) decodes.
      if (
        protocol !== 0 &&
        protocol !== 43 &&
        protocol !== 60 &&
        protocol !== kFragmentHeader &&
        protocol !== kAuthentication
      )
        return kUnclassified;
      if (count === kMaxExtensionHeaders) return kUnclassified;
      if (end - cursor < 8 || wireEnd - cursor < 8) return kUnclassified;
      const extensionLength =
        protocol === kFragmentHeader
          ? 8
          : protocol === kAuthentication
            ? (data[cursor + 1]! + 2) * 4
            : (data[cursor + 1]! + 1) * 8;
      if (end - cursor < extensionLength || wireEnd - cursor < extensionLength) return kUnclassified;
      // Only an atomic fragment (offset 0, M clear) carries the transport header.
      if (protocol === kFragmentHeader && (u16(data, cursor + 2) & 0xfff9) !== 0) return kUnclassified;
      protocol = data[cursor]!;
      cursor += extensionLength;
    }
    ipPayloadLength = wireEnd - cursor;
    pos = cursor;
  } else {
    return kUnclassified;
  }

  if (protocol === IpProtocol.Tcp) {
    const capturedEnd = Math.min(end, pos + ipPayloadLength);
    if (capturedEnd - pos < 20) return kUnclassified;
    const headerLength = (data[pos + 12]! >> 4) * 4;
    if (headerLength < 20 || headerLength > ipPayloadLength || capturedEnd - pos < headerLength)
      return kUnclassified;
  } else if (protocol === IpProtocol.Udp) {
    if (ipPayloadLength < 8 || end - pos < 8) return kUnclassified;
    const lengthField = u16(data, pos + 4);
    if (lengthField !== 0 && lengthField < 8) return kUnclassified;
  } else {
    return kUnclassified;
  }
  // flowShard()'s hash (agent/correlate/shard.ts), written out here: a helper taking or
  // returning an int32 beyond V8's small integers allocates a heap number for it whenever V8
  // does not inline the call (decode/wire.ts), and this runs for every record in every worker.
  let h = x0 ^ x1 ^ x2 ^ x3 ^ (((u16(data, pos) ^ u16(data, pos + 2)) << 8) | protocol);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  // (h >>> 0) % shards in small integers, as in flowShard().
  return (((h >>> 16) % shards) * 0x10000 + (h & 0xffff)) % shards;
}
