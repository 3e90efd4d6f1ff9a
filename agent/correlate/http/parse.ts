/**
 * Incremental HTTP/1.x message framing (RFC 9112) for one direction of one connection.
 *
 * Invariants (hot path: called with every in-order chunk of the stream):
 * - Every byte is looked at once, in order; nothing is allocated per chunk. The header block
 *   (start line + fields) is copied into a per-direction buffer bounded by kMaxHeadBytes; bodies
 *   are counted, never copied. Strings are made once per message, when its head is complete.
 * - The owner decides each message's body framing (a response's depends on the request it answers).
 * - After malformed input, or a gap that breaks framing, the parser resyncs: it tries a start line
 *   right there, then after every LF and at the start of every chunk of input. Candidate lines are
 *   checked byte by byte, so garbage is rejected within a few bytes instead of being buffered.
 * - `edges` follows the current message: its first byte's packet, then every packet adding bytes.
 */

import { Buffer } from 'node:buffer';
import { type SkipCounters, skipReason } from '../../shared/skips.ts';
import type { PacketView } from '../matcher.ts';
import { MessageEdges } from '../pair.ts';
import { kDefaultParserBufferBytesTotal, ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import { redactTarget, targetNeedsRedaction } from './redact.ts';

/** Largest header block (start line + fields, or trailers) accepted. */
export const kMaxHeadBytes = 64 * 1024;
/** Longest request method token accepted. */
export const kMaxMethodLength = 24;
/** Longest chunk-size line (size + extensions). */
const kMaxChunkLineBytes = 4096;
/** Hex digits of a chunk size (16^12 = 2^48 bytes is plenty). */
const kMaxChunkSizeDigits = 12;

/** A start line, header block, length field or chunk framing that is not HTTP/1.x: message dropped, resync. */
const kMalformed = skipReason('http.malformed');
/** Bytes lost inside a body of known length: framing kept, the message completes without them. */
const kGapInBody = skipReason('http.gap_in_body');
/** Bytes lost where framing depends on them: the message in progress is dropped and the parser resyncs. */
const kGapResync = skipReason('http.gap_resync');
/** The connection closed in the middle of a message. */
const kTruncatedAtClose = skipReason('http.truncated_at_close');

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const SEMICOLON = 0x3b;

/** How the body of a message is delimited. */
export const Framing = {
  None: 0,
  Length: 1,
  Chunked: 2,
  /** Response body read until the server closes (FIN). */
  UntilClose: 3,
  /** The message ends with its head and the rest of the connection is not HTTP (101, CONNECT 2xx). */
  Tunnel: 4,
  /** Conflicting or unparsable length fields: the message cannot be framed. */
  Invalid: 5,
} as const;
export type Framing = (typeof Framing)[keyof typeof Framing];

const State = {
  /** Between messages: skipping empty lines. */
  Idle: 0,
  /** Accumulating a start line and header fields. */
  Head: 1,
  Body: 2,
  ChunkSize: 3,
  ChunkData: 4,
  /** The CRLF after a chunk's data. */
  ChunkDataEnd: 5,
  Trailers: 6,
  UntilClose: 7,
  /** Resync: discarding the rest of the current line. */
  SkipLine: 8,
  /** Nothing more of this direction is HTTP (closed, tunnelled, or given up). */
  Dead: 9,
} as const;
type State = (typeof State)[keyof typeof State];

/** The parsed head of the current message (reused; strings are fresh per message). */
export class MessageHead {
  /** Request: method and target (query redacted unless keepQuery). */
  method = '';
  target = '';
  /** Response: status code. */
  status = 0;
  /** "1.1", "1.0". */
  version = '';
  /** Content-Length value; -1 when absent. */
  contentLength = -1;
  /** Content-Length present but unparsable or conflicting. */
  contentLengthInvalid = false;
  /** A Transfer-Encoding field is present / its final coding is chunked. */
  transferEncoding = false;
  chunked = false;
  host: string | null = null;
  traceparent: string | null = null;
  userAgent: string | null = null;
  /** Fields cut at their cap (kMaxTargetChars, kMaxFieldChars...), each ending in kTruncatedMarker. */
  truncatedFields = 0;
  /** Framing from the fields alone (the owner may override it: HEAD, 204, 304, 1xx...). */
  framing: Framing = Framing.None;

  reset(): void {
    this.method = '';
    this.target = '';
    this.status = 0;
    this.version = '';
    this.contentLength = -1;
    this.contentLengthInvalid = false;
    this.transferEncoding = false;
    this.chunked = false;
    this.host = null;
    this.traceparent = null;
    this.userAgent = null;
    this.truncatedFields = 0;
    this.framing = Framing.None;
  }
}

/** The framer's owner: the connection that pairs requests with responses. */
export interface FramerOwner {
  /** A head was parsed into framer.head: return the message's body framing (Invalid: nothing was kept). */
  onHead(framer: HttpFramer, view: PacketView): Framing;
  /** The current message is complete; framer.edges holds its edges. */
  onMessageEnd(framer: HttpFramer, view: PacketView): void;
  /** The current message, whose head was reported, will never complete (gap, malformed body, close). */
  onMessageLost(framer: HttpFramer): void;
  /** A head outgrew kMaxHeadBytes: the owner gives up the connection. */
  onHeadTooLarge(framer: HttpFramer, outOfBudget: boolean): void;
  /** Framing was lost (gap, malformed input): messages may have been missed. The framer resyncs at the next start line. */
  onResync(framer: HttpFramer): void;
}

const kInitialHeadBytes = 512;
/** Free head buffers shared by all framers of this thread. */
const kPooledHeadBuffers = 256;
const headBuffers: Uint8Array[] = [];
const kNoBuffer = new Uint8Array(0);

/**
 * The head being reported, shared by every framer of this thread: a head is parsed and handed
 * to its owner's onHead() synchronously (nothing parses another head meanwhile), and the owner
 * copies what it keeps. One object instead of one per direction of every connection.
 */
const sharedHead = new MessageHead();

export class HttpFramer {
  /** Requests (client side) or responses (server side). */
  readonly isRequest: boolean;
  /** The parsed head of the current message: valid during FramerOwner.onHead() only. */
  readonly head: MessageHead = sharedHead;
  /** Edges of the current message (valid from its first byte until the next message starts). */
  readonly edges = new MessageEdges();
  readonly #owner: FramerOwner;
  readonly #skips: SkipCounters;
  readonly #keepQuery: boolean;
  #state: State = State.Idle;
  /** Looking for a start line after lost framing: failed candidates are not counted as malformed. */
  #resyncing = false;
  /**
   * Head bytes while a head is being read, borrowed from a shared pool (most heads fit the
   * first size and complete within one segment, so a few buffers serve every connection);
   * grows by doubling up to kMaxHeadBytes.
   */
  #buffer: Uint8Array = kNoBuffer;
  #length = 0;
  /** The last #growBuffer() failed because the parser budget refused, not because of kMaxHeadBytes. */
  #outOfBudget = false;
  /** Counts #buffer's bytes with every other parser's (a refused reservation gives the connection up). */
  readonly #parserBuffers: ParserBufferBudget;
  /** Head scanning: buffer position where the current field line starts (after the start line). */
  #lineStart = 0;
  /** Still on the start line; position of its first space (-1 before it). */
  #firstLine = true;
  #firstSpace = -1;
  /** Body or chunk bytes still expected. */
  #remaining = 0;
  /** Chunk-size line state. */
  #chunkSize = 0;
  #chunkDigits = 0;
  #chunkLineBytes = 0;
  #chunkAfterDigits = false;
  #chunkInExtension = false;
  #crSeen = false;
  /** Trailer section: non-CR bytes on the current line, and total bytes. */
  #trailerLine = 0;
  #trailerBytes = 0;

  constructor(
    isRequest: boolean,
    owner: FramerOwner,
    skips: SkipCounters,
    keepQuery: boolean,
    parserBuffers: ParserBufferBudget = new ParserBufferBudget(kDefaultParserBufferBytesTotal),
  ) {
    this.isRequest = isRequest;
    this.#owner = owner;
    this.#skips = skips;
    this.#keepQuery = keepQuery;
    this.#parserBuffers = parserBuffers;
  }

  /** Stops parsing this direction for good (connection given up or tunnelled). */
  kill(): void {
    this.#state = State.Dead;
    // A dead direction never reads a head again: its buffer (up to kMaxHeadBytes) goes now, not with the connection.
    this.#dropBuffer();
    this.#length = 0;
  }

  /**
   * Readies a killed framer for another connection (HttpConnection reuse): as constructed. The
   * fields of each state are set when it is entered, so only the state and its flags go back.
   */
  restart(): void {
    this.#state = State.Idle;
    this.#resyncing = false;
    this.#outOfBudget = false;
  }

  /** Gives the head buffer back (to the pool when it has the pooled size) and its bytes to the budget. */
  #dropBuffer(): void {
    const buffer = this.#buffer;
    if (buffer === kNoBuffer) return;
    this.#parserBuffers.release(buffer.length);
    if (buffer.length === kInitialHeadBytes && headBuffers.length < kPooledHeadBuffers)
      headBuffers.push(buffer);
    this.#buffer = kNoBuffer;
  }

  /** Next in-order bytes of the direction. */
  feed(data: Uint8Array, offset: number, length: number, view: PacketView): void {
    // Resyncing: a segment often starts a message even when the garbage before it had no LF.
    if (this.#state === State.SkipLine) this.#state = State.Idle;
    let i = offset;
    const end = offset + length;
    while (i < end) {
      switch (this.#state as State) {
        case State.Idle: {
          const b = data[i]!;
          if (b === CR || b === LF) {
            i++;
            break;
          }
          this.#beginHead(view);
          break;
        }
        case State.Head:
          i = this.#scanHead(data, i, end, view);
          break;
        case State.Body: {
          const take = Math.min(this.#remaining, end - i);
          i += take;
          this.#remaining -= take;
          this.#touch(view, take);
          if (this.#remaining === 0) this.#endMessage(view);
          break;
        }
        case State.ChunkSize:
          i = this.#scanChunkSize(data, i, end, view);
          break;
        case State.ChunkData: {
          const take = Math.min(this.#remaining, end - i);
          i += take;
          this.#remaining -= take;
          this.#touch(view, take);
          if (this.#remaining === 0) {
            this.#state = State.ChunkDataEnd;
            this.#crSeen = false;
          }
          break;
        }
        case State.ChunkDataEnd: {
          const b = data[i++]!;
          this.#touch(view, 1);
          if (b === LF) this.#startChunkSize();
          else if (b === CR && !this.#crSeen) this.#crSeen = true;
          else this.#malformedBody();
          break;
        }
        case State.Trailers:
          i = this.#scanTrailers(data, i, end, view);
          break;
        case State.UntilClose:
          this.#touch(view, end - i);
          i = end;
          break;
        case State.SkipLine:
          while (i < end && data[i] !== LF) i++;
          if (i < end) {
            i++;
            this.#state = State.Idle;
          }
          break;
        default:
          i = end;
      }
    }
  }

  /** `bytes` of this direction will never arrive. */
  gap(bytes: number, view: PacketView): void {
    switch (this.#state) {
      case State.Dead:
      case State.SkipLine:
        return;
      case State.UntilClose:
        this.#skips.add(kGapInBody);
        return;
      case State.Body:
      case State.ChunkData:
        if (bytes <= this.#remaining) {
          // The body's end is still known: keep framing, the message just misses these bytes.
          this.#skips.add(kGapInBody);
          this.#remaining -= bytes;
          if (this.#remaining > 0) return;
          if (this.#state === State.Body) {
            this.#endMessage(view);
          } else {
            this.#state = State.ChunkDataEnd;
            this.#crSeen = false;
          }
          return;
        }
        break;
      case State.Idle:
      case State.Head:
        if (this.#resyncing) {
          // Already looking for a start line: a candidate in progress is broken, look again.
          this.#state = State.Idle;
          return;
        }
        break;
    }
    // The lost bytes may hold a message boundary: drop what is in progress and resync.
    this.#loseFraming(kGapResync);
  }

  /**
   * The direction ended. A body read until close completes at a FIN (whose packet becomes the
   * message's last, as tshark reports it); a reset or any other unfinished message is lost.
   */
  finish(reset: boolean, view: PacketView): void {
    const state = this.#state;
    if (state === State.UntilClose && !reset) {
      this.#touch(view, 0);
      this.#endMessage(view);
    } else if (this.#headReported()) {
      this.#skips.add(kTruncatedAtClose);
      this.#owner.onMessageLost(this);
    } else if (state === State.Head && !this.#resyncing) {
      this.#skips.add(kTruncatedAtClose);
    }
    this.#state = State.Dead;
  }

  /**
   * Counts `reason`, drops the message in progress and resyncs. The next byte is tried as a
   * start line at once: a gap often ends exactly where a message starts.
   */
  #loseFraming(reason: number): void {
    this.#skips.add(reason);
    if (this.#headReported()) this.#owner.onMessageLost(this);
    this.#state = State.Idle;
    this.#resyncing = true;
    this.#owner.onResync(this);
  }

  #headReported(): boolean {
    const state = this.#state;
    return state >= State.Body && state <= State.UntilClose;
  }

  #beginHead(view: PacketView): void {
    this.#state = State.Head;
    this.#length = 0;
    this.#lineStart = 0;
    this.#firstLine = true;
    this.#firstSpace = -1;
    this.edges.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
  }

  /** Adds `bytes` of the current message from `view`'s packet to its edges. */
  #touch(view: PacketView, bytes: number): void {
    const edges = this.edges;
    if (edges.lastPacket === view.packetNumber && edges.lastFileId === view.fileId) edges.bytes += bytes;
    else edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, bytes);
  }

  #scanHead(data: Uint8Array, start: number, end: number, view: PacketView): number {
    if (this.#length === 0) {
      // The head starts here: when it is complete in this chunk with a valid start line (the
      // usual case), it is parsed in place, without copying.
      const headEnd = this.#parseInPlace(data, start, end);
      if (headEnd > 0) {
        this.#firstLine = false;
        this.#resyncing = false;
        this.#touch(view, headEnd - start);
        this.#headParsed(view);
        return headEnd;
      }
      if (this.#buffer === kNoBuffer) {
        if (!this.#parserBuffers.reserve(kInitialHeadBytes)) {
          this.#touch(view, end - start);
          this.#headTooLarge(true);
          return end;
        }
        this.#buffer = headBuffers.pop() ?? new Uint8Array(kInitialHeadBytes);
      }
    }
    let i = start;
    // The start line, byte by byte: each byte is validated as it arrives.
    while (this.#firstLine) {
      if (i === end) {
        this.#touch(view, i - start);
        return i;
      }
      const b = data[i++]!;
      if (this.#length === this.#buffer.length && !this.#growBuffer()) {
        this.#touch(view, i - start);
        if (this.#outOfBudget) this.#headTooLarge(true);
        else this.#rejectStartLine(false);
        return i;
      }
      this.#buffer[this.#length++] = b;
      if (b === LF) {
        this.#firstLine = false;
        if (!this.#validStartLine()) {
          this.#touch(view, i - start);
          this.#rejectStartLine(true);
          return i;
        }
        this.#resyncing = false;
        this.#lineStart = this.#length;
      } else if (!this.#startLinePrefixOk(b)) {
        this.#touch(view, i - start);
        this.#rejectStartLine(false);
        return i;
      }
    }
    // Field lines: copied until the empty line ("" or CR before its LF) that ends the head.
    let buffer = this.#buffer;
    let length = this.#length;
    while (i < end) {
      if (length === buffer.length) {
        this.#length = length;
        if (!this.#growBuffer()) {
          i++;
          this.#touch(view, i - start);
          this.#headTooLarge(this.#outOfBudget);
          return i;
        }
        buffer = this.#buffer;
      }
      const limit = Math.min(end, i + (buffer.length - length));
      while (i < limit) {
        const b = data[i++]!;
        buffer[length++] = b;
        if (b !== LF) continue;
        const lineStart = this.#lineStart;
        const lineLength = length - 1 - lineStart;
        if (lineLength === 0 || (lineLength === 1 && buffer[lineStart] === CR)) {
          this.#length = length;
          this.#touch(view, i - start);
          this.#headComplete(view, buffer, 0, length);
          return i;
        }
        this.#lineStart = length;
      }
    }
    this.#length = length;
    this.#touch(view, i - start);
    return i;
  }

  /** Doubles the head buffer up to kMaxHeadBytes; false at that size or when the budget refuses (#outOfBudget). */
  #growBuffer(): boolean {
    const size = this.#buffer.length;
    if (size >= kMaxHeadBytes) return false;
    const bigger = Math.min(size * 2, kMaxHeadBytes);
    this.#outOfBudget = !this.#parserBuffers.reserve(bigger - size);
    if (this.#outOfBudget) return false;
    const grown = new Uint8Array(bigger);
    grown.set(this.#buffer);
    // The old buffer is garbage now; only the pooled size goes back to the pool.
    if (size === kInitialHeadBytes && headBuffers.length < kPooledHeadBuffers) headBuffers.push(this.#buffer);
    this.#buffer = grown;
    return true;
  }

  /** A candidate start line is not one: counted unless resyncing; skips to the next line. */
  #rejectStartLine(atLineEnd: boolean): void {
    const wasInSync = !this.#resyncing;
    this.#resyncing = true;
    this.#state = atLineEnd ? State.Idle : State.SkipLine;
    if (wasInSync) {
      this.#skips.add(kMalformed);
      this.#owner.onResync(this);
    }
  }

  #headTooLarge(outOfBudget: boolean): void {
    this.kill();
    this.#owner.onHeadTooLarge(this, outOfBudget);
  }

  /** Byte-by-byte check of the start line so far (the byte just stored is `b`). */
  #startLinePrefixOk(b: number): boolean {
    const position = this.#length - 1;
    if (!this.isRequest) {
      // "HTTP/1." digit SP
      if (position < kHttpSlashOne.length) return b === kHttpSlashOne[position];
      if (position === kHttpSlashOne.length) return isDigit(b);
      if (position === kHttpSlashOne.length + 1) return b === SP;
      return b !== 0;
    }
    if (this.#firstSpace < 0) {
      if (b === SP) {
        if (position === 0) return false;
        this.#firstSpace = position;
        return true;
      }
      return position < kMaxMethodLength && isTokenChar(b);
    }
    return b !== 0;
  }

  /** The complete first line, buffer[0, length) ending in LF. */
  #validStartLine(): boolean {
    let end = this.#length - 1;
    if (end > 0 && this.#buffer[end - 1] === CR) end--;
    return this.isRequest
      ? requestLineLength(this.#buffer, 0, end) === end
      : statusLineValid(this.#buffer, 0, end);
  }

  /**
   * Parses into `head` a head that starts at data[start] and completes before `end`, whose start
   * line is valid and which fits in kMaxHeadBytes, and returns its end (just past the LF of its
   * empty line); -1 otherwise (`head` is then garbage: the byte-by-byte path, which accepts
   * exactly these heads as well, parses it again).
   */
  #parseInPlace(data: Uint8Array, start: number, end: number): number {
    let lineEnd = start;
    while (lineEnd < end && data[lineEnd] !== LF) lineEnd++;
    if (lineEnd === end) return -1;
    let contentEnd = lineEnd;
    if (contentEnd > start && data[contentEnd - 1] === CR) contentEnd--;
    if (this.isRequest) {
      if (requestLineLength(data, start, contentEnd) !== contentEnd - start) return -1;
    } else {
      if (!statusLineValid(data, start, contentEnd)) return -1;
      // The byte-by-byte check also refuses a NUL byte in the reason phrase.
      for (let k = start + 12; k < lineEnd; k++) if (data[k] === 0) return -1;
    }
    const headEnd = parseHeadAt(data, start, lineEnd, end, this.isRequest, this.#keepQuery, this.head, true);
    return headEnd - start <= kMaxHeadBytes ? headEnd : -1;
  }

  /** The head is bytes[from, to) (the head buffer). */
  #headComplete(view: PacketView, bytes: Uint8Array, from: number, to: number): void {
    parseHeadAt(bytes, from, lineEndAt(bytes, from), to, this.isRequest, this.#keepQuery, this.head, false);
    this.#headParsed(view);
  }

  /** The head is parsed into `head`. */
  #headParsed(view: PacketView): void {
    const head = this.head;
    // The head is parsed into `head`: its bytes are no longer needed.
    this.#dropBuffer();
    const framing = this.#owner.onHead(this, view);
    switch (framing) {
      case Framing.None:
        this.#endMessage(view);
        return;
      case Framing.Length:
        if (head.contentLength === 0) {
          this.#endMessage(view);
          return;
        }
        this.#state = State.Body;
        this.#remaining = head.contentLength;
        return;
      case Framing.Chunked:
        this.#startChunkSize();
        return;
      case Framing.UntilClose:
        this.#state = State.UntilClose;
        return;
      case Framing.Tunnel:
        this.#owner.onMessageEnd(this, view);
        this.#state = State.Dead;
        return;
      default:
        // Unframeable: the owner kept nothing of it; resync from the next line on.
        this.#skips.add(kMalformed);
        this.#state = State.Idle;
        this.#resyncing = true;
        this.#owner.onResync(this);
    }
  }

  #endMessage(view: PacketView): void {
    this.#state = State.Idle;
    this.#owner.onMessageEnd(this, view);
  }

  #malformedBody(): void {
    this.#loseFraming(kMalformed);
  }

  #startChunkSize(): void {
    this.#state = State.ChunkSize;
    this.#chunkSize = 0;
    this.#chunkDigits = 0;
    this.#chunkLineBytes = 0;
    this.#chunkAfterDigits = false;
    this.#chunkInExtension = false;
  }

  /** chunk-size [ BWS ";" chunk-ext ] CRLF, across chunks of input. */
  #scanChunkSize(data: Uint8Array, start: number, end: number, view: PacketView): number {
    let i = start;
    while (i < end) {
      const b = data[i++]!;
      if (b === LF) {
        this.#touch(view, i - start);
        if (this.#chunkDigits === 0) {
          this.#malformedBody();
        } else if (this.#chunkSize === 0) {
          this.#state = State.Trailers;
          this.#trailerLine = 0;
          this.#trailerBytes = 0;
        } else {
          this.#state = State.ChunkData;
          this.#remaining = this.#chunkSize;
        }
        return i;
      }
      if (++this.#chunkLineBytes > kMaxChunkLineBytes) {
        this.#touch(view, i - start);
        this.#malformedBody();
        return i;
      }
      if (this.#chunkInExtension) continue;
      const digit = hexValue(b);
      if (digit >= 0 && !this.#chunkAfterDigits) {
        if (++this.#chunkDigits > kMaxChunkSizeDigits) {
          this.#touch(view, i - start);
          this.#malformedBody();
          return i;
        }
        this.#chunkSize = this.#chunkSize * 16 + digit;
        continue;
      }
      this.#chunkAfterDigits = true;
      if (this.#chunkDigits > 0 && b === SEMICOLON) this.#chunkInExtension = true;
      else if (this.#chunkDigits === 0 || (b !== SP && b !== HT && b !== CR)) {
        this.#touch(view, i - start);
        this.#malformedBody();
        return i;
      }
    }
    this.#touch(view, i - start);
    return i;
  }

  /** Trailer fields after the last chunk, up to the empty line that ends the message. */
  #scanTrailers(data: Uint8Array, start: number, end: number, view: PacketView): number {
    let i = start;
    while (i < end) {
      const b = data[i++]!;
      if (b === LF) {
        if (this.#trailerLine === 0) {
          this.#touch(view, i - start);
          this.#endMessage(view);
          return i;
        }
        this.#trailerLine = 0;
      } else if (b !== CR) {
        this.#trailerLine++;
      }
      if (++this.#trailerBytes > kMaxHeadBytes) {
        this.#touch(view, i - start);
        this.#malformedBody();
        return i;
      }
    }
    this.#touch(view, i - start);
    return i;
  }
}

