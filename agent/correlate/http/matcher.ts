/**
 * HTTP/1.x pairing over reassembled TCP streams: a StreamProtocol that claims connections whose
 * client stream starts with a request line (any port), and one consumer per connection that
 * pairs each final response with the oldest unanswered request (pipelining is FIFO).
 *
 * Invariants:
 * - Work per packet is the framer's (parse.ts); objects are made per message (request entry,
 *   Pair, detail), never per packet.
 * - Every request whose head was parsed is in the shared PendingTable (bounded by
 *   maxPending.http, expiring by timeoutNanos.http) until it is emitted exactly once: matched
 *   when its response completes, or unanswered (Expired, Evicted, ConnectionClosed, EndOfInput).
 * - Its timeout restarts when the request completes and while request or response bytes keep
 *   arriving (at most once per second of capture time): a long upload or download is not "late".
 * - A request reported unanswered while still waiting stays in its connection's queue as a
 *   tombstone, so a late response consumes it instead of shifting every later pairing by one.
 * - 1xx responses (except 101) are interim: they answer nothing. 101 and a 2xx to CONNECT end the
 *   HTTP part of the connection (tunnel).
 * - Never pair across lost bytes by FIFO alone: a response cannot answer a request that started
 *   after it, and after lost responses the next one answers the latest request sent before it
 *   (the older ones are taken as answered in the lost bytes and reported unanswered later).
 */

