/**
 * A bounded table of entries waiting for something (a request for its response, a TCP
 * connection for its next packet), keyed by a 53-bit numeric key (key-hash.ts), kept in
 * capture order, expiring by capture time and evicting oldest-first at its cap.
 *
 * Capture order is an intrusive doubly linked list through the entries' `older`/`newer`
 * fields, so insert, delete, touch (move to newest), popExpired and popOldest are all O(1).
 * (A Map's insertion order alone is not enough: V8 leaves deleted entries as holes that
 * every `values().next()` rescans, which made expiry quadratic on busy captures.)
 *
 * Entries are appended when inserted or touched, so the oldest is always at the head. An
 * entry whose timestamp is older than one inserted before it (out-of-order capture) expires
 * no later than that entry: at most one timeout late, never early.
 *
 * Memory: one Map slot (~40 B) plus the caller's entry object per pending entry; see the
 * docs/operating.md "Memory budget" for the measured per-protocol figure.
 */

import { NumericIndex, NumericMap } from './numeric-map.ts';

export interface PendingEntry {
  /** Numeric key under which the entry is stored. */
  key: number;
  /** Capture time the entry was inserted or last touched (its timeout runs from here). */
  seconds: number;
  nanos: number;
  /** Capture-order links, owned by the table: initialise both to null and never write them. */
  older: PendingEntry | null;
  newer: PendingEntry | null;
}

export class PendingTable<E extends PendingEntry> {
  readonly #entries = new NumericMap<E>();
  readonly #capacity: number;
  readonly #timeoutNanos: number;
  #oldest: E | null = null;
  #newest: E | null = null;
  /** Entries dropped because the table was full (each also reported by the caller). */
  evictions = 0;

  constructor(capacity: number, timeoutNanos: number) {
    if (!(capacity >= 1)) throw new RangeError(`pending table capacity must be >= 1, got ${capacity}`);
    this.#capacity = capacity;
    this.#timeoutNanos = timeoutNanos;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: number): E | undefined {
    return this.#entries.get(key);
  }

