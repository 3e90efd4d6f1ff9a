/**
 * `replay --workers N` (N ≥ 1): the main thread reads the capture files into the shared
 * buffer pool and publishes the chunks; N workers (worker.ts) decode everything and
 * correlate one shard each; pairs come back as output text (or pair objects) that the main
 * thread writes. Nothing is dropped: a full pool makes the reader wait, and a worker whose
 * output is not written yet waits too.
 *
 * Output order: lines are written as workers post them, so pairs from different shards
 * interleave; the set of lines is the same as with --workers 0 (sort on `start` if order
 * matters).
 */
import fs from 'node:fs';
import type { CorrelateOptions } from '../correlate/options.ts';
import type { Pair } from '../correlate/pair.ts';
import type { LatencySummary } from '../report/latency-summary.ts';
import type { ChunkProducer } from './chunk-ring.ts';
import { kFlagFileEnd, kFlagFileStart } from './layout.ts';
import type { FileReport, WorkerStats } from './messages.ts';
import { WorkerPipeline, type WorkerPipelineSinks } from './worker-pipeline.ts';

export interface ParallelReplayInput {
  files: readonly string[];
  workers: number;
  options: CorrelateOptions;
  output: 'none' | 'jsonl' | 'text';
  /** Receives output bytes (whole lines). */
  writeOutput: (bytes: Uint8Array) => void;
  /** Receives pair objects (structured clones: fields only, no methods) when set. */
  onPairs: ((pairs: Pair[]) => void) | null;
  /** Resolves when onPairs' consumer has room again (its backpressure); null = always room. */
  exporterRoom?: WorkerPipelineSinks['exporterRoom'];
  /** Spans encoded in the workers (see WorkerPipelineSinks.spanEncoder). */
  spanEncoder?: WorkerPipelineSinks['spanEncoder'];
  onSpans?: WorkerPipelineSinks['onSpans'];
  kubernetesPort?: WorkerPipelineSinks['kubernetesPort'];
  /** Called with a merged snapshot every statsIntervalMillis (0 = never). */
  onStats: ((snapshot: PipelineSnapshot) => void) | null;
  statsIntervalMillis: number;
  /** Workers aggregate latency summaries, merged into the result's `latency`. */
  latencySummary?: boolean;
  /** Workers track the time range of decoded records (`report`). */
  decodedTimes?: boolean;
  /** Called with the bytes of every chunk read from the input files (progress). */
  onRead?: ((bytes: number) => void) | null;
  /** Pool geometry (defaults: kReplaySlots of kReplaySlotBytes). */
  slots?: number;
  slotBytes?: number;
}

/**
 * Replay reads finished files, so every chunk fills its slot: 4 slots of 4 MiB (the same
 * 16 MiB pool as `run`'s 16 of 1 MiB, whose chunks are a tail step's records) make a quarter
 * of the chunks, and each chunk costs every thread a wake-up (the reader waits for a release,
 * a worker for the next chunk). bench-3m, 2 workers, alternated runs: the main thread's CPU
 * 671 -> 579 ms and the workers' 7.02 -> 6.65 s (medians); a smaller pool (4 of 1 MiB, 6 of
 * 512 KiB), for the workers to find the bytes still in a cache, did no better than 16 of 1 MiB.
 */
const kReplaySlots = 4;
const kReplaySlotBytes = 4 << 20;

export interface PipelineSnapshot {
  workers: WorkerStats[];
  poolSlots: number;
  poolUsed: number;
  /** Chunks published and not yet taken, per worker ring cursor. */
  queueDepths: number[];
  queueCapacity: number;
  filesDone: number;
}

export interface ParallelReplayResult {
  files: FileReport[];
  workers: WorkerStats[];
  elapsedNanos: bigint;
  /** The workers' merged latency summary (null unless `latencySummary`). */
  latency: LatencySummary | null;
  /** Set when a worker failed: the run was aborted. */
  failure: string | null;
}

