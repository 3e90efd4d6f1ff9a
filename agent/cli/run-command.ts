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
import {
  type Checkpoint,
  CheckpointStore,
  type DirectoryCheckpoint,
  defaultStateDir,
} from '../pipeline/checkpoint.ts';
import { pipelineStats } from '../pipeline/pipeline.ts';
import { emptyTailCounters, type OnDone } from '../pipeline/tail.ts';
import { spawnTailWorkers, TailedDirectory } from '../pipeline/tailed-directory.ts';
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
/** How often the positions are noted as a checkpoint candidate. */
const kCheckpointMillis = 1000;
/**
 * How often the candidates are checked against the exporter (two numbers compared): a candidate
 * is saved soon after its spans are exported, not a whole kCheckpointMillis later (the positions
 * on disk lag behind the export by less, fewer duplicates after a SIGKILL).
 */
const kCheckpointPollMillis = 100;
/**
 * Candidates kept while their spans are being exported (a collector outage stops reading, so
 * they stop coming too); beyond, the newest is replaced: a candidate left out only makes the
 * saved position older.
 */
const kMaxCheckpointCandidates = 64;

/** Positions where a checkpoint may be written once the exporter has settled `spans` spans. */
interface CheckpointCandidate {
  directories: DirectoryCheckpoint[];
  /** The directories as JSON (compared with what is on disk). */
  positions: string;
  /** exporter.checkpointMark() when the positions were taken (+ 0.5 while a flood aggregate was pending). */
  spans: number;
}
/**
 * After a stop signal the process exits at the latest this long after --shutdown-timeout,
 * whatever still holds it (a collector that accepts connections and never answers, a socket
 * that does not close): the checkpoint on disk is then the last safe one.
 */
const kShutdownSlackMillis = 3000;