// ---------------------------------------------------------------------------------------------
// Head parsing (once per message).

const kHttpSlashOne = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."
const kStandardMethods = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const decoder = new TextDecoder('utf-8');

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** RFC 9110 tchar: visible ASCII except delimiters. */
function isTokenChar(b: number): boolean {
  if (b <= 0x20 || b >= 0x7f) return false;
  switch (b) {
    case 0x22: // "
    case 0x28: // (
    case 0x29: // )
    case 0x2c: // ,
    case 0x2f: // /
    case 0x3a: // :
    case 0x3b: // ;
    case 0x3c: // <
    case 0x3d: // =
    case 0x3e: // >
    case 0x3f: // ?
    case 0x40: // @
    case 0x5b: // [
    case 0x5c: // \
    case 0x5d: // ]
    case 0x7b: // {
    case 0x7d: // }
      return false;
    default:
      return true;
  }
}

/** "HTTP/1.x" at bytes[at, at + 8). */
function isHttp1Version(bytes: Uint8Array, at: number, end: number): boolean {
  if (end - at < 8) return false;
  for (let k = 0; k < kHttpSlashOne.length; k++) if (bytes[at + k] !== kHttpSlashOne[k]) return false;
  return isDigit(bytes[at + 7]!);
}

/**
 * Length of a valid request line `method SP target SP HTTP/1.x` starting at bytes[from] (not
 * counting CR LF), when bytes[from, end) is exactly that line; -1 otherwise. With `prefixOnly`,
 * 0 means "a valid prefix that ends before the line does".
 */
