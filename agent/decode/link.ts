/**
 * Link layer: finds the IP header behind the capture's link-layer header(s).
 *
 * Invariants (hot path): reads only bytes in [pos, end); allocates nothing; never throws.
 * `decodeLink` returns the IP header's offset with `out.etherType` set to EtherType.Ipv4 or
 * EtherType.Ipv6, or kStopped after recording a Link-layer stop (wire.ts stopAt).
 */
import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { type DecodedPacket, EtherType, Layer, LinkType, LinkTypeMask } from './packet.ts';
import { stopAt, u16 } from './wire.ts';

const kUnsupportedLinkType = skipReason('link.unsupported_linktype');
const kEthernetTruncated = skipReason('ethernet.truncated');
/** Non-IP EtherType behind Ethernet, VLAN tags, LLC/SNAP or Linux cooked headers (ARP, LLDP...). */
const kEthernetNotIp = skipReason('ethernet.not_ip');
/** 802.2 LLC frame that does not encapsulate an EtherType (STP, CDP, NetBIOS...). */
const kEthernetLlc = skipReason('ethernet.llc');
const kVlanTruncated = skipReason('vlan.truncated');
const kPppoeTruncated = skipReason('pppoe.truncated');
/** PPPoE session frame carrying LCP, IPCP or another non-IP PPP protocol. */
const kPppoeNotIp = skipReason('pppoe.not_ip');
const kSllTruncated = skipReason('sll.truncated');
const kSll2Truncated = skipReason('sll2.truncated');
const kNullTruncated = skipReason('null.truncated');
const kNullNotIp = skipReason('null.not_ip');
const kRawTruncated = skipReason('raw.truncated');
const kRawNotIp = skipReason('raw.not_ip');

const kEthernetHeaderLength = 14;
const kEthernetTypeOffset = 12;
/** EtherType values below this are 802.3 length fields: an 802.2 LLC header follows. */
const kMinEtherType = 0x0600;
const kVlanTagLength = 4;
const kVlanIdMask = 0x0fff;
const kLlcHeaderLength = 3;
/** LLC (3) + SNAP OUI (3) + SNAP protocol id (2). */
const kLlcSnapLength = 8;
const kSnapSap = 0xaa;
const kLlcUnnumberedInfo = 0x03;
/** SNAP OUIs whose protocol id is an EtherType: RFC 1042 (0) and 802.1H bridge tunnel. */
const kOuiRfc1042 = 0x000000;
const kOuiBridgeTunnel = 0x0000f8;

/** PPPoE header (6) + PPP protocol (2). */
const kPppoeSessionLength = 8;
const kPppoeProtocolOffset = 6;
const kPppIpv4 = 0x0021;
const kPppIpv6 = 0x0057;

const kSllHeaderLength = 16;
const kSllHatypeOffset = 2;
const kSllProtocolOffset = 14;
const kSll2HeaderLength = 20;
const kSll2HatypeOffset = 8;
/** ARPHRD_NETLINK: the cooked header's protocol field is a netlink family, not an EtherType. */
const kArphrdNetlink = 824;
/** Linux ETH_P_802_2: the cooked header's payload starts with an 802.2 LLC header. */
const kLinuxProtocol8022 = 0x0004;

const kNullHeaderLength = 4;
/** BSD AF_INET, and AF_INET6 as NetBSD/OpenBSD (24), FreeBSD (28) and macOS (30) number it. */
const kFamilyInet = 2;
const kFamilyInet6Bsd = 24;
const kFamilyInet6FreeBsd = 28;
const kFamilyInet6Darwin = 30;

const kIpVersion4 = 4;
const kIpVersion6 = 6;

export function decodeLink(
  data: Uint8Array,
  pos: number,
  end: number,
  linkType: number,
  out: DecodedPacket,
  skips: SkipCounters,
): number {
  switch (linkType & LinkTypeMask) {
    case LinkType.Ethernet:
      if (end - pos < kEthernetHeaderLength) return stopAt(out, skips, Layer.Link, kEthernetTruncated);
      return decodeEtherType(
        data,
        pos + kEthernetHeaderLength,
        end,
        u16(data, pos + kEthernetTypeOffset),
        out,
        skips,
      );
    case LinkType.LinuxSll:
      if (end - pos < kSllHeaderLength) return stopAt(out, skips, Layer.Link, kSllTruncated);
      return decodeCooked(
        data,
        pos + kSllHeaderLength,
        end,
        u16(data, pos + kSllHatypeOffset),
        u16(data, pos + kSllProtocolOffset),
        out,
        skips,
      );
    case LinkType.LinuxSll2:
      if (end - pos < kSll2HeaderLength) return stopAt(out, skips, Layer.Link, kSll2Truncated);
      return decodeCooked(
        data,
        pos + kSll2HeaderLength,
        end,
        u16(data, pos + kSll2HatypeOffset),
        u16(data, pos),
        out,
        skips,
      );
    case LinkType.Null:
      return decodeNull(data, pos, end, true, out, skips);
    case LinkType.Loop:
      return decodeNull(data, pos, end, false, out, skips);
    case LinkType.Raw:
    case LinkType.RawDlt12:
    case LinkType.RawDlt14:
      return decodeRaw(data, pos, end, out, skips);
    case LinkType.Ipv4:
      out.etherType = EtherType.Ipv4;
      return pos;
    case LinkType.Ipv6:
      out.etherType = EtherType.Ipv6;
      return pos;
    default:
      return stopAt(out, skips, Layer.Link, kUnsupportedLinkType);
  }
}

