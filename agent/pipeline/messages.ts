/** Messages between the pipeline's main thread and its workers (structured-cloned). */
import module from 'node:module';
import path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import type { CaptureStatistics } from '../capture/pcapng.ts';
import { CaptureLossCounts, type CaptureLossCountsData } from '../correlate/capture-loss/observer.ts';
import type { CorrelateOptions } from '../correlate/options.ts';
import type { Pair } from '../correlate/pair.ts';
import type { EncodedSpans, SpanEncoderConfig } from '../export/otel/span-request-encoder.ts';
import { addCounts, addPairCounts, captureLossByFile } from '../output/summary.ts';
import type { LatencySummarySnapshot } from '../report/latency-summary.ts';
import type { PipelineMemory } from './layout.ts';
import { isLater } from './record-loop.ts';

/**
 * Pairs posted to main count against the same output backlog as bytes (16 MiB per worker),
 * at this weight each, so a slow exporter holds the workers back instead of queueing: a
 * batch of 2,048 pairs weighs the whole backlog, so at most two batches (4,096 pairs) per
 * worker are in flight, and 16 workers stay within the exporter's 65,536-span queue
 * (measured: at weight 512, two workers overran it by 69,632 spans).
 */
export const kPairBacklogWeight = 8192;

/**
 * The compile cache directory of the main thread (agent/cli/main.mjs made sure it is private),
 * for the workers (worker.mjs); null when the main thread has none. Node's own default for a
 * worker is a shared directory in the system temp directory, which main.mjs refuses.
 */
export function compileCacheDirForWorkers(): string | null {
  const versioned = module.getCompileCacheDir?.();
  // getCompileCacheDir() names Node's versioned subdirectory of the directory that was enabled.
  return versioned ? path.dirname(versioned) : null;
}

/**
 * What a worker is spawned with (its workerData): what it needs to load its modules and build its
 * record loop. The sinks' part (WorkerSinkConfig) follows in one message, so that a command can
 * spawn its workers before it builds its exporter (worker-pipeline.ts).
 */
export interface WorkerConfig {
  /** See compileCacheDirForWorkers(). */
  compileCacheDir: string | null;
  memory: PipelineMemory;
  worker: number;
  workers: number;
  options: CorrelateOptions;
  /** Milliseconds between stats messages (0 = only at the end). */
  statsIntervalMillis: number;
  /** Aggregate the latency summary of this shard's pairs and send it with the final stats. */
  latencySummary: boolean;
  /**
   * `run`: after every chunk, post its output and pairs, then a `processed` message with the
   * chunk's sequence number (the checkpoint watermark, see worker-pipeline.ts).
   */
  reportProcessed: boolean;
  /** Track the oldest and newest capture time of the records counted decoded (`report`'s time range). */
  decodedTimes?: boolean;
}

/** The rest of a worker's configuration: where its pairs go. The first and only message main posts to it. */
export interface WorkerSinkConfig {
  /** The file table as far as it is known (all files for replay; `run`'s grows, see namesPort). */
  files: string[];
  /** How the worker renders pairs: text lines for the output, pair objects for exporters, or nothing. */
  output: 'none' | 'jsonl' | 'text';
  /** Also post the pair objects (for exporters that run on the main thread). */
  postPairs: boolean;
  /**
   * OTLP spans made here (OtelExporter.spanConfig plus request limits): the worker maps, samples
   * and encodes its pairs and posts 'spans' messages (for OtelExporter.offerEncoded()) instead
   * of 'pairs'. Null: pairs as above.
   */
  spanEncoder: SpanEncoderConfig | null;
  /** With spanEncoder and `--kubernetes`: this worker's feed of address identities (enrich/kubernetes). */
  kubernetesPort: MessagePort | null;
  /**
   * Names of files opened later (`run`: the file table grows), as `{ fileId, path }` messages
   * read synchronously when a file's first chunk arrives.
   */
  namesPort: MessagePort | null;
}

