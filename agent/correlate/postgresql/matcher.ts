/**
 * PostgreSQL (frontend/backend protocol v3) pairing over reassembled TCP streams, on the ordered
 * request/response base (tcp-stream/ordered-exchange.ts). What is a request:
 *
 * - the StartupMessage: answered by everything up to the first ReadyForQuery (authentication
 *   round trips included: SASL/password messages belong to it), or by the ErrorResponse that
 *   ends a failed login;
 * - a simple Query (or FunctionCall): answered by everything up to its ReadyForQuery, COPY data
 *   both ways included (CopyData/CopyDone/CopyFail from the client are not requests);
 * - an extended-protocol batch: the client messages (Parse/Bind/Describe/Execute/Close/Flush)
 *   up to and including a Sync, answered by everything up to that Sync's ReadyForQuery. One
 *   pair per Sync (the server answers each Sync with exactly one ReadyForQuery, even after an
 *   error); a pipeline of several Executes under one Sync is one pair with its batch size.
 *
 * An SSLRequest/GSSENCRequest answered 'S'/'G' turns the stream into TLS/GSSAPI: counted
 * (postgresql.tls_stream) and no longer parsed; 'N' goes on in plain text. Notices,
 * notifications and parameter changes between responses answer nothing (pushes). A capture that
 * starts mid-connection pairs from the next request on (the response in flight is counted as a
 * response without request). Lost bytes end the parsing of that direction (PostgreSQL has no
 * resynchronisation point): counted.
 */
