/**
 * State of one tracked TCP connection (one object per connection, one Direction per side).
 *
 * Endpoints are stored in canonical order: `a` is the lower (address words, port) endpoint, `b`
 * the higher one, so both directions of a connection find the same table entry. Which of them
 * is the client is a separate flag (`clientIsA`) that a claim may still flip while the roles are
 * only guessed.
 */

import type { DecodedPacket } from '../../decode/packet.ts';
import type { PendingEntry } from '../pending-table.ts';
import { type StreamConsumer, TcpConnectionInfo } from './consumer.ts';

/** Whether a StreamProtocol owns the connection. */
export const ClaimState = {
  /** No protocol claimed it yet: in-order bytes are still offered to StreamProtocol.claim(). */
  Unclaimed: 0,
  /** A consumer owns it: every in-order byte goes to that consumer. */
  Claimed: 1,
  /** No protocol wanted its first bytes: only SYNs are still looked at (port reuse). */
  Ignored: 2,
} as const;
export type ClaimState = (typeof ClaimState)[keyof typeof ClaimState];

/** An out-of-order segment copied until the hole before it fills (or is given up on). */
export class BufferedSegment {
  /** Sequence number of the first payload byte (after the SYN, if the segment carried one). */
  seq: number;
  /** Captured payload bytes (a copy). */
  bytes: Uint8Array;
  /** Payload bytes on the wire: more than bytes.length when the snaplen cut the packet. */
  wireLength: number;
  /** The segment carried a FIN (which takes the sequence number after its payload). */
  fin: boolean;
  /** Capture time, file and packet number of the segment (its edges when a hole is given up). */
  seconds: number;
  nanos: number;
  fileId: number;
  packetNumber: number;

  constructor(
    seq: number,
    bytes: Uint8Array,
    wireLength: number,
    fin: boolean,
    seconds: number,
    nanos: number,
    fileId: number,
    packetNumber: number,
  ) {
    this.seq = seq;
    this.bytes = bytes;
    this.wireLength = wireLength;
    this.fin = fin;
    this.seconds = seconds;
    this.nanos = nanos;
    this.fileId = fileId;
    this.packetNumber = packetNumber;
  }
}

/** One side's sending direction. */
export class Direction {
  /** True once nextSeq is known (from a SYN, the peer's ACK or the first segment seen). */
  synced = false;
  /** Sequence number of the next byte to deliver (unsigned 32-bit). */
  nextSeq = 0;
  /** A SYN was seen from this side with this initial sequence number. */
  synSeen = false;
  isn = 0;
  /** FIN or RST ended this direction: nothing more is delivered. */
  closed = false;
  /** Payload (or a FIN) was seen from this side: the handshake is over. */
  dataSeen = false;
  /** Out-of-order segments, sorted by seq (modulo 2^32 from nextSeq). */
  readonly segments: BufferedSegment[] = [];
  /** Captured bytes held in `segments` (bounded by maxBufferedBytesPerDirection). */
  bufferedBytes = 0;
  /** Bytes of this direction still offered to StreamProtocol.claim() while unclaimed. */
  offerBudget: number;

  constructor(offerBudget: number) {
    this.offerBudget = offerBudget;
  }

  clearBuffer(): void {
    this.segments.length = 0;
    this.bufferedBytes = 0;
  }
}

