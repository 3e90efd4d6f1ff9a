/**
 * HTTP/1.x pairing over reassembled TCP streams: a StreamProtocol that claims connections whose
 * client stream starts with a request line (any port), and one consumer per connection that
 * frames requests and responses (parse.ts) and hands them to the ordered request/response base
 * (tcp-stream/ordered-exchange.ts: FIFO pairing, pending table, expiry, tombstones, unanswered
 * reasons).
 *
 * HTTP's own rules:
 * - Work per packet is the framer's (parse.ts); objects are made per message (request entry,
 *   Pair, detail), never per packet, and per connection only its request queue (the framers of
 *   a forgotten connection are reused).
 * - 1xx responses (except 101) are interim: they answer nothing. 101 and a 2xx to CONNECT end the
 *   HTTP part of the connection (tunnel). HEAD, 204 and 304 responses have no body.
 */

import { type SkipCounters, skipReason } from '../../shared/skips.ts';
import { FreeList } from '../free-list.ts';
import { type MatcherContext, type PacketView, parserBuffersOf } from '../matcher.ts';
import type { StreamConsumer, StreamProtocol, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import {
  OrderedExchange,
  OrderedQueue,
  OrderedRequest,
  orderedExchangeSkips,
} from '../tcp-stream/ordered-exchange.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import { type FramerOwner, Framing, HttpFramer, type MessageHead, startsRequest } from './parse.ts';

/** http.evicted, http.queue_evicted, http.late_response, http.response_without_request. */
const kExchangeSkips = orderedExchangeSkips('http');
/** A header block over kMaxHeadBytes: the connection is no longer parsed. */
const kHeaderTooLarge = skipReason('http.header_too_large');
/** The parsers' shared budget for incomplete heads (parser-buffers.ts) was spent: the connection is given up. */
const kParserBudget = skipReason('http.parser_budget');

/** A request field longer than its cap was cut (parse.ts kMaxTargetBytes...): counted per field. */
const kFieldTruncated = skipReason('http.field_truncated');

/**
 * Requests queued on one connection (pipelined, unanswered; tombstones included). Beyond it the
 * oldest is reported unanswered (evicted) and dropped: no client pipelines this deep, so only
 * a flood reaches it, and it bounds every per-connection scan.
 */
export const kMaxQueuedRequests = 1024;
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

/** One HTTP request from its head on (the ordered base's request, with the head's fields). */
class HttpRequest extends OrderedRequest {
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

  constructor(head: MessageHead) {
    super();
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
  override detail(matched: boolean): HttpDetail {
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

export class HttpStreamProtocol implements StreamProtocol {
  readonly name = 'http';
  readonly #context: MatcherContext;
  readonly #exchange: OrderedExchange<HttpRequest>;
  /** 1xx interim responses seen (they answer no request). */
  interimResponses = 0;

  readonly #parserBuffers: ParserBufferBudget;
  readonly #freeConnections = new FreeList<HttpConnection>();

  constructor(context: MatcherContext) {
    this.#context = context;
    this.#exchange = new OrderedExchange(context, 'http', kExchangeSkips, {
      maxQueuedRequests: kMaxQueuedRequests,
    });
    this.#parserBuffers = parserBuffersOf(context);
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
    const reused = this.#freeConnections.take();
    if (reused === undefined) {
      return new HttpConnection(
        this,
        this.#exchange,
        connection,
        this.#context.skips,
        this.#context.options.httpKeepQuery,
        this.#parserBuffers,
      );
    }
    reused.reopen(this.#exchange, connection);
    return reused;
  }

  /** A forgotten connection's parser state, for claim() to reuse. */
  release(connection: HttpConnection): void {
    this.#freeConnections.give(connection);
  }

  pendingCount(): number {
    return this.#exchange.pendingCount();
  }

  expire(seconds: number, nanos: number): void {
    this.#exchange.expire(seconds, nanos);
  }

  flush(): void {
    this.#exchange.flush();
  }
}

/**
 * One HTTP connection: a framer per direction, and its queue of requests awaiting responses.
 * Reused once forgotten (the framers restart; the queue is new, as its requests may still wait).
 */
class HttpConnection implements StreamConsumer, FramerOwner {
  readonly #protocol: HttpStreamProtocol;
  readonly #requests: HttpFramer;
  readonly #responses: HttpFramer;
  readonly #skips: SkipCounters;
  #queue: OrderedQueue<HttpRequest>;

  constructor(
    protocol: HttpStreamProtocol,
    exchange: OrderedExchange<HttpRequest>,
    info: TcpConnectionInfo,
    skips: SkipCounters,
    keepQuery: boolean,
    parserBuffers: ParserBufferBudget,
  ) {
    this.#protocol = protocol;
    this.#skips = skips;
    this.#requests = new HttpFramer(true, this, skips, keepQuery, parserBuffers);
    this.#responses = new HttpFramer(false, this, skips, keepQuery, parserBuffers);
    this.#queue = new OrderedQueue(exchange, info, this.#requests.edges);
  }

  /** Readies a forgotten connection for another (claim()): as constructed. */
  reopen(exchange: OrderedExchange<HttpRequest>, info: TcpConnectionInfo): void {
    this.#requests.restart();
    this.#responses.restart();
    this.#queue = new OrderedQueue(exchange, info, this.#requests.edges);
  }

  /**
   * Reassembly forgot the connection: partial heads give their bytes back, pending requests stay
   * in the table (detached from the framers), and the connection waits for reuse.
   */
  onForget(): void {
    this.#requests.kill();
    this.#responses.kill();
    this.#queue.detach();
    this.#protocol.release(this);
  }

  // StreamConsumer ---------------------------------------------------------------------------

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    (fromClient ? this.#requests : this.#responses).feed(data, offset, length, view);
    this.#queue.progress(fromClient, view);
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
    this.#queue.serverClosed();
  }

  // FramerOwner ------------------------------------------------------------------------------

  onHead(framer: HttpFramer, view: PacketView): Framing {
    return framer.isRequest ? this.#requestHead(framer, view) : this.#responseHead(framer);
  }

  onMessageEnd(framer: HttpFramer, view: PacketView): void {
    if (framer.isRequest) this.#queue.requestEnd(view);
    else this.#queue.responseEnd(framer.edges);
  }

  onMessageLost(framer: HttpFramer): void {
    // A request stays queued (the server got it, or will say otherwise); a response's request
    // was answered in bytes that cannot be framed.
    if (framer.isRequest) this.#queue.requestLost();
    else this.#queue.responseLost();
  }

  onResync(framer: HttpFramer): void {
    // Lost requests need nothing: a response cannot answer a request sent after it started.
    if (!framer.isRequest) this.#queue.responsesResynced();
  }

  onHeadTooLarge(_framer: HttpFramer, outOfBudget: boolean): void {
    this.#skips.add(outOfBudget ? kParserBudget : kHeaderTooLarge);
    this.#requests.kill();
    this.#responses.kill();
    this.#queue.abandon();
  }

  // Internals ----------------------------------------------------------------------------------

  #requestHead(framer: HttpFramer, view: PacketView): Framing {
    const head = framer.head;
    if (head.framing === Framing.Invalid) return Framing.Invalid;
    if (head.truncatedFields > 0) this.#skips.add(kFieldTruncated, head.truncatedFields);
    this.#queue.requestStart(new HttpRequest(head), view);
    return head.framing;
  }

  #responseHead(framer: HttpFramer): Framing {
    const head = framer.head;
    const status = head.status;
    if (status < 200 && status !== 101) {
      this.#queue.pushResponse();
      this.#protocol.interimResponses++;
      return Framing.None;
    }
    const request = this.#queue.answerTarget(framer.edges);
    let framing = head.framing;
    if (status === 101 || (request?.isConnect === true && status < 300)) framing = Framing.Tunnel;
    else if (request?.isHead === true || status === 204 || status === 304) framing = Framing.None;
    if (framing === Framing.Tunnel) {
      // The bytes after this response (and after the request) are another protocol.
      this.#requests.kill();
      this.#queue.abandonRequest();
    }
    if (!this.#queue.beginResponse(request)) return framing;
    request.status = status;
    request.responseContentLength = head.contentLength;
    if (framing === Framing.Invalid) this.#queue.responseLost();
    return framing;
  }
}
