/**
 * `wirespan report`: replays captures and writes one self-contained HTML latency report.
 * `--workers 0` replays on this thread (html-report.ts); with workers, the replay worker
 * pipeline (parallel-replay.ts) correlates and posts the pairs to the same ReportCollector,
 * and the workers report the time range of the decoded records.
 */
import fs from 'node:fs';
import { discoverCaptureFiles } from '../capture/discover.ts';
import { openCapture } from '../capture/open.ts';
import { ReadResult } from '../capture/record.ts';
import { Correlator } from '../correlate/correlator.ts';
import type { CorrelateOptions } from '../correlate/options.ts';
import { decodePacket } from '../decode/decoder.ts';
import { DecodedPacket, Layer } from '../decode/packet.ts';
import { replayParallel } from '../pipeline/parallel-replay.ts';
import {
  defaultTitle,
  type GeneratedReport,
  generateReport,
  renderHtmlReport,
} from '../report/html-report.ts';
import { ReportCollector } from '../report/report-data.ts';
import { SkipCounters } from '../shared/skips.ts';
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
    // Matchers validate their settings (CIDRs, ports) when built: fail before reading anything.
    new Correlator(correlate, { emit: () => {} });
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

/**
 * The capture time of the first record that decodes to TCP/UDP, in reading order: the
 * collector's time base, set (as on one thread) before any pair arrives.
 */
function firstDecodedTime(files: readonly string[]): { seconds: number; nanos: number } | null {
  const packet = new DecodedPacket();
  const skips = new SkipCounters();
  for (const file of files) {
    const opened = openCapture(file, skips);
    if ('error' in opened) continue;
    try {
      while (opened.reader.next() === ReadResult.Record) {
        const r = opened.reader.record;
        decodePacket(r.data, r.offset, r.capturedLength, r.linkType, packet, skips);
        if (packet.stopLayer === Layer.Complete) return { seconds: r.seconds, nanos: r.nanos };
      }
    } finally {
      opened.source.close();
    }
  }
  return null;
}

async function reportOnWorkers(
  files: readonly string[],
  workers: number,
  correlate: CorrelateOptions,
  limits: { topServers: number; slowest: number },
  title: string | undefined,
): Promise<GeneratedReport> {
  const collector = new ReportCollector(files, limits);
  const first = firstDecodedTime(files);
  if (first !== null) collector.packet(first.seconds, first.nanos);
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
  // Every worker reads every record: one range, from worker 0 (all agree).
  const reporter = result.workers[0];
  const range = reporter?.decodedRange ?? null;
  if (range !== null) {
    collector.packet(range[0]!, range[1]!);
    collector.packet(range[2]!, range[3]!);
  }
  const reports = result.files.map((f) => ({
    file: files[f.fileId]!,
    format: f.format,
    packets: f.packets,
    bytes: f.bytes,
    error: f.error,
  }));
  const data = collector.build({
    title: title ?? defaultTitle(files),
    files: reports,
    packets: reporter?.packets ?? 0,
    decoded: reporter?.decoded ?? 0,
    bytes: reporter?.bytes ?? 0,
  });
  const errors = reports.filter((f) => f.error !== null).map((f) => `${f.file}: ${f.error}`);
  if (result.failure !== null) errors.push(result.failure);
  return { data, html: renderHtmlReport(data), errors, elapsedNanos: result.elapsedNanos };
}