/** Resolves after the event loop's next turn (timers, I/O and immediates queued so far have run). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

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

  // The health server first: a port in use is a clear error before anything else starts (a
  // pipeline with workers already running would keep the process alive), and the probes answer
  // while the OpenTelemetry SDK loads.
  let pipelinesStarted = false;
  let health: http.Server | null = null;
  if (options.healthPort > 0) {
    try {
      health = await startHealthServer(options.healthHost, options.healthPort, {
        notReadyBecause: () => {
          if (!pipelinesStarted) return 'starting';
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
  // auto: one worker per core (none on one core); with spans, the workers map and encode them
  // (the exporter only sends their bytes).
  const workerCount = resolveWorkers(options.workers);
  let stop: (signal: string) => void = () => {};
  let pipelineFailed = false;
  // The workers before the exporter: each loads its modules and builds its loop (~0.35 s to its
  // first record) while this thread loads the OpenTelemetry SDK; where their pairs go follows
  // once the exporter is built (TailedDirectory configures them).
  const workers = options.watch.map((dir) =>
    spawnTailWorkers(workerCount, correlateOptions, (message) => {
      pipelineFailed = true;
      log('error', 'pipeline worker failed', { dir, error: message });
      stop('error');
    }),
  );
  let exporter: OtelExporter | null = null;
  /**
   * A start that fails once the health server listens closes it, stops the workers and shuts the
   * exporter down (its Prometheus endpoint listens): any of them would keep the process alive.
   */
  const startFailed = async (code: number): Promise<number> => {
    health?.close();
    await Promise.all(workers.map((pipeline) => pipeline?.terminate()));
    await exporter?.shutdown();
    return code;
  };

  const fileNames: string[] = [];
  // OTLP when asked for on the command line or configured the standard way.
  const otlp = options.otlp ?? (process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? '' : undefined);
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
      return startFailed(2);
    }
  }
  let writer: PairOutput | null = null;
  try {
    if (outputSpec.format !== 'none') writer = PairOutput.open(outputSpec.format, outputSpec.path, fileNames);
  } catch (error) {
    log('error', (error as Error).message);
    return startFailed(1);
  }

  // A worker that failed while the exporter was built (logged then): the run does not start.
  if (pipelineFailed) return startFailed(1);

  const flushOutput = (): void => writer?.flush();

  const counters = emptyTailCounters();
  let signalled = false;
  let stopRequested: () => void = () => {};
  const stopping = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  // One pipeline per directory: each directory is its own capture point and clock.
  const tails = options.watch.map(
    (dir, index) =>
      new TailedDirectory({
        dir,
        workers: workers[index]!,
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
      }),
  );

  pipelinesStarted = true;

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
   * Checkpoints: every kCheckpointMillis the positions where every directory has been read up to
   * are noted with the span count offered for export by then (exporter.checkpointMark(), after
   * the output is flushed). The newest candidate whose spans are all settled (the exporter's
   * in-order settledThrough) is saved as soon as it is (checked every kCheckpointPollMillis):
   * resuming there loses no finished pair, while later spans may still be queued or in flight,
   * so a catch-up moves the checkpoint as its exports complete. Pairs counted into a pending
   * `unanswered flood` aggregate are in no span yet: the exporter holds settledThrough back
   * until the aggregate is exported (span-flood.ts FloodCheckpointHold), so during a flood the
   * checkpoint lags by its open window (~the longest --timeout + 2 s of capture time). The
   * positions are taken between steps (the tails are all paused at a record boundary then; with
   * workers, the newest chunk every worker has processed, whose spans were offered when it said
   * so) and stay safe while they are written. Positions already on disk are not written again:
   * an idle agent would otherwise fsync twice a second for nothing.
   */
  let checkpointFailed = false;
  /** When the checkpoint on disk was written (null: not during this run). */
  let lastSafeCheckpoint: string | null = null;
  /** The positions of the checkpoint on disk, as JSON (null: none written during this run). */
  let savedPositions: string | null = null;
  /** The save being written (null: none): saves are written one at a time, in order. */
  let saving: Promise<boolean> | null = null;
  /** Noted positions not yet known to be safe, oldest first. */
  const candidates: CheckpointCandidate[] = [];
  /** When the last candidate was noted (performance.now()). */
  let notedAt = Number.NEGATIVE_INFINITY;
  /** Notes the positions now as a candidate. */
  const noteCandidate = (): void => {
    notedAt = performance.now();
    const directories = tails.map((watched) => watched.safeCheckpoint());
    // Their pairs were handed to the sinks: written out now, their spans offered by the mark.
    flushOutput();
    const spans = exporter?.checkpointMark() ?? 0;
    const positions = JSON.stringify(directories);
    // Same positions as the newest candidate: its (lower) span count already covers them.
    if (candidates.at(-1)?.positions !== positions) {
      const candidate = { directories, positions, spans };
      if (candidates.length === kMaxCheckpointCandidates) candidates[candidates.length - 1] = candidate;
      else candidates.push(candidate);
    }
  };
  /** The newest candidate whose spans are all settled (null: none); older ones are dropped. */
  const newestSafeCandidate = (): CheckpointCandidate | null => {
    const settled = exporter?.settledThrough ?? 0;
    let safe: CheckpointCandidate | null = null;
    while (candidates.length > 0 && candidates[0]!.spans <= settled) safe = candidates.shift()!;
    return safe;
  };
  /**
   * Saves the newest safe candidate (unless its positions are on disk already). With `current`,
   * the positions now are noted first (otherwise once kCheckpointMillis passed since the last).
   * Returns false when the write failed, or, with `current`, when the positions now are not safe
   * yet (spans of them not settled: the newest safe ones are saved all the same).
   */
  const saveCheckpoint = async (current: boolean): Promise<boolean> => {
    if (current || performance.now() - notedAt >= kCheckpointMillis) noteCandidate();
    const safe = newestSafeCandidate();
    const caughtUp = !current || candidates.length === 0;
    if (safe === null || safe.positions === savedPositions) return caughtUp;
    const { directories, positions } = safe;
    const previous = saving;
    const save = (async (): Promise<boolean> => {
      await previous;
      try {
        const writtenAt = new Date().toISOString();
        await store.save({ version: 1, writtenAt, directories });
        // --on-done applies to the files a restart from it would not read again.
        for (let i = 0; i < tails.length; i++) tails[i]!.tail.checkpointSaved(directories[i]!);
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
    return saved && caughtUp;
  };
  // Nothing read yet: the starting point is safe; a stop before the first export leaves it on disk.
  // Not awaited: its positions are noted now and saves are written in order, so reading need not
  // wait for the fsync (18-280 ms of the start on the dev machine's disk).
  void saveCheckpoint(true);
  // A write still under way (a slow disk) is not queued behind by the next tick.
  const checkpointTimer = setInterval(() => {
    if (saving === null) void saveCheckpoint(false);
  }, kCheckpointPollMillis);

  /**
   * The spans of the first step leave when it ends (`--workers 0`; workers close their requests at
   * every chunk's end): the collector sees the first spans a step sooner than when the request
   * waited for OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans (~1.5 steps of still cold code).
   */
  let firstStepRead = false;
  const between = async (watched: TailedDirectory): Promise<void> => {
    await watched.publish();
    flushOutput();
    if (!firstStepRead && counters.packets > 0) {
      firstStepRead = true;
      exporter?.closeRequest();
    }
    // The exporter's backpressure, but never past a stop signal (a collector down or
    // black-holed keeps whenRoom() pending forever).
    if (exporter && !signalled) await Promise.race([exporter.whenRoom(), stopping]);
    await nextTurn();
    // A request the exporter started in that turn reaches the socket in the next one (Node's
    // HTTP/2 session writes on the loop turn after the call), not a whole step later.
    if (exporter) await nextTurn();
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
      // Read up (idle): the spans of what was read leave now, not after the batch delay.
      .run(
        () => between(watched),
        () => exporter?.closeRequest(),
      )
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
    if (!(await saveCheckpoint(true))) code = 1;
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
