/**
 * TLS handshake matcher ('tls'): one pair per connection, ClientHello -> ServerHello, read from
 * the reassembled TCP stream. Nothing is decrypted.
 *
 * Rules (the README's "TLS handshakes" section):
 * - Claims a connection on any port whose client's first bytes are a TLS handshake record
 *   (content type 22, version 3.x) holding a ClientHello (handshake type 1).
 * - request = the ClientHello message, response = the ServerHello message (latency: ClientHello's
 *   first byte -> ServerHello's last byte). Messages are reassembled across records and segments,
 *   up to kMaxHandshakeMessageBytes (larger: counted, the connection is no longer followed).
 * - A TLS 1.3 HelloRetryRequest is a ServerHello: the pair ends there (detail.hello_retry); the
 *   second ClientHello on the connection is not paired.
 * - TLS 1.2 (and older): the pair is held until the server's Finished (the first handshake
 *   record after its ChangeCipherSpec): detail.handshake_ns = ClientHello's first byte -> that
 *   record's last byte. TLS 1.3 encrypts everything after the ServerHello: emitted at once.
 * - A plaintext alert from the server instead of a ServerHello is the server's answer: matched,
 *   response = the alert record, detail.alert set (an error). A plaintext alert during the TLS 1.2
 *   handshake (either side) is put in the detail of the pair, emitted then.
 * - No ServerHello: the server closing (FIN/RST) or a client alert -> unanswered
 *   connection_closed; timeout (timeoutNanos.tls) -> expired; table full -> evicted; end of
 *   input -> end_of_input. A TLS 1.2 pair still waiting for the Finished is then emitted as
 *   matched without handshake_ns.
 * - Bytes lost (a gap) or a record that is not TLS stop the following of the connection: an
 *   open pair is emitted as above (matched when the ServerHello was seen, else left to expire).
 */
