/**
 * memcached text protocol pairing over reassembled TCP streams: a StreamProtocol that claims
 * connections to the memcached ports, a line framer per direction (text.ts) and the ordered
 * request/response base (tcp-stream/ordered-exchange.ts).
 *
 * memcached's own rules (the one place they are written):
 * - A request is a command line, plus a data block for storage commands (set, add, replace,
 *   append, prepend, cas; meta ms). Every request gets one reply, in order, except those ending
 *   in `noreply` and `quit`: no reply, so no pair (counted: memcached.noreply).
 * - A reply is one line, except retrieval (get, gets, gat, gats): VALUE lines with their data
 *   blocks then END (hits = VALUE lines), stats: STAT lines then END, and meta VA: a line and a
 *   data block. ERROR, CLIENT_ERROR and SERVER_ERROR replies are errors (error.type).
 * - Meta commands in quiet mode (the `q` flag) answer only some requests: the connection is no
 *   longer followed (counted: memcached.quiet_mode). The binary protocol (first byte 0x80) is not
 *   text: skipped and counted (memcached.unframed) like any other stream that is not memcached.
 * - memcached over UDP stays with the generic UDP matcher (udp/: port 11211 in --udp-ports).
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
import { TextFramer, type TextOwner } from './text.ts';

const kExchangeSkips = orderedExchangeSkips('memcached');
/** Bytes that do not frame as the memcached text protocol: counted once per loss of framing. */
const kUnframed = skipReason('memcached.unframed');
/** A request with `noreply` (or quit): no reply comes, no pair is made. */
const kNoreply = skipReason('memcached.noreply');
/** A meta command in quiet mode: replies become conditional, the connection is given up. */
const kQuietMode = skipReason('memcached.quiet_mode');

export const kMaxQueuedRequests = 16_384;
/** db.query.text length cap (characters). */
export const kMaxQueryText = 1024;

/** pair.detail of memcached pairs (JSONL "memcached"). */
export type MemcachedDetail = {
  /** The command as sent (db.operation.name). */
  command: string;
  /** The command with its keys; every other argument and the data replaced by `?` (absent when query text is off). */
  query?: string;
  /** Keys named by the request. */
  keys: number;
  /** The reply's first word (STORED, END, VALUE, DELETED, NOT_FOUND, a number for incr/decr: "number"); null when unanswered. */
  status: string | null;
  /** ERROR, CLIENT_ERROR or SERVER_ERROR; else null. */
  error: string | null;
  /** Retrieval: the VALUE items returned. */
  hits?: number;
};

/** How a command's line is read: which tokens are keys, whether a data block follows. */
const Shape = {
  /** cmd key... (get, gets, delete, incr, decr, touch, mg, md, ma): token 1 is a key (all of them for get/gets). */
  Keyed: 0,
  /** gat/gats exptime key...: tokens 2.. are keys. */
  Touching: 1,
  /** set/add/replace/append/prepend key flags exptime bytes [noreply]; cas ... bytes cas [noreply]. */
  Storage: 2,
  /** ms key datalen flags...: a data block of datalen. */
  MetaSet: 3,
  /** Anything else (stats, version, flush_all, verbosity, mn, unknown): no key. */
  Other: 4,
} as const;
type Shape = (typeof Shape)[keyof typeof Shape];

const kShapes = new Map<string, Shape>([
  ['get', Shape.Keyed],
  ['gets', Shape.Keyed],
  ['delete', Shape.Keyed],
  ['incr', Shape.Keyed],
  ['decr', Shape.Keyed],
  ['touch', Shape.Keyed],
  ['mg', Shape.Keyed],
  ['md', Shape.Keyed],
  ['ma', Shape.Keyed],
  ['gat', Shape.Touching],
  ['gats', Shape.Touching],
  ['set', Shape.Storage],
  ['add', Shape.Storage],
  ['replace', Shape.Storage],
  ['append', Shape.Storage],
  ['prepend', Shape.Storage],
  ['cas', Shape.Storage],
  ['ms', Shape.MetaSet],
  ['stats', Shape.Other],
  ['version', Shape.Other],
  ['flush_all', Shape.Other],
  ['verbosity', Shape.Other],
  ['mn', Shape.Other],
  ['me', Shape.Other],
  ['quit', Shape.Other],
  ['shutdown', Shape.Other],
  ['cache_memlimit', Shape.Other],
  ['lru_crawler', Shape.Other],
  ['watch', Shape.Other],
]);

/** Whether memcached knows the command (the metric's operation stays low-cardinality). */
export function isKnownCommand(command: string): boolean {
  return kShapes.has(command);
}

/** Commands whose whole key list is keys (multi-get). */
const kMultiKey = new Set(['get', 'gets', 'gat', 'gats']);

