/**
 * The address slots each cached object contributes, and which contribution a slot shows when
 * several claim it (a pod's address reused while the old pod is still listed, a Service's
 * endpoint that is also a pod's): the highest rank, then the latest. Each watch event replaces
 * one object's contribution, in time proportional to its own slots, never the whole table.
 *
 * takeUpdate() collects the winners that changed since the last call: what the address tables
 * (this thread's and the workers') receive.
 */
import { type AddressEntry, type AddressUpdate, slotKey } from './address-table.ts';

interface Contribution {
  rank: number;
  seq: number;
  entries: Map<string, AddressEntry>;
}

export class AddressIndex {
  readonly #byObject = new Map<string, Contribution>();
  readonly #bySlot = new Map<string, Contribution[]>();
  /** The winner of each slot as last handed out by takeUpdate(). */
  readonly #published = new Map<string, AddressEntry>();
  /** Slots whose winner may have changed since the last takeUpdate(). */
  readonly #pending = new Set<string>();
  readonly #cap: number;
  #seq = 0;
  /** Slots refused because `cap` slots were taken (cumulative). */
  dropped = 0;

  constructor(cap: number) {
    this.#cap = cap;
  }

  /** Slots with a winner. */
  get size(): number {
    return this.#published.size;
  }

  /** Replaces what `object` contributes (null or []: nothing). */
  set(object: string, rank: number, entries: readonly AddressEntry[] | null): void {
    const previous = this.#byObject.get(object);
    if (previous !== undefined) {
      this.#byObject.delete(object);
      for (const key of previous.entries.keys()) {
        const claims = this.#bySlot.get(key)!;
        claims.splice(claims.indexOf(previous), 1);
        if (claims.length === 0) this.#bySlot.delete(key);
        this.#pending.add(key);
      }
    }
    if (entries === null || entries.length === 0) return;
    const contribution: Contribution = { rank, seq: ++this.#seq, entries: new Map() };
    for (const entry of entries) {
      const key = slotKey(entry);
      if (contribution.entries.has(key)) continue;
      let claims = this.#bySlot.get(key);
      if (claims === undefined) {
        if (this.#bySlot.size >= this.#cap) {
          this.dropped++;
          continue;
        }
        claims = [];
        this.#bySlot.set(key, claims);
      }
      claims.push(contribution);
      contribution.entries.set(key, entry);
      this.#pending.add(key);
    }
    if (contribution.entries.size > 0) this.#byObject.set(object, contribution);
  }

  /** The winners that changed since the last call; null when none did. */
  takeUpdate(): AddressUpdate | null {
    const update: AddressUpdate = { set: [], remove: [] };
    for (const key of this.#pending) {
      let best: Contribution | undefined;
      for (const claim of this.#bySlot.get(key) ?? []) {
        if (
          best === undefined ||
          claim.rank > best.rank ||
          (claim.rank === best.rank && claim.seq > best.seq)
        ) {
          best = claim;
        }
      }
      const entry = best?.entries.get(key);
      const previous = this.#published.get(key);
      if (entry === undefined) {
        if (previous !== undefined) {
          this.#published.delete(key);
          update.remove.push({ ipVersion: previous.ipVersion, words: previous.words, port: previous.port });
        }
        continue;
      }
      this.#published.set(key, entry);
      if (previous === undefined || previous.identity.key !== entry.identity.key) update.set.push(entry);
    }
    this.#pending.clear();
    return update.set.length === 0 && update.remove.length === 0 ? null : update;
  }

  /** Every published winner (a new worker's first update). */
  snapshot(): AddressEntry[] {
    return [...this.#published.values()];
  }
}