import { skipReason } from '../../shared/skips.ts';
import { type MatcherContext, type PacketView, parserBuffersOf } from '../matcher.ts';
import { MessageEdges, Outcome, Pair, type PairSink, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import type { StreamConsumer, StreamProtocol, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import {
  alertName,
  cipherName,
  HelloFields,
  parseClientHello,
  parseServerHello,
  versionName,
} from './parse.ts';

const kBadRecord = skipReason('tls.bad_record');
const kMessageTooLarge = skipReason('tls.handshake_too_large');
const kMalformedHello = skipReason('tls.malformed_hello');
const kBufferRefused = skipReason('tls.parser_buffer_refused');
const kPendingEvicted = skipReason('tls.pending_evicted');

/** A ClientHello or ServerHello larger than this is not followed (real ones are a few KiB). */
export const kMaxHandshakeMessageBytes = 64 * 1024;
/** TLSPlaintext/TLSCiphertext length limit (2^14 + 2048). */
const kMaxRecordLength = 16384 + 2048;
const kRecordHeaderLength = 5;
const kHandshakeHeaderLength = 4;

const ContentType = {
  ChangeCipherSpec: 20,
  Alert: 21,
  Handshake: 22,
  ApplicationData: 23,
  Heartbeat: 24,
} as const;
const HandshakeType = { ClientHello: 1, ServerHello: 2 } as const;
const kTls13 = 0x0304;

const State = { AwaitClientHello: 0, AwaitServerHello: 1, AwaitServerFinished: 2, Done: 3 } as const;
type State = (typeof State)[keyof typeof State];

/** The JSONL detail of a tls pair (absent fields: not seen). */
export type TlsDetail = {
  sni: string | null;
  versions_offered: string[];
  version: string | null;
  cipher: string | null;
  cipher_suites_offered: number;
  alpn_offered: string[];
  alpn: string | null;
  handshake_ns?: number;
  /** TLS 1.3: the server asked for another ClientHello (HelloRetryRequest); the pair ends at that request. */
  hello_retry?: true;
  alert?: { from: 'client' | 'server'; level: 'warning' | 'fatal' | string; description: string };
};

/** Whether the first bytes a client sent start a TLS handshake record with a ClientHello. */
export function startsClientHello(data: Uint8Array, offset: number, length: number): boolean {
  return (
    length >= 6 &&
    data[offset] === ContentType.Handshake &&
    data[offset + 1] === 3 &&
    data[offset + 2]! <= 4 &&
    data[offset + 5] === HandshakeType.ClientHello
  );
}

/** Record and handshake-message framing of one direction. */
class Direction {
  headerGot = 0;
  recordType = 0;
  recordLength = 0;
  recordLeft = 0;
  /** The handshake message being read (only the wanted first message of each side). */
  messageHeaderGot = 0;
  messageType = 0;
  messageLength = 0;
  messageFilled = 0;
  buffer: Uint8Array | null = null;
  readonly edges = new MessageEdges();
  alertGot = 0;
  alertLevel = 0;
  alertDescription = 0;
  sentChangeCipherSpec = false;
}

class TlsConnection implements StreamConsumer, PendingEntry {
  key = 0;
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  seconds = 0;
  nanos = 0;
  state: State = State.AwaitClientHello;
  readonly #protocol: TlsStreamProtocol;
  readonly #info: TcpConnectionInfo;
  readonly #client = new Direction();
  readonly #server = new Direction();
  pair: Pair | null = null;
  detail: TlsDetail | null = null;
  /** False once the framing is lost (gap, bad record, oversized message): later bytes are ignored. */
  #reading = true;

  constructor(protocol: TlsStreamProtocol, info: TcpConnectionInfo) {
    this.#protocol = protocol;
    this.#info = info;
  }

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    if (!this.#reading) return;
    const d = fromClient ? this.#client : this.#server;
    const end = offset + length;
    let at = offset;
    while (at < end && this.#following()) {
      if (d.headerGot < kRecordHeaderLength) {
        const byte = data[at++]!;
        if (d.headerGot === 0) d.recordType = byte;
        else if (d.headerGot === 1 && byte !== 3) {
          this.#stop(kBadRecord);
          return;
        } else if (d.headerGot === 3) d.recordLength = byte << 8;
        else if (d.headerGot === 4) d.recordLength |= byte;
        d.headerGot++;
        if (d.headerGot < kRecordHeaderLength) continue;
        if (d.recordType < ContentType.ChangeCipherSpec || d.recordType > ContentType.Heartbeat) {
          this.#stop(kBadRecord);
          return;
        }
        if (d.recordLength > kMaxRecordLength) {
          this.#stop(kBadRecord);
          return;
        }
        d.recordLeft = d.recordLength;
        d.alertGot = 0;
        if (d.recordLeft > 0) continue;
      } else {
        const take = Math.min(d.recordLeft, end - at);
        this.#recordBody(fromClient, d, data, at, take, view);
        at += take;
        d.recordLeft -= take;
        if (d.recordLeft > 0) continue;
      }
      d.headerGot = 0;
      if (this.#following()) this.#recordEnd(fromClient, d, view);
    }
  }

  /** Still reading this connection's handshake. */
  #following(): boolean {
    return this.#reading && this.state !== State.Done;
  }

  #recordBody(
    fromClient: boolean,
    d: Direction,
    data: Uint8Array,
    at: number,
    take: number,
    view: PacketView,
  ): void {
    const type = d.recordType;
    if (type === ContentType.Handshake) {
      const wanted = fromClient
        ? this.state === State.AwaitClientHello
        : this.state === State.AwaitServerHello;
      if (wanted) this.#message(fromClient, d, data, at, take, view);
    } else if (type === ContentType.Alert && !d.sentChangeCipherSpec) {
      for (let i = 0; i < take && d.alertGot < 2; i++, d.alertGot++) {
        if (d.alertGot === 0) d.alertLevel = data[at + i]!;
        else d.alertDescription = data[at + i]!;
      }
    }
  }

  #recordEnd(fromClient: boolean, d: Direction, view: PacketView): void {
    const type = d.recordType;
    if (type === ContentType.ChangeCipherSpec) {
      d.sentChangeCipherSpec = true;
    } else if (type === ContentType.Alert && !d.sentChangeCipherSpec && d.recordLength === 2) {
      this.#onAlert(fromClient, d, view);
    } else if (
      type === ContentType.Handshake &&
      !fromClient &&
      this.state === State.AwaitServerFinished &&
      d.sentChangeCipherSpec
    ) {
      const request = this.pair!.request;
      this.detail!.handshake_ns =
        (view.seconds - request.firstSeconds) * 1_000_000_000 + (view.nanos - request.firstNanos);
      this.#protocol.emit(this, Outcome.Matched, UnansweredReason.Expired);
    }
  }

  /** Bytes of the side's first handshake message: framed, copied only when split, then parsed. */
  #message(
    fromClient: boolean,
    d: Direction,
    data: Uint8Array,
    at: number,
    take: number,
    view: PacketView,
  ): void {
    const end = at + take;
    if (d.messageHeaderGot === 0 && d.messageFilled === 0) {
      d.edges.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
    } else if (d.edges.lastPacket !== view.packetNumber || d.edges.lastFileId !== view.fileId) {
      d.edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
    }
    while (at < end && d.messageHeaderGot < kHandshakeHeaderLength) {
      const byte = data[at++]!;
      if (d.messageHeaderGot === 0) d.messageType = byte;
      else d.messageLength = d.messageLength * 256 + byte;
      d.messageHeaderGot++;
      if (d.messageHeaderGot === kHandshakeHeaderLength && d.messageLength > kMaxHandshakeMessageBytes) {
        this.#stop(kMessageTooLarge);
        return;
      }
    }
    if (d.messageHeaderGot < kHandshakeHeaderLength) return;
    const need = d.messageLength - d.messageFilled;
    const available = Math.min(need, end - at);
    if (d.buffer === null && available === need) {
      // The whole body is in this chunk: parsed in place, nothing copied.
      this.#messageDone(fromClient, d, data, at, at + need, view);
      return;
    }
    if (d.buffer === null) {
      if (!this.#protocol.parserBuffers.reserve(d.messageLength)) {
        this.#stop(kBufferRefused);
        return;
      }
      d.buffer = new Uint8Array(d.messageLength);
    }
    d.buffer.set(data.subarray(at, at + available), d.messageFilled);
    d.messageFilled += available;
    if (d.messageFilled === d.messageLength)
      this.#messageDone(fromClient, d, d.buffer, 0, d.messageLength, view);
  }

  #messageDone(
    fromClient: boolean,
    d: Direction,
    bytes: Uint8Array,
    start: number,
    end: number,
    view: PacketView,
  ): void {
    d.edges.bytes = kHandshakeHeaderLength + d.messageLength;
    const hello = new HelloFields();
    const expected = fromClient ? HandshakeType.ClientHello : HandshakeType.ServerHello;
    const ok =
      d.messageType === expected &&
      (fromClient ? parseClientHello(bytes, start, end, hello) : parseServerHello(bytes, start, end, hello));
    this.#releaseBuffer(d);
    if (!ok) {
      this.#stop(kMalformedHello);
      return;
    }
    if (fromClient) this.#onClientHello(hello, d.edges, view);
    else this.#onServerHello(hello, d.edges);
  }

  #onClientHello(hello: HelloFields, edges: MessageEdges, view: PacketView): void {
    const pair = new Pair();
    pair.protocol = 'tls';
    pair.transport = 6;
    const info = this.#info;
    pair.ipVersion = info.ipVersion;
    pair.client0 = info.client0;
    pair.client1 = info.client1;
    pair.client2 = info.client2;
    pair.client3 = info.client3;
    pair.clientPort = info.clientPort;
    pair.server0 = info.server0;
    pair.server1 = info.server1;
    pair.server2 = info.server2;
    pair.server3 = info.server3;
    pair.serverPort = info.serverPort;
    pair.request.copyFrom(edges);
    const offered = hello.versions.length > 0 ? hello.versions : [hello.legacyVersion];
    this.detail = {
      sni: hello.serverName,
      versions_offered: offered.map(versionName),
      version: null,
      cipher: null,
      cipher_suites_offered: hello.cipherSuites,
      alpn_offered: hello.alpn,
      alpn: null,
    } satisfies TlsDetail;
    pair.detail = this.detail;
    this.pair = pair;
    this.state = State.AwaitServerHello;
    this.seconds = view.seconds;
    this.nanos = view.nanos;
    this.#protocol.open(this);
  }

  #onServerHello(hello: HelloFields, edges: MessageEdges): void {
    const pair = this.pair!;
    const detail = this.detail!;
    const version = hello.versions.length > 0 ? hello.versions[0]! : hello.legacyVersion;
    detail.version = versionName(version);
    detail.cipher = cipherName(hello.cipher);
    detail.alpn = hello.alpn.length > 0 ? hello.alpn[0]! : null;
    if (hello.helloRetry) detail.hello_retry = true;
    pair.response = new MessageEdges();
    pair.response.copyFrom(edges);
    if (version >= kTls13) this.#protocol.emit(this, Outcome.Matched, UnansweredReason.Expired);
    else this.state = State.AwaitServerFinished;
  }

  #onAlert(fromClient: boolean, d: Direction, view: PacketView): void {
    if (this.state === State.AwaitClientHello) return;
    const detail = this.detail!;
    detail.alert = {
      from: fromClient ? 'client' : 'server',
      level: d.alertLevel === 1 ? 'warning' : d.alertLevel === 2 ? 'fatal' : String(d.alertLevel),
      description: alertName(d.alertDescription),
    };
    if (this.state === State.AwaitServerFinished) {
      this.#protocol.emit(this, Outcome.Matched, UnansweredReason.Expired);
    } else if (fromClient) {
      this.#protocol.emit(this, Outcome.Unanswered, UnansweredReason.ConnectionClosed);
    } else {
      // The alert is the server's answer to the ClientHello: the response is its record.
      const response = new MessageEdges();
      response.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, kRecordHeaderLength + 2);
      this.pair!.response = response;
      this.#protocol.emit(this, Outcome.Matched, UnansweredReason.Expired);
    }
  }

  /** Stops reading the connection (counted unless reason < 0); a pair waiting for the Finished goes out matched. */
  #stop(reason: number): void {
    if (reason >= 0) this.#protocol.skips.add(reason);
    this.#reading = false;
    this.#releaseBuffers();
    if (this.state === State.AwaitServerFinished)
      this.#protocol.emit(this, Outcome.Matched, UnansweredReason.Expired);
  }

  /** Bytes lost: the framing is gone (reassembly counts the gap itself). */
  onGap(_fromClient: boolean, _bytes: number, _view: PacketView): void {
    this.#stop(-1);
  }

  onClose(fromClient: boolean, _reset: boolean, _view: PacketView): void {
    if (fromClient) return;
    if (this.state === State.AwaitServerHello) {
      this.#protocol.emit(this, Outcome.Unanswered, UnansweredReason.ConnectionClosed);
    } else if (this.state === State.AwaitServerFinished) {
      this.#protocol.emit(this, Outcome.Matched, UnansweredReason.Expired);
    }
  }

  onForget(): void {
    this.#releaseBuffers();
  }

  #releaseBuffers(): void {
    this.#releaseBuffer(this.#client);
    this.#releaseBuffer(this.#server);
  }

  #releaseBuffer(d: Direction): void {
    if (d.buffer !== null) this.#protocol.parserBuffers.release(d.buffer.length);
    d.buffer = null;
  }
}