/** First words a reply line starts with. */
const kReplyWords = new Set([
  'VALUE',
  'END',
  'STORED',
  'NOT_STORED',
  'EXISTS',
  'NOT_FOUND',
  'DELETED',
  'TOUCHED',
  'OK',
  'ERROR',
  'CLIENT_ERROR',
  'SERVER_ERROR',
  'STAT',
  'VERSION',
  'HD',
  'VA',
  'EN',
  'NF',
  'NS',
  'EX',
  'MN',
  'ME',
  'RESET',
  'BUSY',
]);

class MemcachedRequest extends OrderedRequest {
  readonly command: string;
  readonly query: string | null;
  readonly keys: number;
  status: string | null = null;
  error: string | null = null;
  hits = -1;

  constructor(command: string, query: string | null, keys: number, retrieval: boolean) {
    super();
    this.command = command;
    this.query = query;
    this.keys = keys;
    if (retrieval) this.hits = 0;
  }

  override detail(matched: boolean): MemcachedDetail {
    const detail: MemcachedDetail = {
      command: this.command,
      keys: this.keys,
      status: matched ? this.status : null,
      error: matched ? this.error : null,
    };
    if (this.query !== null) detail.query = this.query;
    if (matched && this.hits >= 0) detail.hits = this.hits;
    return detail;
  }
}

export class MemcachedStreamProtocol extends OrderedPortProtocol<MemcachedRequest> {
  readonly #context: MatcherContext;
  /**
   * Whether db.query.text is built: always sanitized (keys kept, values `?`: values never leave
   * the parser, so `raw` is the same), none with --db-query-text off.
   */
  readonly #queryText: boolean;

  constructor(context: MatcherContext) {
    super(
      context,
      'memcached',
      kExchangeSkips,
      { maxQueuedRequests: kMaxQueuedRequests },
      context.options.memcachedPorts,
    );
    this.#context = context;
    this.#queryText = context.options.dbQueryText !== 'off';
  }

  protected connect(connection: TcpConnectionInfo): StreamConsumer {
    return new MemcachedConnection(this.exchange, connection, this.#context, this.#queryText);
  }
}

/** One memcached connection: a line framer per direction and its queue of requests awaiting replies. */
class MemcachedConnection implements StreamConsumer, TextOwner {
  readonly #requests: TextFramer;
  readonly #responses: TextFramer;
  readonly #queue: OrderedQueue<MemcachedRequest>;
  readonly #context: MatcherContext;
  readonly #queryText: boolean;
  // The request line being read.
  #command = '';
  #shape: Shape = Shape.Other;
  #query = '';
  #keys = 0;
  #dataBytes = -1;
  #lastToken = '';
  #quiet = false;
  /** The request whose data block is being read (started at its line's end). */
  #request: MemcachedRequest | null = null;
  // The reply being read.
  #answering: MemcachedRequest | null = null;
  #replyStarted = false;
  #replyWord = '';
  #replyLength = 0;

  constructor(
    exchange: OrderedExchange<MemcachedRequest>,
    info: TcpConnectionInfo,
    context: MatcherContext,
    queryText: boolean,
  ) {
    this.#context = context;
    this.#queryText = queryText;
    this.#requests = new TextFramer(true, this, context.skips, kUnframed);
    this.#responses = new TextFramer(false, this, context.skips, kUnframed);
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
    if (fromClient) return;
    this.#requests.stop();
    this.#responses.stop();
    this.#queue.serverClosed();
  }

  // TextOwner --------------------------------------------------------------------------------

  startsMessage(framer: TextFramer, data: Uint8Array, from: number, end: number): boolean {
    let word = from;
    while (word < end && word - from < 16 && data[word]! > 0x20 && data[word]! < 0x7f) word++;
    if (word === from || (word < end && data[word] !== 0x20 && data[word] !== 0x0d)) return false;
    const text = String.fromCharCode(...data.subarray(from, word));
    if (/^\d+$/.test(text)) return !framer.isRequest;
    const words = framer.isRequest ? kShapes.keys() : kReplyWords.values();
    // A chunk that ends inside its first word starts a message when a known word starts so.
    for (const known of words) if (word === end ? known.startsWith(text) : known === text) return true;
    return false;
  }

  token(framer: TextFramer, index: number): void {
    if (framer.isRequest) this.#requestToken(framer, index);
    else if (index === 0) {
      this.#replyWord = framer.tokenText();
    } else if (index === 3 && this.#replyWord === 'VALUE') {
      this.#replyLength = numberOf(framer);
    } else if (index === 1 && this.#replyWord === 'VA') {
      this.#replyLength = numberOf(framer);
    }
  }

