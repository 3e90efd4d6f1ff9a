/**
 * Ordered request/response over a reassembled TCP stream: the pairing that HTTP/1.x, and next
 * PostgreSQL, MySQL, Redis and memcached share. The protocol frames its messages and says
 * "this is a request" and "a response starts / ends"; this module pairs each response with the
 * oldest request still owed one (pipelining is FIFO) and owns everything around it:
 *
 * - OrderedExchange (one per matcher): the protocol's PendingTable (maxPending[name],
 *   timeoutNanos[name]), expiry, flush, and emitting each request's Pair exactly once:
 *   matched when its response completes, or unanswered (Expired, Evicted, ConnectionClosed,
 *   EndOfInput).
 * - OrderedQueue (one per connection): the queue of requests awaiting responses.
 *
 * Invariants:
 * - A request's timeout restarts when it completes and while request or response bytes keep
 *   arriving (at most once per second of capture time): a long upload or download is not "late".
 * - A request reported unanswered while still waiting stays in its connection's queue as a
 *   tombstone (at most kMaxTombstones), so a late response consumes it instead of shifting every
 *   later pairing by one.
 * - Never pair across lost bytes by FIFO alone: a response cannot answer a request that started
 *   after it, and after lost responses the next one answers the latest request sent before it
 *   (the older ones are taken as answered in the lost bytes and reported unanswered later).
 * - A connection queues at most `maxQueuedRequests` (tombstones included): beyond, the oldest is
 *   reported unanswered (evicted). Every queue operation is O(1) amortised.
 * - Objects are made per request (the request, its Pair, its detail), never per packet.
 */
