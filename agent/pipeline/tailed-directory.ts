/**
 * The pipeline's tailed-directory source (`run`, pipeline.ts has the picture): one rotation
 * directory tailed with checkpoints, its records correlated on this thread (one RecordLoop) or
 * in the worker pipeline, its pairs into the command's sinks.
 */
import type { CorrelateOptions } from '../correlate/options.ts';
import type { DirectoryCheckpoint } from './checkpoint.ts';
import type { WorkerStats } from './messages.ts';
import { emitterFor, type PairSinks, workerSinks } from './pipeline.ts';
import { RecordLoop } from './record-loop.ts';
import { DirectoryTail, type Log, type TailCounters, type TailOptions } from './tail.ts';
import { TailPublisher } from './tail-publisher.ts';
import { WorkerPipeline } from './worker-pipeline.ts';

export interface TailedDirectoryInput {
  dir: string;
  /** The directory's workers (spawnTailWorkers(): spawned before the sinks existed), or null: this thread. */
  workers: WorkerPipeline | null;
  correlate: CorrelateOptions;
  sinks: PairSinks;
  /** The tail's options but the pending window, which follows from the timeouts in `correlate`. */
  tailOptions: Omit<TailOptions, 'pendingWindowSeconds'>;
  /** The run's file table (grows as files are found; file ids index it). */
  fileNames: string[];
  counters: TailCounters;
  log: Log;
  resumeAt: DirectoryCheckpoint | null;
}

/**
 * The worker pipeline of one tailed directory (null for `workers` 0: records are correlated on
 * this thread), spawned before the sinks exist: the workers load while `run` builds its
 * exporter, and the TailedDirectory configures them. `onFailure`: a worker failed (the pipeline
 * is aborted), whenever it happens.
 */
export function spawnTailWorkers(
  workers: number,
  correlate: CorrelateOptions,
  onFailure: (message: string) => void,
): WorkerPipeline | null {
  if (workers === 0) return null;
  return new WorkerPipeline({
    workers,
    options: correlate,
    statsIntervalMillis: 1000,
    reportProcessed: true,
    onFailure,
  });
}

/**
 * With workers, a checkpoint state that is safe once every worker has processed chunk `seq`
 * (the tail's checkpoint() right after publishing up to that chunk).
 */
interface Candidate {
  seq: number;
  state: DirectoryCheckpoint;
}

/** One watched directory: its tail, and either a record loop on this thread or a worker pipeline. */
export class TailedDirectory {
  readonly tail: DirectoryTail;
  readonly #loop: RecordLoop | null;
  readonly #pipeline: WorkerPipeline | null;
  readonly #publisher: TailPublisher | null;
  /** Oldest first; the first is always safe (seq <= processedThrough()). */
  readonly #candidates: Candidate[] = [];

  constructor(input: TailedDirectoryInput) {
    const { dir, fileNames, counters, log, resumeAt } = input;
    const tailOptions = { ...input.tailOptions, pendingWindowSeconds: pendingWindowSeconds(input.correlate) };
    if (input.workers === null) {
      this.#loop = RecordLoop.correlating(input.correlate, emitterFor(input.sinks, null));
      this.#pipeline = null;
      this.#publisher = null;
      this.tail = new DirectoryTail(dir, this.#loop, tailOptions, fileNames, counters, log, resumeAt);
      return;
    }
    this.#loop = null;
    this.#pipeline = input.workers;
    this.#pipeline.configure({ files: fileNames, ...workerSinks(input.sinks) });
    this.#publisher = new TailPublisher(this.#pipeline);
    this.tail = new DirectoryTail(dir, this.#publisher, tailOptions, fileNames, counters, log, resumeAt);
    this.#candidates.push({ seq: -1, state: this.tail.checkpoint() });
  }

  /** Cumulative stats: the loop's, or each worker's. */
  stats(): WorkerStats[] {
    return this.#loop ? [this.#loop.stats()] : this.#pipeline!.stats();
  }

  /** Between tail steps: with workers, publishes what was read and notes where a checkpoint may be once processed. */
  async publish(): Promise<void> {
    const pipeline = this.#pipeline;
    if (pipeline === null) return;
    await this.#publisher!.flush();
    const candidate = { seq: pipeline.lastPublished, state: this.tail.checkpoint() };
    const candidates = this.#candidates;
    if (candidates.length > 1 && candidates.at(-1)!.seq === candidate.seq)
      candidates[candidates.length - 1] = candidate;
    else candidates.push(candidate);
    this.#prune();
  }

  /** Where a checkpoint of this directory may be now: every record before it was processed and its pairs handed on. */
  safeCheckpoint(): DirectoryCheckpoint {
    if (this.#pipeline === null) return this.tail.checkpoint();
    this.#prune();
    return this.#candidates[0]!.state;
  }

  /**
   * The end (the tail stopped): requests still pending are reported unanswered (end_of_input).
   * With workers, what the tail read last is published, then the end of input; every worker
   * finishes its shard and posts its last pairs before it exits.
   */
  async finish(): Promise<void> {
    // Stopped while rebuilding: the requests pending then are rebuilt again after the restart,
    // so none is reported now (the checkpoint stays the one resumed from).
    const quiet = this.tail.rebuilding;
    if (this.#loop !== null) {
      this.#loop.quiet = quiet;
      this.#loop.finish();
    }
    if (this.#pipeline === null) return;
    await this.publish();
    await this.#pipeline.end(quiet);
  }

  /** Drops candidates older than the newest safe one. */
  #prune(): void {
    const through = this.#pipeline!.processedThrough();
    const candidates = this.#candidates;
    while (candidates.length > 1 && candidates[1]!.seq <= through) candidates.shift();
  }
}

/**
 * Seconds of capture time within which a request still pending was read (TailOptions): a
 * request is given up once its --timeout has passed, checked once per second of capture time.
 */
export function pendingWindowSeconds(correlate: CorrelateOptions): number {
  const longest = Math.max(0, ...Object.values(correlate.timeoutNanos));
  return Math.ceil(longest / 1e9) + 2;
}
