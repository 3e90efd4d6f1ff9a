/** The end-of-run summary `replay` prints on stderr. */
import type { PairCounts } from '../correlate/correlator.ts';
import type { LatencyReport } from '../report/latency-summary.ts';

/** What a replay did, whichever pipeline mode ran it. */
export interface RunSummary {
  files: { file: string; error: string | null }[];
  packets: number;
  decoded: number;
  bytes: number;
  skips: Record<string, number>;
  elapsedNanos: bigint;
  pairs: Record<string, PairCounts>;
  workers: number;
  /** Set when spans were exported (OTLP). */
  spans?: { exported: number; dropped: number; failed: number };
}

const number = new Intl.NumberFormat('en-US');

export function formatSummary(run: RunSummary, ignoredFiles: number, errors: string[]): string {
  const seconds = Number(run.elapsedNanos) / 1e9;
  const rate = seconds > 0 ? Math.round(run.packets / seconds) : 0;
  const readable = run.files.filter((f) => f.error === null).length;
  const mode = run.workers === 0 ? 'one thread' : `${run.workers} workers`;
  const lines = [
    `wirespan: ${run.files.length} files (${readable} read to the end${ignoredFiles ? `, ${ignoredFiles} non-capture files ignored` : ''}), ` +
      `${number.format(run.packets)} packets (${number.format(run.decoded)} decoded to TCP/UDP), ` +
      `${number.format(run.bytes)} bytes in ${seconds.toFixed(3)} s (${number.format(rate)} packets/s, ${mode})`,
  ];
  const skips = Object.entries(run.skips).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  if (skips.length > 0)
    lines.push(`  skipped: ${skips.map(([reason, n]) => `${reason}=${number.format(n)}`).join(' ')}`);
  const pairs: string[] = [];
  for (const [protocol, counts] of Object.entries(run.pairs)) {
    let text = `${protocol} matched=${number.format(counts.matched)} unanswered=${number.format(counts.unanswered)}`;
    const reasons = Object.entries(counts.unansweredBy).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    if (reasons.length > 0) text += ` (${reasons.map(([reason, n]) => `${reason}=${n}`).join(' ')})`;
    pairs.push(text);
  }
  if (pairs.length > 0) lines.push(`  pairs: ${pairs.join('; ')}`);
  if (run.spans) {
    const { exported, dropped, failed } = run.spans;
    lines.push(
      `  spans: exported=${number.format(exported)} dropped=${number.format(dropped)} failed=${number.format(failed)}`,
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
    ...(run.spans ? { spans: run.spans } : {}),
    errors,
    latency,
  };
  return `${JSON.stringify(object)}\n`;
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
