/**
 * A growable byte buffer for output text that is almost all ASCII (JSON keys, numbers,
 * timestamps, addresses): bytes are written directly, so rendering a line makes no
 * intermediate strings, and a full buffer goes to a file descriptor or another thread as is.
 */

import { Ipv6Tail, ipv6Group, ipv6Tail, ipv6ZeroRun } from '../decode/format.ts';

const kEncoder = new TextEncoder();

/** From this size on, a buffer's memory is not zero-filled (see storage()). */
const kUninitializedFrom = 64 * 1024;

/**
 * `capacity` bytes of storage: a plain Uint8Array over its own whole ArrayBuffer (transferable
 * to another thread as is). Large ones come uninitialised (Buffer.allocUnsafeSlow: never from
 * Node's shared pool): only bytes[0, length) are ever read (view(), growth copies that prefix,
 * workers post bytes.subarray(0, length)), and zero-filling a fresh 512 KiB batch buffer for
 * every worker flush cost more than rendering into it (~0.2 s per worker and 1 M packets of JSONL).
 */
function storage(capacity: number): Uint8Array {
  if (capacity < kUninitializedFrom) return new Uint8Array(capacity);
  return new Uint8Array(Buffer.allocUnsafeSlow(capacity).buffer, 0, capacity);
}

/** Below this many seconds, seconds * 1e9 + nanos is a safe integer. */
const kSafeSeconds = Math.floor(Number.MAX_SAFE_INTEGER / 1_000_000_000) - 1;

export class ByteBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1 << 20) {
    this.bytes = storage(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + n) capacity *= 2;
    const grown = storage(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** A string known to be ASCII (keys, mnemonics, formatted addresses). */
  ascii(text: string): void {
    const n = text.length;
    this.reserve(n);
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < n; i++) bytes[at++] = text.charCodeAt(i);
    this.length = at;
  }