function requestLineLength(bytes: Uint8Array, from: number, end: number, prefixOnly = false): number {
  let i = from;
  while (i < end && isTokenChar(bytes[i]!)) {
    if (i - from >= kMaxMethodLength) return -1;
    i++;
  }
  if (i === end) return prefixOnly ? 0 : -1;
  if (i === from || bytes[i] !== SP) return -1;
  i++;
  const targetStart = i;
  // Target: visible bytes (raw UTF-8 tolerated), no spaces or controls.
  while (i < end && bytes[i]! > SP && bytes[i] !== 0x7f) i++;
  if (i === end) return prefixOnly ? 0 : -1;
  if (i === targetStart || bytes[i] !== SP) return -1;
  i++;
  if (end - i < 8) {
    if (!prefixOnly) return -1;
    for (let k = 0; i + k < end; k++) {
      const expected = k < kHttpSlashOne.length ? kHttpSlashOne[k] === bytes[i + k] : isDigit(bytes[i + k]!);
      if (!expected) return -1;
    }
    return 0;
  }
  if (!isHttp1Version(bytes, i, end)) return -1;
  i += 8;
  return i === end ? i - from : -1;
}

/** `HTTP/1.x SP 3DIGIT [SP reason]` in bytes[from, end). */
function statusLineValid(bytes: Uint8Array, from: number, end: number): boolean {
  if (end - from < 12 || !isHttp1Version(bytes, from, end) || bytes[from + 8] !== SP) return false;
  if (!isDigit(bytes[from + 9]!) || !isDigit(bytes[from + 10]!) || !isDigit(bytes[from + 11]!)) return false;
  const first = bytes[from + 9]! - 0x30;
  if (first < 1 || first > 5) return false;
  return end - from === 12 || bytes[from + 12] === SP;
}

