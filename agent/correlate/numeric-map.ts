/**
 * A hash map from 53-bit non-negative integer keys (key-hash.ts) to objects: open addressing
 * with linear probing over a Float64Array of keys, and backward-shift deletion (no
 * tombstones, so lookups never slow down as entries come and go).
 *
 * Why not a Map: keys above 2^31 are not small integers in V8, so every Map lookup boxes the
 * key as a heap number, and a busy capture does several lookups per packet: measured, the
 * boxing and V8's OrderedHashMap holes cost a quarter of the correlator's time in GC.
 * Here a key lives unboxed in the typed array and a lookup allocates nothing.
 *
 * Keys are mixed (with a per-process random seed) before they pick a slot: not every key is a
 * hash (HTTP numbers its requests 1, 2, 3, ...), and with linear probing consecutive keys form
 * one long run that every backward-shift deletion would walk (a pipelining flood turned each
 * eviction into a scan of the whole table). The seed keeps crafted keys from colliding on purpose.
 */

const kEmpty = -1;
const kInitialCapacity = 1024;
const kSeed = (Math.random() * 0x1_0000_0000) >>> 0;

/** A key's hash: both 32-bit halves mixed (murmur3 finaliser), as int32. */
function hashOf(key: number): number {
  let h = (key >>> 0) ^ Math.imul(((key / 0x1_0000_0000) >>> 0) ^ kSeed, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The home slot of a key. */
function home(key: number, mask: number): number {
  return hashOf(key) & mask;
}

/** NumericIndex's tag of a hash: 1..128 from its top 7 bits, which no mask below 2^25 slots uses (0: empty). */
function tagOf(hash: number): number {
  return (hash >>> 25) + 1;
}

/** Whether `slot` lies in (hole, next], cyclically: then the entry at `next` must not move into the hole. */
function homeBetween(slot: number, hole: number, next: number): boolean {
  return hole <= next ? slot > hole && slot <= next : slot > hole || slot <= next;
}

export class NumericMap<V> {
  #keys: Float64Array;
  #values: (V | undefined)[];
  #mask: number;
  #size = 0;

  constructor(initialCapacity = kInitialCapacity) {
    let capacity = kInitialCapacity;
    while (capacity < initialCapacity) capacity *= 2;
    this.#keys = new Float64Array(capacity).fill(kEmpty);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  get(key: number): V | undefined {
    const keys = this.#keys;
    const mask = this.#mask;
    for (let slot = home(key, mask); ; slot = (slot + 1) & mask) {
      const stored = keys[slot]!;
      if (stored === key) return this.#values[slot];
      if (stored === kEmpty) return undefined;
    }
  }

  /** Stores `value` under `key`; returns the value it replaced, or undefined when the key is new. */
  set(key: number, value: V): V | undefined {
    // Load factor at most 1/2: probes stay short.
    if ((this.#size + 1) * 2 > this.#keys.length) this.#grow();
    const keys = this.#keys;
    const mask = this.#mask;
    for (let slot = home(key, mask); ; slot = (slot + 1) & mask) {
      const stored = keys[slot]!;
      if (stored === key) {
        const previous = this.#values[slot];
        this.#values[slot] = value;
        return previous;
      }
      if (stored === kEmpty) {
        keys[slot] = key;
        this.#values[slot] = value;
        this.#size++;
        return undefined;
      }
    }
  }

  delete(key: number): boolean {
    const slot = this.#find(key);
    if (slot < 0) return false;
    this.#deleteAt(slot);
    return true;
  }

  /** Deletes `key` and returns its value (undefined when absent): one probe where get() then delete() take two. */
  take(key: number): V | undefined {
    const slot = this.#find(key);
    if (slot < 0) return undefined;
    const value = this.#values[slot];
    this.#deleteAt(slot);
    return value;
  }

  /** The slot holding `key`, or -1. */
  #find(key: number): number {
    const keys = this.#keys;
    const mask = this.#mask;
    for (let slot = home(key, mask); ; slot = (slot + 1) & mask) {
      const stored = keys[slot]!;
      if (stored === key) return slot;
      if (stored === kEmpty) return -1;
    }
  }

  #deleteAt(slot: number): void {
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    // Backward shift: move later members of the probe run into the hole so no lookup stops early.
    let hole = slot;
    for (let next = (hole + 1) & mask; ; next = (next + 1) & mask) {
      const stored = keys[next]!;
      if (stored === kEmpty) break;
      if (!homeBetween(home(stored, mask), hole, next)) {
        keys[hole] = stored;
        values[hole] = values[next];
        hole = next;
      }
    }
    keys[hole] = kEmpty;
    values[hole] = undefined;
    this.#size--;
  }

  clear(): void {
    this.#keys.fill(kEmpty);
    this.#values.fill(undefined);
    this.#size = 0;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const capacity = oldKeys.length * 2;
    this.#keys = new Float64Array(capacity).fill(kEmpty);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    // Every key is distinct: each goes to the first empty slot of its probe run.
    for (let i = 0; i < oldKeys.length; i++) {
      const key = oldKeys[i]!;
      if (key === kEmpty) continue;
      let slot = home(key, mask);
      while (keys[slot] !== kEmpty) slot = (slot + 1) & mask;
      keys[slot] = key;
      values[slot] = oldValues[i];
    }
  }
}

/**
 * A NumericMap whose values are non-negative numbers (slot numbers, ring positions), each key and
 * its value side by side in one Float64Array: a hit touches one cache line, not one in the keys
 * and one in the values. Its tables are large (every connection of the capture-loss observer, the
 * ended connections and answered DNS queries of the last seconds) and looked up per packet, where
 * those cache misses were most of a lookup's time. Same probing and deletion as NumericMap.
 *
 * Each slot also has a one-byte tag (0 empty, else 7 bits of its key's hash) in a Uint8Array a
 * sixteenth of the entries' size, which stays in cache where they do not: a probe reads an
 * entry only when its tag matches, so a key that is absent (most lookups of the ended
 * connections on a SYN, most deletes of an answered DNS query on a new query) costs no cache
 * miss in the entries.
 */
export class NumericIndex {
  /** [key, value] per slot; key kEmpty marks a free slot. */
  #entries: Float64Array;
  /** Per slot: 0 free, else tagOf() of its key's hash. */
  #tags: Uint8Array;
  #mask: number;
  #size = 0;

  constructor(initialCapacity = kInitialCapacity) {
    let capacity = kInitialCapacity;
    while (capacity < initialCapacity) capacity *= 2;
    this.#entries = new Float64Array(capacity * 2).fill(kEmpty);
    this.#tags = new Uint8Array(capacity);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The value stored under `key`, or -1 when there is none. */
  get(key: number): number {
    const entries = this.#entries;
    const tags = this.#tags;
    const mask = this.#mask;
    const hash = hashOf(key);
    const tag = tagOf(hash);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = tags[slot]!;
      if (stored === 0) return -1;
      if (stored === tag && entries[slot * 2] === key) return entries[slot * 2 + 1]!;
    }
  }

  /** Stores `value` (>= 0) under `key`, replacing any previous value; true when the key is new. */
  set(key: number, value: number): boolean {
    if ((this.#size + 1) * 4 > this.#entries.length) this.#grow();
    const entries = this.#entries;
    const tags = this.#tags;
    const mask = this.#mask;
    const hash = hashOf(key);
    const tag = tagOf(hash);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = tags[slot]!;
      if (stored === tag && entries[slot * 2] === key) {
        entries[slot * 2 + 1] = value;
        return false;
      }
      if (stored === 0) {
        tags[slot] = tag;
        entries[slot * 2] = key;
        entries[slot * 2 + 1] = value;
        this.#size++;
        return true;
      }
    }
  }

  delete(key: number): boolean {
    const slot = this.#find(key);
    if (slot < 0) return false;
    this.#deleteAt(slot);
    return true;
  }

  /** Deletes `key` only when its value is `value` (one probe where get() then delete() take two). */
  deleteIfValue(key: number, value: number): boolean {
    const slot = this.#find(key);
    if (slot < 0 || this.#entries[slot * 2 + 1] !== value) return false;
    this.#deleteAt(slot);
    return true;
  }

  /** The slot holding `key`, or -1. */
  #find(key: number): number {
    const entries = this.#entries;
    const tags = this.#tags;
    const mask = this.#mask;
    const hash = hashOf(key);
    const tag = tagOf(hash);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = tags[slot]!;
      if (stored === 0) return -1;
      if (stored === tag && entries[slot * 2] === key) return slot;
    }
  }

  #deleteAt(slot: number): void {
    const entries = this.#entries;
    const tags = this.#tags;
    const mask = this.#mask;
    let hole = slot;
    for (let next = (hole + 1) & mask; tags[next] !== 0; next = (next + 1) & mask) {
      const stored = entries[next * 2]!;
      if (!homeBetween(home(stored, mask), hole, next)) {
        entries[hole * 2] = stored;
        entries[hole * 2 + 1] = entries[next * 2 + 1]!;
        tags[hole] = tags[next]!;
        hole = next;
      }
    }
    entries[hole * 2] = kEmpty;
    tags[hole] = 0;
    this.#size--;
  }

  clear(): void {
    this.#entries.fill(kEmpty);
    this.#tags.fill(0);
    this.#size = 0;
  }

  #grow(): void {
    const old = this.#entries;
    const capacity = old.length;
    const entries = new Float64Array(capacity * 2).fill(kEmpty);
    const tags = new Uint8Array(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < old.length; i += 2) {
      const key = old[i]!;
      if (key === kEmpty) continue;
      const hash = hashOf(key);
      let slot = hash & mask;
      while (tags[slot] !== 0) slot = (slot + 1) & mask;
      tags[slot] = tagOf(hash);
      entries[slot * 2] = key;
      entries[slot * 2 + 1] = old[i + 1]!;
    }
    this.#entries = entries;
    this.#tags = tags;
    this.#mask = mask;
  }
}