  lineEnd(framer: TextFramer, view: PacketView): void {
    if (framer.isRequest) this.#requestLine(framer, view);
    else this.#replyLine(framer);
  }

  messageEnd(framer: TextFramer, view: PacketView): void {
    if (framer.isRequest) {
      if (this.#request !== null) this.#queue.requestEnd(view);
      this.#request = null;
      if (this.#quiet) this.#giveUp();
      return;
    }
    const request = this.#answering;
    this.#answering = null;
    this.#replyStarted = false;
    if (request !== null) this.#queue.responseEnd(framer.edges);
  }

  framingLost(framer: TextFramer, inMessage: boolean): void {
    if (framer.isRequest) {
      if (this.#request !== null) this.#queue.requestLost();
      this.#request = null;
      return;
    }
    if (inMessage && this.#answering !== null) this.#queue.responseLost();
    this.#answering = null;
    this.#replyStarted = false;
    this.#queue.responsesResynced();
  }

  // Requests -----------------------------------------------------------------------------------

  #requestToken(framer: TextFramer, index: number): void {
    const text = framer.tokenText();
    this.#lastToken = text;
    if (index === 0) {
      this.#command = this.#query = text;
      this.#shape = kShapes.get(text) ?? Shape.Other;
      this.#quiet = false;
      return;
    }
    const shape = this.#shape;
    const isKey =
      shape === Shape.Touching
        ? index >= 2
        : shape !== Shape.Other && (index === 1 || (index > 1 && kMultiKey.has(this.#command)));
    if (isKey) this.#keys++;
    if (shape === Shape.Storage && index === 4) this.#dataBytes = numberOf(framer);
    if (shape === Shape.MetaSet && index === 2) this.#dataBytes = numberOf(framer);
    // Meta flags are single tokens starting with their letter: `q` asks for quiet mode.
    if (this.#command.length === 2 && this.#command[0] === 'm' && index >= 2 && text === 'q')
      this.#quiet = true;
    if (this.#query.length < kMaxQueryText) {
      const key = framer.tokenLength > framer.capturedLength ? `${text}…` : text;
      const next = `${this.#query} ${isKey ? key : '?'}`;
      this.#query = next.length <= kMaxQueryText ? next : `${this.#query} …`;
    }
  }

  #requestLine(framer: TextFramer, view: PacketView): void {
    // An empty line is a request too: memcached answers it with ERROR.
    if (framer.tokens === 0) this.#resetLine();
    const shape = this.#shape;
    const hasData = (shape === Shape.Storage || shape === Shape.MetaSet) && this.#dataBytes >= 0;
    const silent = (framer.tokens > 1 && this.#lastToken === 'noreply') || this.#command === 'quit';
    if (silent) {
      this.#context.skips.add(kNoreply);
    } else {
      const retrieval = kMultiKey.has(this.#command);
      const query = this.#queryText ? this.#query : null;
      this.#request = new MemcachedRequest(this.#command, query, this.#keys, retrieval);
      this.#queue.requestStart(this.#request, view);
    }
    if (hasData) framer.expectData(this.#dataBytes, true);
    else framer.endMessage();
    this.#resetLine();
  }

  #resetLine(): void {
    this.#command = this.#query = this.#lastToken = '';
    this.#shape = Shape.Other;
    this.#keys = 0;
    this.#dataBytes = -1;
  }

  #giveUp(): void {
    this.#context.skips.add(kQuietMode);
    this.#requests.stop();
    this.#responses.stop();
    this.#queue.abandon();
  }

  // Replies ------------------------------------------------------------------------------------

  #replyLine(framer: TextFramer): void {
    const word = this.#replyWord;
    if (!this.#replyStarted) {
      this.#replyStarted = true;
      const request = this.#queue.responseStart(framer.edges);
      this.#answering = request;
      if (request !== null) {
        request.status = /^\d+$/.test(word) ? 'number' : word;
        if (word === 'ERROR' || word === 'CLIENT_ERROR' || word === 'SERVER_ERROR') request.error = word;
      }
    }
    const request = this.#answering;
    switch (word) {
      case 'VALUE':
        if (request !== null && request.hits >= 0) request.hits++;
        framer.expectData(this.#replyLength, false);
        break;
      case 'VA':
        framer.expectData(this.#replyLength, true);
        break;
      case 'STAT':
      case 'ITEM':
        break; // stats lines until END
      default:
        framer.endMessage();
    }
    this.#replyWord = '';
  }
}

/** A token as a non-negative integer (-1 when it is not one). */
function numberOf(framer: TextFramer): number {
  const text = framer.tokenText();
  return framer.tokenLength <= 15 && /^\d+$/.test(text) ? Number(text) : -1;
}
