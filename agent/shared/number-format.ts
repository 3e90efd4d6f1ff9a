/**
 * Whole numbers with en-US thousands separators (1,234,567), for the summaries and the progress
 * bar. The formatter is made at the first use: a thread's first Intl.NumberFormat loads ICU's
 * data (~20-40 ms of CPU, measured), which a module-level formatter charged to every thread that
 * loads the module, the workers and `run` included, at start, for text they never print.
 */
let formatter: Intl.NumberFormat | null = null;

export function formatNumber(value: number): string {
  formatter ??= new Intl.NumberFormat('en-US');
  return formatter.format(value);
}