export class Connection implements PendingEntry {
  readonly key: number;
  readonly ipVersion: number;
  readonly a0: number;
  readonly a1: number;
  readonly a2: number;
  readonly a3: number;
  readonly aPort: number;
  readonly b0: number;
  readonly b1: number;
  readonly b2: number;
  readonly b3: number;
  readonly bPort: number;
  readonly a: Direction;
  readonly b: Direction;
  /** Client/server view handed to protocols (rewritten when guessed roles flip). */
  readonly info = new TcpConnectionInfo();
  clientIsA = true;
  /** Roles come from a SYN/SYN-ACK or a claim: never flipped again. */
  rolesKnown = false;
  claim: ClaimState = ClaimState.Unclaimed;
  consumer: StreamConsumer | null = null;
  /** Capture time, file and packet number of the last packet seen (idle expiry, give-up edges). */
  seconds = 0;
  nanos = 0;
  lastFileId = 0;
  lastPacket = 0;
  /** Last-seen order links, owned by the reassembly's connection table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;

  /** `p` is any packet of the connection; `srcIsA` says whether its source is the canonical `a` endpoint. */
  constructor(key: number, p: DecodedPacket, srcIsA: boolean, offerBudget: number) {
    this.key = key;
    this.ipVersion = p.ipVersion;
    if (srcIsA) {
      this.a0 = p.src0;
      this.a1 = p.src1;
      this.a2 = p.src2;
      this.a3 = p.src3;
      this.aPort = p.srcPort;
      this.b0 = p.dst0;
      this.b1 = p.dst1;
      this.b2 = p.dst2;
      this.b3 = p.dst3;
      this.bPort = p.dstPort;
    } else {
      this.a0 = p.dst0;
      this.a1 = p.dst1;
      this.a2 = p.dst2;
      this.a3 = p.dst3;
      this.aPort = p.dstPort;
      this.b0 = p.src0;
      this.b1 = p.src1;
      this.b2 = p.src2;
      this.b3 = p.src3;
      this.bPort = p.srcPort;
    }
    this.a = new Direction(offerBudget);
    this.b = new Direction(offerBudget);
  }

  /** Whether `p` (whose source is `a` when srcIsA) belongs to this connection: guards against key collisions. */
  matches(p: DecodedPacket, srcIsA: boolean): boolean {
    if (p.ipVersion !== this.ipVersion) return false;
    return srcIsA
      ? p.src0 === this.a0 &&
          p.src1 === this.a1 &&
          p.src2 === this.a2 &&
          p.src3 === this.a3 &&
          p.srcPort === this.aPort &&
          p.dst0 === this.b0 &&
          p.dst1 === this.b1 &&
          p.dst2 === this.b2 &&
          p.dst3 === this.b3 &&
          p.dstPort === this.bPort
      : p.dst0 === this.a0 &&
          p.dst1 === this.a1 &&
          p.dst2 === this.a2 &&
          p.dst3 === this.a3 &&
          p.dstPort === this.aPort &&
          p.src0 === this.b0 &&
          p.src1 === this.b1 &&
          p.src2 === this.b2 &&
          p.src3 === this.b3 &&
          p.srcPort === this.bPort;
  }

  isClient(direction: Direction): boolean {
    return (direction === this.a) === this.clientIsA;
  }

  /** Sets which endpoint is the client and rewrites `info` accordingly. */
  setClientIsA(clientIsA: boolean): void {
    this.clientIsA = clientIsA;
    const info = this.info;
    info.ipVersion = this.ipVersion;
    if (clientIsA) {
      info.client0 = this.a0;
      info.client1 = this.a1;
      info.client2 = this.a2;
      info.client3 = this.a3;
      info.clientPort = this.aPort;
      info.server0 = this.b0;
      info.server1 = this.b1;
      info.server2 = this.b2;
      info.server3 = this.b3;
      info.serverPort = this.bPort;
    } else {
      info.client0 = this.b0;
      info.client1 = this.b1;
      info.client2 = this.b2;
      info.client3 = this.b3;
      info.clientPort = this.bPort;
      info.server0 = this.a0;
      info.server1 = this.a1;
      info.server2 = this.a2;
      info.server3 = this.a3;
      info.serverPort = this.aPort;
    }
  }
}

/**
 * Whether the packet's source is the canonical lower endpoint: addresses compared word by word
 * (unsigned), then ports. Equal endpoints (a host talking to itself on one port) count as lower.
 */
export function sourceIsLower(p: DecodedPacket): boolean {
  if (p.src0 !== p.dst0) return p.src0 >>> 0 < p.dst0 >>> 0;
  if (p.src1 !== p.dst1) return p.src1 >>> 0 < p.dst1 >>> 0;
  if (p.src2 !== p.dst2) return p.src2 >>> 0 < p.dst2 >>> 0;
  if (p.src3 !== p.dst3) return p.src3 >>> 0 < p.dst3 >>> 0;
  return p.srcPort <= p.dstPort;
}
