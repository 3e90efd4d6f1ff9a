/**
 * HTTP/2 (cleartext, prior knowledge) pairing over reassembled TCP streams: one pair per stream,
 * from the first byte of the client's HEADERS frame to the server's END_STREAM (streams are
 * concurrent: pairs complete in any order; 1xx responses are interim). A stream whose request
 * is gRPC (content-type application/grpc) becomes a `grpc` pair (service and method from :path,
 * grpc-status from the trailers or a Trailers-Only response, length-prefixed messages counted
 * per direction across DATA frames), every other one an `http` pair with version "2" and the
 * HTTP/1 detail fields. Not read: h2c Upgrade from HTTP/1.1 (the HTTP/1 matcher owns those
 * connections), pushed streams (their header blocks are decoded only to keep HPACK in step).
 *
 * Invariants:
 * - Per packet: a frame state machine per direction over the bytes (no objects); header blocks
 *   are decoded in place when a frame arrives whole, copied (budgeted) only when split. Objects
 *   are made per stream (H2Stream, Pair, detail) and per header field string.
 * - Every stream opened by a request HEADERS frame is in a PendingTable, HTTP's or gRPC's (the
 *   timeout of its pair's protocol, --http-timeout or --grpc-timeout; both capped by
 *   maxPending.http: gRPC calls are HTTP requests; its timeout restarts with progress at most
 *   once a second; it moves to gRPC's when its request headers say so) until emitted
 *   exactly once: matched at the server's END_STREAM, or unanswered: RST_STREAM or GOAWAY before
 *   it (ConnectionClosed, with the reset named in the detail), the server's close, expiry,
 *   eviction or end of input.
 * - A connection whose preface was not captured is recognised by its frames (frame.ts), from the
 *   side whose HEADERS show it (a request pseudo-header or :status first, from the static table),
 *   and decoded with a partial HPACK state: pairs are still made, fields that reference unknown
 *   table entries are null and counted (http2.header_undecodable). After lost bytes a direction
 *   resynchronises at the next segment that starts with plausible frames, with the same
 *   partial HPACK state.
 * - Bounded: open streams per connection (kMaxOpenStreams), header block bytes (kMaxHeaderBlockBytes,
 *   from the shared ParserBufferBudget), HPACK tables (hpack.ts), the pending table.
 */

