/**
 * MySQL/MariaDB client/server protocol pairing over reassembled TCP streams, on the ordered
 * request/response base (tcp-stream/ordered-exchange.ts). What is a request:
 *
 * - the login (HandshakeResponse): answered by everything up to the server's OK or ERR (auth
 *   switch and more-data round trips included); the server's greeting answers nothing;
 * - a command (sequence id 0): COM_QUERY and COM_STMT_EXECUTE answered by an OK, an ERR or
 *   result sets (column count, column definitions, EOF unless CLIENT_DEPRECATE_EOF, rows, then
 *   an EOF/OK terminator; SERVER_MORE_RESULTS_EXISTS chains the next result set), COM_STMT_PREPARE
 *   by its OK_prepare and parameter/column definitions, LOCAL INFILE by the OK/ERR after the
 *   upload, COM_PING/COM_INIT_DB/... by their first packet. COM_QUIT, COM_STMT_CLOSE and
 *   COM_STMT_SEND_LONG_DATA have no response: not requests.
 *
 * A login's SSLRequest (CLIENT_SSL) makes the stream TLS: counted (mysql.tls_stream), no longer
 * parsed; so is a compressed protocol (mysql.compressed). EOF and DEPRECATE_EOF result sets are
 * told apart by the packets themselves (an EOF is 0xFE under 9 bytes, an OK terminator 0xFE of 7
 * or more), so a capture starting mid-connection pairs from the next command on. Lost bytes end
 * the parsing of that direction (counted).
 */
import { skipReason } from '../../shared/skips.ts';
import { type MatcherContext, type PacketView, parserBuffersOf } from '../matcher.ts';
import { MessageEdges } from '../pair.ts';
import { type DbQueryText, kMaxQueryBytes, sqlQueryText } from '../sql/query-text.ts';
import { sqlOperationName } from '../sql/sanitize.ts';
import { addBytes } from '../sql/wire.ts';
import type { StreamConsumer, TcpConnectionInfo } from '../tcp-stream/consumer.ts';
import { OrderedQueue, OrderedRequest, orderedExchangeSkips } from '../tcp-stream/ordered-exchange.ts';
import { OrderedPortProtocol } from '../tcp-stream/ordered-port-protocol.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import { MysqlFramer as Framer, lengthEncoded, type MysqlFramer, type MysqlFramerOwner } from './framer.ts';

const kExchangeSkips = orderedExchangeSkips('mysql');
/** A stream on a MySQL port whose first packets are not MySQL: the connection is not parsed. */
const kNotMysql = skipReason('mysql.not_mysql');
/** A packet that breaks the protocol after valid ones (sequence, unknown command): parsing stops. */
const kFramingLost = skipReason('mysql.framing_lost');
/** Bytes lost in a gap: that direction is no longer parsed. */
const kGap = skipReason('mysql.gap');
/** The login asked for TLS: the rest of the stream is encrypted. */
const kTlsStream = skipReason('mysql.tls_stream');
/** The login negotiated the compressed protocol: not parsed. */
const kCompressed = skipReason('mysql.compressed');
/** Prepared statements remembered per connection were at their cap or out of budget. */
const kStatementsFull = skipReason('mysql.statements_full');

const kMaxQueuedRequests = 1024;
const kMaxStatements = 64;
/** Server payload bytes kept per message: status flags, error code and SQLSTATE, OK_prepare, the greeting's version and capabilities. */
const kServerKeepBytes = 128;

const CapabilityFlag = {
  ConnectWithDb: 0x8,
  Compress: 0x20,
  Ssl: 0x800,
  DeprecateEof: 0x1000000,
} as const;
const kMoreResultsExist = 0x8;

const Command = {
  Quit: 0x01,
  InitDb: 0x02,
  Query: 0x03,
  FieldList: 0x04,
  ChangeUser: 0x11,
  StmtPrepare: 0x16,
  StmtExecute: 0x17,
  StmtSendLongData: 0x18,
  StmtClose: 0x19,
} as const;

