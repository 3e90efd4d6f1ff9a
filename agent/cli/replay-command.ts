/** `wirespan replay`: configures the pipeline (pipeline.ts) for finished files, its sinks and workers, then prints the summary. */
import os from 'node:os';
import { discoverCaptureFiles } from '../capture/discover.ts';
import { CaptureLossCounts } from '../correlate/capture-loss/observer.ts';
import { Correlator } from '../correlate/correlator.ts';
import { applyMemoryBudget, kDefaultMemoryBudgetMiB } from '../correlate/memory-budget.ts';
import { applyOption, type CorrelateOptions, defaultCorrelateOptions } from '../correlate/options.ts';
import { type ProtocolRegistry, timeoutFlag } from '../correlate/protocol.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import type { OtelExporter, OtelExporterOptions, ServiceMapEntry } from '../export/otel/index.ts';
import type { IgnoreRules } from '../export/otel/pair-ignore.ts';
import { floodLateSeconds } from '../export/otel/span-flood.ts';
import { packetToJson } from '../output/packet-json.ts';
import { PairOutput } from '../output/pair-output.ts';
import { formatCaptureLoss, formatSummary, type RunSummary, summaryToJson } from '../output/summary.ts';
import { mergeStats, type WorkerStats } from '../pipeline/messages.ts';
import type { PipelineSnapshot } from '../pipeline/parallel-replay.ts';
import { replayCaptures } from '../pipeline/pipeline.ts';
import { formatLatencyReport } from '../report/latency-summary.ts';
import { type CorrelateCliOptions, camelCase } from './correlation-flags.ts';
import { parseOutputSpec } from './output-spec.ts';
import { createProgress } from './progress.ts';

export interface ReplayCommandOptions extends CorrelateCliOptions {
  inputs: string[];
  output: string;
  packets: boolean;
  quiet: boolean;
  /** End-of-run summary on stderr: the lines + latency table, one JSON object, or the lines only. */
  summary: 'text' | 'json' | 'none';
  /** Servers listed per latency ranking. */
  summaryTop: number;
  /** Progress bar on stderr: null = when stderr is a TTY and not quiet. */
  progress?: boolean | null;
  /** 'auto' or a count; 0 = everything on this thread. */
  workers: number | 'auto';
  statsIntervalSeconds: number;
  /** OTLP export: undefined = off; '' = on, endpoint from OTEL_EXPORTER_OTLP_* or the default; else the URL. */
  otlp: string | undefined;
  otel: OtelCliOptions;
}

/** Export settings from the command line (docs/output.md "OpenTelemetry spans"). */
export interface OtelCliOptions {
  localNetworks: string[] | undefined;
  serviceMap: ServiceMapEntry[];
  httpRoutes: string[];
  httpRouteHeuristics: boolean;
  ignore: IgnoreRules;
  spansOff: string[];
  /** --sample-ratio; undefined: OTEL_TRACES_SAMPLER / _ARG (the exporter reads them). */
  sampleRatio: number | undefined;
  /** --prometheus-port: a Prometheus scrape endpoint, with or without OTLP. */
  prometheusPort: number | undefined;
  slowSpanSeconds: number | null;
  sloBoundaries: number[];
  histogram: 'explicit' | 'exponential';
  /** --unanswered-spans-per-second (span-flood.ts). */
  unansweredSpansPerSecond: number;
  /** --kubernetes: names from the cluster's pods and Services (enrich/kubernetes); null = off. */
  kubernetes: { nameLabels: boolean; maxObjects: number } | null;
  /** --unanswered-spans-per-second-total (span-flood.ts); undefined = 10 x the per-source limit. */
  unansweredSpansTotalPerSecond?: number | undefined;
}

/** The commands' correlation settings → CorrelateOptions (flag defaults for what is not given). */
export function correlateOptionsFrom(
  options: CorrelateCliOptions,
  registry: ProtocolRegistry = matcherRegistry,
): CorrelateOptions {
  const correlate = defaultCorrelateOptions(registry);
  for (const descriptor of registry) {
    for (const option of descriptor.options ?? []) {
      const value = options[camelCase(option.flag)];
      if (value !== undefined) applyOption(option, correlate, value);
    }
    const seconds = options[camelCase(timeoutFlag(descriptor))] ?? options.timeoutSeconds;
    correlate.timeoutNanos[descriptor.name] = Math.round((seconds as number) * 1e9);
  }
  applyMemoryBudget(
    correlate,
    options.memoryBudgetMiB ?? kDefaultMemoryBudgetMiB,
    options.maxPending,
    registry,
  );
  // Matchers validate their own settings (CIDRs, ports) when built: throws before anything is read.
  new Correlator(correlate, { emit: () => {} }, undefined, registry);
  return correlate;
}