/**
 * Whether `data[offset, offset + length)`, the first bytes of a client's stream, start an HTTP/1.x
 * request: a complete request line, or a valid prefix of one when the segment ends first (a
 * request line may arrive in pieces; the consumer validates the rest).
 */
export function startsRequest(data: Uint8Array, offset: number, length: number): boolean {
  const end = offset + length;
  let lineEnd = offset;
  while (lineEnd < end && data[lineEnd] !== LF) lineEnd++;
  const complete = lineEnd < end;
  let contentEnd = lineEnd;
  if (contentEnd > offset && data[contentEnd - 1] === CR) contentEnd--;
  if (contentEnd === offset) return false;
  const lineLength = requestLineLength(data, offset, contentEnd, !complete);
  return complete ? lineLength === contentEnd - offset : lineLength >= 0;
}

function standardMethod(bytes: Uint8Array, start: number, end: number): string | null {
  for (const method of kStandardMethods) {
    if (method.length !== end - start) continue;
    let k = 0;
    while (k < method.length && method.charCodeAt(k) === bytes[start + k]) k++;
    if (k === method.length) return method;
  }
  return null;
}

/**
 * Buffer's latin1 slicer (the native method behind buf.toString('latin1')), called on any
 * Uint8Array: for ASCII bytes it gives the same string as UTF-8 decoding, with no view to allocate.
 */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }
).latin1Slice;

