/** `wirespan replay`: wires files → reader → decoder → correlator → output, then prints the summary. */
import os from 'node:os';
import { discoverCaptureFiles } from '../capture/discover.ts';
import { Correlator } from '../correlate/correlator.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../correlate/options.ts';
import type { Pair } from '../correlate/pair.ts';
import { ByteBuffer } from '../output/byte-buffer.ts';
import { LineWriter } from '../output/line-writer.ts';
import { packetToJson } from '../output/packet-json.ts';
import { PairJsonWriter, pairToText } from '../output/pair-json.ts';
import { addCounts, addPairCounts, formatSummary, type RunSummary } from '../output/summary.ts';
import { type PipelineSnapshot, replayParallel } from '../pipeline/parallel-replay.ts';
import { replayFiles } from '../pipeline/replay.ts';
import { parseOutputSpec } from './output-spec.ts';

/** JSONL bytes gathered before a write. */
const kOutputFlushBytes = 256 * 1024;

export interface ReplayCommandOptions {
  inputs: string[];
  output: string;
  packets: boolean;
  quiet: boolean;
  /** 'auto' or a count; 0 = everything on this thread. */
  workers: number | 'auto';
  statsIntervalSeconds: number;
  dnsPorts: number[];
  dnsLatencyFrom: 'first' | 'last';
  udpPorts: number[];
  httpKeepQuery: boolean;
  relay: boolean;
  internalNetworks: string[];
  relayEcho: boolean;
  relayCrossTransport: boolean;
  timeoutSeconds: number;
  maxPending: number;
}

export function correlateOptionsFrom(options: ReplayCommandOptions): CorrelateOptions {
  const correlate = defaultCorrelateOptions();
  correlate.dnsPorts = options.dnsPorts;
  correlate.dnsLatencyFrom = options.dnsLatencyFrom;
  correlate.udpPorts = options.udpPorts;
  correlate.httpKeepQuery = options.httpKeepQuery;
  correlate.relay = {
    enabled: options.relay,
    internalNetworks: options.internalNetworks,
    matchEcho: options.relayEcho,
    crossTransport: options.relayCrossTransport,
  };
  const timeoutNanos = Math.round(options.timeoutSeconds * 1e9);
  correlate.timeoutNanos = {
    dns: timeoutNanos,
    http: timeoutNanos,
    tcp: timeoutNanos,
    udp: timeoutNanos,
    relay: timeoutNanos,
  };
  const max = options.maxPending;
  correlate.maxPending = { dns: max, http: max, tcp: max, udp: max, relay: max };
  return correlate;
}

/** `--workers auto`: one correlator worker per core the process may use. */
export function resolveWorkers(workers: number | 'auto'): number {
  return workers === 'auto' ? Math.max(1, os.availableParallelism()) : workers;
}

/** One line for --stats-interval: the pipeline's state right now. */
function statsLine(snapshot: PipelineSnapshot): string {
  let packets = 0;
  let matched = 0;
  let unanswered = 0;
  let pending = 0;
  for (const [i, w] of snapshot.workers.entries()) {
    if (i === 0) packets = w.packets;
    for (const c of Object.values(w.pairs)) {
      matched += c.matched;
      unanswered += c.unanswered;
    }
    for (const n of Object.values(w.pending)) pending += n;
  }
  return (
    `wirespan stats: pool ${snapshot.poolUsed}/${snapshot.poolSlots} slots used, ` +
    `queues ${snapshot.queueDepths.join('/')} of ${snapshot.queueCapacity}, files done ${snapshot.filesDone}, ` +
    `packets ${packets}, pairs matched ${matched} unanswered ${unanswered}, pending ${pending}\n`
  );
}