/** Names of the commands (COM_ without the prefix, lower case) a server accepts; others are not MySQL. */
const kCommandNames: (string | undefined)[] = [];
for (const [code, name] of [
  [0x00, 'sleep'],
  [0x01, 'quit'],
  [0x02, 'init_db'],
  [0x03, 'query'],
  [0x04, 'field_list'],
  [0x05, 'create_db'],
  [0x06, 'drop_db'],
  [0x07, 'refresh'],
  [0x08, 'shutdown'],
  [0x09, 'statistics'],
  [0x0a, 'process_info'],
  [0x0c, 'process_kill'],
  [0x0d, 'debug'],
  [0x0e, 'ping'],
  [0x11, 'change_user'],
  [0x12, 'binlog_dump'],
  [0x16, 'stmt_prepare'],
  [0x17, 'stmt_execute'],
  [0x18, 'stmt_send_long_data'],
  [0x19, 'stmt_close'],
  [0x1a, 'stmt_reset'],
  [0x1b, 'set_option'],
  [0x1c, 'stmt_fetch'],
  [0x1f, 'reset_connection'],
] as const) {
  kCommandNames[code] = name;
}

/** pair.detail of MySQL pairs (JSONL "mysql"). */
export type MysqlDetail = {
  /** 'login', or the command's name without COM_ ('query', 'stmt_prepare', 'stmt_execute', 'ping', ...). */
  command: string;
  /** db.operation.name: the query's first keyword; the command in capitals for others (PING); null for a login. */
  operation: string | null;
  /** By --db-query-text (a query, a prepared statement's text for its execution); absent when off or unknown. */
  query?: string;
  /** The database of the login or the last COM_INIT_DB (db.namespace); absent when not captured. */
  namespace?: string;
  /** 'mariadb' when the greeting says so, else 'mysql' (db.system.name). */
  system: 'mysql' | 'mariadb';
  /** The ERR packet's error code; null when none (or unanswered). */
  error_code: number | null;
};

class MysqlRequest extends OrderedRequest {
  readonly command: number;
  readonly system: MysqlDetail['system'];
  namespace: string | null;
  query: string | null = null;
  errorCode: number | null = null;
  readonly #mode: DbQueryText | undefined;

  constructor(
    command: number,
    system: MysqlDetail['system'],
    namespace: string | null,
    mode: DbQueryText | undefined,
  ) {
    super();
    this.command = command;
    this.system = system;
    this.namespace = namespace;
    this.#mode = mode;
  }

  override detail(matched: boolean): MysqlDetail {
    const login = this.command < 0;
    const command = login ? 'login' : (kCommandNames[this.command] ?? 'unknown');
    let operation: string | null = null;
    if (!login) {
      operation =
        (this.command === Command.Query || this.command === Command.StmtExecute) && this.query !== null
          ? sqlOperationName(this.query)
          : command.toUpperCase();
    }
    const detail: MysqlDetail = {
      command,
      operation,
      system: this.system,
      error_code: matched ? this.errorCode : null,
    };
    const text = this.query === null ? null : sqlQueryText(this.query, this.#mode, 'mysql');
    if (text !== null) detail.query = text;
    if (this.namespace !== null) detail.namespace = this.namespace;
    return detail;
  }
}

/** The login's request "command". */
const kLogin = -1;

export class MysqlStreamProtocol extends OrderedPortProtocol<MysqlRequest> {
  readonly parserBuffers: ParserBufferBudget;
  readonly context: MatcherContext;

  constructor(context: MatcherContext) {
    super(
      context,
      'mysql',
      kExchangeSkips,
      { maxQueuedRequests: kMaxQueuedRequests },
      context.options.mysqlPorts,
    );
    this.context = context;
    this.parserBuffers = parserBuffersOf(context);
  }