/** bytes[start, end) decoded as UTF-8 (invalid sequences become U+FFFD); ASCII takes a fast path. */
function text(bytes: Uint8Array, start: number, end: number): string {
  for (let k = start; k < end; k++) {
    if (bytes[k]! >= 0x80) return decoder.decode(bytes.subarray(start, end));
  }
  return latin1Slice.call(bytes, start, end);
}

/**
 * Bytes kept of the fields a request holds while it waits (what the pending table's bytes per
 * entry assume): longer values are cut there and end in kTruncatedMarker (counted,
 * http.field_truncated). A 64 KiB head cannot make a pending request hold 64 KiB.
 */
export const kMaxTargetBytes = 2048;
export const kMaxHostBytes = 256;
export const kMaxUserAgentBytes = 512;
/** A valid traceparent is 55 characters. */
export const kMaxTraceparentBytes = 128;
export const kTruncatedMarker = '...[truncated]';

/** Values up to this many bytes go through the intern cache (longer ones are rarely repeated). */
const kInternMaxBytes = 128;
const kInternSlots = 512;
/** Direct-mapped cache of recent field values by their bytes (per thread): bytes and their text. */
const internBytes: (Uint8Array | undefined)[] = new Array(kInternSlots).fill(undefined);
const internStrings: string[] = new Array(kInternSlots).fill('');

