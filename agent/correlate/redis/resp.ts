/**
 * RESP framing (Redis serialization protocol, RESP2 and RESP3) of one direction of a TCP stream,
 * incremental and copy-free: it never buffers a message. It tells its owner where top-level
 * messages start and end, and hands over the first kCaptureBytes of each top-level scalar and
 * of each element of a top-level aggregate (a request's command name and arguments, a reply's
 * error text, a push's kind) in one reused buffer.
 *
 * Invariants (hot path, every byte of the connection):
 * - Bulk payloads are skipped by arithmetic (one step per segment, whatever the declared length);
 *   lines are scanned with indexOf; only inline commands go byte by byte (at most kMaxInlineBytes).
 * - No allocation after construction: nesting is a fixed Float64Array stack (kMaxDepth levels).
 * - Memory is constant per direction whatever the input: a declared length of 2^31 is a counter,
 *   deeper nesting than kMaxDepth or a number of more than 15 digits loses framing (counted).
 * - Requests are arrays of bulk strings (or inline command lines); anything else on the request
 *   side is not RESP. RESP3 attributes (`|`) are part of the value they precede.
 * - Framing lost (bytes that are not RESP, at the start of a capture mid-connection or after a
 *   gap): bytes are skipped up to a segment that starts like a message (looksLikeStart).
 */
import type { SkipCounters } from '../../shared/skips.ts';
import type { PacketView } from '../matcher.ts';
import { MessageEdges } from '../pair.ts';
import { isKnownCommand } from './commands.ts';

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;

/** RESP type bytes. */
export const RespType = {
  Array: 0x2a, // *
  Bulk: 0x24, // $
  Simple: 0x2b, // +
  Error: 0x2d, // -
  Integer: 0x3a, // :
  Null: 0x5f, // _
  Double: 0x2c, // ,
  Boolean: 0x23, // #
  BlobError: 0x21, // !
  Verbatim: 0x3d, // =
  BigNumber: 0x28, // (
  Map: 0x25, // %
  Set: 0x7e, // ~
  Attribute: 0x7c, // |
  Push: 0x3e, // >
  /** Not a RESP byte: an inline command line (request side). */
  Inline: 0,
} as const;

/** Nesting levels followed; Redis's own replies nest a few levels, deeper input is hostile. */
export const kMaxDepth = 32;
/** Bytes captured of each top-level scalar and each top-level element. */
export const kCaptureBytes = 256;
/** Redis's own limit for an inline command line (PROTO_INLINE_MAX_SIZE). */
const kMaxInlineBytes = 64 * 1024;
/** Digits of a length or count: 15 fit a double exactly (Redis caps bulks at 512 MB anyway). */
const kMaxDigits = 15;
/** How far looksLikeStart reads a first line. */
const kStartProbeBytes = 64;

const State = {
  /** Framing lost: skipping to a segment that starts a message. */
  Unsynced: 0,
  /** Expecting a type byte. */
  Type: 1,
  /** Reading a length or count. */
  Number: 2,
  NumberLf: 3,
  /** Reading a line value (+ - : , ( # _) up to CR. */
  Line: 4,
  LineLf: 5,
  /** Reading a bulk payload. */
  Bulk: 6,
  BulkCr: 7,
  BulkLf: 8,
  /** Reading an inline command line. */
  Inline: 9,
  /** Given up for good (the connection is not followed any more). */
  Stopped: 10,
} as const;
type State = (typeof State)[keyof typeof State];

export interface RespOwner {
  /** A top-level message begins (after any attribute): its type byte (RespType.Inline for an inline command). */
  messageStart(framer: RespFramer, type: number, view: PacketView): void;
  /** Element `index` of the top-level aggregate (or inline token) is complete; framer.captured holds its start. */
  element(framer: RespFramer, index: number, type: number, view: PacketView): void;
  /** The top-level message is complete (a top-level scalar's start is in framer.captured). */
  messageEnd(framer: RespFramer, view: PacketView): void;
  /** Framing was lost (bad bytes or a gap) with a message in progress (`inMessage`) or between messages. */
  framingLost(framer: RespFramer, inMessage: boolean): void;
}

