/**
 * pcapng timestamps: a 64-bit count of units (the interface's if_tsresol) since the epoch, plus
 * the interface's if_tsoffset seconds, turned into exact whole seconds + nanoseconds.
 *
 * Hot path, no allocation: decimal resolutions up to 10^-11 use exact double arithmetic (every
 * intermediate stays below 2^53); only exotic resolutions (binary 2^-n, or finer than 10^-11)
 * take the BigInt path.
 */
import type { CaptureRecord } from './record.ts';

const TWO_POW_32 = 4294967296;
/** Timestamps whose high word is below this are < 2^52 units: one exact double (see below). */
const EXACT_HIGH_WORD_LIMIT = 0x100000;
/** Largest decimal exponent with 10^n < 2^37, so that remainder * 65536 + digit < 2^53. */
const MAX_EXACT_DECIMAL_EXPONENT = 11;
const DEFAULT_TSRESOL = 6;

/** How one interface's timestamps become seconds + nanos. Built once per IDB. */
export class TimestampScale {
  /** Units per second when it is 10^n with n <= 11 (exact double path), else 0. */
  readonly unitsPerSecond: number;
  /** 10^9 / unitsPerSecond for resolutions of 1 ns or coarser, else 0. */
  readonly nanosPerUnit: number;
  /** unitsPerSecond / 10^9 for resolutions finer than 1 ns (truncated to ns), else 0. */
  readonly unitsPerNano: number;
  /** Units per second for the BigInt path, 0n when the double path applies. */
  readonly bigUnitsPerSecond: bigint;
  /** if_tsoffset: seconds added to every timestamp. */
  readonly offsetSeconds: number;

  /**
   * `tsresol` is the if_tsresol option byte (bit 7 clear: 10^-n, set: 2^-n; 6 = microseconds
   * when the option is absent).
   */
  constructor(tsresol = DEFAULT_TSRESOL, offsetSeconds = 0) {
    const exponent = tsresol & 0x7f;
    const binary = (tsresol & 0x80) !== 0;
    this.offsetSeconds = offsetSeconds;
    if (!binary && exponent <= MAX_EXACT_DECIMAL_EXPONENT) {
      this.unitsPerSecond = 10 ** exponent;
      this.nanosPerUnit = exponent <= 9 ? 10 ** (9 - exponent) : 0;
      this.unitsPerNano = exponent > 9 ? 10 ** (exponent - 9) : 0;
      this.bigUnitsPerSecond = 0n;
    } else {
      this.unitsPerSecond = 0;
      this.nanosPerUnit = 0;
      this.unitsPerNano = 0;
      this.bigUnitsPerSecond = binary ? 1n << BigInt(exponent) : 10n ** BigInt(exponent);
    }
  }
}

/**
 * Sets `record.seconds` and `record.nanos` from the timestamp `high * 2^32 + low` (unsigned 32-bit
 * words). Seconds above 2^53 (only absurd timestamps at coarse resolutions) are rounded.
 */
export function setPcapngTimestamp(
  record: CaptureRecord,
  high: number,
  low: number,
  scale: TimestampScale,
): void {
  const divisor = scale.unitsPerSecond;
  if (divisor === 0) {
    setTimestampWithBigInt(record, high, low, scale);
    return;
  }
  let seconds: number;
  let remainder: number;
  if (high < EXACT_HIGH_WORD_LIMIT) {
    // Microsecond timestamps (~2^51 today) land here. Math.floor(x / d) is exact whenever
    // x + d < 2^53: the true quotient is then more than half an ulp below the next integer.
    const units = high * TWO_POW_32 + low;
    seconds = Math.floor(units / divisor);
    remainder = units - seconds * divisor;
  } else {
    // Long division in 16-bit digits: remainder < divisor < 2^37, so remainder * 65536 + digit
    // stays below 2^53 and each step is exact; every quotient digit is < 65536.
    let current = high >>> 16;
    const q3 = Math.floor(current / divisor);
    current = (current - q3 * divisor) * 65536 + (high & 0xffff);
    const q2 = Math.floor(current / divisor);
    current = (current - q2 * divisor) * 65536 + (low >>> 16);
    const q1 = Math.floor(current / divisor);
    current = (current - q1 * divisor) * 65536 + (low & 0xffff);
    const q0 = Math.floor(current / divisor);
    remainder = current - q0 * divisor;
    seconds = ((q3 * 65536 + q2) * 65536 + q1) * 65536 + q0;
  }
  record.seconds = seconds + scale.offsetSeconds;
  record.nanos =
    scale.nanosPerUnit !== 0 ? remainder * scale.nanosPerUnit : Math.floor(remainder / scale.unitsPerNano);
}

function setTimestampWithBigInt(
  record: CaptureRecord,
  high: number,
  low: number,
  scale: TimestampScale,
): void {
  const units = (BigInt(high) << 32n) | BigInt(low);
  const perSecond = scale.bigUnitsPerSecond;
  const seconds = units / perSecond;
  record.seconds = Number(seconds) + scale.offsetSeconds;
  record.nanos = Number(((units - seconds * perSecond) * 1_000_000_000n) / perSecond);
}