/**
 * text() of a short Host or User-Agent value (kInternMaxBytes <= every clip limit of those),
 * shared with the last value of the same bytes: they repeat across requests, and a pending
 * request then holds no string of its own (no decoding, no young-generation string that
 * survives until the response). Request targets and traceparents are mostly unique: not cached.
 */
function internedText(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  let hash = 0x811c9dc5 ^ length;
  for (let k = start; k < end; k++) hash = Math.imul(hash ^ bytes[k]!, 0x01000193);
  const slot = (hash ^ (hash >>> 15)) & (kInternSlots - 1);
  const cached = internBytes[slot];
  if (cached !== undefined && cached.length === length) {
    let k = 0;
    while (k < length && cached[k] === bytes[start + k]) k++;
    if (k === length) return internStrings[slot]!;
  }
  const value = text(bytes, start, end);
  internBytes[slot] = bytes.slice(start, end);
  internStrings[slot] = value;
  return value;
}

/** text() of at most `max` bytes of bytes[start, end); a longer value is cut, marked and counted in head. */
function clippedText(bytes: Uint8Array, start: number, end: number, max: number, head: MessageHead): string {
  if (end - start <= max) return text(bytes, start, end);
  head.truncatedFields++;
  // A cut inside a UTF-8 sequence decodes as U+FFFD: still a fresh, flat string of bounded size.
  return `${text(bytes, start, start + max)}${kTruncatedMarker}`;
}

