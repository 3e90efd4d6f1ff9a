/**
 * The report's capture-loss section: the run's loss estimate (correlate/capture-loss/observer.ts,
 * and the pcapng files' own drop counts) and, over time in the unanswered chart's bins, how many
 * pairs started and how many of them crossed a gap in the capture (Pair.captureGap). The bins come
 * from the pairs, so the one-thread and the worker pipelines draw the same chart.
 */
import type { CaptureLossCountsData } from '../correlate/capture-loss/observer.ts';
import { captureLossJson } from '../output/summary.ts';
import { grown } from '../shared/typed-arrays.ts';

export interface CaptureLossReport {
  /** ratio, missing/observed bytes and segments (`--summary json` capture_loss); null if not counted. */
  totals: Record<string, number> | null;
  t0: number;
  binSeconds: number;
  /** Pairs (answered and unanswered) by request start, per bin. */
  pairs: number[];
  /** Of them, pairs that crossed a capture gap. */
  gapPairs: number[];
}

/** Request start times (seconds from the report's time base) of the pairs that crossed a gap. */
export class CaptureGapTimes {
  #t = new Float64Array(256);
  #count = 0;

  add(t: number): void {
    if (this.#count === this.#t.length) {
      this.#t = grown(this.#t, this.#t.length * 2);
    }
    this.#t[this.#count++] = t;
  }

  /** The section's data, binned like the unanswered chart; `starts` yields every pair's start time. */
  build(
    t0: number,
    binSeconds: number,
    bins: number,
    starts: (count: (t: number) => void) => void,
    loss: CaptureLossCountsData | null,
  ): CaptureLossReport {
    const bin = (t: number) => Math.min(bins - 1, Math.max(0, Math.floor((t - t0) / binSeconds)));
    const pairs = new Array<number>(bins).fill(0);
    const gapPairs = new Array<number>(bins).fill(0);
    starts((t) => {
      pairs[bin(t)]!++;
    });
    for (let i = 0; i < this.#count; i++) gapPairs[bin(this.#t[i]!)]!++;
    return { totals: loss === null ? null : captureLossJson(loss), t0, binSeconds, pairs, gapPairs };
  }
}