/** Runs the command and returns the process exit code (0 ok, 1 processing error, 2 usage error). */
export async function runReplay(options: ReplayCommandOptions): Promise<number> {
  let outputSpec: ReturnType<typeof parseOutputSpec>;
  let correlateOptions: CorrelateOptions;
  try {
    outputSpec = parseOutputSpec(options.output);
    correlateOptions = correlateOptionsFrom(options);
    // Matchers validate their own settings (CIDRs, ports) when built: fail fast, before any output.
    new Correlator(correlateOptions, { emit: () => {} });
  } catch (error) {
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    return 2;
  }

  const discovered = discoverCaptureFiles(options.inputs);
  let writer: LineWriter | null = null;
  try {
    if (outputSpec.format !== 'none')
      writer = outputSpec.path ? LineWriter.file(outputSpec.path) : LineWriter.stdout();
  } catch (error) {
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    return 1;
  }

  const files = discovered.files;
  // --packets lists records, which only the single-thread reader does.
  const workers = options.packets ? 0 : resolveWorkers(options.workers);
  const run =
    workers === 0
      ? replayOnThisThread(files, options, outputSpec.format, correlateOptions, writer)
      : await replayOnWorkers(files, workers, options, outputSpec.format, correlateOptions, writer);
  writer?.close();

  const errors = [...discovered.errors];
  for (const file of run.summary.files) if (file.error) errors.push(`${file.file}: ${file.error}`);
  if (run.failure) errors.push(run.failure);
  if (!options.quiet) process.stderr.write(formatSummary(run.summary, discovered.ignored, errors));
  return errors.length > 0 ? 1 : 0;
}

interface Run {
  summary: RunSummary;
  failure: string | null;
}

function replayOnThisThread(
  files: string[],
  options: ReplayCommandOptions,
  format: 'none' | 'jsonl' | 'text',
  correlateOptions: CorrelateOptions,
  writer: LineWriter | null,
): Run {
  const json = new PairJsonWriter(files);
  const pending = new ByteBuffer(kOutputFlushBytes * 2);
  const emitPair = (pair: Pair): void => {
    if (writer === null || options.packets) return;
    if (format === 'text') {
      writer.write(pairToText(pair));
      return;
    }
    json.write(pending, pair);
    if (pending.length >= kOutputFlushBytes) {
      writer.writeBytes(pending.view());
      pending.clear();
    }
  };
  const correlator = new Correlator(correlateOptions, { emit: emitPair });
  const result = replayFiles({
    files,
    sink: correlator,
    onRecord:
      options.packets && writer
        ? (fileId, record, packet) => {
            writer.write(packetToJson(files[fileId]!, record, packet));
            return !writer.closed;
          }
        : null,
  });
  writer?.writeBytes(pending.view());
  const skips = result.skips.toObject();
  addCounts(skips, correlator.skips.toObject());
  return {
    summary: {
      files: result.files,
      packets: result.packets,
      decoded: result.decoded,
      bytes: result.bytes,
      skips,
      elapsedNanos: result.elapsedNanos,
      pairs: Object.fromEntries(correlator.counts),
      workers: 0,
    },
    failure: null,
  };
}

async function replayOnWorkers(
  files: string[],
  workers: number,
  options: ReplayCommandOptions,
  format: 'none' | 'jsonl' | 'text',
  correlateOptions: CorrelateOptions,
  writer: LineWriter | null,
): Promise<Run> {
  const result = await replayParallel({
    files,
    workers,
    options: correlateOptions,
    output: writer === null ? 'none' : format,
    writeOutput: (bytes) => writer?.writeBytes(bytes),
    onPairs: null,
    onStats:
      options.statsIntervalSeconds > 0 ? (snapshot) => process.stderr.write(statsLine(snapshot)) : null,
    statsIntervalMillis: Math.round(options.statsIntervalSeconds * 1000),
  });
  // Every worker reads every record: input counts come from worker 0, correlation counts from all.
  const reporter = result.workers[0];
  const skips: Record<string, number> = { ...(reporter?.inputSkips ?? {}) };
  const pairs: RunSummary['pairs'] = {};
  for (const stats of result.workers) {
    addCounts(skips, stats.correlatorSkips);
    addPairCounts(pairs, stats.pairs);
  }
  return {
    summary: {
      files: result.files.map((report) => ({ file: files[report.fileId]!, error: report.error })),
      packets: reporter?.packets ?? 0,
      decoded: reporter?.decoded ?? 0,
      bytes: reporter?.bytes ?? 0,
      skips,
      elapsedNanos: result.elapsedNanos,
      pairs,
      workers,
    },
    failure: result.failure,
  };
}