  /** Pre-encoded bytes (constant fragments). */
  raw(fragment: Uint8Array): void {
    const n = fragment.length;
    this.reserve(n);
    // Fragments are short: a byte loop beats TypedArray.prototype.set's call overhead.
    if (n <= 32) {
      const bytes = this.bytes;
      let at = this.length;
      for (let i = 0; i < n; i++) bytes[at++] = fragment[i]!;
      this.length = at;
      return;
    }
    this.bytes.set(fragment, this.length);
    this.length += n;
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /** Any text, UTF-8 encoded. */
  text(text: string): void {
    this.reserve(text.length * 3);
    this.length += kEncoder.encodeInto(text, this.bytes.subarray(this.length)).written;
  }

  /** A safe integer in decimal (negative too). */
  integer(value: number): void {
    if (value < 0) {
      this.byte(0x2d);
      value = -value;
    }
    if (value < 10) {
      this.byte(0x30 + value);
      return;
    }
    if (value <= 0x7fffffff) {
      // Small integers (ports, counts, ids, most durations): int32 arithmetic.
      const v = value | 0;
      const digits = v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : decimalDigits(v);
      this.reserve(digits);
      this.length += digits;
      writeDigits(this.bytes, this.length, v, digits);
      return;
    }
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    this.reserve(digits);
    const bytes = this.bytes;
    let at = this.length + digits;
    this.length = at;
    for (let v = value; at > this.length - digits; v = Math.floor(v / 10)) bytes[--at] = 0x30 + (v % 10);
  }

  /**
   * The exact nanoseconds from (s1, n1) to (s2, n2) in decimal, even beyond 2^53 ns (~104 days),
   * where the difference as one number would lose digits: whole seconds, then 9 nanosecond digits.
   */
  nanosBetween(s1: number, n1: number, s2: number, n2: number): void {
    let seconds = s2 - s1;
    let nanos = n2 - n1;
    if (seconds < 0 || (seconds === 0 && nanos < 0)) {
      this.byte(0x2d);
      seconds = -seconds;
      nanos = -nanos;
    }
    if (nanos < 0) {
      seconds--;
      nanos += 1_000_000_000;
    }
    if (seconds < kSafeSeconds) {
      this.integer(seconds * 1_000_000_000 + nanos);
      return;
    }
    this.integer(seconds);
    this.padded(nanos, 9);
  }

  /** A non-negative integer below 10^width (and below 2^31), zero-padded to `width` digits. */
  padded(value: number, width: number): void {
    this.reserve(width);
    this.length += width;
    writeDigits(this.bytes, this.length, value | 0, width);
  }

  /**
   * JSON.stringify(value) for the flat objects of pair details: strings of printable ASCII,
   * integers, null and booleans written directly; anything else (other characters, fractions,
   * nested objects) through JSON.stringify, so the bytes are always JSON.stringify's.
   */
  json(value: unknown): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !isPlainObject(value)) {
      this.#jsonValue(value);
      return;
    }
    const object = value as Record<string, unknown>;
    this.byte(0x7b);
    let first = true;
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue;
      const field = object[key];
      // JSON.stringify leaves out undefined, functions and symbols.
      const type = typeof field;
      if (type === 'undefined' || type === 'function' || type === 'symbol') continue;
      // Nested values as JSON.stringify writes them (which may leave them out: toJSON).
      const nested =
        type === 'object' && field !== null ? (JSON.stringify(field) as string | undefined) : null;
      if (nested === undefined) continue;
      if (!first) this.byte(0x2c);
      first = false;
      this.#jsonString(key);
      this.byte(0x3a);
      if (nested !== null) this.text(nested);
      else this.#jsonValue(field);
    }
    this.byte(0x7d);
  }

  #jsonValue(value: unknown): void {
    if (typeof value === 'string') this.#jsonString(value);
    else if (typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0))
      this.integer(value);
    else if (value === null) this.raw(kNullBytes);
    else if (value === true) this.raw(kTrueBytes);
    else if (value === false) this.raw(kFalseBytes);
    else this.text(JSON.stringify(value) ?? 'null');
  }

  #jsonString(text: string): void {
    const n = text.length;
    this.reserve(n + 2);
    const bytes = this.bytes;
    const start = this.length;
    let at = start;
    bytes[at++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        // Escapes or non-ASCII: JSON.stringify's own text.
        this.length = start;
        this.text(JSON.stringify(text));
        return;
      }
      bytes[at++] = c;
    }
    bytes[at++] = 0x22;
    this.length = at;
  }

  /** The IPv4 address in word `w` as a dotted quad. */
  ipv4(w: number): void {
    this.integer(w >>> 24);
    this.byte(0x2e);
    this.integer((w >>> 16) & 0xff);
    this.byte(0x2e);
    this.integer((w >>> 8) & 0xff);
    this.byte(0x2e);
    this.integer(w & 0xff);
  }

  /** The IPv6 address in words w0..w3 as formatIp() prints it, written without making its string. */
  ipv6(w0: number, w1: number, w2: number, w3: number): void {
    const zeroRun = ipv6ZeroRun(w0, w1, w2, w3);
    const tail = ipv6Tail(zeroRun, w2);
    if (tail !== Ipv6Tail.None) {
      this.raw(tail === Ipv6Tail.Compatible ? kCompatiblePrefix : kMappedPrefix);
      this.ipv4(w3);
      return;
    }
    // Eight groups of at most four digits and seven separators.
    this.reserve(39);
    const bytes = this.bytes;
    const start = this.length;
    let at = start;
    const runStart = zeroRun < 0 ? -1 : zeroRun >> 4;
    for (let i = 0; i < 8; i++) {
      if (i === runStart) {
        bytes[at++] = kColon;
        bytes[at++] = kColon;
        i += (zeroRun & 15) - 1;
        continue;
      }
      if (at !== start && bytes[at - 1] !== kColon) bytes[at++] = kColon;
      const group = ipv6Group(w0, w1, w2, w3, i);
      for (
        let shift = group >= 0x1000 ? 12 : group >= 0x100 ? 8 : group >= 0x10 ? 4 : 0;
        shift >= 0;
        shift -= 4
      ) {
        bytes[at++] = kHexDigits[(group >>> shift) & 15]!;
      }
    }
    this.length = at;
  }

  /** The bytes written so far (a view: valid until the next write or clear). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

/** "00" to "99": two digits per division. */
const kDigitPairs = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  kDigitPairs[2 * i] = 0x30 + Math.floor(i / 10);
  kDigitPairs[2 * i + 1] = 0x30 + (i % 10);
}

/** Writes `v` (an int32 >= 0 below 10^digits) as `digits` decimal digits, zero-padded, ending before bytes[end]. */
export function writeDigits(bytes: Uint8Array, end: number, v: number, digits: number): void {
  let at = end;
  for (let left = digits; left >= 2; left -= 2) {
    const q = (v / 100) | 0;
    const pair = (v - q * 100) * 2;
    bytes[--at] = kDigitPairs[pair + 1]!;
    bytes[--at] = kDigitPairs[pair]!;
    v = q;
  }
  if ((digits & 1) === 1) bytes[--at] = 0x30 + v;
}

/** Digits of a positive int32 of 6 digits or more. */
function decimalDigits(v: number): number {
  let digits = 6;
  for (let limit = 1_000_000; v >= limit && digits < 10; limit *= 10) digits++;
  return digits;
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return (prototype === Object.prototype || prototype === null) && !('toJSON' in value);
}

const kNullBytes = kEncoder.encode('null');
const kColon = 0x3a;
const kHexDigits = kEncoder.encode('0123456789abcdef');
const kCompatiblePrefix = kEncoder.encode('::');
const kMappedPrefix = kEncoder.encode('::ffff:');
const kTrueBytes = kEncoder.encode('true');
const kFalseBytes = kEncoder.encode('false');

/** Constant ASCII fragments, encoded once. */
export function fragment(text: string): Uint8Array {
  return kEncoder.encode(text);
}
