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

export const IpProtocol = { Tcp: 6, Udp: 17 } as const;

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
  /** Layer at which decoding stopped; Layer.Complete when TCP/UDP was decoded. */
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

  srcPort = 0;
  dstPort = 0;
  /** TCP flags byte (TcpFlag bits); 0 for UDP. */
  tcpFlags = 0;
  /** TCP sequence and acknowledgement numbers, unsigned 32-bit. */
  tcpSeq = 0;
  tcpAck = 0;

  /** Transport payload bounds in the record's bytes (captured bytes only, never past caplen). */
  payloadOffset = 0;
  payloadLength = 0;
  /**
   * Payload bytes on the wire according to the IP/UDP length fields. Larger than
   * payloadLength when the snaplen cut the packet.
   */
  payloadWireLength = 0;
}