/** Claims TLS connections and keeps their open handshakes in capture order (expiry, cap). */
export class TlsStreamProtocol implements StreamProtocol {
  readonly name = 'tls';
  readonly skips: MatcherContext['skips'];
  readonly parserBuffers: ParserBufferBudget;
  readonly #sink: PairSink;
  readonly #table: PendingTable<TlsConnection>;
  /** Keys of the pending table: one per handshake, never reused. */
  #nextKey = 0;

  constructor(context: MatcherContext) {
    this.#sink = context.sink;
    this.skips = context.skips;
    this.parserBuffers = parserBuffersOf(context);
    this.#table = new PendingTable(context.options.maxPending.tls!, context.options.timeoutNanos.tls!);
  }

  claim(
    connection: TcpConnectionInfo,
    fromClient: boolean,
    data: Uint8Array,
    offset: number,
    length: number,
    _view: PacketView,
  ): StreamConsumer | null {
    if (!fromClient || !startsClientHello(data, offset, length)) return null;
    return new TlsConnection(this, connection);
  }

  /** A ClientHello was read: the handshake waits for its ServerHello. */
  open(connection: TlsConnection): void {
    connection.key = this.#nextKey++;
    const evicted = this.#table.insert(connection);
    if (evicted !== undefined) {
      this.skips.add(kPendingEvicted);
      this.emit(evicted, Outcome.Unanswered, UnansweredReason.Evicted);
    }
  }

