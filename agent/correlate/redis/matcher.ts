/**
 * Redis pairing over reassembled TCP streams: a StreamProtocol that claims connections to the
 * Redis ports, one RESP framer per direction (resp.ts), and the ordered request/response base
 * (tcp-stream/ordered-exchange.ts) for FIFO pairing, pending table, expiry and unanswered reasons.
 *
 * Redis's own rules (the one place they are written):
 * - Every command gets exactly one reply, in order (pipelining is FIFO), so MULTI (+OK), each
 *   queued command (+QUEUED) and EXEC (the array of results) are pairs of their own; EXEC's
 *   detail carries how many commands it ran (batch_size). An empty request array (`*0`) or
 *   empty inline line gets no reply and is no request.
 * - A top-level error reply (`-ERR ...`, RESP3 `!`) makes the pair an error: its prefix (the
 *   first word: ERR, WRONGTYPE, NOAUTH...) is db.response.status_code and error.type.
 * - RESP3 pushes (`>`) answer nothing, except the subscribe-family confirmations, which are the
 *   replies of (P|S)(UN)SUBSCRIBE. In RESP2, once the client sent a subscribe-family command,
 *   arrays whose first element is message/pmessage/smessage are pushes and (un)subscribe
 *   confirmations follow the same rule. A command naming k channels gets k confirmations: the
 *   first answers it, the other k - 1 are pushes. After MONITOR's +OK every server message is a push.
 * - db.namespace is the database index once this connection's `SELECT n` was answered +OK
 *   (`RESET` sets 0). Without a SELECT in the capture it is not known (the connection may have
 *   selected one before the capture started).
 * - Capture started mid-connection, or bytes lost: framing restarts at the first segment that
 *   starts like a message (resp.ts); replies to requests before it are counted
 *   (redis.response_without_request).
 * - Not followed (documented limits): CLIENT REPLY OFF/SKIP (replies suppressed: later pairs
 *   shift), quoted inline arguments (split at spaces), RESP3 streamed strings and aggregates (`?`).
 */

