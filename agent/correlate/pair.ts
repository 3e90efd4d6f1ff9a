import type { PacketView } from './matcher.ts';

/**
 * A finished request/response pair (or an unanswered request), the correlator's output.
 * Pairs are much rarer than packets, so one object per pair is fine; addresses stay
 * numeric here and become text only at the output edge (agent/output/).
 */

export const Outcome = { Matched: 0, Unanswered: 1 } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];
export const OutcomeNames = ['matched', 'unanswered'] as const;

/** Why an unanswered request was given up (reported in stats and output). */
export const UnansweredReason = {
  /** Its timeout passed in capture time. */
  Expired: 0,
  /** The pending table was full and it was the oldest entry. */
  Evicted: 1,
  /** End of input (replay) with the request still pending. */
  EndOfInput: 2,
  /** The connection closed or was reset before a response arrived. */
  ConnectionClosed: 3,
} as const;
export type UnansweredReason = (typeof UnansweredReason)[keyof typeof UnansweredReason];
export const UnansweredReasonNames = ['expired', 'evicted', 'end_of_input', 'connection_closed'] as const;

/** Bytes and packets of one message with its first and last byte's capture times. */
export class MessageEdges {
  firstSeconds = 0;
  firstNanos = 0;
  lastSeconds = 0;
  lastNanos = 0;
  packets = 0;
  /** Payload bytes of the message (L7 bytes; for a TCP handshake the segment count is what matters). */
  bytes = 0;
  /** Index of the file (in the correlator's file table) holding the message's first byte. */
  fileId = 0;
  /** 1-based packet number in that file of the packet carrying the first byte. */
  packet = 0;
  /** File and packet number of the packet carrying the last byte (equal to the first for one-packet messages). */
  lastFileId = 0;
  lastPacket = 0;

  /** Starts the message at one packet. */
  begin(seconds: number, nanos: number, fileId: number, packet: number, bytes: number): this {
    this.firstSeconds = this.lastSeconds = seconds;
    this.firstNanos = this.lastNanos = nanos;
    this.fileId = this.lastFileId = fileId;
    this.packet = this.lastPacket = packet;
    this.packets = 1;
    this.bytes = bytes;
    return this;
  }

  /** Takes every field of `other` (a message whose edges this one now stands for). */
  copyFrom(other: MessageEdges): void {
    this.firstSeconds = other.firstSeconds;
    this.firstNanos = other.firstNanos;
    this.lastSeconds = other.lastSeconds;
    this.lastNanos = other.lastNanos;
    this.packets = other.packets;
    this.bytes = other.bytes;
    this.fileId = other.fileId;
    this.packet = other.packet;
    this.lastFileId = other.lastFileId;
    this.lastPacket = other.lastPacket;
  }

  /** Extends the message with one more packet. */
  extend(seconds: number, nanos: number, fileId: number, packet: number, bytes: number): void {
    this.lastSeconds = seconds;
    this.lastNanos = nanos;
    this.lastFileId = fileId;
    this.lastPacket = packet;
    this.packets++;
    this.bytes += bytes;
  }
}

export class Pair {
  outcome: Outcome = Outcome.Matched;
  /** Set when outcome is Unanswered. */
  unansweredReason: UnansweredReason = UnansweredReason.Expired;
  /**
   * Unanswered only: capture time the request was given up, set by the correlator. Expired:
   * the deadline (request last byte + the protocol's timeout); otherwise the capture time of
   * the eviction, the close, or the newest packet at end of input.
   */
  givenUpSeconds = 0;
  givenUpNanos = 0;
  /** Protocol name (registry.ts): 'dns' | 'http' | 'tcp' | 'udp' | 'relay' | ... */
  protocol = '';
  /**
   * Index of `protocol` in the correlator's registry, stamped by the correlator when the pair
   * is emitted (matchers set only `protocol`): the output side finds the descriptor without a
   * string lookup. -1 until then.
   */
  protocolId = -1;
  /** IP protocol number of the request: 6 (TCP) or 17 (UDP). */
  transport = 0;
  ipVersion = 4;
  /** Client (requester) address as big-endian 32-bit words; IPv4 in word 0. */
  client0 = 0;
  client1 = 0;
  client2 = 0;
  client3 = 0;
  clientPort = 0;
  server0 = 0;
  server1 = 0;
  server2 = 0;
  server3 = 0;
  serverPort = 0;
  readonly request = new MessageEdges();
  /** null when unanswered. */
  response: MessageEdges | null = null;
  /**
   * Protocol-specific fields, serialised as-is under the protocol's name in JSONL
   * (e.g. {"id":17535,"name":"host3.example.test",...} for dns). Plain JSON values only; each
   * protocol types it (its descriptor's Detail, e.g. DnsDetail).
   */
  detail: Record<string, unknown> | null = null;
}

/** Where pairs go. The correlator's driver counts them; matchers never talk to exporters. */
export interface PairSink {
  emit(pair: Pair): void;
}

/** Nanoseconds from (s1, n1) to (s2, n2). Exact while the span is under ~104 days (2^53 ns). */
export function diffNanos(s1: number, n1: number, s2: number, n2: number): number {
  return (s2 - s1) * 1_000_000_000 + (n2 - n1);
}

/** Copies the packet's addresses into the pair: the packet's source is the client when `sourceIsClient`. */
export function setEndpoints(
  pair: Pair,
  ipVersion: number,
  src0: number,
  src1: number,
  src2: number,
  src3: number,
  srcPort: number,
  dst0: number,
  dst1: number,
  dst2: number,
  dst3: number,
  dstPort: number,
  sourceIsClient: boolean,
): void {
  pair.ipVersion = ipVersion;
  if (sourceIsClient) {
    pair.client0 = src0;
    pair.client1 = src1;
    pair.client2 = src2;
    pair.client3 = src3;
    pair.clientPort = srcPort;
    pair.server0 = dst0;
    pair.server1 = dst1;
    pair.server2 = dst2;
    pair.server3 = dst3;
    pair.serverPort = dstPort;
  } else {
    pair.client0 = dst0;
    pair.client1 = dst1;
    pair.client2 = dst2;
    pair.client3 = dst3;
    pair.clientPort = dstPort;
    pair.server0 = src0;
    pair.server1 = src1;
    pair.server2 = src2;
    pair.server3 = src3;
    pair.serverPort = srcPort;
  }
}

/**
 * Opens `pair` at a request packet whose source is the client: protocol, transport,
 * endpoints, and the request's first edge carrying `bytes`.
 */
export function beginRequest(pair: Pair, protocol: string, view: PacketView, bytes: number): void {
  const p = view.packet;
  pair.protocol = protocol;
  pair.transport = p.ipProtocol;
  setEndpoints(
    pair,
    p.ipVersion,
    p.src0,
    p.src1,
    p.src2,
    p.src3,
    p.srcPort,
    p.dst0,
    p.dst1,
    p.dst2,
    p.dst3,
    p.dstPort,
    true,
  );
  pair.request.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, bytes);
}