/**
 * `--workers auto`: one correlator worker per core the process may use (Node's
 * availableParallelism: CPU affinity and the cgroup CPU limit), and none on a single core: there
 * a worker cannot run beside the main thread and only adds its start-up, its own compiled code
 * and the hand-off of every record (pinned to one core, the agent bench row took 27 % more CPU
 * and 100 MB more memory with one worker than with none; docs/performance.md).
 */
export function resolveWorkers(workers: number | 'auto', cores = os.availableParallelism()): number {
  if (workers !== 'auto') return workers;
  return cores >= 2 ? cores : 0;
}

/** One line for --stats-interval: the pipeline's state right now. */
function statsLine(snapshot: PipelineSnapshot): string {
  let packets = 0;
  let matched = 0;
  let unanswered = 0;
  let pending = 0;
  const loss = new CaptureLossCounts();
  for (const [i, w] of snapshot.workers.entries()) {
    if (i === 0) packets = w.packets;
    if (w.captureLoss) loss.add(w.captureLoss);
    for (const c of Object.values(w.pairs)) {
      matched += c.matched;
      unanswered += c.unanswered;
    }
    for (const n of Object.values(w.pending)) pending += n;
  }
  return (
    `wirespan stats: pool ${snapshot.poolUsed}/${snapshot.poolSlots} slots used, ` +
    `queues ${snapshot.queueDepths.join('/')} of ${snapshot.queueCapacity}, files done ${snapshot.filesDone}, ` +
    `packets ${packets}, pairs matched ${matched} unanswered ${unanswered}, pending ${pending}, ` +
    `${formatCaptureLoss(loss)}\n`
  );
}

/**
 * The exporter configured from the command line (`otlp` '' = the env's or the default endpoint;
 * undefined = no OTLP, the Prometheus endpoint only). With `--kubernetes`, the watches start
 * first (and the exporter stops them).
 */
export async function createExporterFromCli(
  otlp: string | undefined,
  otel: OtelCliOptions,
  sourceFiles: readonly string[],
  correlate: CorrelateOptions,
  extra: Partial<OtelExporterOptions> = {},
): Promise<OtelExporter> {
  const kubernetes =
    otel.kubernetes === null
      ? null
      : // Loaded only when asked for: the Kubernetes client is a large library.
        await (await import('../enrich/kubernetes/metadata.ts')).KubernetesMetadata.start({
          ...otel.kubernetes,
          onLog: (level, msg, detail) =>
            process.stderr.write(
              `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...detail })}\n`,
            ),
        });
  try {
    // Loaded only when asked for: the OpenTelemetry SDK and gRPC take ~0.35 s of CPU to load,
    // more than the whole start-up of a replay without export.
    const { createOtelExporter } = await import('../export/otel/index.ts');
    return await createOtelExporter({
      ...extra,
      kubernetes,
      ...(otlp === undefined || otlp === '' ? {} : { endpoint: otlp }),
      otlp: otlp !== undefined,
      ...(otel.prometheusPort === undefined ? {} : { prometheusPort: otel.prometheusPort }),
      ...(otel.localNetworks ? { localNetworks: otel.localNetworks } : {}),
      serviceMap: otel.serviceMap,
      httpRoutes: otel.httpRoutes,
      httpRouteHeuristics: otel.httpRouteHeuristics,
      ignore: otel.ignore,
      spansOff: otel.spansOff,
      ...(otel.sampleRatio === undefined ? {} : { sampleRatio: otel.sampleRatio }),
      slowSpanSeconds: otel.slowSpanSeconds,
      sloBoundaries: otel.sloBoundaries,
      histogramAggregation: otel.histogram,
      unansweredSpansPerSecond: otel.unansweredSpansPerSecond,
      unansweredSpansTotalPerSecond: otel.unansweredSpansTotalPerSecond,
      unansweredLateSeconds: floodLateSeconds(correlate.timeoutNanos),
      sourceFiles: (fileId) => sourceFiles[fileId],
    });
  } catch (error) {
    await kubernetes?.stop();
    throw error;
  }
}

