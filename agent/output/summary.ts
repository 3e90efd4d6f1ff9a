/** The end-of-run summary `replay` prints on stderr. */
import type { CaptureStatistics } from '../capture/pcapng.ts';
import type { CaptureLossCountsData } from '../correlate/capture-loss/observer.ts';
import type { PairCounts } from '../correlate/correlator.ts';
import type { LatencyReport } from '../report/latency-summary.ts';
import { formatNumber } from '../shared/number-format.ts';

/** What a replay did, whichever pipeline mode ran it. */
export interface RunSummary {
  /** captureStatistics: pcapng files' own counts (Interface Statistics Blocks), when they have them. */
  files: {
    file: string;
    error: string | null;
    captureStatistics?: CaptureStatistics | null;
    /** This file's share of captureLoss (files with TCP traffic). */
    captureLoss?: CaptureLossCountsData;
  }[];
  packets: number;
  decoded: number;
  bytes: number;
  skips: Record<string, number>;
  elapsedNanos: bigint;
  pairs: Record<string, PairCounts>;
  workers: number;
  /** TCP sequence space the capture saw and missed (capture-loss/observer.ts), all shards together. */
  captureLoss?: CaptureLossCountsData;
  /** Set when spans were exported (OTLP). */
  spans?: { exported: number; dropped: number; failed: number };
}

export function formatSummary(run: RunSummary, ignoredFiles: number, errors: string[]): string {
  const seconds = Number(run.elapsedNanos) / 1e9;
  const rate = seconds > 0 ? Math.round(run.packets / seconds) : 0;
  const readable = run.files.filter((f) => f.error === null).length;
  const mode = run.workers === 0 ? 'one thread' : `${run.workers} workers`;
  const lines = [
    `wirespan: ${run.files.length} files (${readable} read to the end${ignoredFiles ? `, ${ignoredFiles} non-capture files ignored` : ''}), ` +
      `${formatNumber(run.packets)} packets (${formatNumber(run.decoded)} decoded to TCP/UDP), ` +
      `${formatNumber(run.bytes)} bytes in ${seconds.toFixed(3)} s (${formatNumber(rate)} packets/s, ${mode})`,
  ];
  const skips = Object.entries(run.skips).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  if (skips.length > 0)
    lines.push(`  skipped: ${skips.map(([reason, n]) => `${reason}=${formatNumber(n)}`).join(' ')}`);
  const pairs: string[] = [];
  for (const [protocol, counts] of Object.entries(run.pairs)) {
    let text = `${protocol} matched=${formatNumber(counts.matched)} unanswered=${formatNumber(counts.unanswered)}`;
    const reasons = Object.entries(counts.unansweredBy).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    if (reasons.length > 0) text += ` (${reasons.map(([reason, n]) => `${reason}=${n}`).join(' ')})`;
    pairs.push(text);
  }
  if (pairs.length > 0) lines.push(`  pairs: ${pairs.join('; ')}`);
  if (run.captureLoss) lines.push(`  ${formatCaptureLoss(run.captureLoss)}`);
  const lossy = run.files
    .filter((f) => f.captureLoss && f.captureLoss.missingBytes > 0)
    .sort((a, b) => lossRatioOf(b.captureLoss!) - lossRatioOf(a.captureLoss!));
  for (const file of lossy.slice(0, kLossyFilesListed))
    lines.push(`    ${file.file}: ${formatCaptureLoss(file.captureLoss!)}`);
  if (lossy.length > kLossyFilesListed)
    lines.push(
      `    (${lossy.length - kLossyFilesListed} more files with capture loss: --summary json lists them all)`,
    );
  for (const file of run.files) {
    if (file.captureStatistics) lines.push(`  ${formatCaptureStatistics(file.file, file.captureStatistics)}`);
  }
  if (run.spans) {
    const { exported, dropped, failed } = run.spans;
    lines.push(
      `  spans: exported=${formatNumber(exported)} dropped=${formatNumber(dropped)} failed=${formatNumber(failed)}`,
    );
  }
  for (const error of errors) lines.push(`  error: ${error}`);
  return `${lines.join('\n')}\n`;
}

/**
 * `--summary json`: the summary lines' content and the latency summary as one JSON object
 * (docs/output.md "Summary and progress on stderr").
 */
export function summaryToJson(
  run: RunSummary,
  ignoredFiles: number,
  errors: string[],
  latency: LatencyReport | null,
): string {
  const seconds = Number(run.elapsedNanos) / 1e9;
  const object = {
    files: run.files.length,
    files_read: run.files.filter((f) => f.error === null).length,
    files_ignored: ignoredFiles,
    packets: run.packets,
    decoded: run.decoded,
    bytes: run.bytes,
    elapsed_seconds: Number(seconds.toFixed(6)),
    workers: run.workers,
    skipped: run.skips,
    pairs: Object.fromEntries(
      Object.entries(run.pairs).map(([protocol, c]) => [
        protocol,
        { matched: c.matched, unanswered: c.unanswered, unanswered_by: c.unansweredBy },
      ]),
    ),
    ...(run.captureLoss ? { capture_loss: captureLossJson(run.captureLoss) } : {}),
    capture_loss_by_file: run.files.flatMap((f) =>
      f.captureLoss ? [{ file: f.file, ...captureLossJson(f.captureLoss) }] : [],
    ),
    capture_statistics: run.files.flatMap((f) =>
      f.captureStatistics ? [{ file: f.file, ...captureStatisticsJson(f.captureStatistics) }] : [],
    ),
    ...(run.spans ? { spans: run.spans } : {}),
    errors,
    latency,
  };
  return `${JSON.stringify(object)}\n`;
}

