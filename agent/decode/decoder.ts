/**
 * decodePacket(): one capture record → the reused DecodedPacket (link → IP → TCP/UDP, or an
 * ICMP/ICMPv6 echo).
 *
 * Invariants (hot path): reads only data[offset, offset + length) (clamped to data.length);
 * allocates nothing (no views, objects, closures or strings per packet); never throws. Every
 * field of `out` is reset first, so nothing leaks from the previous packet. Every stop is
 * counted in `skips` under out.stopReason.
 */
import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { decodeIcmp } from './icmp.ts';
import { decodeIpv4 } from './ipv4.ts';
import { decodeIpv6 } from './ipv6.ts';
import { decodeLink } from './link.ts';
import { type DecodedPacket, EtherType, IpProtocol, Layer } from './packet.ts';
import { decodeTcp } from './tcp.ts';
import { decodeUdp } from './udp.ts';
import { kStopped, stopAt } from './wire.ts';

/** GRE, ESP, SCTP, IP-in-IP... (and ICMP other than echo): decoded up to IP, not further. */
const kUnsupportedProtocol = skipReason('ip.unsupported_protocol');
/** Negative or non-numeric offset/length from the caller. */
const kBadRecordBounds = skipReason('link.bad_record_bounds');

/**
 * Decodes the packet at data[offset, offset + length) captured with LINKTYPE `linkType`.
 * Returns true when a TCP or UDP header or an ICMP/ICMPv6 echo was decoded (out.stopLayer === Layer.Complete); false
 * with out.stopLayer/out.stopReason set (and the reason counted in `skips`) otherwise.
 */
export function decodePacket(
  data: Uint8Array,
  offset: number,
  length: number,
  linkType: number,
  out: DecodedPacket,
  skips: SkipCounters,
): boolean {
  out.reset();
  if (!(offset >= 0 && length >= 0)) {
    stopAt(out, skips, Layer.Link, kBadRecordBounds);
    return false;
  }
  const end = Math.min(offset + length, data.length);

  let pos = decodeLink(data, offset, end, linkType, out, skips);
  if (pos === kStopped) return false;
  pos =
    out.etherType === EtherType.Ipv4
      ? decodeIpv4(data, pos, end, out, skips)
      : decodeIpv6(data, pos, end, out, skips);
  if (pos === kStopped) return false;

  if (out.ipProtocol === IpProtocol.Tcp) return decodeTcp(data, pos, end, out, skips);
  if (out.ipProtocol === IpProtocol.Udp) return decodeUdp(data, pos, end, out, skips);
  if (out.ipProtocol === IpProtocol.Icmp || out.ipProtocol === IpProtocol.Icmpv6) {
    return decodeIcmp(data, pos, end, out, skips);
  }
  stopAt(out, skips, Layer.Transport, kUnsupportedProtocol);
  return false;
}