import { type SkipCounters, skipReason } from '../../shared/skips.ts';
import type { MatcherContext, PacketView } from '../matcher.ts';
import { diffNanos, MessageEdges, Outcome, Pair, type PairSink, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import { maxPendingOf, timeoutNanosOf } from '../protocol.ts';
import type { TcpConnectionInfo } from './consumer.ts';

/** Tombstones kept per connection (a server that never answers must not grow the queue forever). */
const kMaxTombstones = 64;
/** Progress restarts a request's timeout at most this often (capture time). */
const kRefreshNanos = 1_000_000_000;

export const RequestState = {
  /** Waiting for its response. */
  Waiting: 0,
  /** Its response began; the response is still arriving. */
  Responding: 1,
  /** Its response was lost (gap, unframeable): reported when it expires or the connection closes. */
  Lost: 2,
  /** Emitted as unanswered. */
  Reported: 3,
  /** Emitted as matched. */
  Done: 4,
} as const;
export type RequestState = (typeof RequestState)[keyof typeof RequestState];

/** The skip reasons an exchange counts under (`<protocol>.evicted`, ...): register them at module load. */
export interface OrderedExchangeSkips {
  /** The pending table was full: the oldest request was reported unanswered (evicted). */
  readonly evicted: number;
  /** A request was dropped from a connection's queue beyond maxQueuedRequests (reported unanswered, evicted). */
  readonly queueEvicted: number;
  /** A response to a request already reported unanswered (expired or evicted). */
  readonly lateResponse: number;
  /** A response with no request waiting for it (request before the capture, or lost in a gap). */
  readonly responseWithoutRequest: number;
}

export function orderedExchangeSkips(protocol: string): OrderedExchangeSkips {
  return {
    evicted: skipReason(`${protocol}.evicted`),
    queueEvicted: skipReason(`${protocol}.queue_evicted`),
    lateResponse: skipReason(`${protocol}.late_response`),
    responseWithoutRequest: skipReason(`${protocol}.response_without_request`),
  };
}

/** One request from its first framed bytes on: pending entry, queue element and the Pair it becomes. Extend it. */
export abstract class OrderedRequest implements PendingEntry {
  /** Capture-order links, owned by the pending table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  /** PendingEntry: unique per request (a counter, so no collisions). */
  key = 0;
  /** PendingEntry: when its timeout started (first bytes, completion, or last progress). */
  seconds = 0;
  nanos = 0;
  readonly pair = new Pair();
  state: RequestState = RequestState.Waiting;
  /** In its connection's queue (false once removed: the queue drops it lazily). */
  queued = false;
  /** The connection's queue (set by requestStart). */
  queue: OrderedQueue<OrderedRequest> | null = null;

  /** pair.detail when it is emitted (`matched`: with the response's fields). */
  abstract detail(matched: boolean): Record<string, unknown> | null;
}

/** Whether message a's first byte was captured before message b's. */
function startsBefore(a: MessageEdges, b: MessageEdges): boolean {
  return diffNanos(b.firstSeconds, b.firstNanos, a.firstSeconds, a.firstNanos) < 0;
}

/** The protocol-wide part: pending table, expiry, flush, emitting pairs. One per matcher. */
export class OrderedExchange<R extends OrderedRequest> {
  readonly protocol: string;
  readonly skips: SkipCounters;
  readonly reasons: OrderedExchangeSkips;
  /** Requests one connection may queue (pipelined and unanswered, tombstones included). */
  readonly maxQueuedRequests: number;
  readonly #sink: PairSink;
  readonly #table: PendingTable<R>;
  #nextKey = 1;

  constructor(
    context: MatcherContext,
    protocol: string,
    reasons: OrderedExchangeSkips,
    limits: { maxQueuedRequests: number },
  ) {
    this.protocol = protocol;
    this.skips = context.skips;
    this.reasons = reasons;
    this.maxQueuedRequests = limits.maxQueuedRequests;
    this.#sink = context.sink;
    this.#table = new PendingTable(
      maxPendingOf(context.options, protocol),
      timeoutNanosOf(context.options, protocol),
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

  /** Gives a new request its key and its pair the protocol and the connection's endpoints. */
  open(request: R, info: TcpConnectionInfo): void {
    request.key = this.#nextKey++;
    const pair = request.pair;
    pair.protocol = this.protocol;
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
  }

  /** (Re)inserts a request at the back of the table with its timeout starting at the view's time. */
  restart(request: R, view: PacketView): void {
    if (request.state === RequestState.Reported || request.state === RequestState.Done) return;
    request.seconds = view.seconds;
    request.nanos = view.nanos;
    const evicted = this.#table.insert(request);
    if (evicted !== undefined) {
      this.skips.add(this.reasons.evicted);
      this.report(evicted, UnansweredReason.Evicted);
    }
  }

  /** Bytes of a request or its response arrived: restarts its timeout, at most once per second. */
  refresh(request: R, view: PacketView): void {
    if (diffNanos(request.seconds, request.nanos, view.seconds, view.nanos) >= kRefreshNanos) {
      this.restart(request, view);
    }
  }

  /** The response to `request` is complete: emits the matched pair. */
  answer(request: R, response: MessageEdges): void {
    this.#table.delete(request.key);
    request.state = RequestState.Done;
    const pair = request.pair;
    request.queue?.settleRequestEdges(request);
    pair.outcome = Outcome.Matched;
    const edges = new MessageEdges();
    edges.copyFrom(response);
    pair.response = edges;
    pair.detail = request.detail(true);
    this.#sink.emit(pair);
  }

  /** Emits a request as unanswered and removes it from the table. */
  report(request: R, reason: UnansweredReason): void {
    this.#table.delete(request.key);
    const previous = request.state;
    request.state = RequestState.Reported;
    const pair = request.pair;
    request.queue?.settleRequestEdges(request);
    pair.outcome = Outcome.Unanswered;
    pair.unansweredReason = reason;
    pair.response = null;
    pair.detail = request.detail(false);
    this.#sink.emit(pair);
    request.queue?.onReported(request, previous);
  }
}

/** One connection's requests awaiting responses, oldest first. One per connection (StreamConsumer). */
export class OrderedQueue<R extends OrderedRequest> {
  readonly #exchange: OrderedExchange<R>;
  readonly #info: TcpConnectionInfo;
  /** The request framer's edges: the request in progress's live edges. */
  readonly #requestEdges: MessageEdges;
  /**
   * Requests not yet answered, oldest first (Waiting, Responding, Lost, and Reported tombstones)
   * from #head on. Removal only clears `queued` (O(1)); removed entries are skipped at the front
   * and compacted away once they outnumber the live ones, so every operation is O(1) amortised.
   */
  #queue: R[] = [];
  #head = 0;
  /** Live (queued) entries. */
  #queued = 0;
  /** Where #nextToAnswer() starts: every live entry before it is Responding or Lost (never answerable again). */
  #answerFrom = 0;
  /** Live Reported entries, and the order they were reported in (the oldest is dropped first; stale ones skipped). */
  #tombstones = 0;
  #tombstoneOrder: R[] = [];
  #tombstoneHead = 0;
  /** The request whose message is still arriving (its first bytes were framed). */
  #requestInProgress: R | null = null;
  /** The request answered by the response in progress. */
  #responding: R | null = null;
  /** The response stream lost framing: responses may have been missed, the next one is matched by time. */
  #responsesLost = false;

  constructor(exchange: OrderedExchange<R>, info: TcpConnectionInfo, requestEdges: MessageEdges) {
    this.#exchange = exchange;
    this.#info = info;
    this.#requestEdges = requestEdges;
  }

  // Requests ----------------------------------------------------------------------------------

  /** "This is a request": its first bytes were framed (requestEdges hold them). */
  requestStart(request: R, view: PacketView): void {
    const exchange = this.#exchange;
    exchange.open(request, this.#info);
    request.pair.request.copyFrom(this.#requestEdges);
    request.queue = this as unknown as OrderedQueue<OrderedRequest>;
    request.queued = true;
    this.#queue.push(request);
    this.#queued++;
    this.#requestInProgress = request;
    exchange.restart(request, view);
    while (this.#queued > exchange.maxQueuedRequests) this.#evictOldest();
  }

  /** The request in progress is complete: the response is due from its last byte on. */
  requestEnd(view: PacketView): void {
    const request = this.#requestInProgress;
    if (request === null) return;
    this.#requestInProgress = null;
    this.#keepRequestEdges(request);
    this.#exchange.restart(request, view);
  }

  /** The request in progress cannot be framed to its end: still queued (the server got it), edges up to the last byte seen. */
  requestLost(): void {
    const request = this.#requestInProgress;
    if (request === null) return;
    this.#requestInProgress = null;
    this.#keepRequestEdges(request);
  }

  /**
   * The request's pair takes the edges its message reached, unless the pair was already emitted
   * (answered or reported before its last byte: an early response): a sink may hold it, and it
   * stays as it was emitted (settleRequestEdges() gave it the edges of then).
   */
  #keepRequestEdges(request: R): void {
    if (request.state === RequestState.Done || request.state === RequestState.Reported) return;
    request.pair.request.copyFrom(this.#requestEdges);
  }

  /** Stop following the request in progress (the stream became a tunnel, or is no longer parsed). */
  abandonRequest(): void {
    this.#requestInProgress = null;
  }

  /** Bytes of one direction arrived: restarts the timeout of the request they belong to (at most once a second). */
  progress(fromClient: boolean, view: PacketView): void {
    const request = fromClient ? this.#requestInProgress : this.#responding;
    if (request !== null) this.#exchange.refresh(request, view);
  }

  // Responses ---------------------------------------------------------------------------------

  /**
   * The request a response starting at `response` answers: the oldest one still owed a
   * response, or after lost response bytes the latest one sent before it; null when none
   * could be (none waiting, or it started after the response). It may be a tombstone
   * (already reported): beginResponse() then counts a late response.
   */
  answerTarget(response: MessageEdges): R | null {
    let request = this.#responsesLost ? this.#latestBefore(response) : this.#nextToAnswer();
    this.#responsesLost = false;
    // A response cannot start before its request did: that one's request was never seen.
    if (request !== null && startsBefore(response, request.pair.request)) request = null;
    return request;
  }

  /**
   * Takes the response in progress as the answer to `request` (answerTarget's): true when it
   * will complete it at responseEnd(); false (counted) when there is none or it was already reported.
   */
  beginResponse(request: R | null): request is R {
    this.#responding = null;
    const reasons = this.#exchange.reasons;
    if (request === null) {
      this.#exchange.skips.add(reasons.responseWithoutRequest);
      return false;
    }
    if (request.state === RequestState.Reported) {
      this.#exchange.skips.add(reasons.lateResponse);
      this.#removeTombstone(request);
      return false;
    }
    request.state = RequestState.Responding;
    this.#responding = request;
    return true;
  }

  /** answerTarget() and beginResponse() in one: the request this response answers, or null (counted). */
  responseStart(response: MessageEdges): R | null {
    const request = this.answerTarget(response);
    return this.beginResponse(request) ? request : null;
  }

  /** A server message that answers no request (HTTP 1xx, a Redis push): it leaves the queue as it is. */
  pushResponse(): void {
    this.#responding = null;
  }

  /** "This response completes the oldest request": the pair is emitted, matched. */
  responseEnd(response: MessageEdges): void {
    const request = this.#responding;
    this.#responding = null;
    if (request === null) return;
    if (request.state !== RequestState.Responding) {
      // Reported (expired or evicted) while its response was arriving.
      this.#exchange.skips.add(this.#exchange.reasons.lateResponse);
      return;
    }
    this.#remove(request);
    this.#exchange.answer(request, response);
  }

  /** The response in progress cannot be framed: its request was answered, and is reported when it expires or the connection closes. */
  responseLost(): void {
    const request = this.#responding;
    this.#responding = null;
    if (request !== null && request.state === RequestState.Responding) request.state = RequestState.Lost;
  }

  /** Response bytes were lost (resynchronised after a gap): the next response is matched by time. */
  responsesResynced(): void {
    this.#responsesLost = true;
  }

  /** Stop following both messages in progress (the connection is no longer parsed). */
  abandon(): void {
    this.#requestInProgress = null;
    this.#responding = null;
  }

  /**
   * The connection was forgotten (no more bytes): the request in progress keeps the edges it
   * reached, and the queue lets go of the framer's edges (a reused framer serves another
   * connection). What is queued stays, for the exchange's expiry and flush.
   */
  detach(): void {
    const request = this.#requestInProgress;
    if (request !== null) this.#keepRequestEdges(request);
    this.abandon();
  }

  /** The server closed or reset its side: nothing still queued will be answered. */
  serverClosed(): void {
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
        this.#exchange.report(request, UnansweredReason.ConnectionClosed);
    }
  }

  // For OrderedExchange -----------------------------------------------------------------------

  /** Copies the live edges of a request still arriving into its pair (emitted before its end). */
  settleRequestEdges(request: R): void {
    if (request === this.#requestInProgress) request.pair.request.copyFrom(this.#requestEdges);
  }

  /** `request` was emitted as unanswered; `previous` was its state. */
  onReported(request: R, previous: RequestState): void {
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

  // Internals ---------------------------------------------------------------------------------

  /**
   * After lost responses: the latest request sent before this response started is the one it
   * answers (a client that does not pipeline waits for each response before the next request);
   * the ones before it are taken as answered in the lost bytes.
   */
  #latestBefore(response: MessageEdges): R | null {
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
  #nextToAnswer(): R | null {
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

  /** Over maxQueuedRequests: the oldest queued request goes (reported evicted if it was still owed a pair). */
  #evictOldest(): void {
    const oldest = this.#queue[this.#head]!;
    if (oldest.state === RequestState.Reported) {
      this.#removeTombstone(oldest);
      return;
    }
    this.#exchange.skips.add(this.#exchange.reasons.queueEvicted);
    // A Waiting request becomes a tombstone (dropped at the next call), any other is removed.
    this.#exchange.report(oldest, UnansweredReason.Evicted);
  }

  #removeTombstone(request: R): void {
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
  #remove(request: R): void {
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
