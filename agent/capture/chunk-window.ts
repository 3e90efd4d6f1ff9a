/**
 * A read window over borrowed chunks of one file (a pipeline worker's pool slots): the record
 * parsers read each record in place in the chunk that holds it, with no copy. Only a record
 * that does not fit in one chunk is copied, into one reused carry buffer.
 *
 * Invariants (buffer lifetime):
 * - Chunks are pushed in file order and stay borrowed (their bytes unchanged) until
 *   `releaseRead()` gives them back, which it does for every chunk whose bytes were all
 *   consumed or carried. Call it only between records (after `next()` returned NeedMore): a
 *   record handed out may point into a chunk.
 * - When the pushed bytes end inside a record (ensure() fails), what there is of that record
 *   is carried, so after NeedMore no chunk is needed any more: a record larger than the whole
 *   pool (pcapng blocks go up to 16 MiB) cannot keep every slot borrowed and stall the reader.
 * - `bytes[start, end)` are the file bytes at `[position, position + end - start)`, in the chunk
 *   holding `position` or in the carry. `bytes` and `view` change in `ensure()` (as with
 *   ReadWindow), so parsers re-read them after every `ensure()`.
 * - The carry grows only to bytes that were pushed: a hostile length field cannot make it
 *   allocate more than the file holds.
 */
import type { RecordWindow } from './read-window.ts';

export class ChunkWindow implements RecordWindow {
  bytes: Uint8Array;
  view: DataView;
  start = 0;
  end = 0;
  readonly ioError: string | null = null;
  /** Chunks not released yet, and the file offset each starts at. */
  readonly #chunks: Uint8Array[] = [];
  readonly #chunkStarts: number[] = [];
  /** The pool slot of each chunk (what release() gets back). */
  readonly #slots: number[] = [];
  /** Bytes pushed so far (the file's size as far as this window knows). */
  #size = 0;
  /** File offset of `bytes[0]`. */
  #base = 0;
  #carry = new Uint8Array(64 * 1024);
  /** `bytes` is the carry (not a chunk). */
  #carrying = true;

  constructor() {
    this.bytes = this.#carry;
    this.view = new DataView(this.#carry.buffer);
  }

  /** Lends the next `chunk` of the file (from pool slot `slot`) until released. */
  push(chunk: Uint8Array, slot: number): void {
    this.#chunks.push(chunk);
    this.#chunkStarts.push(this.#size);
    this.#slots.push(slot);
    this.#size += chunk.length;
  }

  size(): number {
    return this.#size;
  }

  get position(): number {
    return this.#base + this.start;
  }

  get bytesRead(): number {
    return this.#size;
  }

  ensure(length: number): boolean {
    return this.end - this.start >= length || this.#move(length);
  }

  consume(length: number): void {
    this.start += length;
  }

  /** Gives back (`release(slot)`) every chunk whose bytes were all consumed or carried. */
  releaseRead(release: (slot: number) => void): void {
    // Carrying: every byte before the carry's end is consumed or in the carry.
    const neededFrom = this.#carrying ? this.#base + this.end : this.position;
    const chunks = this.#chunks;
    while (chunks.length > 0 && this.#chunkStarts[0]! + chunks[0]!.length <= neededFrom) {
      chunks.shift();
      this.#chunkStarts.shift();
      release(this.#slots.shift()!);
    }
  }

  /** Every chunk still borrowed (the file ended or failed). */
  releaseAll(release: (slot: number) => void): void {
    for (const slot of this.#slots) release(slot);
    this.#chunks.length = 0;
    this.#chunkStarts.length = 0;
    this.#slots.length = 0;
  }

  /**
   * Makes `length` bytes from `position` readable: in place when one chunk holds them, else
   * copied into the carry. When fewer were pushed, carries what there is and returns false.
   */
  #move(length: number): boolean {
    const position = this.position;
    const carried = this.#carrying ? this.end - this.start : 0;
    if (carried === 0) {
      const i = this.#chunkAt(position);
      if (i >= 0 && position + length <= this.#chunkStarts[i]! + this.#chunks[i]!.length) {
        this.#use(this.#chunks[i]!, this.#chunkStarts[i]!, false);
        this.start = position - this.#base;
        this.end = this.#chunks[i]!.length;
        return true;
      }
    }
    // Unconsumed carried bytes to the front, then the chunks' bytes after them.
    const wanted = Math.min(length, this.#size - position);
    let carry = this.#carry;
    if (carry.length < wanted) {
      carry = new Uint8Array(Math.max(wanted, 2 * carry.length));
      if (carried > 0) carry.set(this.bytes.subarray(this.start, this.end));
      this.#carry = carry;
    } else if (carried > 0) {
      carry.copyWithin(0, this.start, this.end);
    }
    let filled = carried;
    for (let i = this.#chunkAt(position + filled); filled < wanted; i++) {
      const chunk = this.#chunks[i]!;
      const from = position + filled - this.#chunkStarts[i]!;
      const n = Math.min(chunk.length - from, wanted - filled);
      carry.set(chunk.subarray(from, from + n), filled);
      filled += n;
    }
    this.#use(carry, position, true);
    this.start = 0;
    this.end = filled;
    return filled >= length;
  }

  /** Index of the chunk holding file offset `at`, or -1 (not pushed yet). */
  #chunkAt(at: number): number {
    const chunks = this.#chunks;
    for (let i = 0; i < chunks.length; i++) if (at < this.#chunkStarts[i]! + chunks[i]!.length) return i;
    return -1;
  }

  #use(bytes: Uint8Array, base: number, carrying: boolean): void {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    this.#base = base;
    this.#carrying = carrying;
  }
}
