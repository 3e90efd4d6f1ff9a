/**
 * Shared-memory layout of the worker pipeline: every index into the control block lives
 * here, next to the picture, so producer and consumers agree by construction.
 *
 *   reader (main thread)                                   workers 0..M-1
 *   ────────────────────                                   ──────────────
 *   file bytes ──read──▶ slot s of the buffer pool ──┐
 *                                                      │ publish s: refs[s] = M,
 *                                                      ▼ ring[head % cap] = s, head++
 *        ┌──────────────────── chunk ring (broadcast) ────────────────────┐
 *        │ [ s3 ][ s0 ][ s1 ][    ][    ] ...  capacity = slot count       │
 *        │   ▲tail[1]  ▲tail[0]      ▲head                                 │
 *        └─────────────────────────────────────────────────────────────────┘
 *   each worker pops every entry in order (tail[i]++), reads the chunk's records, decodes
 *   those of its own shard (raw flow hash; the others only move its capture clock) and
 *   correlates them, then refs[s]-- ; a slot whose refs reach 0 is free again and the
 *   reader may refill it.
 *
 * The ring never overflows: it holds slot indices and has one entry per slot, and a slot is
 * only republished once every worker released it. Backpressure is therefore the pool: when
 * no slot is free the reader waits (Atomics.waitAsync on kReleases), and nothing is dropped.
 *
 * Control block (Int32Array over one SharedArrayBuffer):
 *   [kHead]              entries published (monotonic, wraps at 2^31 via `| 0`: compare by difference)
 *   [kReleases]          slot releases (monotonic); the reader waits on it for a free slot
 *   [kState]             kRunning / kAborted (set by main when a worker failed: everyone stops)
 *   [kTails + i]         entries worker i consumed
 *   [kOutputBytes + i]   output bytes worker i posted that main has not written yet (output backpressure)
 *   [kSlotRefs + s]      workers still using slot s (0 = free)
 *   [kSlotLength + s]    bytes in slot s
 *   [kSlotFile + s]      file id of the bytes in slot s
 *   [kSlotFlags + s]     kFlag* bits of slot s
 *   [kRing + k]          ring entry k (a slot index), k = position % slots
 */

export const kRunning = 0;
export const kAborted = 1;

/** The chunk starts a new file (the worker opens a new reader for `kSlotFile`). */
export const kFlagFileStart = 1;
/** The chunk is the file's last (the worker finishes the file after it). */
export const kFlagFileEnd = 2;
/** No more input after this entry (its slot holds no bytes). */
export const kFlagEndOfInput = 4;
/**
 * The chunk's records were processed before a restart (`run` resuming at a checkpoint): the
 * worker reads them (the reader needs the file's headers and pcapng interfaces) and drops them.
 */
export const kFlagSkipRecords = 8;
/**
 * The chunk's records are read again to rebuild the requests pending at the checkpoint (`run`
 * resuming, tail.ts): the worker correlates them quietly (RecordLoop.quiet).
 */
export const kFlagQuietRecords = 16;

export const kHead = 0;
export const kReleases = 1;
export const kState = 2;
const kFixed = 3;

export interface PipelineLayout {
  workers: number;
  slots: number;
  slotBytes: number;
  kTails: number;
  kOutputBytes: number;
  kSlotRefs: number;
  kSlotLength: number;
  kSlotFile: number;
  kSlotFlags: number;
  kRing: number;
  /** Int32 words in the control block. */
  controlWords: number;
}

export function pipelineLayout(workers: number, slots: number, slotBytes: number): PipelineLayout {
  const kTails = kFixed;
  const kOutputBytes = kTails + workers;
  const kSlotRefs = kOutputBytes + workers;
  const kSlotLength = kSlotRefs + slots;
  const kSlotFile = kSlotLength + slots;
  const kSlotFlags = kSlotFile + slots;
  const kRing = kSlotFlags + slots;
  return {
    workers,
    slots,
    slotBytes,
    kTails,
    kOutputBytes,
    kSlotRefs,
    kSlotLength,
    kSlotFile,
    kSlotFlags,
    kRing,
    controlWords: kRing + slots,
  };
}

/** The shared buffers of one pipeline, handed to every worker at start. */
export interface PipelineMemory {
  layout: PipelineLayout;
  control: SharedArrayBuffer;
  /** slots × slotBytes of capture bytes. */
  pool: SharedArrayBuffer;
}

export function allocatePipelineMemory(workers: number, slots: number, slotBytes: number): PipelineMemory {
  const layout = pipelineLayout(workers, slots, slotBytes);
  return {
    layout,
    control: new SharedArrayBuffer(layout.controlWords * 4),
    pool: new SharedArrayBuffer(slots * slotBytes),
  };
}
