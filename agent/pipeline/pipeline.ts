/**
 * The one pipeline: source -> reader -> decoder -> correlator -> sinks. `replay`, `report` and
 * `run` only configure it: a source (finished capture files, or a rotation directory tailed with
 * checkpoints), the sinks the pairs go to (PairSinks), and a worker count. This module decides
 * where the loop runs: on this thread (`--workers 0`: one RecordLoop) or in the worker pipeline
 * (worker-pipeline.ts: the same RecordLoop in each worker), and wires the sinks for either, so a
 * command never builds its own loop.
 *
 *   finished files ──┐                          ┌── lines (JSONL/text)
 *                    ├─ reader ─ decoder ─ corr. ┼── spans + metrics (OTLP, Prometheus)
 *   tailed dir ──────┘   (this thread or         ├── pair objects (HTML report)
 *   (checkpoints)         N workers)             └── latency summary, stats, progress
 *
 * Finished files: replayCaptures() here; a tailed directory: TailedDirectory
 * (tailed-directory.ts, its own module so that `replay` does not load the tail).
 */
import fs from 'node:fs';
import type { CaptureRecord } from '../capture/record.ts';
import type { CorrelateOptions } from '../correlate/options.ts';
import type { Pair, PairSink } from '../correlate/pair.ts';
import type { ProtocolRegistry } from '../correlate/protocol.ts';
import type { DecodedPacket } from '../decode/packet.ts';
import type { OtelExporter } from '../export/otel/index.ts';
import { emptyPipelineStats, type PipelineStatsSnapshot } from '../export/pipeline-stats.ts';
import type { PairOutput } from '../output/pair-output.ts';
import { LatencySummary } from '../report/latency-summary.ts';
import { mergeStats, type WorkerStats } from './messages.ts';
import { type PipelineSnapshot, replayParallel } from './parallel-replay.ts';
import { RecordLoop } from './record-loop.ts';
import { type FileResult, ThisThreadReplay } from './replay.ts';
import type { WorkerPipelineSinks } from './worker-pipeline.ts';

/** Where the pairs go: what a command configures. */
export interface PairSinks {
  /** Lines (JSONL or text), or null. */
  output: { writer: PairOutput; format: 'jsonl' | 'text' } | null;
  /** Spans and latency metrics (made in the workers when there are workers), or null. */
  exporter: OtelExporter | null;
  /** Pair objects on this thread (the HTML report's collector), or null. */
  collector: PairSink | null;
  /** The exporter's backpressure as the command wants it (`run`: never past a stop signal); null = always room. */
  room: (() => Promise<void> | null) | null;
}

/** Pairs made on this thread go to every sink (and to `latency`). */
export function emitterFor(sinks: PairSinks, latency: LatencySummary | null): PairSink {
  const { output, exporter, collector } = sinks;
  return {
    emit(pair: Pair): void {
      latency?.add(pair);
      exporter?.emit(pair);
      output?.writer.write(pair);
      collector?.emit(pair);
    },
  };
}

/** The worker pipeline's view of the sinks: lines rendered, spans encoded, pairs posted in the workers. */
export function workerSinks(sinks: PairSinks): Omit<WorkerPipelineSinks, 'files'> {
  const { output, exporter, collector } = sinks;
  // Pair objects come back for a collector, and for an exporter that does not take encoded
  // spans (Prometheus only, or the console exporter: spanConfig null).
  const pairExporter = exporter !== null && exporter.spanConfig === null ? exporter : null;
  return {
    output: output?.format ?? 'none',
    writeOutput: (bytes) => output?.writer.writeBytes(bytes),
    onPairs:
      collector !== null || pairExporter !== null
        ? (pairs) => {
            for (const pair of pairs) {
              pairExporter?.emit(pair);
              collector?.emit(pair);
            }
          }
        : null,
    exporterRoom: sinks.room,
    spanEncoder: exporter?.spanConfig ?? null,
    onSpans: exporter ? (batch) => exporter.offerEncoded(batch) : null,
    kubernetesPort: exporter?.kubernetesPort ?? null,
  };
}