/** Case-insensitive comparison of bytes[start, end) with a lower-case ASCII name. */
function nameIs(bytes: Uint8Array, start: number, end: number, lowerName: string): boolean {
  if (end - start !== lowerName.length) return false;
  for (let k = 0; k < lowerName.length; k++) {
    let b = bytes[start + k]!;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lowerName.charCodeAt(k)) return false;
  }
  return true;
}

/** Replaces the query string of a request target with "?REDACTED". */
export function redactQuery(target: string): string {
  const question = target.indexOf('?');
  return question < 0 ? target : `${target.slice(0, question)}?REDACTED`;
}

/**
 * Parses a complete header block bytes[0, length) (its start line already validated) into head,
 * including the framing its fields imply. Field lines that are not `name: value` (and obs-fold
 * continuations) are ignored, as lenient parsers do.
 */
export function parseHead(
  bytes: Uint8Array,
  length: number,
  isRequest: boolean,
  keepQuery: boolean,
  head: MessageHead,
): void {
  parseHeadAt(bytes, 0, lineEndAt(bytes, 0), length, isRequest, keepQuery, head, false);
}

/** The position of the LF that ends the line starting at `from` (a validated start line has one). */
function lineEndAt(bytes: Uint8Array, from: number): number {
  let lineEnd = from;
  while (bytes[lineEnd] !== LF) lineEnd++;
  return lineEnd;
}

/**
 * parseHead() of the header block bytes[from, to) (its start line already validated, its LF at
 * startLineEnd: the caller has found it); returns the head's end (just past its empty line's LF;
 * -1 when there is none). `inPlace`: bytes[from, to) is a segment that may hold a head and
 * more, or only part of one: the head ends at its empty line, and without one (incomplete head)
 * the result is -1 with `head` partly filled.
 */
function parseHeadAt(
  bytes: Uint8Array,
  from: number,
  startLineEnd: number,
  to: number,
  isRequest: boolean,
  keepQuery: boolean,
  head: MessageHead,
  inPlace: boolean,
): number {
  head.reset();
  let lineEnd = startLineEnd;
  let versionAt: number;
  if (isRequest) {
    let space = from;
    while (bytes[space] !== SP) space++;
    head.method = standardMethod(bytes, from, space) ?? text(bytes, from, space);
    let targetEnd = space + 1;
    while (bytes[targetEnd] !== SP) targetEnd++;
    if (targetNeedsRedaction(bytes, space + 1, targetEnd, keepQuery)) {
      // Userinfo or path parameters (redact.ts): redacted on the whole target before clipping, so
      // a cut never leaves a secret in front of its marker.
      const redacted = redactTarget(text(bytes, space + 1, targetEnd), keepQuery);
      if (redacted.length <= kMaxTargetBytes) head.target = redacted;
      else {
        head.truncatedFields++;
        head.target = `${redacted.slice(0, kMaxTargetBytes)}${kTruncatedMarker}`;
      }
    } else if (keepQuery) {
      head.target = clippedText(bytes, space + 1, targetEnd, kMaxTargetBytes, head);
    } else {
      // redactQuery() on the bytes: '?' (ASCII) never occurs inside a UTF-8 sequence, and decoding
      // resynchronises at every ASCII byte, so the text before the first '?' decodes the same alone.
      let question = space + 1;
      while (question < targetEnd && bytes[question] !== 0x3f) question++;
      head.target =
        question === targetEnd
          ? clippedText(bytes, space + 1, targetEnd, kMaxTargetBytes, head)
          : `${clippedText(bytes, space + 1, question, kMaxTargetBytes, head)}?REDACTED`;
    }
    versionAt = targetEnd + 1;
  } else {
    versionAt = from;
    head.status =
      (bytes[from + 9]! - 0x30) * 100 + (bytes[from + 10]! - 0x30) * 10 + (bytes[from + 11]! - 0x30);
  }
  const minor = bytes[versionAt + 7]! - 0x30;
  head.version = minor === 1 ? '1.1' : minor === 0 ? '1.0' : `1.${minor}`;

  let lineStart = lineEnd + 1;
  let headEnd = -1;
  while (lineStart < to) {
    // The name's token characters first, then the rest of the line to its LF: each byte is looked
    // at once (a token character is never CR or LF, so the name stops inside the line's content).
    let colon = lineStart;
    while (colon < to && isTokenChar(bytes[colon]!)) colon++;
    lineEnd = colon;
    while (lineEnd < to && bytes[lineEnd] !== LF) lineEnd++;
    // In place, only a line with its LF is looked at: a head cut before its empty line is incomplete.
    if (lineEnd === to && inPlace) return -1;
    let contentEnd = lineEnd > lineStart && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    const next = lineEnd + 1;
    const first = bytes[lineStart]!;
    if (contentEnd === lineStart) {
      headEnd = next;
      break;
    }
    if (first === SP || first === HT) {
      lineStart = next;
      continue;
    }
    if (colon === lineStart || colon === contentEnd || bytes[colon] !== COLON) {
      lineStart = next;
      continue;
    }
    let valueStart = colon + 1;
    while (valueStart < contentEnd && (bytes[valueStart] === SP || bytes[valueStart] === HT)) valueStart++;
    while (contentEnd > valueStart && (bytes[contentEnd - 1] === SP || bytes[contentEnd - 1] === HT))
      contentEnd--;
    applyField(bytes, lineStart, colon, valueStart, contentEnd, head);
    lineStart = next;
  }
  if (inPlace && headEnd < 0) return -1;

  if (head.transferEncoding) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3). A request whose final coding
    // is not chunked cannot be framed; such a response runs until close.
    head.framing = head.chunked ? Framing.Chunked : isRequest ? Framing.Invalid : Framing.UntilClose;
  } else if (head.contentLengthInvalid) {
    head.framing = Framing.Invalid;
  } else if (head.contentLength >= 0) {
    head.framing = Framing.Length;
  } else {
    head.framing = isRequest ? Framing.None : Framing.UntilClose;
  }
  return headEnd;
}

