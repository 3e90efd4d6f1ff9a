/** Reads counts out of the measured programs' own output. */

export interface Counts {
  /** Packets the program says it read, or null if it does not say. */
  packets: number | null;
  /** Matched pairs by protocol. */
  matched: Map<string, number>;
}

function int(text: string): number {
  return Number(text.replaceAll(',', ''));
}

/**
 * wirespan's stderr summary:
 *   wirespan: 1 files (...), 5,000,000 packets (...) ...
 *     pairs: dns matched=788,471 unanswered=9,453 (...); http matched=513,900 ...; tcp matched=...
 */
export function parseWirespanSummary(stderr: string): Counts {
  const packets = /([\d,]+) packets/.exec(stderr);
  const matched = new Map<string, number>();
  const pairsLine = stderr.split('\n').find((line) => /^\s*pairs:/.test(line));
  if (pairsLine)
    for (const m of pairsLine.matchAll(/([\w-]+) matched=([\d,]+)/g)) matched.set(m[1]!, int(m[2]!));
  return { packets: packets ? int(packets[1]!) : null, matched };
}

/** ref-correlate's stdout: packets=N undecoded=N matches dns=N http=N udp=N total=N ... */
export function parseReferenceOutput(stdout: string): Counts {
  const packets = /packets=(\d+)/.exec(stdout);
  const matched = new Map<string, number>();
  const matches = /matches (.*?) total=/.exec(stdout);
  if (matches) for (const m of matches[1]!.matchAll(/(\w+)=(\d+)/g)) matched.set(m[1]!, int(m[2]!));
  return { packets: packets ? int(packets[1]!) : null, matched };
}

export function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