  protected connect(connection: TcpConnectionInfo): StreamConsumer {
    return new MysqlConnection(this, connection);
  }
}

/** Where a response is in its framing. */
const Reply = {
  /** No response in progress: the next server message starts one. */
  Idle: 0,
  /** A login or COM_CHANGE_USER: up to OK or ERR. */
  Login: 1,
  /** A result set's column definitions (`#count` left). */
  Columns: 2,
  /** After the column definitions: an EOF (classic) or the first row (DEPRECATE_EOF). */
  ColumnsEnd: 3,
  /** Rows up to the EOF/OK terminator or an ERR. */
  Rows: 4,
  /** COM_STMT_PREPARE: parameter then column definitions (`#count` left in this group, `#prepareColumns` after). */
  PrepareDefinitions: 5,
  /** COM_STMT_PREPARE, classic: the EOF after a group of definitions. */
  PrepareEof: 6,
  /** LOCAL INFILE or COM_FIELD_LIST: up to OK/ERR/EOF. */
  UntilStatus: 7,
  /** SERVER_MORE_RESULTS_EXISTS: the next message starts another result of the same response. */
  NextResult: 8,
} as const;
type Reply = (typeof Reply)[keyof typeof Reply];

/** One MySQL connection: a framer per direction and its queue of requests awaiting responses. */
class MysqlConnection implements StreamConsumer, MysqlFramerOwner {
  readonly #protocol: MysqlStreamProtocol;
  readonly #client: MysqlFramer;
  readonly #server: MysqlFramer;
  readonly #requestEdges = new MessageEdges();
  readonly #responseEdges = new MessageEdges();
  readonly #queue: OrderedQueue<MysqlRequest>;
  /** Messages seen in each direction (0: the content check is still to pass). */
  #clientMessages = 0;
  #serverMessages = 0;
  /** The greeting was seen: the next client message is the login. */
  #greeted = false;
  /** The login is in progress (client messages are auth data, not commands). */
  #loggingIn = false;
  #system: MysqlDetail['system'] = 'mysql';
  #namespace: string | null = null;
  /** Whether both sides set CLIENT_DEPRECATE_EOF; null: the login was not captured. */
  #deprecateEof: boolean | null = null;
  #serverCapabilities = 0;
  #reply: Reply = Reply.Idle;
  /** The request the response in progress answers (null: none, counted by the base). */
  #answering: MysqlRequest | null = null;
  /** The command the response in progress answers (from its request; -2 when unknown). */
  #answeringCommand = -2;
  #count = 0;
  #prepareColumns = 0;
  /** A response ended before a classic EOF that may follow (DEPRECATE_EOF unknown): that EOF is not a response. */
  #mayFollowEof = false;
  /** Statement id → raw query text (from COM_STMT_PREPARE), charged to the parser buffer budget. */
  #statements: Map<number, string> | null = null;
  #statementBytes = 0;

  constructor(protocol: MysqlStreamProtocol, info: TcpConnectionInfo) {
    this.#protocol = protocol;
    this.#client = new Framer(true, this, protocol.parserBuffers, kMaxQueryBytes + 1);
    this.#server = new Framer(false, this, protocol.parserBuffers, kServerKeepBytes);
    this.#queue = new OrderedQueue(protocol.exchange, info, this.#requestEdges);
  }

  // StreamConsumer ---------------------------------------------------------------------------

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    const framer = fromClient ? this.#client : this.#server;
    if (framer.stopped) return;
    framer.feed(data, offset, length, view);
    this.#queue.progress(fromClient, view);
  }

