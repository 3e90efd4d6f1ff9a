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
 * README's "Memory" section for the measured per-protocol figure.
 */

import { NumericMap } from './numeric-map.ts';

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
    const entries = this.#entries;
    const previous = entries.get(entry.key);
    if (previous !== undefined) {
      this.#unlink(previous);
      entries.delete(entry.key);
    }
    let evicted: E | undefined;
    if (entries.size >= this.#capacity) {
      evicted = this.popOldest();
      this.evictions++;
    }
    entries.set(entry.key, entry);
    this.#append(entry);
    return evicted;
  }

  /** Moves a stored entry to the newest end (call after updating its seconds/nanos). */
  touch(entry: E): void {
    if (this.#newest === entry) return;
    this.#unlink(entry);
    this.#append(entry);
  }

  /** Removes the entry stored under `key`, if any. */
  delete(key: number): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#unlink(entry);
    this.#entries.delete(key);
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
