/**
 * A ByteSource over the chunks of one file as they arrive through the chunk ring, so a
 * worker runs the ordinary streaming CaptureReader on pooled shared memory. The reader
 * copies bytes into its own window when it reads them; a chunk is therefore no longer needed
 * once the reader has read past its end, and the worker releases it to the pool.
 */
import type { ByteSource } from '../capture/byte-source.ts';

export class ChunkSource implements ByteSource {
  /** Chunks not yet read past: views into pool slots, with the slot and the file offset they start at. */
  readonly #views: Uint8Array[] = [];
  readonly #slots: number[] = [];
  readonly #starts: number[] = [];
  #size = 0;
  /** File offset the reader has read up to. */
  #readUpTo = 0;

  push(view: Uint8Array, slot: number): void {
    this.#views.push(view);
    this.#slots.push(slot);
    this.#starts.push(this.#size);
    this.#size += view.length;
  }

  size(): number {
    return this.#size;
  }

  read(into: Uint8Array, intoOffset: number, length: number, position: number): number {
    let copied = 0;
    for (let i = 0; i < this.#views.length && copied < length; i++) {
      const view = this.#views[i]!;
      const start = this.#starts[i]!;
      const from = position + copied;
      if (from >= start + view.length) continue;
      const offset = from - start;
      const n = Math.min(view.length - offset, length - copied);
      into.set(view.subarray(offset, offset + n), intoOffset + copied);
      copied += n;
    }
    this.#readUpTo = Math.max(this.#readUpTo, position + copied);
    return copied;
  }

  /** Slots whose bytes were all read: removed from the source and passed to `release`. */
  releaseRead(release: (slot: number) => void): void {
    while (this.#views.length > 0 && this.#starts[0]! + this.#views[0]!.length <= this.#readUpTo) {
      this.#views.shift();
      this.#starts.shift();
      release(this.#slots.shift()!);
    }
  }

  /** Every slot still held (the file ended or failed). */
  releaseAll(release: (slot: number) => void): void {
    for (const slot of this.#slots) release(slot);
    this.#views.length = 0;
    this.#slots.length = 0;
    this.#starts.length = 0;
  }
}
