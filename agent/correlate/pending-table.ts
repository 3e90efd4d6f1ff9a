/**
 * A bounded table of requests waiting for their response, keyed by a 53-bit numeric key
 * (key-hash.ts), expiring by capture time and evicting oldest-first at its cap.
 *
 * It relies on Map's insertion order: entries are inserted in capture order, so the oldest
 * entry is always first and expiry only looks at the front (O(expired) per call). A request
 * whose timestamp is older than an entry inserted before it (out-of-order capture) expires
 * no later than that entry: at most one timeout late, never early.
 *
 * Memory: one Map slot (~40 B) plus the caller's entry object per pending request; see the
 * README's "Memory" section for the measured per-protocol figure.
 */

export interface PendingEntry {
  /** Numeric key under which the entry is stored. */
  key: number;
  /** Capture time the request was seen (its timeout runs from here). */
  seconds: number;
  nanos: number;
}

export class PendingTable<E extends PendingEntry> {
  readonly #entries = new Map<number, E>();
  readonly #capacity: number;
  readonly #timeoutNanos: number;
  /** Requests dropped because the table was full (each also reported by the caller as unanswered). */
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
   * Inserts (or replaces) an entry. When the table is full, removes the oldest entry and
   * returns it so the caller can report it as unanswered (evicted); otherwise undefined.
   */
  insert(entry: E): E | undefined {
    const entries = this.#entries;
    // Re-inserting moves the entry to the back so insertion order stays capture order.
    entries.delete(entry.key);
    let evicted: E | undefined;
    if (entries.size >= this.#capacity) {
      const oldest = entries.values().next().value as E;
      entries.delete(oldest.key);
      this.evictions++;
      evicted = oldest;
    }
    entries.set(entry.key, entry);
    return evicted;
  }

  delete(key: number): boolean {
    return this.#entries.delete(key);
  }

  /** Removes the oldest entry if it is older than the timeout at (seconds, nanos); else undefined. */
  popExpired(seconds: number, nanos: number): E | undefined {
    const first = this.#entries.values().next();
    if (first.done) return undefined;
    const entry = first.value;
    const age = (seconds - entry.seconds) * 1_000_000_000 + (nanos - entry.nanos);
    if (age <= this.#timeoutNanos) return undefined;
    this.#entries.delete(entry.key);
    return entry;
  }

  /** Removes and returns the oldest entry (end of input), or undefined when empty. */
  popOldest(): E | undefined {
    const first = this.#entries.values().next();
    if (first.done) return undefined;
    this.#entries.delete(first.value.key);
    return first.value;
  }

  /** Entries oldest first (for tests and state dumps; not for the hot path). */
  values(): IterableIterator<E> {
    return this.#entries.values();
  }
}
