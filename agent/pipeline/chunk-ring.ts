/**
 * The buffer pool and the broadcast chunk ring of the worker pipeline (layout.ts has the
 * picture and the invariants). The reader fills a free slot with the next bytes of a file and
 * publishes it; every worker consumes every published slot in order and releases it.
 *
 * Producer: the main thread (never blocks: it awaits Atomics.waitAsync).
 * Consumers: workers (block in Atomics.wait, waking every kPollMillis to notice an abort).
 */
import {
  kAborted,
  kHead,
  kReleases,
  kRunning,
  kState,
  type PipelineLayout,
  type PipelineMemory,
} from './layout.ts';

const kPollMillis = 200;

export class ChunkProducer {
  readonly layout: PipelineLayout;
  readonly #control: Int32Array;
  readonly #pool: Uint8Array;
  /** Where the next free-slot scan starts (round robin keeps slots evenly used). */
  #nextSlot = 0;

  constructor(memory: PipelineMemory) {
    this.layout = memory.layout;
    this.#control = new Int32Array(memory.control);
    this.#pool = new Uint8Array(memory.pool);
  }

  /** A free slot index (no worker uses it and the ring has room), or -1. */
  acquireSlot(): number {
    const { slots, kSlotRefs } = this.layout;
    if (this.ringDepthMax() >= slots) return -1;
    for (let i = 0; i < slots; i++) {
      const slot = (this.#nextSlot + i) % slots;
      if (Atomics.load(this.#control, kSlotRefs + slot) === 0) {
        this.#nextSlot = (slot + 1) % slots;
        return slot;
      }
    }
    return -1;
  }

  /** The bytes of a slot, to fill before publish(). */
  slotBytes(slot: number): Uint8Array {
    const { slotBytes } = this.layout;
    return this.#pool.subarray(slot * slotBytes, (slot + 1) * slotBytes);
  }

  /** Hands a filled slot to every worker. */
  publish(slot: number, length: number, fileId: number, flags: number): void {
    const { workers, slots, kSlotRefs, kSlotLength, kSlotFile, kSlotFlags, kRing } = this.layout;
    const control = this.#control;
    Atomics.store(control, kSlotLength + slot, length);
    Atomics.store(control, kSlotFile + slot, fileId);
    Atomics.store(control, kSlotFlags + slot, flags);
    Atomics.store(control, kSlotRefs + slot, workers);
    const head = Atomics.load(control, kHead);
    Atomics.store(control, kRing + ((head >>> 0) % slots), slot);
    // The entry and the slot's fields are written before the head moves: a worker that sees
    // the new head sees them too (Atomics are sequentially consistent).
    Atomics.store(control, kHead, (head + 1) | 0);
    Atomics.notify(control, kHead);
  }

  /** Resolves when a worker released a slot (or after timeoutMillis). */
  async waitForRelease(timeoutMillis: number): Promise<void> {
    const seen = Atomics.load(this.#control, kReleases);
    if (this.acquireSlotPossible()) return;
    const waiter = Atomics.waitAsync(this.#control, kReleases, seen, timeoutMillis);
    if (waiter.async) await waiter.value;
  }

  acquireSlotPossible(): boolean {
    const { slots, kSlotRefs } = this.layout;
    if (this.ringDepthMax() >= slots) return false;
    for (let slot = 0; slot < slots; slot++)
      if (Atomics.load(this.#control, kSlotRefs + slot) === 0) return true;
    return false;
  }

  /** Entries published but not yet taken by worker `i`. */
  ringDepth(worker: number): number {
    return (
      (Atomics.load(this.#control, kHead) - Atomics.load(this.#control, this.layout.kTails + worker)) | 0
    );
  }

  ringDepthMax(): number {
    let max = 0;
    for (let i = 0; i < this.layout.workers; i++) max = Math.max(max, this.ringDepth(i));
    return max;
  }

  usedSlots(): number {
    let used = 0;
    for (let slot = 0; slot < this.layout.slots; slot++) {
      if (Atomics.load(this.#control, this.layout.kSlotRefs + slot) !== 0) used++;
    }
    return used;
  }

  abort(): void {
    Atomics.store(this.#control, kState, kAborted);
    Atomics.notify(this.#control, kHead);
  }

  get aborted(): boolean {
    return Atomics.load(this.#control, kState) !== kRunning;
  }

  /** Output bytes worker `i` posted that were not written yet. */
  outputBacklog(worker: number): number {
    return Atomics.load(this.#control, this.layout.kOutputBytes + worker);
  }

  /** Main wrote `bytes` of worker `i`'s output: lets a worker blocked on output go on. */
  outputWritten(worker: number, bytes: number): void {
    const index = this.layout.kOutputBytes + worker;
    Atomics.sub(this.#control, index, bytes);
    Atomics.notify(this.#control, index);
  }
}

/** A slot taken from the ring by one worker. */
export interface Chunk {
  slot: number;
  length: number;
  fileId: number;
  flags: number;
}

export class ChunkConsumer {
  readonly layout: PipelineLayout;
  readonly #control: Int32Array;
  readonly #pool: Uint8Array;
  readonly #worker: number;

  constructor(memory: PipelineMemory, worker: number) {
    this.layout = memory.layout;
    this.#control = new Int32Array(memory.control);
    this.#pool = new Uint8Array(memory.pool);
    this.#worker = worker;
  }

  /** True when a chunk is published and not taken yet (next() would not wait). */
  hasNext(): boolean {
    const control = this.#control;
    return Atomics.load(control, kHead) !== Atomics.load(control, this.layout.kTails + this.#worker);
  }

  /** Blocks until the next chunk is published; null when the pipeline was aborted. */
  next(into: Chunk): Chunk | null {
    const control = this.#control;
    const { slots, kTails, kRing, kSlotLength, kSlotFile, kSlotFlags } = this.layout;
    const tailIndex = kTails + this.#worker;
    const tail = Atomics.load(control, tailIndex);
    for (;;) {
      if (Atomics.load(control, kState) !== kRunning) return null;
      const head = Atomics.load(control, kHead);
      if (head !== tail) break;
      Atomics.wait(control, kHead, head, kPollMillis);
    }
    const slot = Atomics.load(control, kRing + ((tail >>> 0) % slots));
    into.slot = slot;
    into.length = Atomics.load(control, kSlotLength + slot);
    into.fileId = Atomics.load(control, kSlotFile + slot);
    into.flags = Atomics.load(control, kSlotFlags + slot);
    Atomics.store(control, tailIndex, (tail + 1) | 0);
    return into;
  }

  slotBytes(slot: number): Uint8Array {
    const { slotBytes } = this.layout;
    return this.#pool.subarray(slot * slotBytes, (slot + 1) * slotBytes);
  }

  /** This worker is done with the slot's bytes; the last worker to release frees it. */
  release(slot: number): void {
    const control = this.#control;
    if (Atomics.sub(control, this.layout.kSlotRefs + slot, 1) === 1) {
      Atomics.add(control, kReleases, 1);
      Atomics.notify(control, kReleases);
    }
  }

  /** Counts output bytes posted to main; blocks while more than `limit` are unwritten. */
  postedOutput(bytes: number, limit: number): void {
    const control = this.#control;
    const index = this.layout.kOutputBytes + this.#worker;
    let backlog = Atomics.add(control, index, bytes) + bytes;
    while (backlog > limit && Atomics.load(control, kState) === kRunning) {
      Atomics.wait(control, index, backlog, kPollMillis);
      backlog = Atomics.load(control, index);
    }
  }

  get aborted(): boolean {
    return Atomics.load(this.#control, kState) !== kRunning;
  }
}
