/**
 * Framing of one direction of the memcached text protocol, incremental and copy-free: lines of
 * space-separated tokens, each optionally followed by a data block of a length the line
 * declares. The owner sees each token (its first kCaptureBytes, in one reused buffer) and each
 * line's end, and says there whether a data block follows and whether the message ends.
 *
 * Invariants (hot path, every byte): no allocation after construction, no message buffered;
 * data blocks are skipped by arithmetic (a declared 2^31 is a counter); a line longer than
 * kMaxLineBytes, or a data block not followed by CRLF, loses framing (counted), and bytes are
 * skipped up to a segment that starts like a message (the owner's startsMessage).
 */
import type { SkipCounters } from '../../shared/skips.ts';
import type { PacketView } from '../matcher.ts';
import { MessageEdges } from '../pair.ts';

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;

/** Bytes captured of each token: memcached keys are at most 250 bytes. */
export const kCaptureBytes = 250;
/** Longest line followed (a multi-get of a few hundred keys). */
const kMaxLineBytes = 64 * 1024;

const State = { Unsynced: 0, Line: 1, Data: 2, DataCr: 3, DataLf: 4, Stopped: 5 } as const;
type State = (typeof State)[keyof typeof State];

export interface TextOwner {
  /** Whether a chunk starting at data[from] looks like the start of a message (to regain framing). */
  startsMessage(framer: TextFramer, data: Uint8Array, from: number, end: number): boolean;
  /** Token `index` of the line is complete (framer.captured). */
  token(framer: TextFramer, index: number): void;
  /** The line ended: call expectData() or endMessage() here (neither: the next line is part of the message). */
  lineEnd(framer: TextFramer, view: PacketView): void;
  /** The message ended (with a line, or with the data block after it). */
  messageEnd(framer: TextFramer, view: PacketView): void;
  /** Framing was lost (bad bytes or a gap), with a message in progress or not. */
  framingLost(framer: TextFramer, inMessage: boolean): void;
}

export class TextFramer {
  readonly isRequest: boolean;
  /** Edges of the message in progress (or the last one). */
  readonly edges = new MessageEdges();
  readonly captured = new Uint8Array(kCaptureBytes);
  capturedLength = 0;
  /** The token's full length. */
  tokenLength = 0;
  /** Tokens of the line so far. */
  tokens = 0;

  readonly #owner: TextOwner;
  readonly #skips: SkipCounters;
  readonly #unframedReason: number;
  #state: State = State.Unsynced;
  #lossCounted = false;
  #inMessage = false;
  #messageFrom = 0;
  #inToken = false;
  #lineBytes = 0;
  #dataRemaining = 0;
  /** Set by the owner during lineEnd. */
  #expectData = -1;
  #endAfterData = false;
  #endMessage = false;

  constructor(isRequest: boolean, owner: TextOwner, skips: SkipCounters, unframedReason: number) {
    this.isRequest = isRequest;
    this.#owner = owner;
    this.#skips = skips;
    this.#unframedReason = unframedReason;
  }

  /** The captured token as text (latin1: commands, replies and numbers are ASCII). */
  tokenText(): string {
    return latin1Slice.call(this.captured, 0, this.capturedLength);
  }

  /** lineEnd: a data block of `bytes` (then CRLF) follows; `endsMessage`: the message ends with it. */
  expectData(bytes: number, endsMessage: boolean): void {
    this.#expectData = bytes;
    this.#endAfterData = endsMessage;
  }

  /** lineEnd: the message ends with this line. */
  endMessage(): void {
    this.#endMessage = true;
  }

  stop(): void {
    this.#state = State.Stopped;
    this.#inMessage = false;
  }

  /** Bytes of this direction were lost (counted by reassembly): framing restarts at a message start. */
  gap(): void {
    if (this.#state === State.Stopped) return;
    const inMessage = this.#inMessage;
    this.#reset();
    this.#lossCounted = true;
    this.#owner.framingLost(this, inMessage);
  }

  feed(data: Uint8Array, offset: number, length: number, view: PacketView): void {
    const end = offset + length;
    let i = offset;
    if (this.#state === State.Stopped) return;
    if (this.#state === State.Unsynced) {
      if (!this.#owner.startsMessage(this, data, offset, end)) {
        if (!this.#lossCounted) {
          this.#lossCounted = true;
          this.#skips.add(this.#unframedReason);
        }
        return;
      }
      this.#lossCounted = false;
      this.#state = State.Line;
      this.#startLine();
    }
    if (this.#inMessage) {
      this.edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
      this.#messageFrom = offset;
    }
    while (i < end) {
      switch (this.#state) {
        case State.Line: {
          if (!this.#inMessage) {
            this.#inMessage = true;
            this.#messageFrom = i;
            this.edges.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
          }
          const b = data[i++]!;
          if (++this.#lineBytes > kMaxLineBytes) {
            this.#lose(end);
            return;
          }
          if (b === LF || b === CR || b === SPACE) {
            if (this.#inToken) {
              this.#inToken = false;
              this.#owner.token(this, this.tokens++);
            }
            if (b === LF) this.#lineDone(i, view);
          } else {
            if (!this.#inToken) {
              this.#inToken = true;
              this.capturedLength = this.tokenLength = 0;
            }
            this.tokenLength++;
            if (this.capturedLength < kCaptureBytes) this.captured[this.capturedLength++] = b;
          }
          break;
        }
        case State.Data: {
          const n = Math.min(this.#dataRemaining, end - i);
          this.#dataRemaining -= n;
          i += n;
          if (this.#dataRemaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
        case State.DataLf:
          if (data[i++] !== (this.#state === State.DataCr ? CR : LF)) {
            this.#lose(end);
            return;
          }
          if (this.#state === State.DataCr) {
            this.#state = State.DataLf;
            break;
          }
          this.#state = State.Line;
          this.#startLine();
          if (this.#endAfterData) this.#messageDone(i, view);
          break;
        default:
          return; // Unsynced (lost in an owner callback) or Stopped
      }
    }
    if (this.#inMessage) this.edges.bytes += end - this.#messageFrom;
  }

  #startLine(): void {
    this.tokens = this.#lineBytes = 0;
    this.#inToken = false;
  }

  #lineDone(at: number, view: PacketView): void {
    this.#expectData = -1;
    this.#endMessage = false;
    this.#owner.lineEnd(this, view);
    if (this.#state !== State.Line) return; // the owner gave up
    this.#startLine();
    if (this.#expectData >= 0) {
      this.#dataRemaining = this.#expectData;
      this.#state = this.#expectData === 0 ? State.DataCr : State.Data;
    } else if (this.#endMessage) {
      this.#messageDone(at, view);
    }
  }

  #messageDone(at: number, view: PacketView): void {
    this.#inMessage = false;
    this.edges.bytes += at - this.#messageFrom;
    this.#owner.messageEnd(this, view);
  }

  #reset(): void {
    this.#state = State.Unsynced;
    this.#inMessage = false;
  }

  #lose(end: number): void {
    const inMessage = this.#inMessage;
    if (inMessage) this.edges.bytes += end - this.#messageFrom;
    this.#reset();
    if (!this.#lossCounted) {
      this.#lossCounted = true;
      this.#skips.add(this.#unframedReason);
    }
    this.#owner.framingLost(this, inMessage);
  }
}

/** Buffer's latin1 slicer called on any Uint8Array: no Buffer view per token. */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }
).latin1Slice;
