/**
 * DNS over TCP (RFC 1035 4.2.2, RFC 7766): claims connections on a DNS port and cuts each
 * direction's in-order bytes (from the shared TCP reassembly) into messages, each preceded
 * by a 2-byte big-endian length.
 *
 * Invariants (hot path: every TCP segment of a DNS connection):
 * - A message that arrives whole in one onData() call is handed on in place (no copy); only a
 *   message split across calls is copied, into a buffer of exactly its length (<= 65535 bytes,
 *   allocated once per such message), so memory per direction is bounded by one message.
 * - The length prefix itself may be split (1 + 1 bytes); the state is a handful of numbers.
 * - Edges: a message's first packet is the one carrying its length prefix's first byte, its
 *   last packet the one completing it; each further packet that brings bytes of it counts once.
 *   bytes counts the prefix too (the message's bytes on the wire).
 * - claim() only decides (by port); the reassembly then delivers the same bytes to onData().
 * - After a gap inside a message of known length, that message is dropped and framing resumes
 *   after it; any other gap loses the framing, and that direction is ignored from then on.
 */
import type { SkipCounters } from '../../shared/skips.ts';
import { skipReason } from '../../shared/skips.ts';
import type { PacketView } from '../matcher.ts';
import { MessageEdges } from '../pair.ts';
import type { StreamConsumer, StreamProtocol, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import type { DnsEntry } from './matcher.ts';

const kTcpGap = skipReason('dns.tcp_gap');
const kTcpDesync = skipReason('dns.tcp_desync');
const kTcpIncomplete = skipReason('dns.tcp_incomplete_message');
/** The parsers' shared budget for incomplete messages (parser-buffers.ts) was spent: the direction is dropped. */
const kParserBudget = skipReason('dns.parser_budget');
/** First allocation for a message split across segments (doubling from there up to its length). */
const kInitialBodyBytes = 512;
const kNoBytes = new Uint8Array(0);

/** Sender and receiver of one DNS message. UDP reuses one per matcher; TCP has two per connection. */
export class DnsFlow {
  /** IP protocol number: 6 (TCP) or 17 (UDP). */
  transport = 17;
  ipVersion = 4;
  src0 = 0;
  src1 = 0;
  src2 = 0;
  src3 = 0;
  srcPort = 0;
  dst0 = 0;
  dst1 = 0;
  dst2 = 0;
  dst3 = 0;
  dstPort = 0;
  /** The TCP connection carrying the message; null for UDP. */
  connection: DnsConnection | null = null;
  /** TCP: whether the sender is the connection's client (the SYN side). */
  fromConnectionClient = false;
}

/** What the framer hands complete messages to (the DNS matcher). */
export interface DnsMessageHandler {
  /** One complete message: data[offset, offset + length) is valid only during the call. */
  onMessage(flow: DnsFlow, data: Uint8Array, offset: number, length: number, edges: MessageEdges): void;
  /**
   * A side of `connection` closed: queries that side can no longer answer end unanswered
   * (all of the connection's queries on a reset).
   */
  onConnectionClosed(connection: DnsConnection, closedByConnectionClient: boolean, reset: boolean): void;
  /** Requests sent over TCP still waiting for a response. */
  tcpPendingCount(): number;
  expire(seconds: number, nanos: number): void;
  flush(): void;
}

/** Frames one direction of a connection. */
class DnsFramer {
  readonly #flow: DnsFlow;
  readonly #handler: DnsMessageHandler;
  readonly #skips: SkipCounters;
  readonly #edges = new MessageEdges();
  /** Length-prefix bytes seen of the current message: 0 (between messages), 1 or 2. */
  #prefixBytes = 0;
  #messageLength = 0;
  /** Body of a message split across onData() calls; null otherwise. */
  #buffer: Uint8Array | null = null;
  #filled = 0;
  /** Part of the current message fell in a gap: drop it when complete. */
  #lost = false;
  /** The framing was lost: ignore this direction. */
  #desynced = false;

  /** Counts #buffer's bytes with every other parser's (a refused reservation drops the direction). */
  readonly #parserBuffers: ParserBufferBudget;

  constructor(
    flow: DnsFlow,
    handler: DnsMessageHandler,
    skips: SkipCounters,
    parserBuffers: ParserBufferBudget,
  ) {
    this.#flow = flow;
    this.#handler = handler;
    this.#skips = skips;
    this.#parserBuffers = parserBuffers;
  }

  push(data: Uint8Array, offset: number, length: number, view: PacketView): void {
    if (this.#desynced) return;
    const edges = this.#edges;
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      if (this.#prefixBytes === 0) {
        edges.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
        const available = end - pos;
        if (available >= 2) {
          const messageLength = (data[pos]! << 8) | data[pos + 1]!;
          if (available - 2 >= messageLength) {
            // Whole message in this call: parse in place.
            edges.bytes = 2 + messageLength;
            this.#handler.onMessage(this.#flow, data, pos + 2, messageLength, edges);
            pos += 2 + messageLength;
            continue;
          }
          this.#startBody(messageLength, 2);
          pos += 2;
        } else {
          this.#messageLength = data[pos]! << 8;
          this.#prefixBytes = 1;
          edges.bytes = 1;
          pos++;
        }
        continue;
      }
      this.#touch(view);
      if (this.#prefixBytes === 1) {
        this.#startBody(this.#messageLength | data[pos]!, 1);
        pos++;
        continue;
      }
      const take = Math.min(end - pos, this.#messageLength - this.#filled);
      if (!this.#reserve(this.#filled + take)) return;
      const buffer = this.#buffer!;
      for (let i = 0; i < take; i++) buffer[this.#filled + i] = data[pos + i]!;
      this.#filled += take;
      edges.bytes += take;
      pos += take;
      this.#completeIfFull();
    }
    // A zero-length message completes with its prefix, even when the prefix ends the call.
    if (this.#prefixBytes === 2) this.#completeIfFull();
  }

  /** `bytes` of this direction will never arrive. */
  gap(bytes: number): void {
    if (this.#desynced) return;
    this.#skips.add(kTcpGap);
    if (this.#prefixBytes === 2 && bytes <= this.#messageLength - this.#filled) {
      // The gap lies inside the current message: it is lost, but the next prefix is where we expect.
      this.#lost = true;
      this.#filled += bytes;
      this.#completeIfFull();
      return;
    }
    this.#skips.add(kTcpDesync);
    this.#desynced = true;
    this.#reset();
  }

  /** The direction ended (FIN or RST): a message still being assembled never completes. */
  close(): void {
    if (this.#prefixBytes !== 0) this.#skips.add(kTcpIncomplete);
    this.#reset();
  }

  #startBody(messageLength: number, prefixBytesAdded: number): void {
    this.#messageLength = messageLength;
    this.#prefixBytes = 2;
    // Allocated as the body arrives, not from the prefix: a prefix alone announcing 64 KiB on
    // every connection would otherwise hold 64 KiB each.
    this.#buffer = null;
    this.#filled = 0;
    this.#edges.bytes += prefixBytesAdded;
  }

  /**
   * Room for `needed` body bytes: the buffer grows by doubling (at least 512 bytes, at most the
   * message length), reserved in the parsers' budget first. Refused: the direction is dropped
   * (dns.parser_budget) and false returned.
   */
  #reserve(needed: number): boolean {
    const have = this.#buffer?.length ?? 0;
    if (needed <= have) return true;
    const size = Math.min(this.#messageLength, Math.max(needed, have * 2, kInitialBodyBytes));
    if (!this.#parserBuffers.reserve(size - have)) {
      this.#skips.add(kParserBudget);
      this.#desynced = true;
      this.#reset();
      return false;
    }
    const grown = new Uint8Array(size);
    if (this.#buffer !== null) grown.set(this.#buffer.subarray(0, this.#filled));
    this.#buffer = grown;
    return true;
  }

  /** Counts the packet once when it brings more bytes of the current message. */
  #touch(view: PacketView): void {
    const edges = this.#edges;
    if (edges.lastPacket !== view.packetNumber || edges.lastFileId !== view.fileId) {
      edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
    }
  }

  #completeIfFull(): void {
    if (this.#filled < this.#messageLength) return;
    const buffer = this.#buffer ?? kNoBytes;
    const length = this.#messageLength;
    const lost = this.#lost;
    this.#reset();
    if (!lost) this.#handler.onMessage(this.#flow, buffer, 0, length, this.#edges);
  }

  /** Between messages again; the buffer's bytes go back to the budget. */
  #reset(): void {
    if (this.#buffer !== null) this.#parserBuffers.release(this.#buffer.length);
    this.#prefixBytes = 0;
    this.#messageLength = 0;
    this.#buffer = null;
    this.#filled = 0;
    this.#lost = false;
  }

  /** The connection is forgotten: what is held goes back, nothing more will come. */
  forget(): void {
    this.#desynced = true;
    this.#reset();
  }
}

/** One claimed connection: a framer per direction, and the queries it carries still waiting. */
export class DnsConnection implements StreamConsumer {
  /** Queries sent on this connection and still pending (the matcher adds and removes them). */
  readonly pending = new Set<DnsEntry>();
  readonly #handler: DnsMessageHandler;
  readonly #fromClient: DnsFramer;
  readonly #fromServer: DnsFramer;

  constructor(
    info: TcpConnectionInfo,
    handler: DnsMessageHandler,
    skips: SkipCounters,
    parserBuffers: ParserBufferBudget,
  ) {
    this.#handler = handler;
    this.#fromClient = new DnsFramer(this.#flow(info, true), handler, skips, parserBuffers);
    this.#fromServer = new DnsFramer(this.#flow(info, false), handler, skips, parserBuffers);
  }

  onForget(): void {
    this.#fromClient.forget();
    this.#fromServer.forget();
  }

  #flow(info: TcpConnectionInfo, fromClient: boolean): DnsFlow {
    const flow = new DnsFlow();
    flow.transport = 6;
    flow.ipVersion = info.ipVersion;
    flow.connection = this;
    flow.fromConnectionClient = fromClient;
    flow.src0 = fromClient ? info.client0 : info.server0;
    flow.src1 = fromClient ? info.client1 : info.server1;
    flow.src2 = fromClient ? info.client2 : info.server2;
    flow.src3 = fromClient ? info.client3 : info.server3;
    flow.srcPort = fromClient ? info.clientPort : info.serverPort;
    flow.dst0 = fromClient ? info.server0 : info.client0;
    flow.dst1 = fromClient ? info.server1 : info.client1;
    flow.dst2 = fromClient ? info.server2 : info.client2;
    flow.dst3 = fromClient ? info.server3 : info.client3;
    flow.dstPort = fromClient ? info.serverPort : info.clientPort;
    return flow;
  }

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    (fromClient ? this.#fromClient : this.#fromServer).push(data, offset, length, view);
  }

  onGap(fromClient: boolean, bytes: number, _view: PacketView): void {
    (fromClient ? this.#fromClient : this.#fromServer).gap(bytes);
  }

  onClose(fromClient: boolean, reset: boolean, _view: PacketView): void {
    if (reset) {
      this.#fromClient.close();
      this.#fromServer.close();
    } else {
      (fromClient ? this.#fromClient : this.#fromServer).close();
    }
    this.#handler.onConnectionClosed(this, fromClient, reset);
  }
}

/** The StreamProtocol the DNS matcher exposes: claims connections with a DNS port on either side. */
export class DnsStreamProtocol implements StreamProtocol {
  readonly name = 'dns';
  readonly #dnsPorts: Uint8Array;
  readonly #handler: DnsMessageHandler;
  readonly #skips: SkipCounters;

  readonly #parserBuffers: ParserBufferBudget;

  constructor(
    dnsPorts: Uint8Array,
    handler: DnsMessageHandler,
    skips: SkipCounters,
    parserBuffers: ParserBufferBudget,
  ) {
    this.#dnsPorts = dnsPorts;
    this.#handler = handler;
    this.#skips = skips;
    this.#parserBuffers = parserBuffers;
  }

  claim(
    connection: TcpConnectionInfo,
    _fromClient: boolean,
    _data: Uint8Array,
    _offset: number,
    _length: number,
    _view: PacketView,
  ): StreamConsumer | null {
    // Either side: without a SYN in the capture the reassembly may have guessed the client wrong.
    if (this.#dnsPorts[connection.serverPort] !== 1 && this.#dnsPorts[connection.clientPort] !== 1)
      return null;
    return new DnsConnection(connection, this.#handler, this.#skips, this.#parserBuffers);
  }

  pendingCount(): number {
    return this.#handler.tcpPendingCount();
  }

  // One pending table serves UDP and TCP, so these reach the same requests as the matcher's
  // own expire/flush (which include TCP, per the matcher.ts contract); calling both is harmless.
  expire(seconds: number, nanos: number): void {
    this.#handler.expire(seconds, nanos);
  }

  flush(): void {
    this.#handler.flush();
  }
}
