/**
 * The reader's sliding window over a ByteSource: ONE reused buffer that the record parsers read
 * in place.
 *
 * Invariants (buffer lifetime):
 * - `bytes[start, end)` hold the file bytes at offsets `[position, position + end - start)`:
 *   read from the source, not yet consumed.
 * - Only `ensure()` changes the buffer: it may move the unconsumed bytes to the front (compaction)
 *   or replace `bytes` and `view` by a larger buffer (growth, when one record is larger than the
 *   window). So offsets into `bytes`, and `bytes`/`view` themselves, must be re-read after every
 *   `ensure()`; a record handed out stays valid until the parser's next `ensure()`.
 * - The window never grows for bytes the source does not hold yet, and the parsers check record
 *   lengths against their format's limit before calling `ensure()`: a hostile length field cannot
 *   make it allocate more than twice the largest legal record.
 * - No allocation except growth; a read asks for all the free space, so a file is read in
 *   window-sized chunks and never as a whole.
 */
import type { ByteSource } from './byte-source.ts';

/**
 * What the record parsers read from: unconsumed file bytes `bytes[start, end)` starting at file
 * offset `position`. ReadWindow reads a ByteSource into its own buffer; ChunkWindow
 * (chunk-window.ts) reads borrowed chunks in place.
 */
export interface RecordWindow {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly start: number;
  readonly end: number;
  readonly position: number;
  readonly bytesRead: number;
  readonly ioError: string | null;
  /** Makes `length` unconsumed bytes available from `start`; false when the file does not hold them (yet). */
  ensure(length: number): boolean;
  consume(length: number): void;
  /** Current size of the file's bytes (throws what the source throws). */
  size(): number;
}

export class ReadWindow implements RecordWindow {
  bytes: Uint8Array;
  /** DataView over `bytes`, replaced together with it. */
  view: DataView;
  /** Index in `bytes` of the first unconsumed byte. */
  start = 0;
  /** Index in `bytes` just after the last byte read. */
  end = 0;
  /** Total bytes read from the source. */
  bytesRead = 0;
  /** Set when the source threw (EIO, a file closed under us, ...); the reader reports it. */
  ioError: string | null = null;
  readonly #source: ByteSource;
  /** File offset of `bytes[0]`. */
  #base = 0;

  constructor(source: ByteSource, size: number) {
    this.#source = source;
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** File offset of the first unconsumed byte. */
  get position(): number {
    return this.#base + this.start;
  }

  /**
   * Makes `length` unconsumed bytes available from `start`. False when the source does not hold
   * them (yet): nothing is consumed, a later call after the source grew continues.
   */
  ensure(length: number): boolean {
    return this.end - this.start >= length || this.#refill(length);
  }

  consume(length: number): void {
    this.start += length;
  }

  size(): number {
    return this.#source.size();
  }

  #refill(length: number): boolean {
    try {
      if (length > this.bytes.length) {
        if (this.position + length > this.#source.size()) return false;
        this.#moveUnconsumedTo(new Uint8Array(Math.max(length, this.bytes.length * 2)));
      } else if (this.start > 0) {
        // Compaction: the remainder of a record moves to the front so the read gets all free space.
        this.#moveUnconsumedTo(this.bytes);
      }
      while (this.end - this.start < length) {
        const got = this.#source.read(
          this.bytes,
          this.end,
          this.bytes.length - this.end,
          this.#base + this.end,
        );
        if (got <= 0) return false;
        this.end += got;
        this.bytesRead += got;
      }
      return true;
    } catch (error) {
      this.ioError = `read failed at byte ${this.#base + this.end}: ${(error as Error).message}`;
      return false;
    }
  }

  #moveUnconsumedTo(target: Uint8Array): void {
    const unconsumed = this.end - this.start;
    if (target === this.bytes) {
      target.copyWithin(0, this.start, this.end);
    } else {
      target.set(this.bytes.subarray(this.start, this.end));
      this.bytes = target;
      this.view = new DataView(target.buffer);
    }
    this.#base += this.start;
    this.start = 0;
    this.end = unconsumed;
  }
}
