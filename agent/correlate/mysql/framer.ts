/**
 * MySQL/MariaDB packet framing for one direction: a 3-byte little-endian payload length and a
 * sequence id, then the payload. A payload of exactly 0xFFFFFF bytes continues in the next packet
 * (16 MB splits): the framer joins them into one logical message. It keeps a 4-byte header and
 * the first `keep` bytes of each logical message in one reused buffer reserved from the shared
 * ParserBufferBudget; every other byte is counted and skipped (a row of 1 GB costs nothing but
 * counting).
 */
import type { PacketView } from '../matcher.ts';
import type { MessageEdges } from '../pair.ts';
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';

/** A packet of this payload length is continued by the next one. */
export const kMaxPacketPayload = 0xffffff;

/** Bytes kept when the budget refuses the buffer: a command byte and statement id, an ERR's code, an OK's status. */
const kFallbackKeepBytes = 32;

export interface MysqlFramerOwner {
  /**
   * A logical message begins (its first packet's header is complete): `framer.seq` is its
   * sequence id, `firstByte` its first payload byte (-1 when not in this segment).
   */
  onMessageStart(framer: MysqlFramer, firstByte: number): void;
  /** `n` more bytes of the current message arrived in `view`'s packet. */
  onBytes(framer: MysqlFramer, n: number, view: PacketView): void;
  /** The logical message is complete: its first `framer.kept` bytes are in `framer.body`, `framer.length` in all. */
  onMessageEnd(framer: MysqlFramer, view: PacketView): void;
}

export class MysqlFramer {
  readonly fromClient: boolean;
  /** The framer stopped (not MySQL, lost bytes, TLS): nothing more is parsed. */
  stopped = false;
  /** Sequence id of the logical message's first packet. */
  seq = 0;
  /** Payload bytes of the logical message (all its packets). */
  length = 0;
  /** Where the logical message's first header byte was captured. */
  firstSeconds = 0;
  firstNanos = 0;
  firstFileId = 0;
  firstPacket = 0;
  /** The kept bytes: the budget's buffer, or (refused) a small one of its own so commands and statuses still frame. */
  body: Uint8Array;
  kept = 0;
  readonly #fallback = new Uint8Array(kFallbackKeepBytes);
  #reserved = false;
  readonly #owner: MysqlFramerOwner;
  readonly #budget: ParserBufferBudget;
  readonly #keep: number;
  readonly #header = new Uint8Array(4);
  #headerFill = 0;
  /** Payload bytes of the current packet still to come (-1: reading a header). */
  #remaining = -1;
  /** The current packet is 0xFFFFFF long: the message continues in the next one. */
  #continues = false;
  /** The next header continues the current logical message. */
  #inMessage = false;

  constructor(fromClient: boolean, owner: MysqlFramerOwner, budget: ParserBufferBudget, keep: number) {
    this.fromClient = fromClient;
    this.#owner = owner;
    this.#budget = budget;
    this.#keep = keep;
    this.body = this.#fallback;
  }

  /** Starts `edges` at the current message's first header byte. */
  /** Only the small fallback was kept (the budget refused the buffer): texts are left out, not cut short. */
  get starved(): boolean {
    return !this.#reserved;
  }

  beginEdges(edges: MessageEdges): void {
    edges.begin(this.firstSeconds, this.firstNanos, this.firstFileId, this.firstPacket, 0);
  }

  /** Byte `at` of the kept payload (-1 beyond it). */
  byte(at: number): number {
    return at < this.kept ? this.body[at]! : -1;
  }

  feed(data: Uint8Array, offset: number, length: number, view: PacketView): void {
    let at = offset;
    const end = offset + length;
    const owner = this.#owner;
    while (at < end && !this.stopped) {
      if (this.#remaining < 0) {
        if (this.#headerFill === 0 && !this.#inMessage) {
          this.firstSeconds = view.seconds;
          this.firstNanos = view.nanos;
          this.firstFileId = view.fileId;
          this.firstPacket = view.packetNumber;
        }
        const take = Math.min(4 - this.#headerFill, end - at);
        this.#header.set(data.subarray(at, at + take), this.#headerFill);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill < 4) {
          if (this.#inMessage) owner.onBytes(this, take, view);
          return;
        }
        this.#headerFill = 0;
        const header = this.#header;
        const payload = header[0]! | (header[1]! << 8) | (header[2]! << 16);
        this.#remaining = payload;
        this.#continues = payload === kMaxPacketPayload;
        if (!this.#inMessage) {
          this.#inMessage = true;
          this.seq = header[3]!;
          this.length = 0;
          this.kept = 0;
          owner.onMessageStart(this, payload > 0 && at < end ? data[at]! : -1);
          if (this.stopped) return;
          if (!this.#reserved && this.#budget.reserve(this.#keep)) {
            this.#reserved = true;
            this.body = new Uint8Array(this.#keep);
          }
        }
        this.length += payload;
        owner.onBytes(this, take, view);
      }
      const take = Math.min(this.#remaining, end - at);
      if (take > 0) {
        const body = this.body;
        if (this.kept < body.length) {
          const copy = Math.min(body.length - this.kept, take);
          body.set(data.subarray(at, at + copy), this.kept);
          this.kept += copy;
        }
        at += take;
        this.#remaining -= take;
        owner.onBytes(this, take, view);
      }
      if (this.#remaining === 0) {
        this.#remaining = -1;
        if (!this.#continues) {
          this.#inMessage = false;
          owner.onMessageEnd(this, view);
        }
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.release();
  }

  /** Gives the kept buffer back to the budget (the connection ended). */
  release(): void {
    if (this.#reserved) {
      this.#budget.release(this.body.length);
      this.#reserved = false;
      this.body = this.#fallback;
    }
  }
}

/** A length-encoded integer at `at` of the kept bytes: [value, bytes used], or [-1, 0] when cut or invalid. */
export function lengthEncoded(framer: MysqlFramer, at: number): [number, number] {
  const first = framer.byte(at);
  if (first < 0) return [-1, 0];
  if (first < 0xfb) return [first, 1];
  const size = first === 0xfc ? 2 : first === 0xfd ? 3 : first === 0xfe ? 8 : 0;
  if (size === 0 || at + size >= framer.kept) return [-1, 0];
  let value = 0;
  for (let i = size; i >= 1; i--) value = value * 256 + framer.byte(at + i);
  return [value, size + 1];
}
