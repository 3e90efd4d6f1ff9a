/**
 * `run --workers N`: the RangeSink of a DirectoryTail. The tail queues the byte ranges it read
 * during a step (synchronously, as it reads); flush(), awaited between steps, copies them into
 * pool slots (positional reads through the descriptor the tail opened, so a file deleted or
 * renamed away is still read) and publishes them to the workers, waiting while the pool is
 * full: that wait is the backpressure from the workers (and, through them, from the output
 * and the exporter) into reading.
 *
 * A range is split at slot size and at the restart offsets: records below `skipBelow` are
 * flagged kFlagSkipRecords (processed before the restart), those below `quietBelow`
 * kFlagQuietRecords (read again to rebuild the requests pending at the checkpoint). After each flush, `lastPublished` is the
 * sequence number of the newest chunk: the tail's checkpoint() at that moment is safe once
 * every worker has processed that chunk (see worker-pipeline.ts and run-command.ts).
 */
import type { FileByteSource } from '../capture/byte-source.ts';
import { kFlagFileEnd, kFlagFileStart, kFlagQuietRecords, kFlagSkipRecords } from './layout.ts';
import type { RangeSink } from './tail.ts';
import type { WorkerPipeline } from './worker-pipeline.ts';

interface RangeOp {
  fileId: number;
  path: string;
  source: FileByteSource;
  from: number;
  to: number;
  skipBelow: number;
  quietBelow: number;
  first: boolean;
  last: boolean;
}

export class TailPublisher implements RangeSink {
  readonly #pipeline: WorkerPipeline;
  /** Ranges and sources to close, in the order the tail gave them. */
  readonly #queue: (RangeOp | FileByteSource)[] = [];
  /** A file whose bytes could not all be read again (it shrank in between): the rest is not published. */
  #short = -1;

  constructor(pipeline: WorkerPipeline) {
    this.#pipeline = pipeline;
  }

  range(
    fileId: number,
    path: string,
    source: FileByteSource,
    from: number,
    to: number,
    skipBelow: number,
    quietBelow: number,
    first: boolean,
    last: boolean,
  ): void {
    this.#queue.push({ fileId, path, source, from, to, skipBelow, quietBelow, first, last });
  }

  closeSource(source: FileByteSource): void {
    this.#queue.push(source);
  }

  /** Publishes everything queued; false once the pipeline was aborted (a worker failed). */
  async flush(): Promise<boolean> {
    const queue = this.#queue;
    let ok = true;
    while (queue.length > 0) {
      const op = queue.shift()!;
      if (!('fileId' in op)) {
        op.close();
        continue;
      }
      if (ok && !(await this.#publish(op))) ok = false;
    }
    return ok;
  }

  async #publish(op: RangeOp): Promise<boolean> {
    const pipeline = this.#pipeline;
    const slotBytes = pipeline.memory.layout.slotBytes;
    if (op.first) {
      pipeline.announceFile(op.fileId, op.path);
      if (this.#short === op.fileId) this.#short = -1;
    }
    let position = op.from;
    let to = this.#short === op.fileId ? position : op.to;
    do {
      let end = Math.min(to, position + slotBytes);
      const skip = position < op.skipBelow;
      if (skip) end = Math.min(end, op.skipBelow);
      const quiet = !skip && position < op.quietBelow;
      if (quiet) end = Math.min(end, op.quietBelow);
      const slot = await pipeline.acquire();
      if (slot < 0) return false;
      const length =
        end > position
          ? readFully(op.source, pipeline.producer.slotBytes(slot), position, end - position)
          : 0;
      if (length < end - position) {
        // The file shrank since the tail read these bytes: the workers get what is left, and
        // nothing more of this file (its records would no longer line up).
        this.#short = op.fileId;
        to = position + length;
        end = to;
      }
      const flags =
        (op.first && position === op.from ? kFlagFileStart : 0) |
        (op.last && end === to ? kFlagFileEnd : 0) |
        (skip ? kFlagSkipRecords : 0) |
        (quiet ? kFlagQuietRecords : 0);
      pipeline.publish(slot, length, op.fileId, flags);
      position = end;
    } while (position < to);
    return true;
  }
}

/** Reads `length` bytes at `position` (fewer only when the file has no more, or fails). */
function readFully(source: FileByteSource, into: Uint8Array, position: number, length: number): number {
  let done = 0;
  while (done < length) {
    let n = 0;
    try {
      n = source.read(into, done, length - done, position + done);
    } catch {
      return done;
    }
    if (n <= 0) return done;
    done += n;
  }
  return done;
}
