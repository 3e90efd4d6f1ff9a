/**
 * `wirespan report`: replays captures and writes one self-contained HTML latency report.
 * `--workers 0` replays on this thread (html-report.ts); with workers, the replay worker
 * pipeline (parallel-replay.ts) correlates and posts the pairs to the same ReportCollector;
 * both start and finish the report the same way (startReport(), finishReport()).
 */
import fs from 'node:fs';
import { discoverCaptureFiles } from '../capture/discover.ts';
import type { CorrelateOptions } from '../correlate/options.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import { replayParallel } from '../pipeline/parallel-replay.ts';
import { finishReport, type GeneratedReport, generateReport, startReport } from '../report/html-report.ts';
import type { CorrelateCliOptions } from './correlation-flags.ts';
import { correlateOptionsFrom, resolveWorkers } from './replay-command.ts';

export interface ReportCommandOptions extends CorrelateCliOptions {
  inputs: string[];
  /** Path of the HTML file to write. */
  output: string;
  title: string | undefined;
  topServers: number;
  slowest: number;
  quiet: boolean;
  /** 'auto' or a count; 0 = everything on this thread. */
  workers?: number | 'auto';
}

/** Runs the command and returns the exit code: 0 ok, 1 an input could not be read (or the report not written), 2 usage. */
export async function runReport(options: ReportCommandOptions): Promise<number> {
  let correlate: CorrelateOptions;
  try {
    correlate = correlateOptionsFrom(options);
  } catch (error) {
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    return 2;
  }
  if (options.output === '' || options.output === '-') {
    process.stderr.write('wirespan: --output needs a file name, e.g. -o report.html\n');
    return 2;
  }
  const discovered = discoverCaptureFiles(options.inputs);
  const workers = resolveWorkers(options.workers ?? 'auto');
  const limits = { topServers: options.topServers, slowest: options.slowest };
  const report =
    workers === 0
      ? generateReport({
          files: discovered.files,
          correlate,
          limits,
          ...(options.title === undefined ? {} : { title: options.title }),
        })
      : await reportOnWorkers(discovered.files, workers, correlate, limits, options.title);
  const errors = [...discovered.errors, ...report.errors];
  try {
    fs.writeFileSync(options.output, report.html);
  } catch (error) {
    errors.push(
      `cannot write ${options.output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (!options.quiet) {
    const data = report.data;
    let matched = 0;
    let unanswered = 0;
    for (const p of data.protocols) {
      matched += p.matched;
      unanswered += p.unanswered;
    }
    const seconds = Number(report.elapsedNanos) / 1e9;
    process.stderr.write(
      `wirespan report: ${options.output} (${(Buffer.byteLength(report.html) / 1024).toFixed(0)} KiB): ` +
        `${data.files.length} files, ${data.packets.toLocaleString('en-US')} packets, ` +
        `${matched.toLocaleString('en-US')} pairs + ${unanswered.toLocaleString('en-US')} unanswered in ${seconds.toFixed(1)} s\n`,
    );
    for (const error of errors) process.stderr.write(`wirespan: ${error}\n`);
  }
  return errors.length > 0 ? 1 : 0;
}

async function reportOnWorkers(
  files: readonly string[],
  workers: number,
  correlate: CorrelateOptions,
  limits: { topServers: number; slowest: number },
  title: string | undefined,
): Promise<GeneratedReport> {
  const collector = startReport(files, limits);
  const result = await replayParallel({
    files,
    workers,
    options: correlate,
    output: 'none',
    writeOutput: () => {},
    onPairs: (pairs) => {
      for (const pair of pairs) collector.emit(pair);
    },
    onStats: null,
    statsIntervalMillis: 0,
    decodedTimes: true,
  });
  return finishReport(collector, {
    files,
    title,
    loops: result.workers,
    fileResults: result.files.map((f) => ({
      file: files[f.fileId]!,
      format: f.format,
      packets: f.packets,
      bytes: f.bytes,
      error: f.error,
      captureStatistics: f.captureStatistics ?? null,
    })),
    elapsedNanos: result.elapsedNanos,
    failure: result.failure,
    registry: matcherRegistry,
  });
}