function applyField(
  bytes: Uint8Array,
  nameStart: number,
  nameEnd: number,
  valueStart: number,
  valueEnd: number,
  head: MessageHead,
): void {
  switch (nameEnd - nameStart) {
    case 4:
      if (nameIs(bytes, nameStart, nameEnd, 'host') && head.host === null) {
        head.host =
          valueEnd - valueStart <= kInternMaxBytes
            ? internedText(bytes, valueStart, valueEnd)
            : clippedText(bytes, valueStart, valueEnd, kMaxHostBytes, head);
      }
      return;
    case 10:
      if (nameIs(bytes, nameStart, nameEnd, 'user-agent') && head.userAgent === null) {
        head.userAgent =
          valueEnd - valueStart <= kInternMaxBytes
            ? internedText(bytes, valueStart, valueEnd)
            : clippedText(bytes, valueStart, valueEnd, kMaxUserAgentBytes, head);
      }
      return;
    case 11:
      if (nameIs(bytes, nameStart, nameEnd, 'traceparent') && head.traceparent === null) {
        head.traceparent = clippedText(bytes, valueStart, valueEnd, kMaxTraceparentBytes, head);
      }
      return;
    case 14:
      if (nameIs(bytes, nameStart, nameEnd, 'content-length'))
        applyContentLength(bytes, valueStart, valueEnd, head);
      return;
    case 17:
      if (nameIs(bytes, nameStart, nameEnd, 'transfer-encoding')) {
        head.transferEncoding = true;
        // The final coding decides (a later field line continues the list).
        head.chunked = lastCodingIsChunked(bytes, valueStart, valueEnd, head.chunked);
      }
      return;
  }
}

/** Content-Length: digits, or a list of identical values; repeated fields must agree. */
function applyContentLength(bytes: Uint8Array, start: number, end: number, head: MessageHead): void {
  let i = start;
  while (i <= end) {
    while (i < end && (bytes[i] === SP || bytes[i] === HT)) i++;
    let value = 0;
    let digits = 0;
    while (i < end && isDigit(bytes[i]!)) {
      value = value * 10 + (bytes[i]! - 0x30);
      digits++;
      i++;
    }
    while (i < end && (bytes[i] === SP || bytes[i] === HT)) i++;
    if (digits === 0 || value > Number.MAX_SAFE_INTEGER || (i < end && bytes[i] !== 0x2c)) {
      head.contentLengthInvalid = true;
      return;
    }
    if (head.contentLength >= 0 && head.contentLength !== value) {
      head.contentLengthInvalid = true;
      return;
    }
    head.contentLength = value;
    i++;
  }
}

/** Whether the last coding of a Transfer-Encoding list is "chunked" (`previous` when the list is empty). */
function lastCodingIsChunked(bytes: Uint8Array, start: number, end: number, previous: boolean): boolean {
  let tokenEnd = end;
  while (tokenEnd > start && (bytes[tokenEnd - 1] === SP || bytes[tokenEnd - 1] === HT)) tokenEnd--;
  let tokenStart = tokenEnd;
  while (tokenStart > start && bytes[tokenStart - 1] !== 0x2c) tokenStart--;
  while (tokenStart < tokenEnd && (bytes[tokenStart] === SP || bytes[tokenStart] === HT)) tokenStart++;
  if (tokenStart === tokenEnd) return previous;
  return nameIs(bytes, tokenStart, tokenEnd, 'chunked');
}