import { skipReason } from '../../shared/skips.ts';
import { type MatcherContext, type PacketView, parserBuffersOf } from '../matcher.ts';
import { MessageEdges } from '../pair.ts';
import { type DbQueryText, kMaxQueryBytes, sqlQueryText } from '../sql/query-text.ts';
import { sqlOperationName } from '../sql/sanitize.ts';
import { addBytes, cString } from '../sql/wire.ts';
import type { StreamConsumer, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import { OrderedQueue, OrderedRequest, orderedExchangeSkips } from '../tcp-stream/ordered-exchange.ts';
import { OrderedPortProtocol } from '../tcp-stream/ordered-port-protocol.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import { PgFramer as Framer, type PgFramer, type PgFramerOwner, StartupCode } from './framer.ts';

const kExchangeSkips = orderedExchangeSkips('postgresql');
/** A stream on a PostgreSQL port whose first message is not PostgreSQL: the connection is not parsed. */
const kNotPostgresql = skipReason('postgresql.not_postgresql');
/** A message header no server would accept after valid ones (bad type or length): parsing stops. */
const kFramingLost = skipReason('postgresql.framing_lost');
/** Bytes lost in a gap: that direction is no longer parsed. */
const kGap = skipReason('postgresql.gap');
/** SSLRequest/GSSENCRequest accepted: the rest of the stream is encrypted (not parsed). */
const kTlsStream = skipReason('postgresql.tls_stream');
/** Prepared statements a connection remembers (name → query text) were at their cap or out of budget: that Parse's text is not remembered. */
const kStatementsFull = skipReason('postgresql.statements_full');

/** Requests queued on one connection (a pipelining client stays far below). */
const kMaxQueuedRequests = 1024;
/** Prepared statements remembered per connection (their text is charged to the parser buffer budget). */
const kMaxStatements = 64;

/** Client message types that a server accepts after startup. */
const kFrontendTypes = new Uint8Array(256);
for (const c of 'BCcdDEfFHPpQSX') kFrontendTypes[c.charCodeAt(0)] = 1;
/** Server message types. */
const kBackendTypes = new Uint8Array(256);
for (const c of '123AcCdDEGHIKnNRsStTVWZv') kBackendTypes[c.charCodeAt(0)] = 1;

const T = (c: string): number => c.charCodeAt(0);
const kQuery = T('Q');
const kFunctionCall = T('F');
const kParse = T('P');
const kBind = T('B');
const kExecute = T('E');
const kSync = T('S');
const kErrorResponse = T('E');
const kReadyForQuery = T('Z');
const kNotice = T('N');
const kNotification = T('A');
const kParameterStatus = T('S');
/** The client's copy stream and password messages: part of the request already sent. */
const kCopyData = T('d');
const kCopyDone = T('c');
const kCopyFail = T('f');
const kPassword = T('p');
const kTerminate = T('X');

/** pair.detail of PostgreSQL pairs (JSONL "postgresql"). */
export type PostgresqlDetail = {
  /** startup (login), query (simple Query), sync (extended batch), function (FunctionCall). */
  message: 'startup' | 'query' | 'sync' | 'function';
  /** db.operation.name: the query's first keyword (`BATCH SELECT` / `BATCH` for a batch); null when unknown. */
  operation: string | null;
  /** By --db-query-text; absent when off or unknown. */
  query?: string;
  /** The database named at startup (db.namespace); absent when the startup was not captured. */
  namespace?: string;
  /** Executes under one Sync, when 2 or more. */
  batch_size?: number;
  /** SQLSTATE of the first ErrorResponse; null when none (or unanswered). */
  sqlstate: string | null;
};

class PgRequest extends OrderedRequest {
  readonly message: PostgresqlDetail['message'];
  namespace: string | null;
  /** Raw query text (capped), the first one of a batch. */
  query: string | null = null;
  operation: string | null = null;
  /** A batch's operations differ. */
  mixedOperations = false;
  executes = 0;
  sqlstate: string | null = null;
  readonly #mode: DbQueryText | undefined;

  constructor(message: PostgresqlDetail['message'], namespace: string | null, mode: DbQueryText | undefined) {
    super();
    this.message = message;
    this.namespace = namespace;
    this.#mode = mode;
  }

  /** One more statement of this request (a Query's text, or a Bind's statement). */
  addStatement(query: string): void {
    const operation = sqlOperationName(query);
    if (this.query === null) {
      this.query = query;
      this.operation = operation;
    } else if (operation !== this.operation) {
      this.mixedOperations = true;
    }
  }

  override detail(matched: boolean): PostgresqlDetail {
    let operation = this.operation;
    if (this.executes >= 2)
      operation = this.mixedOperations || operation === null ? 'BATCH' : `BATCH ${operation}`;
    const detail: PostgresqlDetail = {
      message: this.message,
      operation,
      sqlstate: matched ? this.sqlstate : null,
    };
    const text = this.query === null ? null : sqlQueryText(this.query, this.#mode, 'postgresql');
    if (text !== null) detail.query = text;
    if (this.namespace !== null) detail.namespace = this.namespace;
    if (this.executes >= 2) detail.batch_size = this.executes;
    return detail;
  }
}

export class PostgresqlStreamProtocol extends OrderedPortProtocol<PgRequest> {
  readonly parserBuffers: ParserBufferBudget;
  readonly context: MatcherContext;

  constructor(context: MatcherContext) {
    super(
      context,
      'postgresql',
      kExchangeSkips,
      { maxQueuedRequests: kMaxQueuedRequests },
      context.options.postgresqlPorts,
    );
    this.context = context;
    this.parserBuffers = parserBuffersOf(context);
  }

  protected connect(connection: TcpConnectionInfo): StreamConsumer {
    // The first messages must frame as PostgreSQL (checked by the connection).
    return new PgConnection(this, connection);
  }
}

const Phase = {
  /** Nothing seen yet (a capture may start mid-connection). */
  Unknown: 0,
  /** StartupMessage sent, ReadyForQuery not yet. */
  Startup: 1,
  Ready: 2,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** One PostgreSQL connection: a framer per direction and its queue of requests awaiting responses. */
class PgConnection implements StreamConsumer, PgFramerOwner {
  readonly #protocol: PostgresqlStreamProtocol;
  readonly #client: PgFramer;
  readonly #server: PgFramer;
  readonly #requestEdges = new MessageEdges();
  readonly #responseEdges = new MessageEdges();
  readonly #queue: OrderedQueue<PgRequest>;
  #phase: Phase = Phase.Unknown;
  /** The client's first bytes were seen (they tell startup from mid-connection). */
  #clientStarted = false;
  /** Messages framed so far (0: the content check is still to pass). */
  #messages = 0;
  #namespace: string | null = null;
  /** The request whose client messages are still arriving (a batch before its Sync). */
  #request: PgRequest | null = null;
  /** A response is being framed (up to ReadyForQuery); `#answering` is its request, if any. */
  #responding = false;
  #answering: PgRequest | null = null;
  /** Prepared statement name → raw query text (capped), charged to the parser buffer budget. */
  #statements: Map<string, string> | null = null;
  #statementBytes = 0;
  /** The client's untyped message in progress is an SSLRequest/GSSENCRequest. */
  #encryptionRequested = false;

  constructor(protocol: PostgresqlStreamProtocol, info: TcpConnectionInfo) {
    this.#protocol = protocol;
    this.#client = new Framer(true, this, protocol.parserBuffers);
    this.#server = new Framer(false, this, protocol.parserBuffers);
    this.#queue = new OrderedQueue(protocol.exchange, info, this.#requestEdges);
  }

  // StreamConsumer ---------------------------------------------------------------------------

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    const framer = fromClient ? this.#client : this.#server;
    if (framer.stopped) return;
    if (fromClient && !this.#clientStarted) {
      // Startup lengths are < 10000: an untyped first message starts with a zero byte, a typed
      // one (a capture starting mid-connection) never does.
      this.#clientStarted = true;
      framer.untyped = data[offset] === 0;
    }
    framer.feed(data, offset, length, view);
    this.#queue.progress(fromClient, view);
  }

  onGap(fromClient: boolean): void {
    const framer = fromClient ? this.#client : this.#server;
    if (framer.stopped) return;
    this.#protocol.context.skips.add(kGap);
    framer.stop();
    if (fromClient) {
      this.#request = null;
      this.#queue.requestLost();
    } else {
      this.#queue.responseLost();
    }
  }

  onClose(fromClient: boolean): void {
    if (!fromClient) this.#queue.serverClosed();
  }

  onForget(): void {
    this.#client.release();
    this.#server.release();
    if (this.#statements !== null) {
      this.#protocol.parserBuffers.release(this.#statementBytes);
      this.#statements = null;
      this.#statementBytes = 0;
    }
  }

  // PgFramerOwner ----------------------------------------------------------------------------

  onMessage(framer: PgFramer, type: number, length: number, view: PacketView): number {
    const valid = framer.fromClient
      ? type === 0 || kFrontendTypes[type] === 1
      : type > 0xff || kBackendTypes[type] === 1;
    if (!valid) {
      this.onFramingError();
      return -1;
    }
    this.#messages++;
    return framer.fromClient
      ? this.#clientMessage(framer, type, length, view)
      : this.#serverMessage(framer, type);
  }

  onFramingError(): void {
    this.#protocol.context.skips.add(this.#messages === 0 ? kNotPostgresql : kFramingLost);
    this.#stopBoth();
  }

  onBytes(framer: PgFramer, n: number, view: PacketView): void {
    if (framer.fromClient) {
      const request = this.#request;
      if (request === null) return;
      addBytes(this.#requestEdges, n, view);
      // A Query longer than the cap: its text is known now (it may be reported before its end).
      if (this.#clientType === kQuery && request.query === null && framer.kept === kMaxQueryBytes) {
        request.addStatement(cString(framer.body!, 0, framer.kept).text);
      }
    } else if (this.#responding) {
      addBytes(this.#responseEdges, n, view);
    }
  }

  onMessageEnd(framer: PgFramer, view: PacketView): void {
    if (framer.fromClient) this.#clientMessageEnd(framer, view);
    else this.#serverMessageEnd(framer);
  }

  // Client -----------------------------------------------------------------------------------

  #clientType = 0;

  #clientMessage(framer: PgFramer, type: number, length: number, view: PacketView): number {
    this.#clientType = type;
    if (type === 0) {
      const code = framer.code;
      if (code === StartupCode.Ssl || code === StartupCode.GssEnc) {
        this.#encryptionRequested = true;
        this.#server.singleByte = true;
        return 0;
      }
      if (code !== StartupCode.Protocol3) {
        // CancelRequest (a connection of its own, never answered) or an unknown version.
        if (code !== StartupCode.Cancel) this.#protocol.context.skips.add(kNotPostgresql);
        this.#stopBoth();
        return -1;
      }
      framer.untyped = false;
      this.#phase = Phase.Startup;
      this.#startRequest(framer, new PgRequest('startup', null, undefined), view);
      return length;
    }
    if (
      type === kCopyData ||
      type === kCopyDone ||
      type === kCopyFail ||
      type === kPassword ||
      type === kTerminate
    ) {
      return 0;
    }
    if (type === kQuery || type === kFunctionCall) {
      const request = new PgRequest(type === kQuery ? 'query' : 'function', this.#namespace, this.#mode());
      this.#startRequest(framer, request, view);
      return type === kQuery ? kMaxQueryBytes : 0;
    }
    // Extended protocol: the first message after a Sync opens the batch that the next Sync closes.
    if (this.#request === null)
      this.#startRequest(framer, new PgRequest('sync', this.#namespace, this.#mode()), view);
    if (type === kParse) return kMaxQueryBytes;
    if (type === kBind) return 256; // portal and statement names
    if (type === kExecute) this.#request!.executes++;
    return 0;
  }

  #clientMessageEnd(framer: PgFramer, view: PacketView): void {
    const type = this.#clientType;
    const request = this.#request;
    const body = framer.body;
    const kept = framer.kept;
    if (type === 0) {
      if (this.#encryptionRequested) return;
      if (body !== null) this.#readStartup(body, kept);
      if (request !== null) request.namespace = this.#namespace;
      this.#endRequest(view);
      return;
    }
    if (request === null) return;
    if (type === kQuery) {
      if (body !== null && request.query === null) request.addStatement(cString(body, 0, kept).text);
      this.#endRequest(view);
    } else if (type === kFunctionCall || type === kSync) {
      this.#endRequest(view);
    } else if (type === kParse && body !== null) {
      const name = cString(body, 0, kept);
      const query = cString(body, name.next, kept).text;
      request.addStatement(query);
      this.#remember(name.text, query);
    } else if (type === kBind && body !== null) {
      const portal = cString(body, 0, kept);
      const query = this.#statements?.get(cString(body, portal.next, kept).text);
      if (query !== undefined) request.addStatement(query);
    }
  }

  #startRequest(framer: PgFramer, request: PgRequest, view: PacketView): void {
    framer.beginEdges(this.#requestEdges);
    this.#request = request;
    this.#queue.requestStart(request, view);
  }

  #endRequest(view: PacketView): void {
    this.#request = null;
    this.#queue.requestEnd(view);
  }

  /** StartupMessage parameters: `database` (default: `user`) is db.namespace. */
  #readStartup(body: Uint8Array, kept: number): void {
    let user: string | null = null;
    let database: string | null = null;
    for (let at = 0; at < kept && body[at] !== 0; ) {
      const key = cString(body, at, kept);
      const value = cString(body, key.next, kept);
      if (value.next > kept) break; // cut at the keep cap
      if (key.text === 'database') database = value.text;
      else if (key.text === 'user') user = value.text;
      at = value.next;
    }
    this.#namespace = database ?? user;
  }

  #remember(name: string, query: string): void {
    const budget = this.#protocol.parserBuffers;
    this.#statements ??= new Map();
    const statements = this.#statements;
    const old = statements.get(name);
    if (old !== undefined) {
      statements.delete(name);
      this.#statementBytes -= old.length;
      budget.release(old.length);
    }
    if (statements.size >= kMaxStatements || !budget.reserve(query.length)) {
      this.#protocol.context.skips.add(kStatementsFull);
      return;
    }
    statements.set(name, query);
    this.#statementBytes += query.length;
  }

  #mode(): DbQueryText | undefined {
    return this.#protocol.context.options.dbQueryText;
  }

  // Server -----------------------------------------------------------------------------------

  #serverType = 0;

  #serverMessage(framer: PgFramer, type: number): number {
    this.#serverType = type;
    if (type > 0xff) return 0; // the one-byte answer to an encryption request
    if (!this.#responding) {
      // Between responses, notices, notifications and parameter changes answer nothing.
      const push = type === kNotice || type === kNotification || type === kParameterStatus;
      if (push && this.#phase !== Phase.Startup) {
        this.#queue.pushResponse();
        return 0;
      }
      this.#responding = true;
      framer.beginEdges(this.#responseEdges);
      this.#answering = this.#queue.responseStart(this.#responseEdges);
    }
    return type === kErrorResponse ? 256 : 0;
  }

  #serverMessageEnd(framer: PgFramer): void {
    const type = this.#serverType;
    if (type > 0xff) {
      this.#encryptionRequested = false;
      const answer = type & 0xff;
      if (answer === T('S') || answer === T('G')) {
        this.#protocol.context.skips.add(kTlsStream);
        this.#stopBoth();
      } else if (answer !== T('N')) {
        this.#protocol.context.skips.add(kFramingLost);
        this.#stopBoth();
      }
      return;
    }
    if (type === kErrorResponse) {
      const request = this.#answering;
      if (request !== null && request.sqlstate === null && framer.body !== null) {
        request.sqlstate = sqlstateOf(framer.body, framer.kept);
      }
      // A failed login ends with this error (the server closes the connection).
      if (this.#phase === Phase.Startup) this.#endResponse();
    } else if (type === kReadyForQuery) {
      this.#phase = Phase.Ready;
      this.#endResponse();
    }
  }

  #endResponse(): void {
    this.#responding = false;
    this.#answering = null;
    this.#queue.responseEnd(this.#responseEdges);
  }

  #stopBoth(): void {
    this.#client.stop();
    this.#server.stop();
    this.#request = null;
    this.#responding = false;
    this.#answering = null;
    this.#queue.abandon();
  }
}

/** The SQLSTATE (field 'C') of an ErrorResponse body: fields of a type byte and a NUL-terminated value. */
function sqlstateOf(body: Uint8Array, kept: number): string | null {
  for (let at = 0; at < kept && body[at] !== 0; ) {
    const field = body[at]!;
    const value = cString(body, at + 1, kept);
    if (field === 0x43 && value.next <= kept) return value.text;
    at = value.next;
  }
  return null;
}
