/**
 * `wirespan run`: the long-lived agent next to tcpdump. Configures one pipeline per watched
 * rotation directory (pipeline/tailed-directory.ts: the directory tailed with checkpoints, its
 * packets correlated on this thread or in workers) into the sinks (OTLP, and/or JSONL/text
 * output), with health endpoints, periodic stats, checkpoints, and a clean drain on SIGTERM/SIGINT.
 */

import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { CaptureLossCounts, type CaptureLossCountsData } from '../correlate/capture-loss/observer.ts';
import type { CorrelateOptions } from '../correlate/options.ts';
import type { OtelExporter } from '../export/otel/index.ts';
import { PairOutput } from '../output/pair-output.ts';
import { captureLossJson } from '../output/summary.ts';
import { type Checkpoint, CheckpointStore, defaultStateDir } from '../pipeline/checkpoint.ts';
import { pipelineStats } from '../pipeline/pipeline.ts';
import type { OnDone, TailCounters } from '../pipeline/tail.ts';
import { TailedDirectory } from '../pipeline/tailed-directory.ts';
import type { CorrelateCliOptions } from './correlation-flags.ts';
import { startHealthServer } from './health-server.ts';
import { parseOutputSpec } from './output-spec.ts';
import {
  correlateOptionsFrom,
  createExporterFromCli,
  type OtelCliOptions,
  resolveWorkers,
} from './replay-command.ts';

export interface RunCommandOptions extends CorrelateCliOptions {
  watch: string[];
  /** Where the checkpoint lives; null = the default next to the first watched directory. */
  stateDir: string | null;
  onDone: OnDone;
  graceSeconds: number;
  output: string;
  otlp: string | undefined;
  otel: OtelCliOptions;
  healthHost: string;
  /** 0 = no health server. */
  healthPort: number;
  statsIntervalSeconds: number;
  shutdownTimeoutSeconds: number;
  quiet: boolean;
  /** 'auto' (one per core) or a count; 0 = read, decode and correlate on this thread. */
  workers: number | 'auto';
}