/** The end-of-run summary from the pipeline's loops (one on this thread, or the workers'). */
function runSummary(
  loops: readonly WorkerStats[],
  files: readonly (RunSummary['files'][number] & { fileId: number })[],
  elapsedNanos: bigint,
  workers: number,
): RunSummary {
  const merged = mergeStats(loops);
  return {
    files: files.map(({ fileId, ...file }) => {
      const loss = merged.captureLossByFile.get(fileId);
      return loss ? { ...file, captureLoss: loss } : file;
    }),
    packets: merged.packets,
    decoded: merged.decoded,
    bytes: merged.bytes,
    skips: merged.skips,
    elapsedNanos,
    pairs: merged.pairs,
    captureLoss: merged.captureLoss.toData(),
    workers,
  };
}

/** Runs the command and returns the process exit code (0 ok, 1 processing error, 2 usage error). */
export async function runReplay(options: ReplayCommandOptions): Promise<number> {
  let outputSpec: ReturnType<typeof parseOutputSpec>;
  let correlateOptions: CorrelateOptions;
  try {
    outputSpec = parseOutputSpec(options.output);
    correlateOptions = correlateOptionsFrom(options);
  } catch (error) {
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    return 2;
  }

  const discovered = discoverCaptureFiles(options.inputs);
  const files = discovered.files;
  let exporter: OtelExporter | null = null;
  if (options.otlp !== undefined || options.otel.prometheusPort !== undefined) {
    try {
      exporter = await createExporterFromCli(options.otlp, options.otel, files, correlateOptions);
    } catch (error) {
      process.stderr.write(`wirespan: ${(error as Error).message}\n`);
      return 2;
    }
  }
  let writer: PairOutput | null = null;
  try {
    if (outputSpec.format !== 'none') writer = PairOutput.open(outputSpec.format, outputSpec.path, files);
  } catch (error) {
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    return 1;
  }

  // --packets lists records, which only the single-thread reader does.
  const workers = options.packets ? 0 : resolveWorkers(options.workers);
  const progress =
    options.quiet || options.progress === false || (options.progress == null && !process.stderr.isTTY)
      ? null
      : createProgress(files, options.progress === true);
  const statsMillis = Math.round(options.statsIntervalSeconds * 1000);
  let lastStatsLine = Date.now();
  const run = await replayCaptures({
    files,
    workers,
    correlate: correlateOptions,
    sinks: {
      // --packets writes records, not pairs.
      output:
        writer === null || options.packets ? null : { writer, format: outputSpec.format as 'jsonl' | 'text' },
      exporter,
      collector: null,
      room: exporter ? () => exporter.whenRoom() : null,
    },
    latencySummary: !options.quiet && options.summary !== 'none' && !options.packets,
    onRecord:
      options.packets && writer
        ? (fileId, record, packet) => {
            writer.writeLine(packetToJson(files[fileId]!, record, packet));
            return !writer.closed;
          }
        : null,
    onProgress: progress ? (update) => progress.update(update) : null,
    onStats:
      statsMillis > 0
        ? (snapshot) => {
            if (progress !== null && Date.now() - lastStatsLine < statsMillis) return;
            lastStatsLine = Date.now();
            process.stderr.write(statsLine(snapshot));
          }
        : null,
    statsIntervalMillis: statsMillis,
  });
  progress?.stop();
  writer?.close();

  const summary = runSummary(run.loops, run.files, run.elapsedNanos, workers);
  const errors = [...discovered.errors];
  for (const file of summary.files) if (file.error) errors.push(`${file.file}: ${file.error}`);
  if (run.failure) errors.push(run.failure);
  if (exporter) {
    const exported = await exporter.shutdown();
    // One line for an unreachable collector, however many batches failed.
    if (exported.error) errors.push(exported.error);
    if (exported.dropped > 0) errors.push(`${exported.dropped} spans dropped (export queue full)`);
    summary.spans = { exported: exported.exported, dropped: exported.dropped, failed: exported.failed };
  }
  if (!options.quiet) {
    const latency = run.latency?.report(options.summaryTop) ?? null;
    if (options.summary === 'json') {
      process.stderr.write(summaryToJson(summary, discovered.ignored, errors, latency));
    } else {
      let text = formatSummary(summary, discovered.ignored, errors);
      if (latency !== null) text += formatLatencyReport(latency);
      process.stderr.write(text);
    }
  }
  return errors.length > 0 ? 1 : 0;
}
