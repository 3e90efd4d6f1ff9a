/**
 * Objects kept for reuse once they ended (a free list, at most kFreeListLimit): per-request and
 * per-connection state that never reaches a sink (pending entries, TCP connections, stream parser
 * state). What does reach a sink (a Pair) is always new: a sink may hold it. A reused object
 * costs no allocation, and it already lives in the old generation, so the young-generation
 * collector neither copies nor promotes it.
 */

/** Enough for the objects that end between two new ones; a burst's worth is not kept after it. */
const kFreeListLimit = 1024;

export class FreeList<T extends object> {
  readonly #items: T[] = [];

  /** A free object as it ended (the caller readies it), or undefined. */
  take(): T | undefined {
    return this.#items.pop();
  }

  /** An object that ended: nothing reads or writes it again until take() hands it out. */
  give(item: T): void {
    if (this.#items.length < kFreeListLimit) this.#items.push(item);
  }
}