/** One JSON object per line on stderr: what an operator's log pipeline expects. */
function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`,
  );
}

const kRecordsPerStep = 4096;
/** How often a checkpoint is attempted (it is written only when exports have caught up). */
const kCheckpointMillis = 1000;
/**
 * After a stop signal the process exits at the latest this long after --shutdown-timeout,
 * whatever still holds it (a collector that accepts connections and never answers, a socket
 * that does not close): the checkpoint on disk is then the last safe one.
 */
const kShutdownSlackMillis = 3000;

/** Runs until SIGTERM/SIGINT; returns the exit code. */
export async function runAgent(options: RunCommandOptions): Promise<number> {
  let correlateOptions: CorrelateOptions;
  let outputSpec: ReturnType<typeof parseOutputSpec>;
  try {
    outputSpec = parseOutputSpec(options.output);
    correlateOptions = correlateOptionsFrom(options);
  } catch (error) {
    log('error', (error as Error).message);
    return 2;
  }
  for (const dir of options.watch) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      log('error', 'watch directory does not exist or is not a directory', { dir });
      return 1;
    }
  }

  const store = new CheckpointStore(options.stateDir ?? defaultStateDir(options.watch[0]!));
  let resume: Checkpoint | null;
  try {
    store.prepare();
    resume = store.load();
  } catch (error) {
    log('error', (error as Error).message);
    return 1;
  }

  const fileNames: string[] = [];
  // OTLP when asked for on the command line or configured the standard way.
  const otlp = options.otlp ?? (process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? '' : undefined);
  let exporter: OtelExporter | null = null;
  if (otlp !== undefined || options.otel.prometheusPort !== undefined) {
    try {
      exporter = await createExporterFromCli(otlp, options.otel, fileNames, correlateOptions, {
        // The capture files are the durable buffer: a collector outage pauses reading (whenRoom)
        // instead of dropping spans; failed batches are retried until the collector accepts them.
        retryUntilExported: true,
        // Once per outage, not per batch.
        onExportStateChange: (state, detail) => {
          if (state === 'failing') {
            log('warn', 'span export failing', {
              endpoint: exporter?.endpoint,
              error: detail.error,
              pendingSpans: detail.pendingSpans,
            });
          } else {
            log('info', 'span export recovered', {
              endpoint: exporter?.endpoint,
              outageSeconds: detail.durationMillis / 1000,
              retries: detail.retries,
              failedRequests: detail.failedRequests,
              lastError: detail.error,
            });
          }
        },
        // Ends a little before our own deadline below, so what was not exported is reported.
        shutdownTimeoutMillis:
          options.shutdownTimeoutSeconds * 1000 - Math.min(1000, options.shutdownTimeoutSeconds * 100),
      });
    } catch (error) {
      log('error', (error as Error).message);
      return 2;
    }
  }
  let writer: PairOutput | null = null;
  try {
    if (outputSpec.format !== 'none') writer = PairOutput.open(outputSpec.format, outputSpec.path, fileNames);
  } catch (error) {
    log('error', (error as Error).message);
    return 1;
  }

  const flushOutput = (): void => writer?.flush();

  const counters: TailCounters = {
    packets: 0,
    bytes: 0,
    filesDone: 0,
    filesLost: 0,
    filesError: 0,
    lostBytes: 0,
    newestCapture: null,
  };
  // auto: one worker per core; with spans, the workers map and encode them (the exporter only
  // sends their bytes).
  const workerCount = resolveWorkers(options.workers);
  let signalled = false;
  let stopRequested: () => void = () => {};
  const stopping = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  let stop: (signal: string) => void = () => {};
  let pipelineFailed = false;
  // One pipeline per directory: each directory is its own capture point and clock.
  const tails = options.watch.map(
    (dir) =>
      new TailedDirectory({
        dir,
        workers: workerCount,
        correlate: correlateOptions,
        sinks: {
          output: writer === null ? null : { writer, format: outputSpec.format as 'jsonl' | 'text' },
          exporter,
          collector: null,
          // The exporter's backpressure holds the pipeline back, but never past a stop signal.
          room: exporter ? () => (signalled ? null : Promise.race([exporter!.whenRoom(), stopping])) : null,
        },
        tailOptions: {
          graceMillis: options.graceSeconds * 1000,
          onDone: options.onDone,
          pollMillis: 250,
          recordsPerStep: kRecordsPerStep,
        },
        fileNames,
        counters,
        log,
        resumeAt: resume?.directories.find((d) => path.resolve(d.dir) === path.resolve(dir)) ?? null,
        onFailure: (message) => {
          pipelineFailed = true;
          log('error', 'pipeline worker failed', { dir, error: message });
          stop('error');
        },
      }),
  );

  const stats = () => {
    const snapshot = pipelineStats(
      tails.flatMap((watched) => watched.stats()),
      { done: counters.filesDone, lost: counters.filesLost, error: counters.filesError },
    );
    // This thread reads every record, with or without workers: its counts are the newest.
    snapshot.bytesRead = counters.bytes;
    if (counters.newestCapture) snapshot.newestCapture = { ...counters.newestCapture };
    return snapshot;
  };
  exporter?.setStatsSource(stats);

  let health: http.Server | null = null;
  if (options.healthPort > 0) {
    try {
      health = await startHealthServer(options.healthHost, options.healthPort, {
        notReadyBecause: () => {
          if (!tails.every(({ tail }) => tail.ready)) return 'watch directories not ready';
          if (exporter?.exportState === 'failing') return 'span export failing';
          return null;
        },
      });
    } catch (error) {
      log('error', 'cannot start the health server', {
        port: options.healthPort,
        error: (error as Error).message,
      });
      return 1;
    }
  }
  let previousLoss: CaptureLossCountsData = new CaptureLossCounts();
  const statsTimer = setInterval(
    () => {
      const snapshot = stats();
      // This interval's loss, not the run's: a starved capture shows up in the next line.
      const captureLoss = new CaptureLossCounts();
      captureLoss.add(snapshot.captureLoss!);
      captureLoss.subtract(previousLoss);
      previousLoss = snapshot.captureLoss!;
      if (options.statsIntervalSeconds > 0 && !options.quiet) {
        log('info', 'stats', {
          packets: counters.packets,
          decoded: snapshot.packetsDecoded,
          bytes: counters.bytes,
          files: snapshot.files,
          lostBytes: counters.lostBytes,
          pairs: snapshot.pairs,
          pending: snapshot.pending,
          captureLoss: captureLossJson(captureLoss),
          spans: exporter
            ? {
                exported: exporter.counters.exported,
                dropped: exporter.counters.dropped,
                failed: exporter.counters.failed,
              }
            : null,
        });
      }
    },
    Math.max(1000, options.statsIntervalSeconds * 1000),
  );

  /**
   * Saves where every directory has been read up to, but only when every pair emitted so far
   * was exported (or written): then resuming there loses no finished pair. The positions are
   * taken between steps (the tails are all paused at a record boundary then) and stay safe
   * while they are written. Positions already on disk are not written again: an idle agent
   * would otherwise fsync twice a second for nothing.
   */
  let checkpointFailed = false;
  /** When the checkpoint on disk was written (null: not during this run). */
  let lastSafeCheckpoint: string | null = null;
  /** The positions of the checkpoint on disk, as JSON (null: none written during this run). */
  let savedPositions: string | null = null;
  /** The save being written (null: none): saves are written one at a time, in order. */
  let saving: Promise<boolean> | null = null;
  const saveCheckpoint = async (): Promise<boolean> => {
    flushOutput();
    if (exporter) {
      const c = exporter.counters;
      if (c.exported + c.failed < c.queued) return false;
    }
    const directories = tails.map((watched) => watched.safeCheckpoint());
    const positions = JSON.stringify(directories);
    if (positions === savedPositions) return true;
    const previous = saving;
    const save = (async (): Promise<boolean> => {
      await previous;
      try {
        const writtenAt = new Date().toISOString();
        await store.save({ version: 1, writtenAt, directories });
        savedPositions = positions;
        lastSafeCheckpoint = writtenAt;
        checkpointFailed = false;
        return true;
      } catch (error) {
        if (!checkpointFailed)
          log('error', 'cannot write the checkpoint', { dir: store.dir, error: (error as Error).message });
        checkpointFailed = true;
        return false;
      }
    })();
    saving = save;
    const saved = await save;
    if (saving === save) saving = null;
    return saved;
  };
  // Nothing read yet: the starting point is safe; a stop before the first export leaves it on disk.
  await saveCheckpoint();
  // A write still under way (a slow disk) is not queued behind by the next tick.
  const checkpointTimer = setInterval(() => {
    if (saving === null) void saveCheckpoint();
  }, kCheckpointMillis);

  const between = async (watched: TailedDirectory): Promise<void> => {
    await watched.publish();
    flushOutput();
    // The exporter's backpressure, but never past a stop signal (a collector down or
    // black-holed keeps whenRoom() pending forever).
    if (exporter && !signalled) await Promise.race([exporter.whenRoom(), stopping]);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  /** The exit code once known; the hard deadline below exits with it (1 before). */
  let finalCode: number | null = null;
  let stopDeadline = Number.POSITIVE_INFINITY;
  stop = (signal: string): void => {
    if (signalled) return;
    signalled = true;
    stopDeadline = Date.now() + options.shutdownTimeoutSeconds * 1000;
    log('info', 'stopping', { signal, shutdownTimeoutSeconds: options.shutdownTimeoutSeconds });
    stopRequested();
    for (const { tail } of tails) tail.stop();
    setTimeout(
      () => {
        if (finalCode === null) {
          log('error', 'shutdown did not finish in time; exiting with the last safe checkpoint', {
            seconds: options.shutdownTimeoutSeconds,
            checkpointWrittenAt: lastSafeCheckpoint,
          });
        }
        process.exit(finalCode ?? 1);
      },
      options.shutdownTimeoutSeconds * 1000 + kShutdownSlackMillis,
    ).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  log('info', 'watching', {
    dirs: options.watch,
    workers: workerCount,
    otlp: otlp === undefined ? null : (exporter?.endpoint ?? null),
    healthPort: options.healthPort,
  });
  const running = tails.map((watched) =>
    watched.tail
      .run(() => between(watched))
      .catch((error: unknown) => {
        const { tail } = watched;
        log('error', 'tailing failed', {
          dir: tail.directory.dir,
          error: (error as Error).stack ?? String(error),
        });
        stop('error');
      }),
  );
  await Promise.all(running);

  // Drain: requests still pending are reported unanswered (end_of_input), output and spans flushed.
  for (const watched of tails) await watched.finish();
  flushOutput();
  writer?.close();
  clearInterval(statsTimer);
  clearInterval(checkpointTimer);
  let code = pipelineFailed ? 1 : 0;
  if (exporter) {
    // The deadline runs from the stop signal (or from now when the tails ended on their own).
    const remaining = Number.isFinite(stopDeadline)
      ? Math.max(0, stopDeadline - Date.now())
      : options.shutdownTimeoutSeconds * 1000;
    const deadline = new Promise<null>((resolve) => setTimeout(() => resolve(null), remaining).unref());
    const result = await Promise.race([exporter.shutdown(), deadline]);
    if (result === null) {
      log('error', 'span export did not finish before the shutdown deadline', {
        seconds: options.shutdownTimeoutSeconds,
      });
      code = 1;
    } else if (result.error) {
      log('error', result.error, { exported: result.exported, failed: result.failed });
      code = 1;
    }
  }
  // A final checkpoint only when every span was delivered; otherwise the one on disk stays
  // (written when every pair emitted until then had been exported): resuming there re-reads
  // what was not delivered instead of losing it.
  if (code === 0) {
    if (!(await saveCheckpoint())) code = 1;
  } else {
    log('warn', 'not every span was exported: the checkpoint stays at the last point where they were', {
      dir: store.dir,
      checkpointWrittenAt: lastSafeCheckpoint,
    });
  }
  finalCode = code;
  health?.closeAllConnections();
  await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
  log('info', 'stopped', { packets: counters.packets, files: stats().files, lostBytes: counters.lostBytes });
  return code;
}