import { type SkipCounters, skipReason } from '../../shared/skips.ts';
import type { MatcherContext, PacketView } from '../matcher.ts';
import { diffNanos, MessageEdges, Outcome, Pair, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import { maxPendingOf, timeoutNanosOf } from '../protocol.ts';
import type { StreamConsumer, StreamProtocol, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import { type FramerOwner, Framing, HttpFramer, type MessageHead, startsRequest } from './parse.ts';

/** The pending table was full: the oldest request was reported unanswered (evicted). */
const kEvicted = skipReason('http.evicted');
/** A final response with no request waiting for it (request before the capture, or lost in a gap). */
const kResponseWithoutRequest = skipReason('http.response_without_request');
/** A response to a request already reported unanswered (expired or evicted). */
const kLateResponse = skipReason('http.late_response');
/** A header block over kMaxHeadBytes: the connection is no longer parsed. */
const kHeaderTooLarge = skipReason('http.header_too_large');
/** The parsers' shared budget for incomplete heads (parser-buffers.ts) was spent: the connection is given up. */
const kParserBudget = skipReason('http.parser_budget');

/** A request was dropped from a connection's queue beyond kMaxQueuedRequests (reported unanswered, evicted). */
const kQueueEvicted = skipReason('http.queue_evicted');

/** A request field longer than its cap was cut (parse.ts kMaxTargetBytes...): counted per field. */
const kFieldTruncated = skipReason('http.field_truncated');

/** Tombstones kept per connection (a server that never answers must not grow the queue forever). */
const kMaxTombstones = 64;
/**
 * Requests queued on one connection (pipelined, unanswered; tombstones included). Beyond it the
 * oldest is reported unanswered (evicted) and dropped: no client pipelines this deep, so only
 * a flood reaches it, and it bounds every per-connection scan.
 */
export const kMaxQueuedRequests = 1024;
/** Progress restarts a request's timeout at most this often (capture time). */
const kRefreshNanos = 1_000_000_000;

const RequestState = {
  /** Waiting for its response. */
  Waiting: 0,
  /** Its response's head arrived; the response is still arriving. */
  Responding: 1,
  /** Its response was lost (gap, malformed body): reported when it expires or the connection closes. */
  Lost: 2,
  /** Emitted as unanswered. */
  Reported: 3,
  /** Emitted as matched. */
  Done: 4,
} as const;
type RequestState = (typeof RequestState)[keyof typeof RequestState];

const ResponseKind = {
  /** Answers `#responding`. */
  Paired: 0,
  /** 1xx before the final response. */
  Interim: 1,
  /** No request to answer, or one already reported: framed and skipped. */
  Skipped: 2,
} as const;
type ResponseKind = (typeof ResponseKind)[keyof typeof ResponseKind];

/** pair.detail of HTTP pairs (JSONL "http"): the request line, Host, status; optional fields left out when absent. */
export type HttpDetail = {
  method: string;
  target: string;
  version: string;
  /** null when unanswered. */
  status: number | null;
  host: string | null;
  user_agent?: string;
  traceparent?: string;
  request_content_length?: number;
  /** Matched pairs only. */
  response_content_length?: number;
};

/** One request from its head on: pending entry, queue element and the Pair it becomes. */
class HttpRequest implements PendingEntry {
  /** Capture-order links, owned by the pending table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  /** PendingEntry: unique per request (a counter, so no collisions). */
  readonly key: number;
  /** PendingEntry: when its timeout started (head, completion, or last progress). */
  seconds: number;
  nanos: number;
  readonly connection: HttpConnection;
  readonly pair = new Pair();
  state: RequestState = RequestState.Waiting;
  /** In its connection's queue (false once removed: the queue drops it lazily). */
  queued = false;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly host: string | null;
  readonly traceparent: string | null;
  readonly userAgent: string | null;
  readonly requestContentLength: number;
  readonly isHead: boolean;
  readonly isConnect: boolean;
  status = 0;
  responseContentLength = -1;

  constructor(key: number, connection: HttpConnection, head: MessageHead, view: PacketView) {
    this.key = key;
    this.seconds = view.seconds;
    this.nanos = view.nanos;
    this.connection = connection;
    this.method = head.method;
    this.target = head.target;
    this.version = head.version;
    this.host = head.host;
    this.traceparent = head.traceparent;
    this.userAgent = head.userAgent;
    this.requestContentLength = head.contentLength;
    this.isHead = head.method === 'HEAD';
    this.isConnect = head.method === 'CONNECT';
  }

  /** The JSON fields of pair.detail. */
  detail(matched: boolean): HttpDetail {
    const detail: HttpDetail = {
      method: this.method,
      target: this.target,
      version: this.version,
      status: matched ? this.status : null,
      host: this.host,
    };
    if (this.userAgent !== null) detail.user_agent = this.userAgent;
    if (this.traceparent !== null) detail.traceparent = this.traceparent;
    if (this.requestContentLength >= 0) detail.request_content_length = this.requestContentLength;
    if (matched && this.responseContentLength >= 0)
      detail.response_content_length = this.responseContentLength;
    return detail;
  }
}

/** Whether message a's first byte was captured before message b's. */
function startsBefore(a: MessageEdges, b: MessageEdges): boolean {
  return diffNanos(b.firstSeconds, b.firstNanos, a.firstSeconds, a.firstNanos) < 0;
}

export class HttpStreamProtocol implements StreamProtocol {
  readonly name = 'http';
  readonly #context: MatcherContext;
  readonly #table: PendingTable<HttpRequest>;
  #nextKey = 1;
  /** 1xx interim responses seen (they answer no request). */
  interimResponses = 0;

  readonly #parserBuffers: ParserBufferBudget;

  constructor(context: MatcherContext) {
    this.#context = context;
    this.#table = new PendingTable(
      maxPendingOf(context.options, 'http'),
      timeoutNanosOf(context.options, 'http'),
    );
    this.#parserBuffers =
      context.parserBuffers ?? new ParserBufferBudget(context.options.reassembly.maxParserBufferBytesTotal);
  }

  claim(
    connection: TcpConnectionInfo,
    fromClient: boolean,
    data: Uint8Array,
    offset: number,
    length: number,
  ): StreamConsumer | null {
    // Content decides, on any port: only a client whose stream starts with a request line (or a
    // prefix of one). The server's stream is checked by the consumer: it must start with a status line.
    if (!fromClient || !startsRequest(data, offset, length)) return null;
    return new HttpConnection(
      this,
      connection,
      this.#context.skips,
      this.#context.options.httpKeepQuery,
      this.#parserBuffers,
    );
  }

  pendingCount(): number {
    return this.#table.size;
  }

  expire(seconds: number, nanos: number): void {
    for (;;) {
      const request = this.#table.popExpired(seconds, nanos);
      if (request === undefined) return;
      this.report(request, UnansweredReason.Expired);
    }
  }

  flush(): void {
    for (;;) {
      const request = this.#table.popOldest();
      if (request === undefined) return;
      this.report(request, UnansweredReason.EndOfInput);
    }
  }

  /** A request head was parsed on `connection`: its request, with the pair it will become. */
  newRequest(
    connection: HttpConnection,
    info: TcpConnectionInfo,
    head: MessageHead,
    view: PacketView,
  ): HttpRequest {
    const request = new HttpRequest(this.#nextKey++, connection, head, view);
    const pair = request.pair;
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
    return request;
  }

  /** (Re)inserts a request at the back of the table with its timeout starting at the view's time. */
  restart(request: HttpRequest, view: PacketView): void {
    if (request.state === RequestState.Reported || request.state === RequestState.Done) return;
    request.seconds = view.seconds;
    request.nanos = view.nanos;
    const evicted = this.#table.insert(request);
    if (evicted !== undefined) {
      this.#context.skips.add(kEvicted);
      this.report(evicted, UnansweredReason.Evicted);
    }
  }

  /** Bytes of a request or its response arrived: restarts its timeout, at most once per second. */
  refresh(request: HttpRequest, view: PacketView): void {
    if (diffNanos(request.seconds, request.nanos, view.seconds, view.nanos) >= kRefreshNanos) {
      this.restart(request, view);
    }
  }

  /** The response to `request` is complete. */
  answer(request: HttpRequest, response: MessageEdges): void {
    this.#table.delete(request.key);
    request.state = RequestState.Done;
    const pair = request.pair;
    request.connection.settleRequestEdges(request);
    pair.outcome = Outcome.Matched;
    const edges = new MessageEdges();
    edges.copyFrom(response);
    pair.response = edges;
    pair.detail = request.detail(true);
    this.#context.sink.emit(pair);
  }

  /** Emits a request as unanswered and removes it from the table. */
  report(request: HttpRequest, reason: UnansweredReason): void {
    this.#table.delete(request.key);
    const previous = request.state;
    request.state = RequestState.Reported;
    const pair = request.pair;
    request.connection.settleRequestEdges(request);
    pair.outcome = Outcome.Unanswered;
    pair.unansweredReason = reason;
    pair.response = null;
    pair.detail = request.detail(false);
    this.#context.sink.emit(pair);
    request.connection.onReported(request, previous);
  }
}

/** One HTTP connection: a framer per direction and the queue of requests awaiting responses. */
class HttpConnection implements StreamConsumer, FramerOwner {
  readonly #protocol: HttpStreamProtocol;
  readonly #info: TcpConnectionInfo;
  readonly #requests: HttpFramer;
  readonly #responses: HttpFramer;
  readonly #skips: SkipCounters;
  /**
   * Requests not yet answered, oldest first (Waiting, Responding, Lost, and Reported tombstones)
   * from #head on. Removal only clears `queued` (O(1)); removed entries are skipped at the front
   * and compacted away once they outnumber the live ones, so every operation is O(1) amortised.
   */
  #queue: HttpRequest[] = [];
  #head = 0;
  /** Live (queued) entries. */
  #queued = 0;
  /** Where #nextToAnswer() starts: every live entry before it is Responding or Lost (never answerable again). */
  #answerFrom = 0;
  /** Live Reported entries, and the order they were reported in (the oldest is dropped first; stale ones skipped). */
  #tombstones = 0;
  #tombstoneOrder: HttpRequest[] = [];
  #tombstoneHead = 0;
  /** The request whose message is still arriving (its head was parsed). */
  #requestInProgress: HttpRequest | null = null;
  /** The request answered by the response in progress (Paired kind only). */
  #responding: HttpRequest | null = null;
  #responseKind: ResponseKind = ResponseKind.Skipped;
  /** The response stream lost framing: responses may have been missed, the next one is matched by time. */
  #responsesLost = false;

  constructor(
    protocol: HttpStreamProtocol,
    info: TcpConnectionInfo,
    skips: SkipCounters,
    keepQuery: boolean,
    parserBuffers: ParserBufferBudget,
  ) {
    this.#protocol = protocol;
    this.#info = info;
    this.#skips = skips;
    this.#requests = new HttpFramer(true, this, skips, keepQuery, parserBuffers);
    this.#responses = new HttpFramer(false, this, skips, keepQuery, parserBuffers);
  }

  /** Reassembly forgot the connection: partial heads give their bytes back (pending requests stay in the table). */
  onForget(): void {
    this.#requests.kill();
    this.#responses.kill();
  }

  // StreamConsumer ---------------------------------------------------------------------------

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    if (fromClient) {
      this.#requests.feed(data, offset, length, view);
      const request = this.#requestInProgress;
      if (request !== null) this.#protocol.refresh(request, view);
    } else {
      this.#responses.feed(data, offset, length, view);
      const request = this.#responding;
      if (request !== null) this.#protocol.refresh(request, view);
    }
  }

  onGap(fromClient: boolean, bytes: number, view: PacketView): void {
    (fromClient ? this.#requests : this.#responses).gap(bytes, view);
  }

  onClose(fromClient: boolean, reset: boolean, view: PacketView): void {
    if (fromClient) {
      // A half-close: the server may still answer what it got.
      this.#requests.finish(reset, view);
      return;
    }
    this.#responses.finish(reset, view);
    // The server is done: nothing still queued will be answered.
    if (this.#queued === 0) return;
    const queue = this.#queue;
    const head = this.#head;
    this.#queue = [];
    this.#head = this.#queued = this.#answerFrom = this.#tombstones = this.#tombstoneHead = 0;
    this.#tombstoneOrder = [];
    for (let i = head; i < queue.length; i++) {
      const request = queue[i]!;
      if (!request.queued) continue;
      request.queued = false;
      if (request.state !== RequestState.Reported)
        this.#protocol.report(request, UnansweredReason.ConnectionClosed);
    }
  }

  // FramerOwner ------------------------------------------------------------------------------

  onHead(framer: HttpFramer, view: PacketView): Framing {
    return framer.isRequest ? this.#requestHead(framer, view) : this.#responseHead(framer);
  }

  onMessageEnd(framer: HttpFramer, view: PacketView): void {
    if (framer.isRequest) {
      const request = this.#requestInProgress;
      if (request === null) return;
      this.#requestInProgress = null;
      request.pair.request.copyFrom(framer.edges);
      // The response is due from the request's last byte on.
      this.#protocol.restart(request, view);
      return;
    }
    const request = this.#responding;
    this.#responding = null;
    if (this.#responseKind !== ResponseKind.Paired || request === null) return;
    if (request.state !== RequestState.Responding) {
      this.#skips.add(kLateResponse);
      return;
    }
    this.#remove(request);
    this.#protocol.answer(request, framer.edges);
  }

  onMessageLost(framer: HttpFramer): void {
    if (framer.isRequest) {
      // Still queued: the server got it (or will say otherwise); its edges stop at the last byte seen.
      const request = this.#requestInProgress;
      if (request === null) return;
      this.#requestInProgress = null;
      request.pair.request.copyFrom(framer.edges);
      return;
    }
    const request = this.#responding;
    this.#responding = null;
    // Answered, but the answer cannot be framed: reported when it expires or the connection closes.
    if (request !== null && request.state === RequestState.Responding) request.state = RequestState.Lost;
  }

  onResync(framer: HttpFramer): void {
    // Lost requests need nothing: a response cannot answer a request sent after it started.
    if (!framer.isRequest) this.#responsesLost = true;
  }

  onHeadTooLarge(_framer: HttpFramer, outOfBudget: boolean): void {
    this.#skips.add(outOfBudget ? kParserBudget : kHeaderTooLarge);
    this.#requests.kill();
    this.#responses.kill();
    this.#requestInProgress = null;
    this.#responding = null;
  }

  // For the protocol ---------------------------------------------------------------------------

  /** Copies the live edges of a request still arriving into its pair (emitted before its end). */
  settleRequestEdges(request: HttpRequest): void {
    if (request === this.#requestInProgress) request.pair.request.copyFrom(this.#requests.edges);
  }

  /** `request` was emitted as unanswered; `previous` was its state. */
  onReported(request: HttpRequest, previous: RequestState): void {
    if (previous !== RequestState.Waiting) {
      // Its response had started (or was lost): it owes nothing to a later response.
      this.#remove(request);
      return;
    }
    if (!request.queued) return;
    this.#tombstones++;
    this.#tombstoneOrder.push(request);
    if (this.#tombstones > kMaxTombstones) this.#dropOldestTombstone();
    else if (this.#tombstoneOrder.length - this.#tombstoneHead > 4 * kMaxTombstones) {
      // Tombstones consumed or evicted elsewhere leave stale entries here: keep the live ones
      // only (at most kMaxTombstones), O(1) amortised.
      this.#tombstoneOrder = this.#tombstoneOrder
        .slice(this.#tombstoneHead)
        .filter((tombstone) => tombstone.queued && tombstone.state === RequestState.Reported);
      this.#tombstoneHead = 0;
    }
  }

  // Internals ----------------------------------------------------------------------------------

  #requestHead(framer: HttpFramer, view: PacketView): Framing {
    const head = framer.head;
    if (head.framing === Framing.Invalid) return Framing.Invalid;
    if (head.truncatedFields > 0) this.#skips.add(kFieldTruncated, head.truncatedFields);
    const request = this.#protocol.newRequest(this, this.#info, head, view);
    request.pair.request.copyFrom(framer.edges);
    request.queued = true;
    this.#queue.push(request);
    this.#queued++;
    this.#requestInProgress = request;
    this.#protocol.restart(request, view);
    while (this.#queued > kMaxQueuedRequests) this.#evictOldest();
    return head.framing;
  }

  #responseHead(framer: HttpFramer): Framing {
    const head = framer.head;
    const status = head.status;
    this.#responding = null;
    if (status < 200 && status !== 101) {
      this.#responseKind = ResponseKind.Interim;
      this.#protocol.interimResponses++;
      return Framing.None;
    }
    let request = this.#responsesLost ? this.#latestBefore(framer.edges) : this.#nextToAnswer();
    this.#responsesLost = false;
    // A response cannot start before its request did: that one's request was never seen.
    if (request !== null && startsBefore(framer.edges, request.pair.request)) request = null;
    let framing = head.framing;
    if (status === 101 || (request?.isConnect === true && status < 300)) framing = Framing.Tunnel;
    else if (request?.isHead === true || status === 204 || status === 304) framing = Framing.None;
    if (framing === Framing.Tunnel) {
      // The bytes after this response (and after the request) are another protocol.
      this.#requests.kill();
      this.#requestInProgress = null;
    }
    if (request === null) {
      this.#skips.add(kResponseWithoutRequest);
      this.#responseKind = ResponseKind.Skipped;
      return framing;
    }
    if (request.state === RequestState.Reported) {
      this.#skips.add(kLateResponse);
      this.#removeTombstone(request);
      this.#responseKind = ResponseKind.Skipped;
      return framing;
    }
    request.status = status;
    request.responseContentLength = head.contentLength;
    if (framing === Framing.Invalid) {
      request.state = RequestState.Lost;
      this.#responseKind = ResponseKind.Skipped;
      return framing;
    }
    request.state = RequestState.Responding;
    this.#responding = request;
    this.#responseKind = ResponseKind.Paired;
    return framing;
  }

  /**
   * After lost responses: the latest request sent before this response started is the one it
   * answers (a client that does not pipeline waits for each response before the next request);
   * the ones before it are taken as answered in the lost bytes.
   */
  #latestBefore(response: MessageEdges): HttpRequest | null {
    // O(queue) but rare (once per loss of response framing) and the queue is capped.
    const queue = this.#queue;
    let latest = -1;
    for (let i = this.#head; i < queue.length; i++) {
      const request = queue[i]!;
      if (!request.queued) continue;
      const open = request.state === RequestState.Waiting || request.state === RequestState.Reported;
      if (open && !startsBefore(response, request.pair.request)) latest = i;
    }
    if (latest < 0) return null;
    const chosen = queue[latest]!;
    for (let i = latest - 1; i >= this.#head; i--) {
      const request = queue[i]!;
      if (!request.queued) continue;
      if (request.state === RequestState.Waiting) {
        request.state = RequestState.Lost;
      } else if (request.state === RequestState.Reported) {
        this.#removeTombstone(request);
      }
    }
    return chosen;
  }

  /** The oldest request a response can answer: waiting, or a tombstone still owed its late response. */
  #nextToAnswer(): HttpRequest | null {
    const queue = this.#queue;
    // Entries skipped here are removed, Responding or Lost: none can become answerable again.
    for (let i = Math.max(this.#answerFrom, this.#head); i < queue.length; i++) {
      const request = queue[i]!;
      if (!request.queued) continue;
      if (request.state === RequestState.Waiting || request.state === RequestState.Reported) {
        this.#answerFrom = i;
        return request;
      }
    }
    this.#answerFrom = queue.length;
    return null;
  }

  /** Over kMaxQueuedRequests: the oldest queued request goes (reported evicted if it was still owed a pair). */
  #evictOldest(): void {
    const oldest = this.#queue[this.#head]!;
    if (oldest.state === RequestState.Reported) {
      this.#removeTombstone(oldest);
      return;
    }
    this.#skips.add(kQueueEvicted);
    // A Waiting request becomes a tombstone (dropped at the next call), any other is removed.
    this.#protocol.report(oldest, UnansweredReason.Evicted);
  }

  #removeTombstone(request: HttpRequest): void {
    this.#remove(request);
    this.#tombstones--;
  }

  /** Beyond kMaxTombstones: the tombstone reported first goes. */
  #dropOldestTombstone(): void {
    const order = this.#tombstoneOrder;
    while (this.#tombstoneHead < order.length) {
      const request = order[this.#tombstoneHead++]!;
      if (request.queued && request.state === RequestState.Reported) {
        this.#removeTombstone(request);
        break;
      }
    }
    // Compacted once the consumed prefix is the larger part: O(1) amortised.
    if (this.#tombstoneHead > kMaxTombstones && this.#tombstoneHead * 2 > order.length) {
      this.#tombstoneOrder = order.slice(this.#tombstoneHead);
      this.#tombstoneHead = 0;
    }
  }

  /** Takes a request out of the queue: O(1) amortised (the slot is reclaimed at the front or by compaction). */
  #remove(request: HttpRequest): void {
    if (!request.queued) return;
    request.queued = false;
    this.#queued--;
    const queue = this.#queue;
    let head = this.#head;
    while (head < queue.length && !queue[head]!.queued) head++;
    this.#head = head;
    const dead = queue.length - this.#queued;
    if (this.#queued === 0) {
      queue.length = 0;
      this.#head = this.#answerFrom = 0;
    } else if (dead > 32 && dead > this.#queued) {
      // More removed slots than live ones: keep the live ones only.
      let to = 0;
      let answerFrom = -1;
      for (let i = head; i < queue.length; i++) {
        const queued = queue[i]!;
        if (!queued.queued) continue;
        if (answerFrom < 0 && i >= this.#answerFrom) answerFrom = to;
        queue[to++] = queued;
      }
      queue.length = to;
      this.#head = 0;
      this.#answerFrom = answerFrom < 0 ? to : answerFrom;
    }
  }
}