export class RespFramer {
  readonly isRequest: boolean;
  /** Edges of the message in progress (or the last one). */
  readonly edges = new MessageEdges();
  /** The captured start of the last scalar at depth 0 or 1: captured[0, capturedLength). */
  readonly captured = new Uint8Array(kCaptureBytes);
  capturedLength = 0;
  /** Its full length (bulk: declared; line and inline token: bytes). */
  valueLength = 0;
  /** Elements declared by the top-level aggregate (maps: pairs). */
  topCount = 0;

  readonly #owner: RespOwner;
  readonly #skips: SkipCounters;
  readonly #unframedReason: number;
  #state: State = State.Unsynced;
  /** Framing loss already counted (until the next sync). */
  #lossCounted = false;
  #inMessage = false;
  /** Where the message in progress starts in the current chunk (its first byte, or the chunk's). */
  #messageFrom = 0;
  /** Remaining elements per open aggregate, and whether it is an attribute. */
  readonly #remaining = new Float64Array(kMaxDepth);
  readonly #attribute = new Uint8Array(kMaxDepth);
  #depth = 0;
  #type = 0;
  #elementType = 0;
  #elementIndex = 0;
  #capturing = false;
  #number = 0;
  #digits = 0;
  #negative = false;
  #bulkRemaining = 0;
  #inlineBytes = 0;
  #inToken = false;

  constructor(isRequest: boolean, owner: RespOwner, skips: SkipCounters, unframedReason: number) {
    this.isRequest = isRequest;
    this.#owner = owner;
    this.#skips = skips;
    this.#unframedReason = unframedReason;
  }

  /** The captured value as text (latin1: command names and error prefixes are ASCII). */
  capturedText(): string {
    return latin1Slice.call(this.captured, 0, this.capturedLength);
  }

  /** Stop framing for good (the connection is given up). */
  stop(): void {
    this.#state = State.Stopped;
    this.#inMessage = false;
  }