  /**
   * Inserts an entry as the newest (replacing an entry with the same key). When the table is
   * full, removes the oldest entry and returns it so the caller can report it (evicted);
   * otherwise undefined.
   */
  insert(entry: E): E | undefined {
    // One probe of the map (a replaced entry comes back from set): the oldest entry is the same
    // whether it is evicted before or after the newest is appended.
    const previous = this.#entries.set(entry.key, entry);
    if (previous !== undefined) this.#unlink(previous);
    this.#append(entry);
    if (this.#entries.size <= this.#capacity) return undefined;
    this.evictions++;
    return this.popOldest();
  }

  /** Moves a stored entry to the newest end (call after updating its seconds/nanos). */
  touch(entry: E): void {
    if (this.#newest === entry) return;
    this.#unlink(entry);
    this.#append(entry);
  }

  /** Removes the entry stored under `key`, if any (one probe of the map). */
  delete(key: number): boolean {
    const entry = this.#entries.take(key);
    if (entry === undefined) return false;
    this.#unlink(entry);
    return true;
  }

  /** Removes the oldest entry if it is older than the timeout at (seconds, nanos); else undefined. */
  popExpired(seconds: number, nanos: number): E | undefined {
    const entry = this.#oldest;
    if (entry === null) return undefined;
    const age = (seconds - entry.seconds) * 1_000_000_000 + (nanos - entry.nanos);
    if (age <= this.#timeoutNanos) return undefined;
    this.#unlink(entry);
    this.#entries.delete(entry.key);
    return entry;
  }

  /** Removes and returns the oldest entry, or undefined when empty. */
  popOldest(): E | undefined {
    const entry = this.#oldest;
    if (entry === null) return undefined;
    this.#unlink(entry);
    this.#entries.delete(entry.key);
    return entry;
  }

  /** The oldest entry without removing it. */
  peekOldest(): E | undefined {
    return this.#oldest ?? undefined;
  }

  /** Entries oldest first (for end of input and tests; not for the hot path). */
  *values(): IterableIterator<E> {
    for (let entry = this.#oldest; entry !== null; entry = entry.newer as E | null) yield entry;
  }

  clear(): void {
    for (let entry = this.#oldest; entry !== null; ) {
      const next = entry.newer as E | null;
      entry.older = entry.newer = null;
      entry = next;
    }
    this.#entries.clear();
    this.#oldest = this.#newest = null;
  }

  #append(entry: E): void {
    entry.newer = null;
    entry.older = this.#newest;
    if (this.#newest === null) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
  }

  #unlink(entry: E): void {
    const older = entry.older as E | null;
    const newer = entry.newer as E | null;
    if (older === null) this.#oldest = newer;
    else older.newer = newer;
    if (newer === null) this.#newest = older;
    else newer.older = older;
    entry.older = entry.newer = null;
  }
}

const kInitialRing = 1024;

/**
 * A PendingTable for entries that are plain numbers: a key, its capture time and `words` numbers
 * per entry (e.g. the full identity to tell key collisions apart), in typed arrays only. Same
 * semantics as PendingTable (insertion order, re-insert moves to newest, capped with the oldest
 * dropped first, expiry from the front), but no JS object per entry: for tables whose entries
 * live for seconds of capture time (ended TCP connections, answered DNS queries), where objects
 * would survive young-generation collections and be copied and promoted by V8's GC.
 *
 * Layout: a FIFO ring of (key, seconds, nanos, words...) in insertion order and a NumericIndex from
 * key to the ring sequence number of its live entry. Re-inserting or deleting a key leaves its
 * old ring entry stale (the map no longer points at it); stale entries are skipped at the front.
 */
export class NumericPendingTable {
  readonly #index = new NumericIndex();
  readonly #capacity: number;
  readonly #timeoutNanos: number;
  readonly #words: number;
  #keys = new Float64Array(kInitialRing);
  #seconds = new Float64Array(kInitialRing);
  #nanos = new Int32Array(kInitialRing);
  #data: Float64Array;
  #mask = kInitialRing - 1;
  /** Sequence numbers of the oldest ring entry and of the next one to write. */
  #head = 0;
  #tail = 0;

  constructor(capacity: number, timeoutNanos: number, words = 0) {
    if (!(capacity >= 1)) throw new RangeError(`pending table capacity must be >= 1, got ${capacity}`);
    this.#capacity = capacity;
    this.#timeoutNanos = timeoutNanos;
    this.#words = words;
    this.#data = new Float64Array(kInitialRing * words);
  }

  get size(): number {
    return this.#index.size;
  }

  /** Ring slot of the entry stored under `key` (valid until the next insert), or -1. */
  find(key: number): number {
    const seq = this.#index.get(key);
    return seq < 0 ? -1 : seq & this.#mask;
  }

  /**
   * Stores `key` as the newest entry (replacing an entry with the same key; at the cap the oldest
   * entry is dropped) and returns its ring slot, whose words the caller then sets.
   */
  insert(key: number, seconds: number, nanos: number): number {
    if (this.#tail - this.#head > this.#mask) this.#grow();
    const seq = this.#tail++;
    const slot = seq & this.#mask;
    this.#keys[slot] = key;
    this.#seconds[slot] = seconds;
    this.#nanos[slot] = nanos;
    // A replaced key's old ring entry is stale from here on. Past the cap the oldest goes: never
    // this one (with a capacity >= 1 an older live entry exists), so it is as if evicted first.
    if (this.#index.set(key, seq) && this.#index.size > this.#capacity) this.popOldest();
    return slot;
  }

  /** The words of every entry: entry `slot`'s are at [slot * words, (slot + 1) * words) (until the next insert). */
  get data(): Float64Array {
    return this.#data;
  }

  delete(key: number): boolean {
    return this.#index.delete(key);
  }

  /**
   * Removes the oldest live entry if it is older than the timeout at (seconds, nanos); false
   * otherwise. Front entries whose key was deleted or re-inserted since are stale: skipped. An
   * expired front entry is deleted in the same probe that tells whether it is live.
   */
  popExpired(seconds: number, nanos: number): boolean {
    const index = this.#index;
    for (; this.#head !== this.#tail; this.#head++) {
      const slot = this.#head & this.#mask;
      const key = this.#keys[slot]!;
      const age = (seconds - this.#seconds[slot]!) * 1_000_000_000 + (nanos - this.#nanos[slot]!);
      if (age > this.#timeoutNanos) {
        if (!index.deleteIfValue(key, this.#head)) continue;
        this.#head++;
        return true;
      }
      if (index.get(key) === this.#head) return false;
    }
    return false;
  }

  /** Removes the oldest live entry (stale front entries skipped); false when empty. */
  popOldest(): boolean {
    const index = this.#index;
    for (; this.#head !== this.#tail; this.#head++) {
      if (!index.deleteIfValue(this.#keys[this.#head & this.#mask]!, this.#head)) continue;
      this.#head++;
      return true;
    }
    return false;
  }

  clear(): void {
    this.#index.clear();
    this.#head = this.#tail = 0;
  }

  #grow(): void {
    const oldSize = this.#mask + 1;
    const size = oldSize * 2;
    const words = this.#words;
    const keys = new Float64Array(size);
    const seconds = new Float64Array(size);
    const nanos = new Int32Array(size);
    const data = new Float64Array(size * words);
    const newMask = size - 1;
    // Copied in runs that are contiguous in both rings (at most three).
    for (let seq = this.#head; seq !== this.#tail; ) {
      const from = seq & this.#mask;
      const to = seq & newMask;
      const run = Math.min(this.#tail - seq, oldSize - from, size - to);
      keys.set(this.#keys.subarray(from, from + run), to);
      seconds.set(this.#seconds.subarray(from, from + run), to);
      nanos.set(this.#nanos.subarray(from, from + run), to);
      data.set(this.#data.subarray(from * words, (from + run) * words), to * words);
      seq += run;
    }
    this.#keys = keys;
    this.#seconds = seconds;
    this.#nanos = nanos;
    this.#data = data;
    this.#mask = newMask;
  }
}