/** Files with capture loss listed in the text summary (the lossiest first). */
const kLossyFilesListed = 10;

function lossRatioOf(loss: CaptureLossCountsData): number {
  return lossRatio(loss.missingBytes, loss.observedBytes);
}

/** Missing over all (observed + missing); 0 with no traffic. */
function lossRatio(missing: number, observed: number): number {
  return missing + observed > 0 ? missing / (missing + observed) : 0;
}

/** Ratios as percentages with enough digits to tell 0 from "a little". */
function percent(ratio: number): string {
  return ratio === 0 ? '0%' : `${(ratio * 100).toPrecision(3)}%`;
}

/** "capture loss: 1.23% of TCP bytes (...)": what the capture missed, from the traffic itself. */
export function formatCaptureLoss(loss: CaptureLossCountsData): string {
  const bytes = lossRatio(loss.missingBytes, loss.observedBytes);
  const segments = lossRatio(loss.missingSegments, loss.observedSegments);
  return (
    `capture loss: ${percent(bytes)} of TCP bytes (${formatNumber(loss.missingBytes)} missing, ` +
    `${formatNumber(loss.observedBytes)} seen), ${percent(segments)} of segments ` +
    `(~${formatNumber(loss.missingSegments)} missing, ${formatNumber(loss.observedSegments)} seen)`
  );
}

/** `--summary json` capture_loss: ratio (of bytes), the counts, and the segment ratio. */
export function captureLossJson(loss: CaptureLossCountsData): Record<string, number> {
  return {
    ratio: lossRatio(loss.missingBytes, loss.observedBytes),
    missing_bytes: loss.missingBytes,
    observed_bytes: loss.observedBytes,
    segment_ratio: lossRatio(loss.missingSegments, loss.observedSegments),
    missing_segments: loss.missingSegments,
    observed_segments: loss.observedSegments,
  };
}

/** The drop counts a pcapng file states about its own capture (absent options left out). */
function captureStatisticsJson(stats: CaptureStatistics): Record<string, number> {
  const out: Record<string, number> = { interfaces: stats.interfaces };
  if (stats.received >= 0) out.received = stats.received;
  if (stats.interfaceDropped >= 0) out.interface_dropped = stats.interfaceDropped;
  if (stats.osDropped >= 0) out.os_dropped = stats.osDropped;
  if (stats.filterAccepted >= 0) out.filter_accepted = stats.filterAccepted;
  if (stats.userDelivered >= 0) out.user_delivered = stats.userDelivered;
  return out;
}

function formatCaptureStatistics(file: string, stats: CaptureStatistics): string {
  const counts = Object.entries(captureStatisticsJson(stats))
    .filter(([name]) => name !== 'interfaces')
    .map(([name, n]) => `${name}=${formatNumber(n)}`);
  return `capture drops stated by ${file} (pcapng statistics, cumulative since its capture started): ${counts.length > 0 ? counts.join(' ') : 'no counts'}`;
}

/** Per-file counts of the loops (WorkerStats.captureLossByFile), summed by file id into `byFile`. */
export function captureLossByFile(
  flattened: readonly (readonly number[] | undefined)[],
  byFile = new Map<number, CaptureLossCountsData>(),
): Map<number, CaptureLossCountsData> {
  for (const list of flattened) {
    if (list === undefined) continue;
    for (let i = 0; i + 4 < list.length; i += 5) {
      const counts = byFile.get(list[i]!) ?? {
        observedBytes: 0,
        observedSegments: 0,
        missingBytes: 0,
        missingSegments: 0,
      };
      counts.observedBytes += list[i + 1]!;
      counts.observedSegments += list[i + 2]!;
      counts.missingBytes += list[i + 3]!;
      counts.missingSegments += list[i + 4]!;
      byFile.set(list[i]!, counts);
    }
  }
  return byFile;
}

/** Adds `from`'s pair counts into `into`. */
export function addPairCounts(into: Record<string, PairCounts>, from: Record<string, PairCounts>): void {
  for (const [protocol, counts] of Object.entries(from)) {
    const target = into[protocol] ?? { matched: 0, unanswered: 0, unansweredBy: {} };
    into[protocol] = target;
    target.matched += counts.matched;
    target.unanswered += counts.unanswered;
    for (const [reason, n] of Object.entries(counts.unansweredBy)) {
      target.unansweredBy[reason] = (target.unansweredBy[reason] ?? 0) + n;
    }
  }
}

export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}