/**
 * Walks VLAN tags, LLC/SNAP and PPPoE from `pos`, where a payload of EtherType `type` starts.
 * Every step consumes at least 4 bytes, so hostile tag stacks end with the packet.
 */
function decodeEtherType(
  data: Uint8Array,
  pos: number,
  end: number,
  type: number,
  out: DecodedPacket,
  skips: SkipCounters,
): number {
  for (;;) {
    if (type === EtherType.Vlan || type === EtherType.QinQ || type === EtherType.QinQLegacy) {
      if (end - pos < kVlanTagLength) return stopAt(out, skips, Layer.Link, kVlanTruncated);
      if (out.vlanId < 0) out.vlanId = u16(data, pos) & kVlanIdMask;
      type = u16(data, pos + 2);
      pos += kVlanTagLength;
    } else if (type < kMinEtherType) {
      if (end - pos < kLlcHeaderLength) return stopAt(out, skips, Layer.Link, kEthernetTruncated);
      if (data[pos] !== kSnapSap || data[pos + 1] !== kSnapSap || data[pos + 2] !== kLlcUnnumberedInfo) {
        return stopAt(out, skips, Layer.Link, kEthernetLlc);
      }
      if (end - pos < kLlcSnapLength) return stopAt(out, skips, Layer.Link, kEthernetTruncated);
      const oui = (data[pos + 3]! << 16) | u16(data, pos + 4);
      if (oui !== kOuiRfc1042 && oui !== kOuiBridgeTunnel) {
        return stopAt(out, skips, Layer.Link, kEthernetLlc);
      }
      type = u16(data, pos + 6);
      pos += kLlcSnapLength;
    } else if (type === EtherType.PppoeSession) {
      if (end - pos < kPppoeSessionLength) return stopAt(out, skips, Layer.Link, kPppoeTruncated);
      const protocol = u16(data, pos + kPppoeProtocolOffset);
      if (protocol !== kPppIpv4 && protocol !== kPppIpv6) {
        out.etherType = type;
        return stopAt(out, skips, Layer.Link, kPppoeNotIp);
      }
      type = protocol === kPppIpv4 ? EtherType.Ipv4 : EtherType.Ipv6;
      pos += kPppoeSessionLength;
    } else {
      break;
    }
  }
  out.etherType = type;
  if (type === EtherType.Ipv4 || type === EtherType.Ipv6) return pos;
  return stopAt(out, skips, Layer.Link, kEthernetNotIp);
}

/** Linux cooked capture (SLL/SLL2) payload: `protocol` is an EtherType or a Linux ETH_P_* value. */
function decodeCooked(
  data: Uint8Array,
  pos: number,
  end: number,
  hatype: number,
  protocol: number,
  out: DecodedPacket,
  skips: SkipCounters,
): number {
  // Below 0x0600 the protocol is a Linux pseudo-protocol, not an 802.3 length; only 802.2 has LLC.
  if (hatype === kArphrdNetlink || (protocol < kMinEtherType && protocol !== kLinuxProtocol8022)) {
    out.etherType = hatype === kArphrdNetlink ? 0 : protocol;
    return stopAt(out, skips, Layer.Link, kEthernetNotIp);
  }
  return decodeEtherType(data, pos, end, protocol, out, skips);
}

/**
 * BSD NULL (host byte order, either accepted) and OpenBSD LOOP (network byte order). Like
 * Wireshark, NULL also accepts an IP EtherType stored as a host-order integer (some captures
 * from non-BSD systems put one there).
 */
function decodeNull(
  data: Uint8Array,
  pos: number,
  end: number,
  anyByteOrder: boolean,
  out: DecodedPacket,
  skips: SkipCounters,
): number {
  if (end - pos < kNullHeaderLength) return stopAt(out, skips, Layer.Link, kNullTruncated);
  const high = u16(data, pos);
  const low = u16(data, pos + 2);
  // Families are < 256: a big-endian one has high == 0, a little-endian one low == 0, so no ambiguity.
  const family = high === 0 ? low : anyByteOrder && low === 0 ? byteSwap16(high) : -1;
  if (family === kFamilyInet) {
    out.etherType = EtherType.Ipv4;
  } else if (family === kFamilyInet6Bsd || family === kFamilyInet6FreeBsd || family === kFamilyInet6Darwin) {
    out.etherType = EtherType.Ipv6;
  } else if (anyByteOrder && isIpEtherType(low)) {
    out.etherType = low;
  } else if (anyByteOrder && isIpEtherType(byteSwap16(high))) {
    out.etherType = byteSwap16(high);
  } else {
    return stopAt(out, skips, Layer.Link, kNullNotIp);
  }
  return pos + kNullHeaderLength;
}

function isIpEtherType(type: number): boolean {
  return type === EtherType.Ipv4 || type === EtherType.Ipv6;
}

function byteSwap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8);
}

/** Raw IP: no link header; the IP version nibble picks the network protocol. */
function decodeRaw(
  data: Uint8Array,
  pos: number,
  end: number,
  out: DecodedPacket,
  skips: SkipCounters,
): number {
  if (end - pos < 1) return stopAt(out, skips, Layer.Link, kRawTruncated);
  const version = data[pos]! >> 4;
  if (version === kIpVersion4) out.etherType = EtherType.Ipv4;
  else if (version === kIpVersion6) out.etherType = EtherType.Ipv6;
  else return stopAt(out, skips, Layer.Link, kRawNotIp);
  return pos;
}