  /** Sends the connection's pair (reason: for unanswered) and forgets the handshake. */
  emit(connection: TlsConnection, outcome: Outcome, reason: UnansweredReason): void {
    this.#table.delete(connection.key);
    connection.state = State.Done;
    const pair = connection.pair!;
    pair.outcome = outcome;
    if (outcome === Outcome.Unanswered) {
      pair.unansweredReason = reason;
      pair.response = null;
    }
    this.#sink.emit(pair);
  }

  /** A handshake given up (timeout, end of input): matched once its ServerHello was seen. */
  #giveUp(connection: TlsConnection, reason: UnansweredReason): void {
    const answered = connection.state === State.AwaitServerFinished;
    this.emit(connection, answered ? Outcome.Matched : Outcome.Unanswered, reason);
  }

  pendingCount(): number {
    return this.#table.size;
  }

  expire(seconds: number, nanos: number): void {
    for (
      let c = this.#table.popExpired(seconds, nanos);
      c !== undefined;
      c = this.#table.popExpired(seconds, nanos)
    ) {
      this.#giveUp(c, UnansweredReason.Expired);
    }
  }

  flush(): void {
    for (let c = this.#table.popOldest(); c !== undefined; c = this.#table.popOldest()) {
      this.#giveUp(c, UnansweredReason.EndOfInput);
    }
  }
}
