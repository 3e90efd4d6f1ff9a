/**
 * The decoder's output: one reused, allocation-free struct per decoder, overwritten by every
 * `decodePacket()` call. It holds numbers and offsets into the record's bytes, never views.
 */

/** Where decoding stopped (the layer that could not be decoded); Complete when L4 was reached. */
export const Layer = {
  Complete: 0,
  Link: 1,
  Network: 2,
  Transport: 3,
} as const;
export type Layer = (typeof Layer)[keyof typeof Layer];

export const LayerNames = ['complete', 'link', 'network', 'transport'] as const;

export const IpProtocol = { Icmp: 1, Tcp: 6, Udp: 17, Icmpv6: 58 } as const;

/** The transport's name in output (IANA protocol keywords); other numbers as digits. */
export function ipProtocolName(protocol: number): string {
  return protocol === 6
    ? 'tcp'
    : protocol === 17
      ? 'udp'
      : protocol === 1
        ? 'icmp'
        : protocol === 58
          ? 'ipv6-icmp'
          : String(protocol);
}

/** LINKTYPE_* values (tcpdump.org/linktypes.html) the decoder understands. */
export const LinkType = {
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  Null: 0,
  Ethernet: 1,
  /** DLT_RAW as some BSDs number it (12 and 14); both map to LINKTYPE_RAW. */
  RawDlt12: 12,
  RawDlt14: 14,
  /** Raw IP: the version nibble tells IPv4 from IPv6. */
  Raw: 101,
  /** OpenBSD loopback: like Null, but the family is in network byte order. */
  Loop: 108,
  LinuxSll: 113,
  Ipv4: 228,
  Ipv6: 229,
  LinuxSll2: 276,
} as const;

/**
 * A pcap header's link-type field carries FCS information in its upper bits (libpcap
 * LT_LINKTYPE): `linkType & LinkTypeMask` is the LINKTYPE_* value.
 */
export const LinkTypeMask = 0x03ffffff;

export const EtherType = {
  Ipv4: 0x0800,
  Arp: 0x0806,
  Vlan: 0x8100,
  Ipv6: 0x86dd,
  PppoeSession: 0x8864,
  /** 802.1ad service tag (QinQ outer tag). */
  QinQ: 0x88a8,
  /** Pre-standard QinQ outer tag. */
  QinQLegacy: 0x9100,
} as const;

export const TcpFlag = {
  Fin: 0x01,
  Syn: 0x02,
  Rst: 0x04,
  Psh: 0x08,
  Ack: 0x10,
  Urg: 0x20,
  Ece: 0x40,
  Cwr: 0x80,
} as const;

export class DecodedPacket {
  /** Layer at which decoding stopped; Layer.Complete when TCP/UDP or an ICMP/ICMPv6 echo was decoded. */
  stopLayer: Layer = Layer.Complete;
  /** Skip reason id (agent/shared/skips.ts) when stopLayer !== Complete, else -1. */
  stopReason = -1;

  /** 0 when no IP layer was decoded, else 4 or 6. */
  ipVersion = 0;
  /** Offset of the (innermost decoded) IP header in the record's bytes. */
  ipOffset = 0;
  /**
   * Addresses as big-endian 32-bit words (unsigned). IPv4 uses word 0 only (others 0);
   * IPv6 uses words 0..3.
   */
  src0 = 0;
  src1 = 0;
  src2 = 0;
  src3 = 0;
  dst0 = 0;
  dst1 = 0;
  dst2 = 0;
  dst3 = 0;
  /** IP protocol / IPv6 next header of the transport (after extension headers). */
  ipProtocol = 0;
  /** True when the IP packet is a fragment (IPv4 MF or offset, or an IPv6 fragment header). */
  isFragment = false;
  /** Outermost 802.1Q/802.1ad VLAN id, -1 when untagged. */
  vlanId = -1;
  /**
   * EtherType of the link layer's payload after VLAN tags and LLC/SNAP (EtherType values;
   * link types without one map IPv4/IPv6 to 0x0800/0x86dd). 0 when the link header was not decoded.
   */
  etherType = 0;
  /**
   * Offset of the transport header (after IPv6 extension headers), or of a fragment's data;
   * 0 when no IP layer was decoded.
   */
  transportOffset = 0;
  /**
   * Bytes from transportOffset to the end of the IP packet according to the IP length fields
   * (the captured length when the length field is 0: TSO or jumbograms). May exceed the captured bytes.
   */
  ipPayloadLength = 0;

  srcPort = 0;
  dstPort = 0;
  /** TCP flags byte (TcpFlag bits); 0 for UDP. */
  tcpFlags = 0;
  /** TCP sequence and acknowledgement numbers, unsigned 32-bit. */
  tcpSeq = 0;
  tcpAck = 0;

  /** ICMP/ICMPv6 echo request or reply (ipProtocol 1 or 58; ports stay 0): type, code, identifier, sequence number. */
  icmpType = 0;
  icmpCode = 0;
  icmpId = 0;
  icmpSeq = 0;

  /** Transport payload bounds in the record's bytes (captured bytes only, never past caplen). */
  payloadOffset = 0;
  payloadLength = 0;
  /**
   * Payload bytes on the wire according to the IP/UDP length fields. Larger than
   * payloadLength when the snaplen cut the packet.
   */
  payloadWireLength = 0;

  /** Restores every field to its initial value (decodePacket() calls it first). */
  reset(): void {
    this.stopLayer = Layer.Complete;
    this.stopReason = -1;
    this.ipVersion = 0;
    this.ipOffset = 0;
    this.src0 = 0;
    this.src1 = 0;
    this.src2 = 0;
    this.src3 = 0;
    this.dst0 = 0;
    this.dst1 = 0;
    this.dst2 = 0;
    this.dst3 = 0;
    this.ipProtocol = 0;
    this.isFragment = false;
    this.vlanId = -1;
    this.etherType = 0;
    this.transportOffset = 0;
    this.ipPayloadLength = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.icmpType = 0;
    this.icmpCode = 0;
    this.icmpId = 0;
    this.icmpSeq = 0;
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.payloadWireLength = 0;
  }
}
