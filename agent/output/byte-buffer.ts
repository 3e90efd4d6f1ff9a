/**
 * A growable byte buffer for output text that is almost all ASCII (JSON keys, numbers,
 * timestamps, addresses): bytes are written directly, so rendering a line makes no
 * intermediate strings, and a full buffer goes to a file descriptor or another thread as is.
 */

const kEncoder = new TextEncoder();

/** Below this many seconds, seconds * 1e9 + nanos is a safe integer. */
const kSafeSeconds = Math.floor(Number.MAX_SAFE_INTEGER / 1_000_000_000) - 1;

export class ByteBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1 << 20) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + n) capacity *= 2;
    const grown = new Uint8Array(capacity);
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
    this.reserve(fragment.length);
    this.bytes.set(fragment, this.length);
    this.length += fragment.length;
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

  /** An integer below 10^width, zero-padded to `width` digits. */
  padded(value: number, width: number): void {
    this.reserve(width);
    const bytes = this.bytes;
    let v = value;
    for (let at = this.length + width - 1; at >= this.length; at--) {
      bytes[at] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
    this.length += width;
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

  /** The bytes written so far (a view: valid until the next write or clear). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

/** Constant ASCII fragments, encoded once. */
export function fragment(text: string): Uint8Array {
  return kEncoder.encode(text);
}