/** Counters one RecordLoop reports (cumulative): a worker's, or the one of --workers 0. */
export interface WorkerStats {
  /** Records read and decoded to TCP/UDP, bytes: every worker sees every record; main takes worker 0's. */
  packets: number;
  decoded: number;
  bytes: number;
  /** Reader and decoder skips by reason (every worker sees them all; main takes worker 0's). */
  inputSkips: Record<string, number>;
  /** Correlator skips by reason (per shard: main sums them). */
  correlatorSkips: Record<string, number>;
  pairs: Record<string, { matched: number; unanswered: number; unansweredBy: Record<string, number> }>;
  pending: Record<string, number>;
  /** This shard's TCP capture-loss counts (correlate/capture-loss/observer.ts; main sums them). */
  captureLoss?: CaptureLossCountsData;
  /** The same per file: [fileId, observedBytes, observedSegments, missingBytes, missingSegments] repeated. */
  captureLossByFile?: number[];
  /** Newest capture time read (seconds since the epoch and nanoseconds), -1 before the first record. */
  newestCaptureSeconds: number;
  newestCaptureNanos: number;
  /** With `decodedTimes`: [oldest seconds, nanos, newest seconds, nanos] of decoded records; null before one. */
  decodedRange: number[] | null;
}

/** What a whole pipeline counted: one RecordLoop on this thread, or the N of the workers. */
export interface MergedStats {
  packets: number;
  decoded: number;
  bytes: number;
  /** Input skips and correlator skips, by reason. */
  skips: Record<string, number>;
  pairs: WorkerStats['pairs'];
  pending: Record<string, number>;
  /** Newest capture time read (exact), null before the first record. */
  newestCapture: { seconds: number; nanos: number } | null;
  /** Capture-loss estimate of all shards (each shard sees its own connections). */
  captureLoss: CaptureLossCounts;
  /** The same per file id. */
  captureLossByFile: Map<number, CaptureLossCountsData>;
}

export function emptyMergedStats(): MergedStats {
  return {
    packets: 0,
    decoded: 0,
    bytes: 0,
    skips: {},
    pairs: {},
    pending: {},
    newestCapture: null,
    captureLoss: new CaptureLossCounts(),
    captureLossByFile: new Map(),
  };
}

/**
 * Adds one pipeline's loops to `into` (call once per pipeline, e.g. per watched directory):
 * every loop reads every record, so input counts come from the first loop; correlation counts
 * are per shard and summed.
 */
export function mergeStats(loops: readonly WorkerStats[], into = emptyMergedStats()): MergedStats {
  const reporter = loops[0];
  if (reporter === undefined) return into;
  into.packets += reporter.packets;
  into.decoded += reporter.decoded;
  into.bytes += reporter.bytes;
  addCounts(into.skips, reporter.inputSkips);
  for (const loop of loops) {
    addCounts(into.skips, loop.correlatorSkips);
    addPairCounts(into.pairs, loop.pairs);
    addCounts(into.pending, loop.pending);
    if (loop.captureLoss) into.captureLoss.add(loop.captureLoss);
    captureLossByFile([loop.captureLossByFile], into.captureLossByFile);
    const newest = into.newestCapture;
    if (
      loop.newestCaptureSeconds >= 0 &&
      (newest === null ||
        isLater(loop.newestCaptureSeconds, loop.newestCaptureNanos, newest.seconds, newest.nanos))
    ) {
      into.newestCapture = { seconds: loop.newestCaptureSeconds, nanos: loop.newestCaptureNanos };
    }
  }
  return into;
}

export interface FileReport {
  fileId: number;
  format: string | null;
  packets: number;
  bytes: number;
  error: string | null;
  /** pcapng files: the capture's own counts (Interface Statistics Blocks). */
  captureStatistics?: CaptureStatistics | null;
}

export type WorkerMessage =
  | { type: 'output'; data: Uint8Array }
  | { type: 'pairs'; pairs: Pair[] }
  /** Encoded OTLP requests and counts (request bytes transferred); weighs `batch.pairs` x kPairBacklogWeight. */
  | { type: 'spans'; batch: EncodedSpans }
  | { type: 'stats'; stats: WorkerStats }
  /** Every pair of chunks up to `seq` (ring sequence, from 0) was posted before this message. */
  | { type: 'processed'; seq: number }
  | { type: 'file'; report: FileReport }
  | { type: 'done'; stats: WorkerStats; latency: LatencySummarySnapshot | null };
