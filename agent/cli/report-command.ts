/**
 * `wirespan report`: replays captures through the pipeline (pipeline.ts: this thread or the
 * workers, the pairs into the report's collector) and writes one self-contained HTML latency report.
 */
import fs from 'node:fs';
import { discoverCaptureFiles } from '../capture/discover.ts';
import type { CorrelateOptions } from '../correlate/options.ts';
import { generateReport } from '../report/html-report.ts';
import { formatNumber } from '../shared/number-format.ts';
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
  const report = await generateReport({
    files: discovered.files,
    correlate,
    limits: { topServers: options.topServers, slowest: options.slowest },
    workers: resolveWorkers(options.workers ?? 'auto'),
    ...(options.title === undefined ? {} : { title: options.title }),
  });
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
        `${data.files.length} files, ${formatNumber(data.packets)} packets, ` +
        `${formatNumber(matched)} pairs + ${formatNumber(unanswered)} unanswered in ${seconds.toFixed(1)} s\n`,
    );
    for (const error of errors) process.stderr.write(`wirespan: ${error}\n`);
  }
  return errors.length > 0 ? 1 : 0;
}
