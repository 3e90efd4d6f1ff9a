/**
 * Head sampling of pair spans. The decision is made before a span object exists (every input is
 * known up front: a pair is finished when it is emitted), so dropped spans cost nothing.
 *
 * Kept, whatever the ratio:
 * - errors: unanswered pairs, HTTP 5xx (and 4xx on CLIENT spans), DNS rcodes other than NOERROR,
 *   i.e. every span whose status is ERROR;
 * - spans at least `slowSeconds` long (when configured);
 * - spans joining a trace whose `traceparent` has the sampled flag, so the application's sampled
 *   traces stay complete.
 * Others are kept with probability `ratio`, decided from the trace id (its low 52 bits as a
 * fraction), so every wirespan agent and every span of one trace decide alike.
 * Latency histograms are recorded before sampling, so sampling never thins them.
 */

export interface SamplingOptions {
  /** Fraction of ordinary spans kept, 0..1 (1 keeps all). */
  ratio: number;
  /** Spans at least this long are always kept; null: no slow rule. */
  slowSeconds: number | null;
}

export interface SampleInput {
  /** The trace id's traceIdFraction() (or traceIdBytesFraction()). */
  traceFraction: number;
  isError: boolean;
  durationNanos: number;
  /** The joined traceparent's sampled flag; null when the span starts its own trace. */
  parentSampled: boolean | null;
}

const kTwo52 = 2 ** 52;

export class PairSampler {
  readonly ratio: number;
  readonly #slowNanos: number;

  constructor(options: SamplingOptions) {
    if (!(options.ratio >= 0 && options.ratio <= 1)) {
      throw new Error(`sampling ratio must be a number from 0 to 1, got ${options.ratio}`);
    }
    if (options.slowSeconds !== null && !(options.slowSeconds >= 0)) {
      throw new Error(
        `slow-span threshold must be a non-negative number of seconds, got ${options.slowSeconds}`,
      );
    }
    this.ratio = options.ratio;
    this.#slowNanos = options.slowSeconds === null ? Number.POSITIVE_INFINITY : options.slowSeconds * 1e9;
  }

  shouldKeep(input: SampleInput): boolean {
    if (this.ratio >= 1 || input.isError || input.durationNanos >= this.#slowNanos) return true;
    if (input.parentSampled === true) return true;
    if (this.ratio <= 0) return false;
    return input.traceFraction < this.ratio;
  }
}

/** The trace id's low 52 bits (13 hex digits) as a fraction in [0, 1). */
export function traceIdFraction(traceId: string): number {
  const low = Number.parseInt(traceId.slice(-13), 16);
  return Number.isFinite(low) ? low / kTwo52 : 0;
}

/** traceIdFraction() of the 16-byte trace id at `at`. */
export function traceIdBytesFraction(bytes: Uint8Array, at: number): number {
  let low = bytes[at + 9]! & 0x0f;
  for (let i = at + 10; i < at + 16; i++) low = low * 256 + bytes[i]!;
  return low / kTwo52;
}
