/**
 * Random trace and span ids as bytes, for PairSpan: 24 bytes per span (trace id, then span id)
 * from a pool filled by crypto.randomFillSync, which the OTLP encoder copies as they are. The
 * SDK's RandomIdGenerator made each id as a hex string that the encoder parsed back (~0.6 us
 * per span with the hex slicing). A used-up pool is replaced, never refilled: a span keeps
 * reading its ids from the pool it got them from.
 */
import { randomFillSync } from 'node:crypto';

export const kTraceIdBytes = 16;
export const kSpanIdBytes = 8;
const kIdsBytes = kTraceIdBytes + kSpanIdBytes;
const kSpansPerPool = 2730; // 64 KiB

export class SpanIdPool {
  #pool: Buffer = Buffer.allocUnsafeSlow(0);
  #next = 0;

  /** The pool holding the ids take() returned last. */
  get pool(): Buffer {
    return this.#pool;
  }

  /** Where a new span's random, non-zero trace id (16 bytes) and span id (8 bytes, after it) start in `pool`. */
  take(): number {
    if (this.#next === this.#pool.length) {
      this.#pool = randomFillSync(Buffer.allocUnsafeSlow(kSpansPerPool * kIdsBytes));
      for (let at = 0; at < this.#pool.length; at += kIdsBytes) {
        nonZero(this.#pool, at, kTraceIdBytes);
        nonZero(this.#pool, at + kTraceIdBytes, kSpanIdBytes);
      }
      this.#next = 0;
    }
    const at = this.#next;
    this.#next = at + kIdsBytes;
    return at;
  }
}

/** An all-zero id is invalid: its last byte becomes 1 (as the SDK's RandomIdGenerator does). */
export function nonZero(bytes: Buffer, at: number, length: number): void {
  for (let i = at; i < at + length; i++) if (bytes[i] !== 0) return;
  bytes[at + length - 1] = 1;
}
