/** Replays capture files in-process through the real reader → decoder → correlator and collects the pairs. */
import { Correlator } from '../../agent/correlate/correlator.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import type { Pair } from '../../agent/correlate/pair.ts';
import { pairToObject } from '../../agent/output/pair-json.ts';
import { replayFiles } from '../../agent/pipeline/replay.ts';

export interface ReplayedPairs {
  pairs: Pair[];
  /** The same pairs as parsed JSONL objects (the public schema). */
  json: Record<string, unknown>[];
  correlator: Correlator;
}

export function replayPairs(files: string[], configure?: (options: CorrelateOptions) => void): ReplayedPairs {
  const options = defaultCorrelateOptions();
  configure?.(options);
  const pairs: Pair[] = [];
  const correlator = new Correlator(options, { emit: (pair) => pairs.push(pair) });
  replayFiles({ files, sink: correlator, onRecord: null });
  return {
    pairs,
    json: pairs.map(
      (pair) => JSON.parse(JSON.stringify(pairToObject(pair, files))) as Record<string, unknown>,
    ),
    correlator,
  };
}

/** "0.023017000" (tshark seconds, up to 9 decimals) → exact integer nanoseconds. */
export function secondsTextToNanos(text: string): number {
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const nanos = Number(whole) * 1e9 + Number(fraction.padEnd(9, '0').slice(0, 9));
  return negative ? -nanos : nanos;
}