  onGap(fromClient: boolean): void {
    const framer = fromClient ? this.#client : this.#server;
    if (framer.stopped) return;
    this.#protocol.context.skips.add(kGap);
    framer.stop();
    if (fromClient) this.#queue.requestLost();
    else this.#queue.responseLost();
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

  // MysqlFramerOwner -------------------------------------------------------------------------

  onMessageStart(framer: MysqlFramer, firstByte: number): void {
    const seq = framer.seq;
    if (framer.fromClient) {
      // A command starts at sequence 0; a login or auth data continue the server's sequence.
      const command = seq === 0 && (firstByte < 0 || kCommandNames[firstByte] !== undefined);
      if (!this.#loggingIn && !command && !(this.#greeted && seq === 1)) {
        this.#notMysql(this.#clientMessages === 0 && this.#serverMessages === 0);
        return;
      }
      framer.beginEdges(this.#requestEdges);
      return;
    }
    if (this.#reply !== Reply.Idle) return;
    // The server's sequence 0 is its greeting (0x0A) or a refusal (ERR).
    if (seq === 0 && firstByte >= 0 && firstByte !== 0x0a && firstByte !== 0xff) {
      this.#notMysql(this.#serverMessages === 0 && this.#clientMessages === 0);
      return;
    }
    framer.beginEdges(this.#responseEdges);
  }

  onBytes(framer: MysqlFramer, n: number, view: PacketView): void {
    addBytes(framer.fromClient ? this.#requestEdges : this.#responseEdges, n, view);
  }

  onMessageEnd(framer: MysqlFramer, view: PacketView): void {
    if (framer.fromClient) this.#clientMessage(framer, view);
    else this.#serverMessage(framer);
  }

  // Client -----------------------------------------------------------------------------------

  #clientMessage(framer: MysqlFramer, view: PacketView): void {
    const first = this.#clientMessages++ === 0;
    const seq = framer.seq;
    if (this.#loggingIn) return; // auth switch responses and more auth data: part of the login
    if (this.#greeted && seq === 1) {
      this.#login(framer, view);
      return;
    }
    const command = framer.byte(0);
    if (seq !== 0 || command < 0 || kCommandNames[command] === undefined) {
      this.#notMysql(first && this.#serverMessages === 0);
      return;
    }
    if (command === Command.Quit || command === Command.StmtClose || command === Command.StmtSendLongData) {
      if (command === Command.StmtClose) this.#forget(this.#int32(framer, 1));
      return;
    }
    const request = new MysqlRequest(
      command,
      this.#system,
      this.#namespace,
      this.#protocol.context.options.dbQueryText,
    );
    if (command === Command.Query || command === Command.StmtPrepare || command === Command.InitDb) {
      request.query = framer.starved ? null : this.#text(framer, 1, framer.kept);
    } else if (command === Command.StmtExecute) {
      request.query = this.#statements?.get(this.#int32(framer, 1)) ?? null;
    }
    // COM_CHANGE_USER authenticates again: client auth data follow until the server's OK or ERR.
    if (command === Command.ChangeUser) this.#loggingIn = true;
    this.#queue.requestStart(request, view);
    this.#queue.requestEnd(view);
  }

  /** HandshakeResponse41 (or its SSLRequest prefix): capabilities, then the user, auth data and database. */
  #login(framer: MysqlFramer, view: PacketView): void {
    const capabilities = this.#int32(framer, 0);
    const agreed = capabilities & this.#serverCapabilities;
    if (capabilities & CapabilityFlag.Ssl) {
      this.#protocol.context.skips.add(kTlsStream);
      this.#stopBoth();
      return;
    }
    if (agreed & CapabilityFlag.Compress) {
      this.#protocol.context.skips.add(kCompressed);
      this.#stopBoth();
      return;
    }
    this.#deprecateEof = (agreed & CapabilityFlag.DeprecateEof) !== 0;
    if (capabilities & CapabilityFlag.ConnectWithDb) {
      // 4 capabilities, 4 max packet, 1 charset, 23 filler, then user\0 and the auth response.
      let at = this.#skipString(framer, 32);
      const [authLength, used] = lengthEncoded(framer, at);
      if (authLength >= 0) {
        at += used + authLength;
        const database = this.#text(framer, at, framer.kept);
        if (database !== '' && at < framer.kept) this.#namespace = database;
      }
    }
    this.#loggingIn = true;
    this.#greeted = false;
    const request = new MysqlRequest(kLogin, this.#system, this.#namespace, undefined);
    this.#queue.requestStart(request, view);
    this.#queue.requestEnd(view);
  }

  // Server -----------------------------------------------------------------------------------

  #serverMessage(framer: MysqlFramer): void {
    const first = this.#serverMessages++ === 0;
    const header = framer.byte(0);
    const length = framer.length;
    if (this.#reply === Reply.Idle) {
      if (this.#mayFollowEof) {
        this.#mayFollowEof = false;
        if (header === 0xfe && length < 9) return;
      }
      if (framer.seq === 0) {
        // The greeting (or a refusal before it) answers nothing.
        if (header === 0x0a) this.#greeting(framer);
        else if (header !== 0xff) this.#notMysql(first);
        this.#queue.pushResponse();
        return;
      }
      // Mid-connection, a response whose command was not captured is framed as a query's.
      this.#startResponse(header);
      return;
    }
    this.#continueResponse(framer, header, length);
  }

  #greeting(framer: MysqlFramer): void {
    const version = this.#text(framer, 1, framer.kept);
    if (version.includes('MariaDB')) this.#system = 'mariadb';
    // version\0, 4 thread id, 8 scramble, 1 filler, 2 capabilities (low), 1 charset, 2 status, 2 capabilities (high).
    const at = 1 + version.length + 1 + 4 + 8 + 1;
    const low = framer.byte(at) | (framer.byte(at + 1) << 8);
    const high = framer.byte(at + 5) | (framer.byte(at + 6) << 8);
    this.#serverCapabilities = at + 6 < framer.kept ? (low | (high << 16)) >>> 0 : low;
    this.#greeted = true;
  }

  /** The first message of a response: which request it answers, and how it goes on. */
  #startResponse(header: number): void {
    const request = this.#queue.responseStart(this.#responseEdges);
    this.#answering = request;
    this.#answeringCommand = request === null ? -2 : request.command;
    const command = this.#answeringCommand;
    const framer = this.#server;
    if (command === kLogin || command === Command.ChangeUser) {
      this.#reply = Reply.Login;
      this.#continueResponse(framer, header, framer.length);
      return;
    }
    if (header === 0xff) {
      this.#end(framer);
      return;
    }
    if (command === Command.StmtPrepare && header === 0x00) {
      const params = framer.byte(7) | (framer.byte(8) << 8);
      const columns = framer.byte(5) | (framer.byte(6) << 8);
      if (request !== null && request.query !== null) this.#remember(this.#int32(framer, 1), request.query);
      this.#prepareColumns = columns;
      this.#count = params;
      this.#reply = Reply.PrepareDefinitions;
      this.#nextPrepareGroup();
      return;
    }
    if (command === Command.FieldList) {
      this.#reply = Reply.UntilStatus;
      return;
    }
    const resultSet = command === Command.Query || command === Command.StmtExecute || command === -2;
    if (!resultSet) {
      this.#end(framer);
      return;
    }
    this.#firstOfResult(framer, header);
  }

  /** A result's first message (a response's, or the next one after SERVER_MORE_RESULTS_EXISTS). */
  #firstOfResult(framer: MysqlFramer, header: number): void {
    if (header === 0xff) {
      this.#end(framer);
      return;
    }
    if (header === 0x00) {
      if (this.#moreResults(framer)) this.#reply = Reply.NextResult;
      else this.#end(framer);
      return;
    }
    if (header === 0xfb) {
      this.#reply = Reply.UntilStatus; // LOCAL INFILE: the client uploads, the server then says OK or ERR
      return;
    }
    const [columns] = lengthEncoded(framer, 0);
    if (columns <= 0) {
      this.#framingLost();
      return;
    }
    this.#count = columns;
    this.#reply = Reply.Columns;
  }

  #continueResponse(framer: MysqlFramer, header: number, length: number): void {
    switch (this.#reply) {
      case Reply.Login:
        if (header === 0x00 || header === 0xff) {
          this.#loggingIn = false;
          this.#end(framer);
        }
        return;
      case Reply.Columns:
        if (--this.#count === 0) this.#reply = Reply.ColumnsEnd;
        return;
      case Reply.ColumnsEnd:
        this.#reply = Reply.Rows;
        if (header === 0xfe && length < 9) return; // classic EOF after the column definitions
        this.#row(framer, header, length);
        return;
      case Reply.Rows:
        this.#row(framer, header, length);
        return;
      case Reply.PrepareDefinitions:
        // A definition starts with its catalog "def", never 0xFE: this is a classic EOF of a login not captured.
        if (header === 0xfe && length < 9) return;
        if (--this.#count <= 0) this.#groupDone();
        return;
      case Reply.PrepareEof:
        if (header === 0xfe && length < 9) {
          this.#reply = Reply.PrepareDefinitions;
          this.#nextPrepareGroup();
          return;
        }
        this.#framingLost();
        return;
      case Reply.NextResult:
        this.#firstOfResult(framer, header);
        return;
      case Reply.UntilStatus:
        if (header === 0x00 || header === 0xff || (header === 0xfe && length < 9)) this.#end(framer);
        return;
    }
  }

  /** A row, or the result set's end: an ERR, or 0xFE (EOF under 9 bytes, DEPRECATE_EOF's OK otherwise). */
  #row(framer: MysqlFramer, header: number, length: number): void {
    if (header === 0xff) {
      this.#end(framer);
      return;
    }
    if (header !== 0xfe || length >= 0xffffff) return;
    if (this.#moreResults(framer)) this.#reply = Reply.NextResult;
    else this.#end(framer);
  }

  /** SERVER_MORE_RESULTS_EXISTS in an OK or EOF terminator's status flags. */
  #moreResults(framer: MysqlFramer): boolean {
    let at: number;
    if (framer.byte(0) === 0xfe && framer.length < 9) {
      at = 3; // EOF: 0xFE, 2 warnings, 2 status
    } else {
      const [, affected] = lengthEncoded(framer, 1);
      const [, insertId] = lengthEncoded(framer, 1 + affected);
      if (affected === 0 || insertId === 0) return false;
      at = 1 + affected + insertId;
    }
    return at + 1 < framer.kept && (framer.byte(at) & kMoreResultsExist) !== 0;
  }

  /** One group of prepare definitions done: its classic EOF, or the next group, or the end. */
  #groupDone(): void {
    if (this.#deprecateEof === false) {
      this.#reply = Reply.PrepareEof;
      return;
    }
    this.#nextPrepareGroup();
  }

  #nextPrepareGroup(): void {
    if (this.#count > 0) return;
    if (this.#prepareColumns > 0) {
      this.#count = this.#prepareColumns;
      this.#prepareColumns = 0;
      return;
    }
    // DEPRECATE_EOF unknown: a classic EOF may still follow the last group.
    this.#mayFollowEof = this.#deprecateEof === null;
    this.#end(this.#server);
  }

  #end(framer: MysqlFramer): void {
    const request = this.#answering;
    if (request !== null && framer.byte(0) === 0xff && request.errorCode === null && framer.kept >= 3) {
      request.errorCode = framer.byte(1) | (framer.byte(2) << 8);
    }
    if (request !== null && request.command === Command.InitDb && framer.byte(0) === 0x00) {
      this.#namespace = request.query;
    }
    this.#reply = Reply.Idle;
    this.#answering = null;
    this.#queue.responseEnd(this.#responseEdges);
  }