import { type SkipCounters, skipReason } from '../../shared/skips.ts';
import { redactTarget } from '../http/redact.ts';
import { type MatcherContext, type PacketView, parserBuffersOf } from '../matcher.ts';
import { diffNanos, MessageEdges, Outcome, Pair, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import { maxPendingOf, timeoutNanosOf } from '../protocol.ts';
import type { StreamConsumer, StreamProtocol, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import {
  Evidence,
  errorName,
  Flag,
  FrameType,
  frameEvidence,
  kFrameHeaderBytes,
  kPreface,
  startsPreface,
} from './frame.ts';
import { GrpcMessageCounter, isGrpcContentType, splitGrpcPath } from './grpc.ts';
import { type HeaderSink, HpackDecoder, HpackResult } from './hpack.ts';

const kEvicted = skipReason('http2.evicted');
/** Response HEADERS on a stream with no request (sent before the capture, or its request expired). */
const kResponseWithoutRequest = skipReason('http2.response_without_request');
/** A header field referencing an HPACK table entry never seen (capture started mid-connection): counted per field. */
const kHeaderUndecodable = skipReason('http2.header_undecodable');
/** A decoded header list over hpack.ts kMaxHeaderListBytes: the rest of its fields ignored. */
const kHeaderListTooLarge = skipReason('http2.header_list_too_large');
/** A header block over kMaxHeaderBlockBytes: not decoded, that direction's HPACK state partial from then on. */
const kHeaderBlockTooLarge = skipReason('http2.header_block_too_large');
/** The parsers' shared budget was spent: as for a block too large. */
const kParserBudget = skipReason('http2.parser_budget');
/** A header block HPACK could not decode (bad integer, index, Huffman code): fields lost, state partial. */
const kHpackMalformed = skipReason('http2.hpack_malformed');
/** A dynamic table size update over hpack.ts kMaxTableBytes (clamped, state partial). */
const kTableSizeClamped = skipReason('http2.hpack_table_size_clamped');
/** A new stream beyond kMaxOpenStreams on one connection: not followed. */
const kStreamLimit = skipReason('http2.stream_limit');
/** A direction's framing was lost (bytes missing, or not HTTP/2 frames): resynchronised at the next plausible segment. */
const kFramingLost = skipReason('http2.framing_lost');

/** Header block bytes buffered per direction while HEADERS/CONTINUATION are split across segments. */
export const kMaxHeaderBlockBytes = 256 * 1024;
/** Streams followed at once per connection (servers advertise 100-1000 concurrent streams). */
export const kMaxOpenStreams = 1024;
const kRefreshNanos = 1_000_000_000;
/** Longest grpc-message kept (it is free text from the server). */
const kMaxGrpcMessageChars = 256;

export type Http2Detail = {
  method: string | null;
  target: string | null;
  version: '2';
  status: number | null;
  host: string | null;
  user_agent?: string;
  traceparent?: string;
  request_content_length?: number;
  response_content_length?: number;
  stream_id: number;
  /** Header fields that could not be decoded (HPACK state unknown: capture started mid-connection). */
  undecoded_headers?: number;
  /** RST_STREAM error name and who sent it, or the GOAWAY that dropped the stream. */
  reset?: string;
  reset_by?: 'client' | 'server';
};

export type GrpcDetail = {
  service: string | null;
  method: string | null;
  /** grpc-status from the trailers (or a Trailers-Only response); null when none arrived. */
  status_code: number | null;
  message?: string;
  http_status: number | null;
  authority: string | null;
  request_messages: number;
  request_message_bytes: number;
  response_messages: number;
  response_message_bytes: number;
  stream_id: number;
  undecoded_headers?: number;
  reset?: string;
  reset_by?: 'client' | 'server';
};

const Phase = { Preface: 0, Header: 1, Payload: 2, Lost: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** One HTTP/2 stream from its request HEADERS on: pending entry and the Pair it becomes. */
class H2Stream implements PendingEntry {
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  readonly key: number;
  seconds: number;
  nanos: number;
  readonly connection: Http2Connection;
  readonly id: number;
  readonly pair = new Pair();
  readonly response = new MessageEdges();
  /** The pending table it waits in (HTTP's, or gRPC's once its headers say so). */
  table: PendingTable<H2Stream>;
  done = false;
  requestEnded = false;
  /** A final (non-1xx) response HEADERS frame started: response edges are running. */
  responseStarted = false;
  /** The request's header block was decoded (later client blocks are trailers). */
  requestHeadersDone = false;
  method: string | null = null;
  path: string | null = null;
  authority: string | null = null;
  host: string | null = null;
  userAgent: string | null = null;
  traceparent: string | null = null;
  contentType: string | null = null;
  requestContentLength = -1;
  responseContentLength = -1;
  status = 0;
  grpcStatus = -1;
  grpcMessage: string | null = null;
  undecodable = 0;
  reset: string | null = null;
  resetByClient = false;
  /** Set for gRPC calls once the request headers are decoded. */
  requestMessages: GrpcMessageCounter | null = null;
  responseMessages: GrpcMessageCounter | null = null;

  constructor(
    key: number,
    connection: Http2Connection,
    id: number,
    view: PacketView,
    table: PendingTable<H2Stream>,
  ) {
    this.key = key;
    this.table = table;
    this.seconds = view.seconds;
    this.nanos = view.nanos;
    this.connection = connection;
    this.id = id;
  }

  detail(matched: boolean, keepQuery: boolean): Http2Detail | GrpcDetail {
    const shared: Pick<Http2Detail, 'stream_id' | 'undecoded_headers' | 'reset' | 'reset_by'> = {
      stream_id: this.id,
    };
    if (this.undecodable > 0) shared.undecoded_headers = this.undecodable;
    if (this.reset !== null) {
      shared.reset = this.reset;
      shared.reset_by = this.resetByClient ? 'client' : 'server';
    }
    const requests = this.requestMessages;
    const responses = this.responseMessages;
    if (requests !== null && responses !== null) {
      const call = splitGrpcPath(this.path);
      const detail: GrpcDetail = {
        service: call?.service ?? null,
        method: call?.method ?? null,
        status_code: this.grpcStatus >= 0 ? this.grpcStatus : null,
        http_status: this.status > 0 ? this.status : null,
        authority: this.authority ?? this.host,
        request_messages: requests.messages,
        request_message_bytes: requests.bytes,
        response_messages: responses.messages,
        response_message_bytes: responses.bytes,
        ...shared,
      };
      if (this.grpcMessage !== null) detail.message = this.grpcMessage;
      return detail;
    }
    const detail: Http2Detail = {
      method: this.method,
      target: this.path === null ? null : redactTarget(this.path, keepQuery),
      version: '2',
      status: matched && this.status > 0 ? this.status : null,
      host: this.authority ?? this.host,
      ...shared,
    };
    if (this.userAgent !== null) detail.user_agent = this.userAgent;
    if (this.traceparent !== null) detail.traceparent = this.traceparent;
    if (this.requestContentLength >= 0) detail.request_content_length = this.requestContentLength;
    if (matched && this.responseContentLength >= 0)
      detail.response_content_length = this.responseContentLength;
    return detail;
  }
}

/** Adds `bytes` of the packet `view` to a message: a new packet extends it, the same one only adds bytes. */
function touch(edges: MessageEdges, view: PacketView, bytes: number): void {
  if (edges.lastPacket === view.packetNumber && edges.lastFileId === view.fileId) edges.bytes += bytes;
  else edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, bytes);
}

export class Http2StreamProtocol implements StreamProtocol {
  readonly name = 'http2';
  readonly #context: MatcherContext;
  readonly #httpTable: PendingTable<H2Stream>;
  readonly #grpcTable: PendingTable<H2Stream>;
  readonly #parserBuffers: ParserBufferBudget;
  #nextKey = 1;

  constructor(context: MatcherContext) {
    this.#context = context;
    const cap = maxPendingOf(context.options, 'http');
    this.#httpTable = new PendingTable(cap, timeoutNanosOf(context.options, 'http'));
    this.#grpcTable = new PendingTable(cap, timeoutNanosOf(context.options, 'grpc'));
    this.#parserBuffers = parserBuffersOf(context);
  }

  claim(
    connection: TcpConnectionInfo,
    fromClient: boolean,
    data: Uint8Array,
    offset: number,
    length: number,
  ): StreamConsumer | null {
    if (fromClient && startsPreface(data, offset, length))
      return new Http2Connection(this, connection, false);
    // No preface: the capture started inside the connection. Frames that show which side sent
    // them, from the side they show (otherwise the reassembly offers them with the roles swapped).
    const evidence = frameEvidence(data, offset, length);
    if (evidence === (fromClient ? Evidence.Request : Evidence.Response)) {
      return new Http2Connection(this, connection, true);
    }
    return null;
  }

  get skips(): SkipCounters {
    return this.#context.skips;
  }

  get parserBuffers(): ParserBufferBudget {
    return this.#parserBuffers;
  }

  pendingCount(): number {
    return this.#httpTable.size + this.#grpcTable.size;
  }

  expire(seconds: number, nanos: number): void {
    for (;;) {
      const stream = this.#httpTable.popExpired(seconds, nanos) ?? this.#grpcTable.popExpired(seconds, nanos);
      if (stream === undefined) return;
      this.report(stream, UnansweredReason.Expired);
    }
  }

  flush(): void {
    for (;;) {
      const stream = this.#httpTable.popOldest() ?? this.#grpcTable.popOldest();
      if (stream === undefined) return;
      this.report(stream, UnansweredReason.EndOfInput);
    }
  }

  newStream(connection: Http2Connection, info: TcpConnectionInfo, id: number, view: PacketView): H2Stream {
    const stream = new H2Stream(this.#nextKey++, connection, id, view, this.#httpTable);
    const pair = stream.pair;
    pair.protocol = 'http';
    pair.transport = 6;
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
    this.restart(stream, view);
    return stream;
  }

  /** (Re)inserts a stream at the back of the table with its timeout starting at the view's time. */
  restart(stream: H2Stream, view: PacketView): void {
    if (stream.done) return;
    stream.seconds = view.seconds;
    stream.nanos = view.nanos;
    this.#insert(stream);
  }

  /** The request headers made it a gRPC call: it waits in gRPC's table from now on (same start). */
  becomeGrpc(stream: H2Stream): void {
    if (stream.done || stream.table === this.#grpcTable) return;
    stream.table.delete(stream.key);
    stream.table = this.#grpcTable;
    stream.pair.protocol = 'grpc';
    this.#insert(stream);
  }

  #insert(stream: H2Stream): void {
    const evicted = stream.table.insert(stream);
    if (evicted !== undefined) {
      this.#context.skips.add(kEvicted);
      this.report(evicted, UnansweredReason.Evicted);
    }
  }

  refresh(stream: H2Stream, view: PacketView): void {
    if (diffNanos(stream.seconds, stream.nanos, view.seconds, view.nanos) >= kRefreshNanos)
      this.restart(stream, view);
  }

  answer(stream: H2Stream): void {
    stream.table.delete(stream.key);
    stream.done = true;
    stream.connection.forget(stream);
    const pair = stream.pair;
    pair.outcome = Outcome.Matched;
    pair.response = stream.response;
    pair.detail = stream.detail(true, this.#context.options.httpKeepQuery);
    this.#context.sink.emit(pair);
  }

  report(stream: H2Stream, reason: UnansweredReason): void {
    stream.table.delete(stream.key);
    stream.done = true;
    stream.connection.forget(stream);
    const pair = stream.pair;
    pair.outcome = Outcome.Unanswered;
    pair.unansweredReason = reason;
    pair.response = null;
    pair.detail = stream.detail(false, this.#context.options.httpKeepQuery);
    this.#context.sink.emit(pair);
  }
}

/** One direction's frame reader state. */
class Direction {
  readonly fromClient: boolean;
  readonly hpack: HpackDecoder;
  phase: Phase;
  /** Whether the next resync is a recovery (counted) rather than the first look at a partial connection. */
  synced = false;
  prefaceHave = 0;
  readonly header = new Uint8Array(kFrameHeaderBytes);
  headerHave = 0;
  /** Capture time, file and packet of the current frame's first byte. */
  startSeconds = 0;
  startNanos = 0;
  startFileId = 0;
  startPacket = 0;
  frameLength = 0;
  frameType = 0;
  frameFlags = 0;
  frameStreamId = 0;
  /** Payload bytes of the current frame consumed so far. */
  payloadHave = 0;
  /** Padding length of a padded DATA frame once its first payload byte is read. */
  padLength = 0;
  /** The stream the current frame's bytes count for (null: none followed). */
  frameStream: H2Stream | null = null;
  /** RST_STREAM / GOAWAY payload start. */
  readonly control = new Uint8Array(8);
  /** Inside a header block (HEADERS or PUSH_PROMISE without END_HEADERS, CONTINUATION follows). */
  inBlock = false;
  blockStream: H2Stream | null = null;
  blockEndStream = false;
  /** Header block bytes copied while split (null when none); blockLength of them used, blockReserved reserved. */
  block: Uint8Array | null = null;
  blockLength = 0;
  blockReserved = 0;
  /** The block was given up (too large, out of budget): skip to its end, then the HPACK state is partial. */
  blockDropped = false;
  /** The current frame's block fragment was decoded in place (whole in one segment). */
  decodedInPlace = false;

  constructor(fromClient: boolean, hpack: HpackDecoder, phase: Phase) {
    this.fromClient = fromClient;
    this.hpack = hpack;
    this.phase = phase;
  }
}

/** One HTTP/2 connection: a frame reader per direction and the open streams by id. */
class Http2Connection implements StreamConsumer, HeaderSink {
  readonly #protocol: Http2StreamProtocol;
  readonly #info: TcpConnectionInfo;
  readonly #skips: SkipCounters;
  readonly #budget: ParserBufferBudget;
  readonly #client: Direction;
  readonly #server: Direction;
  readonly #streams = new Map<number, H2Stream>();
  #highestClientStream = 0;
  /** Where decoded fields go (HeaderSink). */
  #sinkStream: H2Stream | null = null;
  #sinkFromClient = false;

  constructor(protocol: Http2StreamProtocol, info: TcpConnectionInfo, partial: boolean) {
    this.#protocol = protocol;
    this.#info = info;
    this.#skips = protocol.skips;
    this.#budget = protocol.parserBuffers;
    this.#client = new Direction(
      true,
      new HpackDecoder(this.#budget, partial),
      partial ? Phase.Lost : Phase.Preface,
    );
    this.#server = new Direction(
      false,
      new HpackDecoder(this.#budget, partial),
      partial ? Phase.Lost : Phase.Header,
    );
  }

  forget(stream: H2Stream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
  }

  // StreamConsumer ---------------------------------------------------------------------------

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    const dir = fromClient ? this.#client : this.#server;
    const end = offset + length;
    let at = offset;
    while (at < end) {
      switch (dir.phase) {
        case Phase.Preface: {
          while (at < end && dir.prefaceHave < kPreface.length) {
            if (data[at] !== kPreface[dir.prefaceHave]) {
              this.#lose(dir);
              break;
            }
            at++;
            dir.prefaceHave++;
          }
          if (dir.prefaceHave === kPreface.length) dir.phase = Phase.Header;
          break;
        }
        case Phase.Header: {
          if (dir.headerHave === 0) {
            dir.startSeconds = view.seconds;
            dir.startNanos = view.nanos;
            dir.startFileId = view.fileId;
            dir.startPacket = view.packetNumber;
          }
          while (at < end && dir.headerHave < kFrameHeaderBytes) dir.header[dir.headerHave++] = data[at++]!;
          if (dir.headerHave === kFrameHeaderBytes) {
            dir.headerHave = 0;
            this.#beginFrame(dir, view);
            if (dir.frameLength === 0) this.#endFrame(dir, view);
            else dir.phase = Phase.Payload;
          }
          break;
        }
        case Phase.Payload: {
          const n = Math.min(end - at, dir.frameLength - dir.payloadHave);
          this.#payload(dir, data, at, n, view);
          at += n;
          dir.payloadHave += n;
          if (dir.payloadHave === dir.frameLength) {
            dir.phase = Phase.Header;
            this.#endFrame(dir, view);
          }
          break;
        }
        default: {
          // Lost: a segment that starts with plausible frames resumes the reading.
          if (frameEvidence(data, at, end - at) === Evidence.None) return;
          if (dir.synced) dir.hpack.lose();
          dir.synced = true;
          dir.phase = Phase.Header;
        }
      }
    }
  }

  onGap(fromClient: boolean, _bytes: number, _view: PacketView): void {
    const dir = fromClient ? this.#client : this.#server;
    if (dir.phase !== Phase.Lost) this.#lose(dir);
  }

  onClose(fromClient: boolean, _reset: boolean, _view: PacketView): void {
    if (fromClient) return; // a half-close: the server may still answer
    for (const stream of [...this.#streams.values()])
      this.#protocol.report(stream, UnansweredReason.ConnectionClosed);
  }

  onForget(): void {
    for (const dir of [this.#client, this.#server]) {
      this.#dropBlock(dir);
      dir.hpack.release();
      dir.phase = Phase.Lost;
    }
  }

  // HeaderSink -------------------------------------------------------------------------------

  field(name: string | null, value: string | null): void {
    const stream = this.#sinkStream;
    if (stream === null || name === null || value === null) return;
    if (this.#sinkFromClient) {
      if (stream.requestHeadersDone) return; // trailers: nothing of the request's identity
      switch (name) {
        case ':method':
          stream.method = value;
          break;
        case ':path':
          stream.path = value;
          break;
        case ':authority':
          stream.authority = value;
          break;
        case 'host':
          stream.host = value;
          break;
        case 'content-type':
          stream.contentType = value;
          break;
        case 'content-length':
          stream.requestContentLength = contentLength(value);
          break;
        case 'user-agent':
          stream.userAgent = value;
          break;
        case 'traceparent':
          stream.traceparent = value;
          break;
      }
      return;
    }
    switch (name) {
      case ':status':
        stream.status = Number(value) || 0;
        break;
      case 'content-length':
        stream.responseContentLength = contentLength(value);
        break;
      case 'grpc-status':
        stream.grpcStatus = /^\d{1,3}$/.test(value) ? Number(value) : -1;
        break;
      case 'grpc-message':
        stream.grpcMessage = percentDecoded(
          value.length > kMaxGrpcMessageChars ? value.slice(0, kMaxGrpcMessageChars) : value,
        );
        break;
    }
  }

  // Frames -----------------------------------------------------------------------------------

  #beginFrame(dir: Direction, view: PacketView): void {
    const h = dir.header;
    dir.frameLength = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
    dir.frameType = h[3]!;
    dir.frameFlags = h[4]!;
    dir.frameStreamId = ((h[5]! & 0x7f) << 24) | (h[6]! << 16) | (h[7]! << 8) | h[8]!;
    dir.payloadHave = 0;
    dir.padLength = 0;
    dir.decodedInPlace = false;
    dir.frameStream = null;
    const id = dir.frameStreamId;
    switch (dir.frameType) {
      case FrameType.Headers: {
        let stream = this.#streams.get(id) ?? null;
        if (dir.fromClient) {
          if (stream === null && id & 1 && id > this.#highestClientStream) stream = this.#open(id, view);
        } else if (stream === null) {
          this.#skips.add(kResponseWithoutRequest);
        } else if (!stream.responseStarted) {
          stream.responseStarted = true;
          stream.response.begin(dir.startSeconds, dir.startNanos, dir.startFileId, dir.startPacket, 0);
        }
        dir.inBlock = true;
        dir.blockStream = stream;
        dir.blockEndStream = (dir.frameFlags & Flag.EndStream) !== 0;
        dir.blockDropped = false;
        this.#countFrameStart(dir, stream, view);
        break;
      }
      case FrameType.PushPromise:
        // Its header block changes the HPACK state: decoded, reported nowhere.
        dir.inBlock = true;
        dir.blockStream = null;
        dir.blockEndStream = false;
        dir.blockDropped = false;
        break;
      case FrameType.Continuation:
        if (dir.inBlock) this.#countFrameStart(dir, dir.blockStream, view);
        break;
      case FrameType.Data:
        this.#countFrameStart(dir, this.#streams.get(id) ?? null, view);
        break;
    }
  }

  /** The frame's header belongs to a followed stream's message: its edges get the 9 bytes. */
  #countFrameStart(dir: Direction, stream: H2Stream | null, view: PacketView): void {
    if (stream === null) return;
    if (dir.fromClient ? stream.requestEnded : !stream.responseStarted) return;
    dir.frameStream = stream;
    const edges = dir.fromClient ? stream.pair.request : stream.response;
    if (edges.lastPacket === dir.startPacket && edges.lastFileId === dir.startFileId)
      edges.bytes += kFrameHeaderBytes;
    else edges.extend(dir.startSeconds, dir.startNanos, dir.startFileId, dir.startPacket, kFrameHeaderBytes);
    this.#protocol.refresh(stream, view);
  }

  #payload(dir: Direction, data: Uint8Array, at: number, n: number, view: PacketView): void {
    const stream = dir.frameStream;
    if (stream !== null) touch(dir.fromClient ? stream.pair.request : stream.response, view, n);
    switch (dir.frameType) {
      case FrameType.Data: {
        if (stream === null) return;
        const counter = dir.fromClient ? stream.requestMessages : stream.responseMessages;
        if (counter === null) return;
        let from = dir.payloadHave;
        let start = at;
        if (dir.frameFlags & Flag.Padded) {
          if (from === 0) {
            dir.padLength = data[at]!;
            from = 1;
            start++;
          }
        }
        const contentEnd = dir.frameLength - dir.padLength;
        const take = Math.min(dir.payloadHave + n, contentEnd) - from;
        if (take > 0) counter.feed(data, start, take);
        return;
      }
      case FrameType.Headers:
      case FrameType.PushPromise:
      case FrameType.Continuation:
        if (dir.inBlock) this.#blockBytes(dir, data, at, n);
        return;
      case FrameType.RstStream:
      case FrameType.GoAway:
        for (let i = 0; i < n && dir.payloadHave + i < 8; i++)
          dir.control[dir.payloadHave + i] = data[at + i]!;
        return;
    }
  }

  /** Header block bytes: decoded in place when the whole block is in this segment, else copied. */
  #blockBytes(dir: Direction, data: Uint8Array, at: number, n: number): void {
    if (dir.blockDropped) return;
    if (
      dir.blockLength === 0 &&
      dir.payloadHave === 0 &&
      n === dir.frameLength &&
      dir.frameFlags & Flag.EndHeaders
    ) {
      const prefix = this.#fragmentPrefix(dir);
      const padding =
        dir.frameType !== FrameType.Continuation && dir.frameFlags & Flag.Padded ? data[at]! : 0;
      const length = n - prefix - padding;
      if (length < 0) {
        this.#decodeFailed(dir, kHpackMalformed);
        return;
      }
      this.#decode(dir, data, at + prefix, length);
      dir.decodedInPlace = true;
      return;
    }
    const needed = dir.blockLength + n;
    if (needed > kMaxHeaderBlockBytes) {
      this.#decodeFailed(dir, kHeaderBlockTooLarge);
      return;
    }
    if (dir.block === null || dir.block.length < needed) {
      const size = Math.min(kMaxHeaderBlockBytes, Math.max(needed, 2 * (dir.block?.length ?? 0), 1024));
      if (!this.#budget.reserve(size - dir.blockReserved)) {
        this.#decodeFailed(dir, kParserBudget);
        return;
      }
      const grown = new Uint8Array(size);
      if (dir.block !== null) grown.set(dir.block.subarray(0, dir.blockLength));
      dir.block = grown;
      dir.blockReserved = size;
    }
    dir.block.set(data.subarray(at, at + n), dir.blockLength);
    dir.blockLength += n;
  }

  /** Bytes before the header block fragment in a HEADERS / PUSH_PROMISE payload (pad length, priority, promised id). */
  #fragmentPrefix(dir: Direction): number {
    if (dir.frameType === FrameType.Continuation) return 0;
    const padded = dir.frameFlags & Flag.Padded ? 1 : 0;
    if (dir.frameType === FrameType.PushPromise) return padded + 4;
    return padded + (dir.frameFlags & Flag.Priority ? 5 : 0);
  }

  #endFrame(dir: Direction, view: PacketView): void {
    switch (dir.frameType) {
      case FrameType.Data: {
        const stream = dir.frameStream;
        if (stream !== null && dir.frameFlags & Flag.EndStream) this.#endStream(dir, stream, view);
        return;
      }
      case FrameType.Headers:
      case FrameType.PushPromise:
      case FrameType.Continuation: {
        if (!dir.inBlock) return;
        if (!dir.decodedInPlace && !dir.blockDropped && dir.block !== null) this.#stripCopiedFrame(dir);
        if ((dir.frameFlags & Flag.EndHeaders) === 0) return;
        dir.inBlock = false;
        if (!dir.decodedInPlace && !dir.blockDropped && dir.block !== null) {
          this.#decode(dir, dir.block, 0, dir.blockLength);
        }
        this.#dropBlock(dir);
        const stream = dir.blockStream;
        dir.blockStream = null;
        if (stream !== null && dir.blockEndStream && !stream.done) this.#endStream(dir, stream, view);
        return;
      }
      case FrameType.RstStream: {
        const stream = this.#streams.get(dir.frameStreamId);
        if (stream === undefined || dir.frameLength < 4) return;
        stream.reset = errorName(readUint32(dir.control, 0));
        stream.resetByClient = dir.fromClient;
        this.#protocol.report(stream, UnansweredReason.ConnectionClosed);
        return;
      }
      case FrameType.GoAway: {
        if (dir.fromClient || dir.frameLength < 8) return;
        // Streams above the last one the server processed will never be answered.
        const last = readUint32(dir.control, 0) & 0x7fffffff;
        const error = `GOAWAY ${errorName(readUint32(dir.control, 4))}`;
        for (const stream of [...this.#streams.values()]) {
          if (stream.id <= last) continue;
          stream.reset = error;
          stream.resetByClient = false;
          this.#protocol.report(stream, UnansweredReason.ConnectionClosed);
        }
        return;
      }
    }
  }

  /** The frame just copied into the block buffer carried padding or a prefix: keep its fragment only. */
  #stripCopiedFrame(dir: Direction): void {
    const block = dir.block!;
    const frameStart = dir.blockLength - dir.frameLength;
    if (dir.frameType === FrameType.Continuation) return;
    const prefix = this.#fragmentPrefix(dir);
    const padding = dir.frameFlags & Flag.Padded ? block[frameStart]! : 0;
    const fragment = dir.frameLength - prefix - padding;
    if (fragment < 0) {
      this.#decodeFailed(dir, kHpackMalformed);
      return;
    }
    block.copyWithin(frameStart, frameStart + prefix, frameStart + prefix + fragment);
    dir.blockLength = frameStart + fragment;
  }

  #decode(dir: Direction, data: Uint8Array, offset: number, length: number): void {
    const stream = dir.blockStream;
    this.#sinkStream = stream;
    this.#sinkFromClient = dir.fromClient;
    const hpack = dir.hpack;
    const clamped = hpack.clampedUpdates;
    const result = hpack.decode(data, offset, length, this);
    this.#sinkStream = null;
    if (hpack.clampedUpdates !== clamped) this.#skips.add(kTableSizeClamped, hpack.clampedUpdates - clamped);
    if (hpack.listTooLarge) this.#skips.add(kHeaderListTooLarge);
    if (hpack.undecodable > 0) this.#skips.add(kHeaderUndecodable, hpack.undecodable);
    if (result !== HpackResult.Ok) this.#skips.add(kHpackMalformed);
    if (stream === null) return;
    stream.undecodable += hpack.undecodable + (result === HpackResult.Ok ? 0 : 1);
    this.#blockDecoded(dir, stream);
  }

  /** The block cannot be read: the stream keeps what it has, the HPACK state becomes partial. */
  #decodeFailed(dir: Direction, reason: number): void {
    this.#skips.add(reason);
    dir.blockDropped = true;
    dir.hpack.lose();
    this.#dropBlock(dir);
    const stream = dir.blockStream;
    if (stream === null) return;
    stream.undecodable++;
    this.#blockDecoded(dir, stream);
  }

  #blockDecoded(dir: Direction, stream: H2Stream): void {
    if (dir.fromClient) {
      if (stream.requestHeadersDone) return;
      stream.requestHeadersDone = true;
      if (isGrpcContentType(stream.contentType)) {
        this.#protocol.becomeGrpc(stream);
        stream.requestMessages = new GrpcMessageCounter();
        stream.responseMessages = new GrpcMessageCounter();
      }
      return;
    }
    // 1xx is interim: the final response starts with the next HEADERS frame.
    if (stream.status >= 100 && stream.status < 200 && !dir.blockEndStream) {
      stream.responseStarted = false;
      stream.status = 0;
    }
  }

  #endStream(dir: Direction, stream: H2Stream, view: PacketView): void {
    if (dir.fromClient) {
      stream.requestEnded = true;
      this.#protocol.restart(stream, view);
      return;
    }
    if (stream.responseStarted) this.#protocol.answer(stream);
  }

  #open(id: number, view: PacketView): H2Stream | null {
    this.#highestClientStream = id;
    if (this.#streams.size >= kMaxOpenStreams) {
      this.#skips.add(kStreamLimit);
      return null;
    }
    const dir = this.#client;
    const stream = this.#protocol.newStream(this, this.#info, id, view);
    // 0 bytes: #countFrameStart adds the frame header's 9 to this same first packet.
    stream.pair.request.begin(dir.startSeconds, dir.startNanos, dir.startFileId, dir.startPacket, 0);
    this.#streams.set(id, stream);
    return stream;
  }

  #lose(dir: Direction): void {
    this.#skips.add(kFramingLost);
    this.#dropBlock(dir);
    dir.inBlock = false;
    dir.blockStream = null;
    dir.headerHave = 0;
    dir.phase = Phase.Lost;
    dir.synced = true;
  }

  #dropBlock(dir: Direction): void {
    if (dir.blockReserved > 0) this.#budget.release(dir.blockReserved);
    dir.block = null;
    dir.blockLength = 0;
    dir.blockReserved = 0;
  }
}

function readUint32(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

function contentLength(value: string): number {
  return /^\d{1,15}$/.test(value) ? Number(value) : -1;
}

/** grpc-message is percent-encoded UTF-8 (PROTOCOL-HTTP2.md); kept as sent when it is not valid. */
function percentDecoded(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
