/**
 * Byte builders for hand-made test packets. Every builder returns a fresh Uint8Array; lengths
 * and checksums are filled in unless overridden (checksums stay 0: the decoder ignores them).
 */

export type Bytes = Uint8Array | readonly number[];

export function concat(...parts: Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function be16(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff];
}

export function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

export function le32(v: number): number[] {
  return be32(v).reverse();
}

export function fill(length: number, byte = 0x61): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

export function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

/** Parses IPv6 text ("::" allowed, no embedded IPv4) into 16 bytes. */
export function ipv6Bytes(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  return groups.flatMap(be16);
}

/** Big-endian 32-bit words of an address, as DecodedPacket stores them. */
export function words(bytes: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    out.push(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
  }
  return out;
}

// ---- link layers ----

const kMacs = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];

export function ethernet(etherType: number, payload: Bytes): Uint8Array {
  return concat(kMacs, be16(etherType), payload);
}

/** Ethernet with VLAN tags, outermost first: each tag is [tpid, vlanId]. */
export function ethernetTagged(
  tags: readonly [number, number][],
  etherType: number,
  payload: Bytes,
): Uint8Array {
  const first = tags[0];
  if (!first) return ethernet(etherType, payload);
  // Each tag's TCI is followed by the next tag's TPID (or, after the last tag, the inner EtherType).
  const tagBytes: number[] = [];
  for (let i = 0; i < tags.length; i++) {
    const next = tags[i + 1];
    tagBytes.push(...be16(tags[i]![1]), ...be16(next ? next[0] : etherType));
  }
  return concat(kMacs, be16(first[0]), tagBytes, payload);
}

/** 802.3 frame: a length field instead of an EtherType, then the LLC (or LLC/SNAP) header. */
export function ethernet8023(llc: Bytes, payload: Bytes): Uint8Array {
  return concat(kMacs, be16(llc.length + payload.length), llc, payload);
}

export function llcSnap(etherType: number, oui = 0): number[] {
  return [0xaa, 0xaa, 0x03, (oui >>> 16) & 0xff, (oui >>> 8) & 0xff, oui & 0xff, ...be16(etherType)];
}

/** Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol. */
export function sll(protocol: number, payload: Bytes, hatype = 1): Uint8Array {
  return concat(be16(0), be16(hatype), be16(6), [...kMacs.slice(0, 6), 0, 0], be16(protocol), payload);
}

/** Linux cooked v2: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes. */
export function sll2(protocol: number, payload: Bytes, hatype = 1): Uint8Array {
  return concat(
    be16(protocol),
    be16(0),
    be32(2),
    be16(hatype),
    [0, 6],
    [...kMacs.slice(0, 6), 0, 0],
    payload,
  );
}

/** BSD NULL / OpenBSD LOOP: 4-byte address family. */
export function nullHeader(family: number, payload: Bytes, littleEndian: boolean): Uint8Array {
  return concat(littleEndian ? le32(family) : be32(family), payload);
}

// ---- IP ----

export interface Ipv4Options {
  src?: string;
  dst?: string;
  protocol: number;
  payload: Bytes;
  /** Header options (padded by the caller to a multiple of 4). */
  options?: Bytes;
  /** Overrides the IHL nibble. */
  ihl?: number;
  /** Overrides the total length field. */
  totalLength?: number;
  /** Flags (3 bits) and fragment offset (13 bits, in 8-byte units) as the 16-bit field. */
  flagsFragment?: number;
}

export function ipv4(o: Ipv4Options): Uint8Array {
  const options = o.options ?? [];
  const headerLength = 20 + options.length;
  const ihl = o.ihl ?? headerLength / 4;
  const total = o.totalLength ?? headerLength + o.payload.length;
  return concat(
    [0x40 | ihl, 0],
    be16(total),
    be16(0x1234),
    be16(o.flagsFragment ?? 0x4000),
    [64, o.protocol],
    be16(0),
    ipv4Bytes(o.src ?? '192.0.2.1'),
    ipv4Bytes(o.dst ?? '198.51.100.2'),
    options,
    o.payload,
  );
}

export interface Ipv6Options {
  src?: string;
  dst?: string;
  next: number;
  /** Extension headers and transport header, already chained. */
  payload: Bytes;
  /** Overrides the payload length field. */
  payloadLength?: number;
}

export function ipv6(o: Ipv6Options): Uint8Array {
  return concat(
    [0x60, 0, 0, 0],
    be16(o.payloadLength ?? o.payload.length),
    [o.next, 64],
    ipv6Bytes(o.src ?? '2001:db8::1'),
    ipv6Bytes(o.dst ?? '2001:db8::2'),
    o.payload,
  );
}

/** Hop-by-hop, routing or destination options header: `units` extra 8-byte units (padding as PadN). */
export function ipv6Options(next: number, units = 0): number[] {
  const length = 8 * (units + 1);
  return [next, units, 1, length - 4, ...new Array(length - 4).fill(0)];
}

export function ipv6Fragment(next: number, offsetUnits: number, more: boolean): number[] {
  return [next, 0, ...be16((offsetUnits << 3) | (more ? 1 : 0)), ...be32(0xabcd)];
}

/** Authentication header: `words` 32-bit words in total (length field = words - 2). */
export function ipv6Ah(next: number, words32 = 4): number[] {
  return [next, words32 - 2, 0, 0, ...new Array(words32 * 4 - 4).fill(0)];
}

// ---- transport ----

export interface TcpOptions {
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  /** TCP options (padded by the caller to a multiple of 4). */
  options?: Bytes;
  /** Overrides the data offset nibble. */
  dataOffset?: number;
  payload?: Bytes;
}

export function tcp(o: TcpOptions = {}): Uint8Array {
  const options = o.options ?? [];
  const dataOffset = o.dataOffset ?? (20 + options.length) / 4;
  return concat(
    be16(o.srcPort ?? 40000),
    be16(o.dstPort ?? 80),
    be32(o.seq ?? 1000),
    be32(o.ack ?? 0),
    [dataOffset << 4, o.flags ?? 0x18],
    be16(65535),
    be16(0),
    be16(0),
    options,
    o.payload ?? [],
  );
}

export interface UdpOptions {
  srcPort?: number;
  dstPort?: number;
  payload?: Bytes;
  /** Overrides the length field. */
  length?: number;
}

export function udp(o: UdpOptions = {}): Uint8Array {
  const payload = o.payload ?? [];
  return concat(
    be16(o.srcPort ?? 5353),
    be16(o.dstPort ?? 53),
    be16(o.length ?? 8 + payload.length),
    be16(0),
    payload,
  );
}
