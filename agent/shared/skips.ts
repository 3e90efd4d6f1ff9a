/**
 * Counted skips: every record or layer that a stage could not handle is counted under a
 * stable reason name ("layer.reason"), never thrown and never silently dropped.
 *
 * Reasons are registered once (at module load) and get a dense numeric id, so the hot path
 * increments a typed-array slot instead of touching a string-keyed map.
 */
import { grown } from './typed-arrays.ts';

const reasonNames: string[] = [];
const reasonIds = new Map<string, number>();

/** Registers (or looks up) a skip reason and returns its numeric id. Call at module load, not per packet. */
export function skipReason(name: string): number {
  const known = reasonIds.get(name);
  if (known !== undefined) return known;
  const id = reasonNames.length;
  reasonNames.push(name);
  reasonIds.set(name, id);
  return id;
}

export function skipReasonName(id: number): string {
  return reasonNames[id] ?? `unknown.${id}`;
}

/** Per-stage skip counters indexed by reason id. */
export class SkipCounters {
  #counts = new Float64Array(64);

  add(reason: number, n = 1): void {
    if (reason >= this.#counts.length) {
      this.#counts = grown(this.#counts, Math.max(reason + 1, this.#counts.length * 2));
    }
    this.#counts[reason] = (this.#counts[reason] ?? 0) + n;
  }

  get(reason: number): number {
    return this.#counts[reason] ?? 0;
  }

  /** Adds every count of `other` into this one. */
  merge(other: SkipCounters): void {
    const counts = other.#counts;
    for (let i = 0; i < counts.length; i++) if (counts[i]) this.add(i, counts[i]);
  }

  total(): number {
    let sum = 0;
    for (const n of this.#counts) sum += n;
    return sum;
  }

  /** Non-zero counts by reason name, sorted by name (for summaries and JSON). */
  toObject(): Record<string, number> {
    const out: Record<string, number> = {};
    const entries: [string, number][] = [];
    for (let i = 0; i < this.#counts.length; i++) {
      const n = this.#counts[i];
      if (n) entries.push([skipReasonName(i), n]);
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [name, n] of entries) out[name] = n;
    return out;
  }
}