function pairTotal(pairs: WorkerStats['pairs']): number {
  let total = 0;
  for (const counts of Object.values(pairs)) total += counts.matched + counts.unanswered;
  return total;
}

/** The exporter's view of the pipeline (its metrics): the loops' merged counts, the pool and queues. */
export function pipelineStats(
  loops: readonly WorkerStats[],
  files: PipelineStatsSnapshot['files'],
  pool: PipelineSnapshot | null = null,
): PipelineStatsSnapshot {
  const merged = mergeStats(loops);
  return {
    ...emptyPipelineStats(),
    packetsDecoded: merged.decoded,
    packetsSkipped: merged.skips,
    bytesRead: merged.bytes,
    files,
    pending: merged.pending,
    pairs: merged.pairs,
    captureLoss: merged.captureLoss.toData(),
    bufferPool: pool && { free: pool.poolSlots - pool.poolUsed, used: pool.poolUsed },
    queues:
      pool?.queueDepths.map((depth, i) => ({ name: `chunks.${i}`, depth, capacity: pool.queueCapacity })) ??
      [],
    newestCapture: merged.newestCapture,
  };
}

// ── Finished files (replay, report) ─────────────────────────────────────────────────────────

export interface ProgressUpdate {
  /** File bytes read so far (an estimate on this thread for pcapng: 16-byte record headers). */
  bytesRead: number;
  packets: number;
  pairs: number;
}

export interface ReplayCapturesInput {
  files: readonly string[];
  /** 0: this thread. */
  workers: number;
  correlate: CorrelateOptions;
  sinks: PairSinks;
  /** Keep an end-of-run latency summary (the result's `latency`). */
  latencySummary: boolean;
  /** Track the time range of the records counted decoded (`report`). */
  decodedTimes?: boolean;
  /** The protocols, on this thread only (default: registry.ts, which the workers load). */
  registry?: ProtocolRegistry;
  /**
   * `replay --packets`: called for every record with what it decoded to; false stops the
   * replay. The listing is made on this thread only (the workers see shards, not records in order).
   */
  onRecord?: ((fileId: number, record: CaptureRecord, packet: DecodedPacket) => boolean) | null;
  onProgress?: ((update: ProgressUpdate) => void) | null;
  /** The workers' merged snapshot every statsIntervalMillis (`--stats-interval`; workers only). */
  onStats?: ((snapshot: PipelineSnapshot) => void) | null;
  statsIntervalMillis?: number;
}

/** A file as the run saw it. */
export interface FileRun extends FileResult {
  fileId: number;
}

export interface ReplayCapturesResult {
  /** One loop's stats on this thread, each worker's with workers (mergeStats sums them). */
  loops: WorkerStats[];
  files: FileRun[];
  elapsedNanos: bigint;
  latency: LatencySummary | null;
  /** Set when a worker failed: the run was aborted. */
  failure: string | null;
}

/** Records per step on this thread between waits for the exporter and progress updates. */
const kRecordsPerStep = 8192;
/** Progress updates from the workers' stats. */
const kProgressMillis = 250;

/** Replays finished capture files, in order, through the pipeline into `sinks`. */
export function replayCaptures(input: ReplayCapturesInput): Promise<ReplayCapturesResult> {
  if (input.registry !== undefined && input.workers > 0) {
    throw new Error('a protocol registry other than registry.ts runs on this thread only (workers: 0)');
  }
  return input.workers === 0 || input.onRecord ? replayOnThisThread(input) : replayOnWorkers(input);
}