import { skipReason } from '../../shared/skips.ts';
import type { MatcherContext, PacketView } from '../matcher.ts';
import type { StreamConsumer, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import {
  type OrderedExchange,
  OrderedQueue,
  OrderedRequest,
  orderedExchangeSkips,
} from '../tcp-stream/ordered-exchange.ts';
import { OrderedPortProtocol } from '../tcp-stream/ordered-port-protocol.ts';
import { ArgRule, argRuleOf, argumentKept, isSubscribeFamily, namesStoredScript } from './commands.ts';
import { RespFramer, type RespOwner, RespType } from './resp.ts';

/** redis.evicted, redis.queue_evicted, redis.late_response, redis.response_without_request. */
const kExchangeSkips = orderedExchangeSkips('redis');
/** Bytes that do not frame as RESP (not Redis, capture started mid-message): counted once per loss of framing. */
const kUnframed = skipReason('redis.unframed');
/** db.query.text reached kMaxQueryText: the rest of the command's arguments were left out. */
const kQueryTruncated = skipReason('redis.query_truncated');

/**
 * Requests queued on one connection (pipelined, unanswered; tombstones included). Pipelines of
 * thousands are normal (redis-cli --pipe keeps a socket buffer's worth in flight); beyond this
 * the oldest is reported unanswered (evicted).
 */
export const kMaxQueuedRequests = 16_384;
/** db.query.text length cap (characters). */
export const kMaxQueryText = 1024;
/** Characters kept of one key (longer keys end in "…"). */
const kMaxKeyText = 128;

/** pair.detail of Redis pairs (JSONL "redis"). */
export type RedisDetail = {
  /** The command name as sent (db.operation.name). */
  command: string;
  /** The command with its keys and every value replaced by `?` (absent when query text is off). */
  query?: string;
  /** Arguments after the command name. */
  args: number;
  /** The database index (db.namespace) when this connection's SELECT was seen; else null. */
  db: string | null;
  /** Top-level reply type: status, error, integer, bulk, null, array, map, set, push, double, boolean, verbatim, bignum; null when unanswered. */
  reply: string | null;
  /** Error prefix of an error reply (ERR, WRONGTYPE...), else null. */
  error: string | null;
  /** EXEC: the commands queued since MULTI. */
  batch_size?: number;
  /** EVALSHA/FCALL: the script's sha1 or function name. */
  script?: string;
};

const kReplyNames = new Map<number, string>([
  [RespType.Simple, 'status'],
  [RespType.Error, 'error'],
  [RespType.Integer, 'integer'],
  [RespType.Bulk, 'bulk'],
  [RespType.Null, 'null'],
  [RespType.Array, 'array'],
  [RespType.Map, 'map'],
  [RespType.Set, 'set'],
  [RespType.Push, 'push'],
  [RespType.Double, 'double'],
  [RespType.Boolean, 'boolean'],
  [RespType.BlobError, 'error'],
  [RespType.Verbatim, 'verbatim'],
  [RespType.BigNumber, 'bignum'],
]);

/** One command from its name on (the ordered base's request). */
class RedisRequest extends OrderedRequest {
  readonly command: string;
  readonly upper: string;
  readonly rule: ArgRule;
  readonly db: string | null;
  /** The sanitized command text so far (null: query text off). */
  query: string | null;
  args = 0;
  /** ScriptKeys: numkeys (-1 until read). */
  numkeys = -1;
  /** SELECT: the index asked for (digits only). */
  selectIndex: string | null = null;
  script: string | null = null;
  batchSize = -1;
  replyType = -1;
  error: string | null = null;

  constructor(command: string, upper: string, db: string | null, queryText: boolean) {
    super();
    this.command = command;
    this.upper = upper;
    this.rule = argRuleOf(upper);
    this.db = db;
    this.query = queryText ? command : null;
  }

  override detail(matched: boolean): RedisDetail {
    const detail: RedisDetail = {
      command: this.command,
      args: this.args,
      db: this.db,
      reply: matched ? (kReplyNames.get(this.replyType) ?? null) : null,
      error: matched ? this.error : null,
    };
    if (this.query !== null) detail.query = this.query;
    if (this.batchSize >= 0) detail.batch_size = this.batchSize;
    if (this.script !== null) detail.script = this.script;
    return detail;
  }
}

export class RedisStreamProtocol extends OrderedPortProtocol<RedisRequest> {
  readonly #context: MatcherContext;
  /**
   * Whether db.query.text is built: always sanitized (keys kept, values `?`: values never leave
   * the parser, so `raw` is the same), none with --db-query-text off.
   */
  readonly #queryText: boolean;

  constructor(context: MatcherContext) {
    super(
      context,
      'redis',
      kExchangeSkips,
      { maxQueuedRequests: kMaxQueuedRequests },
      context.options.redisPorts,
    );
    this.#context = context;
    this.#queryText = context.options.dbQueryText !== 'off';
  }

  protected connect(connection: TcpConnectionInfo): StreamConsumer {
    // Content is checked by the framers: what is not RESP is skipped, counted.
    return new RedisConnection(this.exchange, connection, this.#context, this.#queryText);
  }
}

/** Push kinds and subscribe confirmations, by a reply aggregate's first element. */
const PushKind = { None: 0, Message: 1, Confirmation: 2, Other: 3 } as const;
type PushKind = (typeof PushKind)[keyof typeof PushKind];

function pushKindOf(text: string): PushKind {
  switch (text) {
    case 'message':
    case 'pmessage':
    case 'smessage':
      return PushKind.Message;
    case 'subscribe':
    case 'unsubscribe':
    case 'psubscribe':
    case 'punsubscribe':
    case 'ssubscribe':
    case 'sunsubscribe':
      return PushKind.Confirmation;
    default:
      return PushKind.None;
  }
}

/** One Redis connection: a framer per direction and its queue of commands awaiting replies. */
class RedisConnection implements StreamConsumer, RespOwner {
  readonly #requests: RespFramer;
  readonly #responses: RespFramer;
  readonly #queue: OrderedQueue<RedisRequest>;
  readonly #context: MatcherContext;
  readonly #queryText: boolean;
  /** The command being framed (after its name), or null. */
  #request: RedisRequest | null = null;
  /** The command whose reply is being framed, or null (a push, or a reply to nothing). */
  #answering: RedisRequest | null = null;
  /** Whether the reply in progress was already classified (answer or push). */
  #decided = false;
  #replyType = 0;
  /** Connection state from what was seen. */
  #db: string | null = null;
  #resp3 = false;
  #subscribed = false;
  #monitoring = false;
  /** Commands queued since MULTI (-1: no MULTI open). */
  #queuedInMulti = -1;
  /** Confirmations still due for the last subscribe-family command answered (they are pushes). */
  #confirmationsOwed = 0;

  constructor(
    exchange: OrderedExchange<RedisRequest>,
    info: TcpConnectionInfo,
    context: MatcherContext,
    queryText: boolean,
  ) {
    this.#context = context;
    this.#queryText = queryText;
    this.#requests = new RespFramer(true, this, context.skips, kUnframed);
    this.#responses = new RespFramer(false, this, context.skips, kUnframed);
    this.#queue = new OrderedQueue(exchange, info, this.#requests.edges);
  }

  // StreamConsumer ---------------------------------------------------------------------------

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    (fromClient ? this.#requests : this.#responses).feed(data, offset, length, view);
    this.#queue.progress(fromClient, view);
  }

  onGap(fromClient: boolean): void {
    (fromClient ? this.#requests : this.#responses).gap();
  }

  onClose(fromClient: boolean): void {
    // A client's half-close leaves the server answering what it got.
    if (fromClient) return;
    this.#requests.stop();
    this.#responses.stop();
    this.#queue.serverClosed();
  }

  // RespOwner --------------------------------------------------------------------------------

  messageStart(framer: RespFramer, type: number): void {
    if (framer.isRequest) {
      this.#request = null;
      return;
    }
    this.#replyType = type;
    this.#answering = null;
    this.#decided = false;
    if (this.#monitoring) this.#push();
    // Aggregates that may be pushes are classified by their first element.
    else if (type !== RespType.Push && !(type === RespType.Array && this.#subscribed && !this.#resp3))
      this.#answer();
  }

  element(framer: RespFramer, index: number, _type: number, view: PacketView): void {
    if (framer.isRequest) this.#requestElement(framer, index, view);
    else if (index === 0 && !this.#decided) this.#classify(pushKindOf(framer.capturedText()));
  }

  messageEnd(framer: RespFramer, view: PacketView): void {
    if (framer.isRequest) {
      this.#requestEnd(view);
      return;
    }
    if (!this.#decided) {
      // An empty push answers nothing; an empty array in subscribed mode is a reply.
      if (this.#replyType === RespType.Push) this.#push();
      else this.#answer();
    }
    const request = this.#answering;
    this.#answering = null;
    if (request === null) return;
    request.replyType = this.#replyType;
    if (this.#replyType === RespType.Error || this.#replyType === RespType.BlobError) {
      request.error = errorPrefix(framer.capturedText());
    }
    this.#afterReply(request, framer);
    this.#queue.responseEnd(framer.edges);
  }

  framingLost(framer: RespFramer, inMessage: boolean): void {
    if (framer.isRequest) {
      if (this.#request !== null) this.#queue.requestLost();
      this.#request = null;
      return;
    }
    if (inMessage && this.#answering !== null) this.#queue.responseLost();
    this.#answering = null;
    this.#queue.responsesResynced();
  }

  // Requests -----------------------------------------------------------------------------------

  #requestElement(framer: RespFramer, index: number, view: PacketView): void {
    if (index === 0) {
      const command = framer.capturedText();
      const upper = command.toUpperCase();
      const request = new RedisRequest(command, upper, this.#db, this.#queryText);
      this.#request = request;
      this.#queue.requestStart(request, view);
      return;
    }
    const request = this.#request;
    if (request === null) return;
    const arg = index - 1;
    request.args = index;
    if (request.rule === ArgRule.ScriptKeys && arg === 1) request.numkeys = digitsValue(framer);
    if (request.rule === ArgRule.ScriptKeys && arg === 0 && namesStoredScript(request.upper))
      request.script = keyText(framer);
    if (request.rule === ArgRule.Index && arg === 0) request.selectIndex = digitsText(framer);
    const query = request.query;
    if (query === null || query.length >= kMaxQueryText) return;
    const kept =
      argumentKept(request.rule, arg, request.numkeys) ||
      (request.rule === ArgRule.ScriptKeys && arg === 0 && request.script !== null);
    const next = `${query} ${kept ? keyText(framer) : '?'}`;
    if (next.length <= kMaxQueryText) {
      request.query = next;
    } else {
      request.query = `${query} …`;
      this.#context.skips.add(kQueryTruncated);
    }
  }

  #requestEnd(view: PacketView): void {
    const request = this.#request;
    this.#request = null;
    if (request === null) return; // empty: Redis ignores it (no reply)
    this.#queue.requestEnd(view);
    const upper = request.upper;
    if (upper === 'MULTI') {
      this.#queuedInMulti = 0;
    } else if (upper === 'EXEC' || upper === 'DISCARD') {
      if (upper === 'EXEC' && this.#queuedInMulti >= 0) request.batchSize = this.#queuedInMulti;
      this.#queuedInMulti = -1;
    } else if (this.#queuedInMulti >= 0) {
      this.#queuedInMulti++;
    }
    if (isSubscribeFamily(upper)) this.#subscribed = true;
  }

  // Replies ------------------------------------------------------------------------------------

  /** A reply aggregate's kind is known from its first element. */
  #classify(kind: PushKind): void {
    if (kind === PushKind.Message) {
      this.#push();
    } else if (kind === PushKind.Confirmation) {
      if (this.#confirmationsOwed > 0) {
        this.#confirmationsOwed--;
        this.#push();
        return;
      }
      const target = this.#queue.answerTarget(this.#responses.edges);
      if (target === null || !isSubscribeFamily(target.upper)) {
        this.#push(); // an argument-less UNSUBSCRIBE's further confirmations
        return;
      }
      this.#decided = true;
      if (this.#queue.beginResponse(target)) {
        this.#answering = target;
        this.#confirmationsOwed = Math.max(0, target.args - 1);
      }
    } else if (this.#replyType === RespType.Push) {
      this.#push(); // invalidate, tracking and module pushes
    } else {
      this.#answer();
    }
  }

  #answer(): void {
    this.#decided = true;
    this.#answering = this.#queue.responseStart(this.#responses.edges);
  }

  #push(): void {
    this.#decided = true;
    this.#answering = null;
    this.#queue.pushResponse();
  }

  /** Connection state that a reply confirms. */
  #afterReply(request: RedisRequest, framer: RespFramer): void {
    const ok = this.#replyType === RespType.Simple;
    switch (request.upper) {
      case 'SELECT':
        if (ok && request.selectIndex !== null) this.#db = request.selectIndex;
        break;
      case 'HELLO':
        if (this.#replyType === RespType.Map) this.#resp3 = true;
        else if (this.#replyType === RespType.Array) this.#resp3 = false;
        break;
      case 'MONITOR':
        if (ok) this.#monitoring = true;
        break;
      case 'RESET':
        if (ok) {
          this.#db = '0';
          this.#resp3 = this.#subscribed = this.#monitoring = false;
          this.#queuedInMulti = -1;
        }
        break;
    }
    // EXEC's reply holds one result per command run: the batch size even without MULTI in the capture.
    if (request.upper === 'EXEC' && this.#replyType === RespType.Array) request.batchSize = framer.topCount;
  }
}

/** The error prefix: the first word when it is upper case (ERR, WRONGTYPE), else "ERR". */
function errorPrefix(text: string): string {
  const space = text.indexOf(' ');
  const word = space < 0 ? text : text.slice(0, space);
  return /^[A-Z][A-Z0-9_-]{0,31}$/.test(word) ? word : 'ERR';
}

/** The captured argument as a key (UTF-8, at most kMaxKeyText characters, "…" when cut). */
function keyText(framer: RespFramer): string {
  const text = Buffer.from(framer.captured.buffer, 0, framer.capturedLength).toString('utf8');
  const cut = framer.valueLength > framer.capturedLength || text.length > kMaxKeyText;
  return cut ? `${text.slice(0, kMaxKeyText)}…` : text;
}

function digitsText(framer: RespFramer): string | null {
  const text = framer.capturedText();
  return framer.valueLength === framer.capturedLength && /^\d{1,5}$/.test(text) ? text : null;
}

function digitsValue(framer: RespFramer): number {
  const text = digitsText(framer);
  return text === null ? 0 : Number(text);
}
