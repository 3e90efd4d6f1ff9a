/**
 * Whole numbers with en-US thousands separators (1,234,567), for the summaries and the progress
 * bar. Safe integers (every count these print) are grouped here: a thread's first
 * Intl.NumberFormat loads ICU's data (~20-40 ms of CPU, measured), which one summary line cost
 * every `replay`. Anything else (fractions, huge or non-finite values) goes to the en-US
 * formatter, made at its first use so that no thread pays for it up front.
 */
let formatter: Intl.NumberFormat | null = null;

export function formatNumber(value: number): string {
  if (!Number.isSafeInteger(value)) {
    formatter ??= new Intl.NumberFormat('en-US');
    return formatter.format(value);
  }
  // -0 is a safe integer that Intl prints as "-0".
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const digits = String(Math.abs(value));
  let grouped = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let at = grouped.length; at < digits.length; at += 3) grouped += `,${digits.slice(at, at + 3)}`;
  return sign + grouped;
}