async function replayOnThisThread(input: ReplayCapturesInput): Promise<ReplayCapturesResult> {
  const { sinks, onProgress } = input;
  const latency = input.latencySummary ? new LatencySummary() : null;
  const loop = RecordLoop.correlating(input.correlate, emitterFor(sinks, latency), {
    decodedTimes: input.decodedTimes === true,
    ...(input.registry === undefined ? {} : { registry: input.registry }),
  });
  const replay = new ThisThreadReplay({ files: input.files, onRecord: input.onRecord ?? null, loop });
  const filesRun = (): FileRun[] => replay.result.files.map((f, fileId) => ({ ...f, fileId }));
  sinks.exporter?.setStatsSource(() => {
    const files = replay.result.files;
    const failed = files.filter((f) => f.error !== null).length;
    return pipelineStats([loop.stats()], { done: files.length - failed, lost: 0, error: failed });
  });
  const sizes = new Map<string, number>();
  const updateProgress = (): void => {
    if (!onProgress) return;
    // Finished files' sizes plus the current file's records (16-byte headers as in classic pcap).
    const stats = loop.stats(false);
    let doneBytes = 0;
    let doneRecordBytes = 0;
    let donePackets = 0;
    for (const file of replay.result.files) {
      let size = sizes.get(file.file);
      if (size === undefined) {
        size = fileSize(file.file);
        sizes.set(file.file, size);
      }
      doneBytes += size;
      doneRecordBytes += file.bytes;
      donePackets += file.packets;
    }
    const current = stats.bytes - doneRecordBytes + 16 * (stats.packets - donePackets);
    onProgress({ bytesRead: doneBytes + current, packets: stats.packets, pairs: pairTotal(stats.pairs) });
  };
  const room = sinks.room;
  if (room !== null || onProgress) {
    // Spans leave asynchronously: let the exporter drain between steps instead of dropping.
    while (!replay.step(kRecordsPerStep)) {
      updateProgress();
      await room?.();
    }
  } else {
    while (!replay.step(Number.POSITIVE_INFINITY));
  }
  updateProgress();
  return {
    loops: [loop.stats()],
    files: filesRun(),
    elapsedNanos: replay.result.elapsedNanos,
    latency,
    failure: null,
  };
}

async function replayOnWorkers(input: ReplayCapturesInput): Promise<ReplayCapturesResult> {
  const { sinks, onProgress, onStats } = input;
  let snapshot: PipelineSnapshot | null = null;
  let bytesRead = 0;
  const statsMillis = input.statsIntervalMillis ?? 0;
  sinks.exporter?.setStatsSource(() =>
    snapshot === null
      ? emptyPipelineStats()
      : pipelineStats(snapshot.workers, { done: snapshot.filesDone, lost: 0, error: 0 }, snapshot),
  );
  const result = await replayParallel({
    files: input.files,
    workers: input.workers,
    options: input.correlate,
    ...workerSinks(sinks),
    onStats: (latest) => {
      snapshot = latest;
      if (onProgress) {
        let pairs = 0;
        for (const worker of latest.workers) pairs += pairTotal(worker.pairs);
        onProgress({ bytesRead, packets: latest.workers[0]?.packets ?? 0, pairs });
      }
      onStats?.(latest);
    },
    // The progress bar wants a few updates a second; stats lines keep their own interval.
    statsIntervalMillis: onProgress ? kProgressMillis : statsMillis > 0 ? statsMillis : 1000,
    latencySummary: input.latencySummary,
    decodedTimes: input.decodedTimes === true,
    onRead: onProgress
      ? (bytes) => {
          bytesRead += bytes;
        }
      : null,
  });
  // The final counts, for the exporter's last metrics collection at shutdown.
  const latest = snapshot as PipelineSnapshot | null; // set by onStats, which TS cannot see
  snapshot = {
    workers: result.workers,
    poolSlots: latest?.poolSlots ?? 0,
    poolUsed: 0,
    queueDepths: result.workers.map(() => 0),
    queueCapacity: latest?.queueCapacity ?? 0,
    filesDone: result.files.filter((f) => f.error === null).length,
  };
  return {
    loops: result.workers,
    files: result.files.map((report) => ({
      fileId: report.fileId,
      file: input.files[report.fileId]!,
      format: report.format,
      packets: report.packets,
      bytes: report.bytes,
      error: report.error,
      captureStatistics: report.captureStatistics ?? null,
    })),
    elapsedNanos: result.elapsedNanos,
    latency: result.latency,
    failure: result.failure,
  };
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