  /** Bytes of this direction were lost: framing restarts at a segment that starts a message. */
  gap(): void {
    if (this.#state === State.Stopped) return;
    const inMessage = this.#inMessage;
    this.#reset();
    // The gap is counted by reassembly; the bytes skipped after it are not "unframed".
    this.#lossCounted = true;
    this.#owner.framingLost(this, inMessage);
  }

  feed(data: Uint8Array, offset: number, length: number, view: PacketView): void {
    const end = offset + length;
    let i = offset;
    if (this.#state === State.Stopped) return;
    if (this.#state === State.Unsynced) {
      if (!this.#looksLikeStart(data, offset, end)) {
        if (!this.#lossCounted) {
          this.#lossCounted = true;
          this.#skips.add(this.#unframedReason);
        }
        return;
      }
      this.#lossCounted = false;
      this.#state = State.Type;
    }
    if (this.#inMessage) {
      this.edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
      this.#messageFrom = offset;
    }
    while (i < end) {
      switch (this.#state) {
        case State.Type: {
          const type = data[i]!;
          if (!this.#inMessage) {
            this.#inMessage = true;
            this.#messageFrom = i;
            this.edges.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, 0);
          }
          if (this.isRequest && this.#depth === 0 && type !== RespType.Array) {
            this.#state = State.Inline;
            this.#inlineBytes = 0;
            this.#inToken = false;
            this.#elementIndex = 0;
            this.#owner.messageStart(this, RespType.Inline, view);
            break;
          }
          i++;
          if (!this.#startValue(type, view)) {
            this.#lose(end);
            return;
          }
          break;
        }
        case State.Number: {
          const b = data[i++]!;
          if (b >= 0x30 && b <= 0x39) {
            if (++this.#digits > kMaxDigits) {
              this.#lose(end);
              return;
            }
            this.#number = this.#number * 10 + (b - 0x30);
          } else if (b === 0x2d && this.#digits === 0 && !this.#negative) {
            this.#negative = true;
          } else if (b === CR && this.#digits > 0) {
            this.#state = State.NumberLf;
          } else {
            this.#lose(end);
            return;
          }
          break;
        }
        case State.NumberLf:
          if (data[i++] !== LF || !this.#header(i, view)) {
            this.#lose(end);
            return;
          }
          break;
        case State.Line: {
          let cr = data.indexOf(CR, i);
          if (cr < 0 || cr >= end) cr = end;
          this.#capture(data, i, cr);
          i = cr;
          if (cr < end) {
            i++;
            this.#state = State.LineLf;
          }
          break;
        }
        case State.LineLf:
          if (data[i++] !== LF) {
            this.#lose(end);
            return;
          }
          this.#valueDone(i, view, false);
          break;
        case State.Bulk: {
          const n = Math.min(this.#bulkRemaining, end - i);
          this.#capture(data, i, i + n);
          this.#bulkRemaining -= n;
          i += n;
          if (this.#bulkRemaining === 0) this.#state = State.BulkCr;
          break;
        }
        case State.BulkCr:
          if (data[i++] !== CR) {
            this.#lose(end);
            return;
          }
          this.#state = State.BulkLf;
          break;
        case State.BulkLf:
          if (data[i++] !== LF) {
            this.#lose(end);
            return;
          }
          this.#valueDone(i, view, false);
          break;
        case State.Inline: {
          const b = data[i++]!;
          if (++this.#inlineBytes > kMaxInlineBytes) {
            this.#lose(end);
            return;
          }
          if (b === LF || b === CR || b === SPACE || b === TAB) {
            if (this.#inToken) {
              this.#inToken = false;
              this.#owner.element(this, this.#elementIndex++, RespType.Bulk, view);
            }
            if (b === LF) this.#messageDone(i, view);
          } else {
            if (!this.#inToken) {
              this.#inToken = true;
              this.capturedLength = this.valueLength = 0;
            }
            this.valueLength++;
            if (this.capturedLength < kCaptureBytes) this.captured[this.capturedLength++] = b;
          }
          break;
        }
        default:
          return; // Unsynced (lost in an owner callback) or Stopped
      }
    }
    if (this.#inMessage) this.edges.bytes += end - this.#messageFrom;
  }

  // Internals ----------------------------------------------------------------------------------

  /** A value's type byte was read: false when it cannot start a value here. */
  #startValue(type: number, view: PacketView): boolean {
    const depth = this.#depth;
    if (this.isRequest && (depth > 1 || (depth === 1 && type !== RespType.Bulk))) return false;
    this.#type = type;
    const inAttribute = depth > 0 && this.#attribute[0] === 1;
    this.#capturing = depth <= 1 && !inAttribute && type !== RespType.Attribute;
    if (this.#capturing) this.capturedLength = this.valueLength = 0;
    if (depth === 1 && !inAttribute) this.#elementType = type;
    switch (type) {
      case RespType.Bulk:
      case RespType.Verbatim:
      case RespType.BlobError:
      case RespType.Array:
      case RespType.Map:
      case RespType.Set:
      case RespType.Push:
      case RespType.Attribute:
        this.#number = this.#digits = 0;
        this.#negative = false;
        this.#state = State.Number;
        break;
      case RespType.Simple:
      case RespType.Error:
      case RespType.Integer:
      case RespType.Double:
      case RespType.BigNumber:
      case RespType.Boolean:
      case RespType.Null:
        this.#state = State.Line;
        break;
      default:
        return false;
    }
    if (depth === 0 && type !== RespType.Attribute) this.#owner.messageStart(this, type, view);
    return true;
  }

  /** A length or count line is complete (at position `at`): false when it is not valid. */
  #header(at: number, view: PacketView): boolean {
    const n = this.#negative ? -this.#number : this.#number;
    const type = this.#type;
    if (n === -1 && (type === RespType.Bulk || type === RespType.Array)) {
      this.#valueDone(at, view, false); // RESP2 null
      return true;
    }
    if (n < 0) return false;
    if (type === RespType.Bulk || type === RespType.Verbatim || type === RespType.BlobError) {
      if (this.#capturing) this.valueLength = n;
      this.#bulkRemaining = n;
      this.#state = n === 0 ? State.BulkCr : State.Bulk;
      return true;
    }
    const attribute = type === RespType.Attribute;
    const count = type === RespType.Map || attribute ? 2 * n : n;
    if (this.#depth === 0 && !attribute) this.topCount = n;
    if (count === 0) {
      this.#valueDone(at, view, attribute);
      return true;
    }
    if (this.#depth >= kMaxDepth) return false;
    this.#remaining[this.#depth] = count;
    this.#attribute[this.#depth] = attribute ? 1 : 0;
    if (this.#depth === 0) this.#elementIndex = 0;
    this.#depth++;
    this.#state = State.Type;
    return true;
  }

  /** A value ended at `at` (an attribute does not count as one of its aggregate's elements). */
  #valueDone(at: number, view: PacketView, attribute: boolean): void {
    let isAttribute = attribute;
    this.#state = State.Type;
    for (;;) {
      const depth = this.#depth;
      if (depth === 0) {
        if (!isAttribute) this.#messageDone(at, view);
        return;
      }
      if (isAttribute) return;
      const frame = depth - 1;
      if (depth === 1 && this.#attribute[0] === 0) {
        this.#owner.element(this, this.#elementIndex++, this.#elementType, view);
        if (this.#state !== State.Type) return; // the owner gave up
      }
      if (--this.#remaining[frame]! > 0) return;
      isAttribute = this.#attribute[frame] === 1;
      this.#depth = frame;
    }
  }

  #messageDone(at: number, view: PacketView): void {
    this.#inMessage = false;
    this.#state = State.Type;
    this.edges.bytes += at - this.#messageFrom;
    this.#owner.messageEnd(this, view);
  }

  #capture(data: Uint8Array, from: number, to: number): void {
    if (!this.#capturing) return;
    if (this.#type !== RespType.Bulk && this.#type !== RespType.Verbatim && this.#type !== RespType.BlobError)
      this.valueLength += to - from;
    const room = kCaptureBytes - this.capturedLength;
    const n = Math.min(room, to - from);
    const captured = this.captured;
    // Command names and keys are short: a loop beats making a subarray view for each.
    for (let k = 0; k < n; k++) captured[this.capturedLength + k] = data[from + k]!;
    if (n > 0) this.capturedLength += n;
  }

  #reset(): void {
    this.#state = State.Unsynced;
    this.#inMessage = false;
    this.#depth = 0;
  }

  /** Bad bytes: the rest of this chunk is skipped, framing restarts at a segment that starts a message. */
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

  /** Whether a chunk starts like a message: a request array, a known inline command, or a plausible reply. */
  #looksLikeStart(data: Uint8Array, from: number, end: number): boolean {
    const type = data[from]!;
    const probeEnd = Math.min(end, from + kStartProbeBytes);
    if (this.isRequest) {
      if (type === RespType.Array) return digitsThenCrlf(data, from + 1, probeEnd, RespType.Bulk);
      let word = from;
      while (word < probeEnd && isLetter(data[word]!)) word++;
      const bounded = word === end || (word < end && (data[word] === SPACE || data[word] === CR));
      return word > from && bounded && isKnownCommand(asciiUpper(data, from, word), word === end);
    }
    switch (type) {
      case RespType.Bulk:
      case RespType.Array:
      case RespType.Map:
      case RespType.Set:
      case RespType.Push:
      case RespType.Attribute:
      case RespType.Verbatim:
      case RespType.BlobError:
        return digitsThenCrlf(data, from + 1, probeEnd, -1);
      case RespType.Simple:
      case RespType.Error:
      case RespType.Integer:
      case RespType.Double:
      case RespType.BigNumber:
      case RespType.Boolean:
      case RespType.Null: {
        for (let i = from + 1; i < probeEnd; i++) {
          const b = data[i]!;
          if (b === CR) return i + 1 >= end || data[i + 1] === LF;
          if (b < SPACE || b > 0x7e) return false;
        }
        return true;
      }
      default:
        return false;
    }
  }
}

/** `-?digits CR LF` then (when `next` >= 0 and the chunk goes on) the byte `next`; true when the chunk ends early. */
function digitsThenCrlf(data: Uint8Array, from: number, end: number, next: number): boolean {
  let i = from;
  if (i < end && data[i] === 0x2d) i++;
  const digits = i;
  while (i < end && data[i]! >= 0x30 && data[i]! <= 0x39) i++;
  if (i === end) return true;
  if (i === digits || data[i] !== CR) return false;
  if (++i === end) return true;
  if (data[i] !== LF) return false;
  return ++i === end || next < 0 || data[i] === next;
}

/**
 * Buffer's latin1 slicer (the native method behind buf.toString('latin1')), called on any
 * Uint8Array: no Buffer view to allocate per value.
 */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }
).latin1Slice;

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2d;
}

function asciiUpper(data: Uint8Array, from: number, to: number): string {
  let text = '';
  for (let i = from; i < to; i++) {
    const b = data[i]!;
    text += String.fromCharCode(b >= 0x61 && b <= 0x7a ? b - 0x20 : b);
  }
  return text;
}
