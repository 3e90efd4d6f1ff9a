/**
 * Output-edge text for decoded packets (JSON lines, span attributes, CLI). Not for the hot path:
 * these build strings.
 */
import { type DecodedPacket, LayerNames, LinkType, LinkTypeMask } from './packet.ts';

/**
 * IPv4 dotted quad, or IPv6 exactly as tshark (glibc inet_ntop) prints it: RFC 5952 text
 * (lowercase, no leading zeros, the longest run of two or more zero groups — the first on a
 * tie — as "::") except that ::a.b.c.d and ::ffff:a.b.c.d keep their IPv4 tail.
 * Words are the big-endian 32-bit address words of DecodedPacket. '' for version 0.
 */
export function formatIp(version: number, w0: number, w1: number, w2: number, w3: number): string {
  if (version === 4) return ipv4Text(w0);
  if (version === 6) return ipv6Text(w0, w1, w2, w3);
  return '';
}

/** The packet's source or destination address as formatIp() prints it. */
export function formatAddress(out: DecodedPacket, side: 'src' | 'dst'): string {
  return side === 'src'
    ? formatIp(out.ipVersion, out.src0, out.src1, out.src2, out.src3)
    : formatIp(out.ipVersion, out.dst0, out.dst1, out.dst2, out.dst3);
}

function ipv4Text(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
}

/** Group i (0..7) of the IPv6 address in words w0..w3. */
export function ipv6Group(w0: number, w1: number, w2: number, w3: number, i: number): number {
  const w = i < 2 ? w0 : i < 4 ? w1 : i < 6 ? w2 : w3;
  return (i & 1) === 0 ? w >>> 16 : w & 0xffff;
}

/** How an IPv6 address is printed: the zero groups written as "::" and whether it keeps an IPv4 tail. */
export const Ipv6Tail = { None: 0, Compatible: 1, Mapped: 2 } as const;

/**
 * Where formatIp() writes "::" in the IPv6 address w0..w3: the first longest run of two or more
 * zero groups (a single zero group is written as "0", RFC 5952 4.2.2), as start * 16 + length;
 * -1 when there is none. The one place of the rule, for the string and the byte writer.
 */
export function ipv6ZeroRun(w0: number, w1: number, w2: number, w3: number): number {
  let bestStart = -1;
  let bestLength = 0;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (ipv6Group(w0, w1, w2, w3, i) !== 0) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = i;
    if (i - runStart + 1 > bestLength) {
      bestStart = runStart;
      bestLength = i - runStart + 1;
    }
  }
  return bestLength < 2 ? -1 : bestStart * 16 + bestLength;
}

/** Whether the address (with its ipv6ZeroRun) prints as ::a.b.c.d (Compatible) or ::ffff:a.b.c.d (Mapped), as glibc does. */
export function ipv6Tail(zeroRun: number, w2: number): number {
  if (zeroRun === 6) return Ipv6Tail.Compatible;
  if (zeroRun === 5 && (w2 & 0xffff) === 0xffff) return Ipv6Tail.Mapped;
  return Ipv6Tail.None;
}

function ipv6Text(w0: number, w1: number, w2: number, w3: number): string {
  const zeroRun = ipv6ZeroRun(w0, w1, w2, w3);
  const tail = ipv6Tail(zeroRun, w2);
  if (tail !== Ipv6Tail.None) return `${tail === Ipv6Tail.Compatible ? '::' : '::ffff:'}${ipv4Text(w3)}`;
  const runStart = zeroRun < 0 ? -1 : zeroRun >> 4;
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === runStart) {
      text += '::';
      i += (zeroRun & 15) - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += ipv6Group(w0, w1, w2, w3, i).toString(16);
  }
  return text;
}

/** TCP flag names from the low bit up, as Wireshark orders them. */
const kFlagNames = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];
/** Precomputed for every flags byte. */
const kFlagsText: readonly string[] = Array.from({ length: 256 }, (_, flags) =>
  kFlagNames.filter((_, bit) => (flags >> bit) & 1).join(','),
);

/** TCP flags byte as comma-separated names, e.g. 0x12 → "SYN,ACK"; "" when no flag is set. */
export function tcpFlagsText(flags: number): string {
  return kFlagsText[flags & 0xff]!;
}

/** Wireshark's short encapsulation names (as capinfos prints them) for common link types. */
const kLinkTypeNames = new Map<number, string>([
  [LinkType.Null, 'null'],
  [LinkType.Ethernet, 'ether'],
  [8, 'slip'],
  [9, 'ppp'],
  [LinkType.RawDlt12, 'rawip'],
  [LinkType.RawDlt14, 'rawip'],
  [50, 'ppp'],
  [LinkType.Raw, 'rawip'],
  [104, 'chdlc'],
  [105, 'ieee-802-11'],
  [LinkType.Loop, 'loop'],
  [LinkType.LinuxSll, 'linux-sll'],
  [127, 'ieee-802-11-radiotap'],
  [129, 'arcnet_linux'],
  [LinkType.Ipv4, 'rawip4'],
  [LinkType.Ipv6, 'rawip6'],
  [253, 'netlink'],
  [271, 'vsock'],
  [LinkType.LinuxSll2, 'linux-sll2'],
]);

/** Short name of a LINKTYPE_* value (FCS bits ignored), e.g. 1 → "ether"; "linktype-N" if unknown. */
export function linkTypeName(linkType: number): string {
  const type = linkType & LinkTypeMask;
  return kLinkTypeNames.get(type) ?? `linktype-${type}`;
}

/** Name of a Layer value ("complete", "link", "network", "transport"). */
export function layerName(layer: number): string {
  return LayerNames[layer] ?? `layer-${layer}`;
}