export async function replayParallel(input: ParallelReplayInput): Promise<ParallelReplayResult> {
  const started = process.hrtime.bigint();
  const reports: FileReport[] = input.files.map((_, fileId) => ({
    fileId,
    format: null,
    packets: 0,
    bytes: 0,
    error: null,
  }));
  let filesDone = 0;
  const pipeline = new WorkerPipeline({
    workers: input.workers,
    options: input.options,
    statsIntervalMillis: input.statsIntervalMillis,
    latencySummary: input.latencySummary === true,
    decodedTimes: input.decodedTimes === true,
    onFile: (report) => {
      // A read error the main thread saw outranks what the worker made of the short file.
      const mainError = reports[report.fileId]?.error ?? null;
      reports[report.fileId] = { ...report, error: mainError ?? report.error };
      filesDone++;
    },
    slots: input.slots ?? kReplaySlots,
    slotBytes: input.slotBytes ?? kReplaySlotBytes,
  });
  pipeline.configure({
    files: input.files,
    output: input.output,
    writeOutput: input.writeOutput,
    onPairs: input.onPairs,
    exporterRoom: input.exporterRoom ?? null,
    spanEncoder: input.spanEncoder ?? null,
    onSpans: input.onSpans ?? null,
    kubernetesPort: input.kubernetesPort ?? null,
  });
  const { producer, memory } = pipeline;

  let statsTimer: NodeJS.Timeout | null = null;
  if (input.onStats && input.statsIntervalMillis > 0) {
    statsTimer = setInterval(() => {
      input.onStats?.({
        workers: pipeline.latest.filter(Boolean),
        poolSlots: memory.layout.slots,
        poolUsed: producer.usedSlots(),
        queueDepths: pipeline.queueDepths(),
        queueCapacity: memory.layout.slots,
        filesDone,
      });
    }, input.statsIntervalMillis);
  }
  const acquire = (): Promise<number> => pipeline.acquire();

  try {
    for (let fileId = 0; fileId < input.files.length && !producer.aborted; fileId++) {
      await readFile(input.files[fileId]!, fileId, producer, acquire, reports, input.onRead ?? null);
    }
    await pipeline.end();
  } finally {
    if (statsTimer) clearInterval(statsTimer);
    if (pipeline.failure !== null) await pipeline.terminate();
  }
  return {
    files: reports,
    workers: pipeline.stats(),
    elapsedNanos: process.hrtime.bigint() - started,
    latency: pipeline.latency,
    failure: pipeline.failure,
  };
}

/** Publishes one file's bytes chunk by chunk; the first chunk opens the file in the workers, the last closes it. */
async function readFile(
  path: string,
  fileId: number,
  producer: ChunkProducer,
  acquire: () => Promise<number>,
  reports: FileReport[],
  onRead: ((bytes: number) => void) | null,
): Promise<void> {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO does not wait for a writer; it is then refused as not regular.
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    reports[fileId]!.error =
      `cannot open capture ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}${code ? ` (${code})` : ''}`;
    return;
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    reports[fileId]!.error = `cannot open capture ${path}: not a regular file`;
    return;
  }
  try {
    let position = 0;
    let flags = kFlagFileStart;
    for (;;) {
      const slot = await acquire();
      if (slot < 0) return;
      const bytes = producer.slotBytes(slot);
      let length = 0;
      try {
        length = fs.readSync(fd, bytes, 0, bytes.length, position);
      } catch (error) {
        reports[fileId]!.error = `read failed at byte ${position}: ${(error as Error).message}`;
      }
      position += length;
      // A short read is not proof of EOF (a growing file), but replay reads finished files: 0 bytes is the end.
      const last = length === 0;
      producer.publish(slot, length, fileId, flags | (last ? kFlagFileEnd : 0));
      if (length > 0) onRead?.(length);
      flags = 0;
      if (last) return;
      // Let worker messages (output to write) in between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    fs.closeSync(fd);
  }
}
