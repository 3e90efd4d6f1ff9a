/**
 * PostgreSQL v3 message framing for one direction of a stream: typed messages (1 type byte, an
 * int32 length that counts itself) and the client's untyped first messages (StartupMessage,
 * SSLRequest, GSSENCRequest, CancelRequest: int32 length, int32 code). The framer keeps only a
 * 5-byte header and, for the messages its owner asks to read, up to `keep` body bytes in one
 * reused buffer reserved from the shared ParserBufferBudget; every other body byte is counted
 * and skipped, so a declared length of 2^31 costs nothing but counting.
 */
import type { PacketView } from '../matcher.ts';
import type { MessageEdges } from '../pair.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';

/** The largest message the server accepts (PQ_LARGE_MESSAGE_LIMIT); beyond it the stream is not PostgreSQL. */
const kMaxMessageLength = 0x3fffffff;
/** The largest startup packet the server accepts (MAX_STARTUP_PACKET_LENGTH). */
export const kMaxStartupLength = 10000;
/** Body bytes kept per message at most (a query, an error's fields, startup parameters). */
export const kKeepBufferBytes = 2048;

/** The untyped first messages' codes. */
export const StartupCode = {
  Protocol3: 196608,
  Cancel: 80877102,
  Ssl: 80877103,
  GssEnc: 80877104,
} as const;

export interface PgFramerOwner {
  /**
   * A message's header is complete (type 0: an untyped startup message, its code in
   * `framer.code`); `length` counts the body bytes still to come. Returns how many
   * body bytes to keep (0: skip the body), or -1: not PostgreSQL (the framer stops).
   */
  onMessage(framer: PgFramer, type: number, length: number, view: PacketView): number;
  /** The message's body has all arrived; `framer.kept` bytes of it are in `framer.body`. */
  onMessageEnd(framer: PgFramer, view: PacketView): void;
  /** A header no server accepts (length out of range): the owner stops the framers. */
  onFramingError(framer: PgFramer): void;
  /** `n` more bytes of the current message arrived in `view`'s packet. */
  onBytes(framer: PgFramer, n: number, view: PacketView): void;
}

export class PgFramer {
  readonly fromClient: boolean;
  /** Untyped messages (the client before its StartupMessage). */
  untyped: boolean;
  /** One raw byte is due (the server's answer to SSLRequest/GSSENCRequest): reported as type 0x100 | byte, length 0. */
  singleByte = false;
  /** The framer stopped (not PostgreSQL, lost bytes): nothing more is parsed. */
  stopped = false;
  /** Where the current message's first header byte was captured. */
  firstSeconds = 0;
  firstNanos = 0;
  firstFileId = 0;
  firstPacket = 0;
  /** The current untyped message's code (StartupCode). */
  code = 0;
  /** Kept body bytes of the current message. */
  body: Uint8Array | null = null;
  kept = 0;
  readonly #owner: PgFramerOwner;
  readonly #budget: ParserBufferBudget;
  readonly #header = new Uint8Array(8);
  #headerFill = 0;
  /** Body bytes still to come (-1: reading a header). */
  #remaining = -1;
  #keep = 0;

  constructor(fromClient: boolean, owner: PgFramerOwner, budget: ParserBufferBudget) {
    this.fromClient = fromClient;
    this.untyped = fromClient;
    this.#owner = owner;
    this.#budget = budget;
  }

  /** Starts `edges` at the current message's first header byte. */
  beginEdges(edges: MessageEdges): void {
    edges.begin(this.firstSeconds, this.firstNanos, this.firstFileId, this.firstPacket, 0);
  }

  feed(data: Uint8Array, offset: number, length: number, view: PacketView): void {
    let at = offset;
    const end = offset + length;
    const owner = this.#owner;
    while (at < end && !this.stopped) {
      if (this.#remaining < 0) {
        if (this.#headerFill === 0) {
          this.firstSeconds = view.seconds;
          this.firstNanos = view.nanos;
          this.firstFileId = view.fileId;
          this.firstPacket = view.packetNumber;
        }
        if (this.singleByte) {
          this.singleByte = false;
          const answer = data[at++]!;
          if (owner.onMessage(this, 0x100 | answer, 0, view) < 0) {
            this.stop();
            return;
          }
          owner.onBytes(this, 1, view);
          owner.onMessageEnd(this, view);
          continue;
        }
        const headerLength = this.untyped ? 8 : 5;
        const take = Math.min(headerLength - this.#headerFill, end - at);
        this.#header.set(data.subarray(at, at + take), this.#headerFill);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill < headerLength) {
          owner.onBytes(this, take, view);
          return;
        }
        this.#headerFill = 0;
        const header = this.#header;
        const type = this.untyped ? 0 : header[0]!;
        const lengthAt = this.untyped ? 0 : 1;
        const declared =
          ((header[lengthAt]! << 24) |
            (header[lengthAt + 1]! << 16) |
            (header[lengthAt + 2]! << 8) |
            header[lengthAt + 3]!) >>>
          0;
        const minimum = this.untyped ? 8 : 4;
        const maximum = this.untyped ? kMaxStartupLength : kMaxMessageLength;
        if (declared < minimum || declared > maximum) {
          owner.onFramingError(this);
          return;
        }
        // Untyped: the body starts after the code (header bytes 4..8).
        const bodyLength = declared - headerLength + (this.untyped ? 0 : 1);
        this.code = this.untyped
          ? ((header[4]! << 24) | (header[5]! << 16) | (header[6]! << 8) | header[7]!) >>> 0
          : 0;
        const keep = owner.onMessage(this, type, bodyLength, view);
        if (keep < 0) {
          this.stop();
          return;
        }
        owner.onBytes(this, take, view);
        this.#remaining = bodyLength;
        this.kept = 0;
        this.#keep = this.#reserve(Math.min(keep, bodyLength));
      }
      const take = Math.min(this.#remaining, end - at);
      if (take > 0) {
        const room = this.#keep - this.kept;
        if (room > 0) {
          const copy = Math.min(room, take);
          this.body!.set(data.subarray(at, at + copy), this.kept);
          this.kept += copy;
        }
        at += take;
        this.#remaining -= take;
        owner.onBytes(this, take, view);
      }
      if (this.#remaining === 0) {
        this.#remaining = -1;
        owner.onMessageEnd(this, view);
      }
    }
  }

  /** Stops parsing and gives the kept buffer back. */
  stop(): void {
    this.stopped = true;
    this.release();
  }

  /** Gives the kept buffer back to the budget (the connection ended). */
  release(): void {
    if (this.body !== null) {
      this.#budget.release(this.body.length);
      this.body = null;
    }
    this.#keep = 0;
  }

  /** Bytes that may be kept for this message (0 when the budget refuses the buffer). */
  #reserve(wanted: number): number {
    if (wanted <= 0) return 0;
    if (this.body === null) {
      if (!this.#budget.reserve(kKeepBufferBytes)) return 0;
      this.body = new Uint8Array(kKeepBufferBytes);
    }
    return Math.min(wanted, kKeepBufferBytes);
  }
}
