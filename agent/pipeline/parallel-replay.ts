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
import { Worker } from 'node:worker_threads';
import type { CorrelateOptions } from '../correlate/options.ts';
import type { Pair } from '../correlate/pair.ts';
import { LatencySummary } from '../report/latency-summary.ts';
import { ChunkProducer } from './chunk-ring.ts';
import { allocatePipelineMemory, kFlagEndOfInput, kFlagFileEnd, kFlagFileStart } from './layout.ts';
import {
  compileCacheDirForWorkers,
  type FileReport,
  kPairBacklogWeight,
  type WorkerConfig,
  type WorkerMessage,
  type WorkerStats,
} from './messages.ts';

/**
 * Young generation of each worker's heap. Floods make short-lived pairs by the million (every
 * eviction is one); with V8's default young generation (tens of MiB per isolate, sized for
 * throughput) a 1 M-query DNS flood reached 633 MiB RSS with two workers, 419 MiB with this,
 * at the same speed on normal captures (measured with npm run bench -- --hostile).
 */
const kWorkerYoungGenerationMb = 12;

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
  exporterRoom?: (() => Promise<void>) | null;
  /** Called with a merged snapshot every statsIntervalMillis (0 = never). */
  onStats: ((snapshot: PipelineSnapshot) => void) | null;
  statsIntervalMillis: number;
  /** Workers aggregate latency summaries, merged into the result's `latency`. */
  latencySummary?: boolean;
  /** Called with the bytes of every chunk read from the input files (progress). */
  onRead?: ((bytes: number) => void) | null;
  /** Pool geometry (defaults: 16 slots of 1 MiB). */
  slots?: number;
  slotBytes?: number;
}

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

const kDefaultSlots = 16;
const kDefaultSlotBytes = 1 << 20;
const kWaitMillis = 100;

export async function replayParallel(input: ParallelReplayInput): Promise<ParallelReplayResult> {
  const started = process.hrtime.bigint();
  const workerCount = input.workers;
  const memory = allocatePipelineMemory(
    workerCount,
    input.slots ?? kDefaultSlots,
    input.slotBytes ?? kDefaultSlotBytes,
  );
  const producer = new ChunkProducer(memory);
  const latest: WorkerStats[] = [];
  const done: (WorkerStats | null)[] = new Array(workerCount).fill(null);
  const reports: FileReport[] = input.files.map((_, fileId) => ({
    fileId,
    format: null,
    packets: 0,
    bytes: 0,
    error: null,
  }));
  let filesDone = 0;
  const latency = input.latencySummary ? new LatencySummary() : null;
  let failure: string | null = null;

  const fail = (message: string): void => {
    if (failure === null) failure = message;
    producer.abort();
  };

  const workers: Worker[] = [];
  const exited: Promise<void>[] = [];
  for (let index = 0; index < workerCount; index++) {
    const config: WorkerConfig = {
      compileCacheDir: compileCacheDirForWorkers(),
      memory,
      worker: index,
      workers: workerCount,
      files: [...input.files],
      options: input.options,
      output: input.output,
      postPairs: input.onPairs !== null,
      statsIntervalMillis: input.statsIntervalMillis,
      latencySummary: latency !== null,
    };
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
      workerData: config,
      resourceLimits: { maxYoungGenerationSizeMb: kWorkerYoungGenerationMb },
    });
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'output':
          input.writeOutput(message.data);
          producer.outputWritten(index, message.data.length);
          break;
        case 'pairs': {
          input.onPairs?.(message.pairs);
          const weight = message.pairs.length * kPairBacklogWeight;
          const room = input.exporterRoom?.();
          if (room) void room.then(() => producer.outputWritten(index, weight));
          else producer.outputWritten(index, weight);
          break;
        }
        case 'stats':
          latest[index] = message.stats;
          break;
        case 'file': {
          // A read error the main thread saw outranks what the worker made of the short file.
          const mainError = reports[message.report.fileId]?.error ?? null;
          reports[message.report.fileId] = { ...message.report, error: mainError ?? message.report.error };
          filesDone++;
          break;
        }
        case 'done':
          latest[index] = message.stats;
          done[index] = message.stats;
          if (message.latency) latency?.merge(message.latency);
          break;
      }
    });
    worker.on('error', (error) => fail(`worker ${index} failed: ${error.stack ?? error.message}`));
    exited.push(
      new Promise((resolve) => {
        worker.on('exit', (code) => {
          if (done[index] === null) fail(`worker ${index} exited (code ${code}) before finishing`);
          resolve();
        });
      }),
    );
    workers.push(worker);
  }

  let statsTimer: NodeJS.Timeout | null = null;
  if (input.onStats && input.statsIntervalMillis > 0) {
    statsTimer = setInterval(() => {
      input.onStats?.({
        workers: latest.filter(Boolean),
        poolSlots: memory.layout.slots,
        poolUsed: producer.usedSlots(),
        queueDepths: workers.map((_, i) => producer.ringDepth(i)),
        queueCapacity: memory.layout.slots,
        filesDone,
      });
    }, input.statsIntervalMillis);
  }

  /** A free slot, waiting (without blocking the event loop) while the pool is full; -1 once aborted. */
  const acquire = async (): Promise<number> => {
    for (;;) {
      if (producer.aborted) return -1;
      const slot = producer.acquireSlot();
      if (slot >= 0) return slot;
      await producer.waitForRelease(kWaitMillis);
    }
  };

  try {
    for (let fileId = 0; fileId < input.files.length && !producer.aborted; fileId++) {
      await readFile(input.files[fileId]!, fileId, producer, acquire, reports, input.onRead ?? null);
    }
    const last = await acquire();
    if (last >= 0) producer.publish(last, 0, 0, kFlagEndOfInput);
    await Promise.all(exited);
  } finally {
    if (statsTimer) clearInterval(statsTimer);
    if (failure !== null) await Promise.all(workers.map((w) => w.terminate()));
  }
  return {
    files: reports,
    workers: done.map((stats, i) => stats ?? latest[i] ?? emptyStats()),
    elapsedNanos: process.hrtime.bigint() - started,
    latency,
    failure,
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

function emptyStats(): WorkerStats {
  return {
    packets: 0,
    decoded: 0,
    bytes: 0,
    inputSkips: {},
    correlatorSkips: {},
    pairs: {},
    pending: {},
    newestCaptureSeconds: 0,
  };
}
