/** The end-of-run summary `replay` prints on stderr. */
import type { Correlator } from '../correlate/correlator.ts';
import type { ReplayResult } from '../pipeline/replay.ts';

const number = new Intl.NumberFormat('en-US');

export function formatSummary(
  result: ReplayResult,
  correlator: Correlator,
  ignoredFiles: number,
  errors: string[],
): string {
  const seconds = Number(result.elapsedNanos) / 1e9;
  const rate = seconds > 0 ? Math.round(result.packets / seconds) : 0;
  const readable = result.files.filter((f) => f.error === null).length;
  const lines = [
    `wirespan: ${result.files.length} files (${readable} read to the end${ignoredFiles ? `, ${ignoredFiles} non-capture files ignored` : ''}), ` +
      `${number.format(result.packets)} packets (${number.format(result.decoded)} decoded to TCP/UDP), ` +
      `${number.format(result.bytes)} bytes in ${seconds.toFixed(3)} s (${number.format(rate)} packets/s)`,
  ];
  const skips = Object.entries(result.skips.toObject());
  if (skips.length > 0)
    lines.push(`  skipped: ${skips.map(([reason, n]) => `${reason}=${number.format(n)}`).join(' ')}`);
  const pairs: string[] = [];
  for (const [protocol, counts] of correlator.counts) {
    let text = `${protocol} matched=${number.format(counts.matched)} unanswered=${number.format(counts.unanswered)}`;
    const reasons = Object.entries(counts.unansweredBy);
    if (reasons.length > 0) text += ` (${reasons.map(([reason, n]) => `${reason}=${n}`).join(' ')})`;
    pairs.push(text);
  }
  if (pairs.length > 0) lines.push(`  pairs: ${pairs.join('; ')}`);
  for (const error of errors) lines.push(`  error: ${error}`);
  return `${lines.join('\n')}\n`;
}