  // Helpers ----------------------------------------------------------------------------------

  #notMysql(atStart: boolean): void {
    this.#protocol.context.skips.add(atStart ? kNotMysql : kFramingLost);
    this.#stopBoth();
  }

  #framingLost(): void {
    this.#protocol.context.skips.add(kFramingLost);
    this.#stopBoth();
  }

  #stopBoth(): void {
    this.#client.stop();
    this.#server.stop();
    this.#reply = Reply.Idle;
    this.#answering = null;
    this.#queue.abandon();
  }

  #int32(framer: MysqlFramer, at: number): number {
    if (at + 3 >= framer.kept) return -1;
    return (
      (framer.byte(at) |
        (framer.byte(at + 1) << 8) |
        (framer.byte(at + 2) << 16) |
        (framer.byte(at + 3) << 24)) >>>
      0
    );
  }

  /** UTF-8 text of the kept bytes [from, NUL or `to`). */
  #text(framer: MysqlFramer, from: number, to: number): string {
    const body = framer.body;
    if (from >= to) return '';
    let end = from;
    while (end < to && body[end] !== 0) end++;
    return Buffer.from(body.buffer, body.byteOffset + from, end - from).toString('utf8');
  }

  /** The index after the NUL-terminated string at `from`. */
  #skipString(framer: MysqlFramer, from: number): number {
    let at = from;
    while (at < framer.kept && framer.byte(at) !== 0) at++;
    return at + 1;
  }

  #remember(id: number, query: string): void {
    const budget = this.#protocol.parserBuffers;
    this.#statements ??= new Map();
    if (this.#statements.size >= kMaxStatements || !budget.reserve(query.length)) {
      this.#protocol.context.skips.add(kStatementsFull);
      return;
    }
    this.#forget(id);
    this.#statements.set(id, query);
    this.#statementBytes += query.length;
  }

  #forget(id: number): void {
    const old = this.#statements?.get(id);
    if (old === undefined) return;
    this.#statements!.delete(id);
    this.#statementBytes -= old.length;
    this.#protocol.parserBuffers.release(old.length);
  }
}
