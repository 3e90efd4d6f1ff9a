import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { setPcapngTimestamp, TimestampScale } from '../../agent/capture/pcapng-time.ts';
import type { CaptureRecord } from '../../agent/capture/record.ts';

function convert(units: bigint, tsresol: number, offsetSeconds = 0): [number, number] {
  const record = { seconds: -1, nanos: -1 } as CaptureRecord;
  setPcapngTimestamp(
    record,
    Number(units >> 32n),
    Number(units & 0xffffffffn),
    new TimestampScale(tsresol, offsetSeconds),
  );
  return [record.seconds, record.nanos];
}

/** Exact reference: BigInt all the way. */
function reference(units: bigint, tsresol: number, offsetSeconds = 0): [number, number] {
  const exponent = BigInt(tsresol & 0x7f);
  const perSecond = tsresol & 0x80 ? 1n << exponent : 10n ** exponent;
  const seconds = units / perSecond;
  const nanos = ((units % perSecond) * 1_000_000_000n) / perSecond;
  return [Number(seconds + BigInt(offsetSeconds)), Number(nanos)];
}

test('nanosecond resolution keeps every digit of 1764370840123456789 ns', () => {
  assert.deepEqual(convert(1_764_370_840_123_456_789n, 9), [1764370840, 123456789]);
  assert.deepEqual(convert(1_764_370_840_999_999_999n, 9), [1764370840, 999999999]);
  assert.deepEqual(convert(1_764_370_841_000_000_000n, 9), [1764370841, 0]);
});

test('microseconds (default), both the one-double path and the long-division path', () => {
  assert.deepEqual(convert(1_764_370_840_123_456n, 6), [1764370840, 123456000]);
  assert.deepEqual(convert((1n << 52n) - 1n, 6), reference((1n << 52n) - 1n, 6));
  assert.deepEqual(convert(1n << 52n, 6), reference(1n << 52n, 6));
  // tcpdump's time_2106_overflow.pcapng: 1000000 * 2^32 µs = 2^32 s, after 2106
  assert.deepEqual(convert(1_000_000n << 32n, 6), [4294967296, 0]);
});

test('coarse, fine, binary resolutions and offsets', () => {
  assert.deepEqual(convert(12n, 0), [12, 0]);
  assert.deepEqual(convert(1234n, 1, 5), [128, 400_000_000]);
  assert.deepEqual(
    convert(1_764_370_840_123_456_789_01n % (1n << 64n), 11),
    reference(176_437_084_012_345_678_901n % (1n << 64n), 11),
  );
  assert.deepEqual(convert(3n, 0x80 | 1), [1, 500_000_000]);
  assert.deepEqual(convert(1n, 0x80 | 30), [0, 0]);
  assert.deepEqual(convert(0xffff_ffff_ffff_ffffn, 0x80 | 64), [0, 999_999_999]);
  assert.deepEqual(convert(0xffff_ffff_ffff_ffffn, 127), [0, 0]);
  assert.deepEqual(convert(5n, 9, -10), [-10, 5]);
});

test('property: equals the BigInt reference for every 64-bit timestamp and resolution', () => {
  const units = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.bigInt({ min: 0n, max: 1n << 53n }),
    fc.bigInt({ min: 1_500_000_000_000_000_000n, max: 2_000_000_000_000_000_000n }),
  );
  const tsresol = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0x80, max: 0x80 + 70 }));
  fc.assert(
    fc.property(
      units,
      tsresol,
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      (value, resolution, offset) => {
        const [seconds, nanos] = convert(value, resolution, offset);
        const [expectedSeconds, expectedNanos] = reference(value, resolution, offset);
        assert.equal(nanos, expectedNanos);
        // Seconds beyond 2^53 (absurd dates at coarse resolutions) cannot be exact in a double.
        if (Math.abs(expectedSeconds) <= Number.MAX_SAFE_INTEGER) assert.equal(seconds, expectedSeconds);
        else assert.ok(Math.abs(seconds - expectedSeconds) <= Math.abs(expectedSeconds) * 2 ** -51);
      },
    ),
    { numRuns: 5000 },
  );
});

test('property: exact next to whole seconds, where a rounded quotient would tip over', () => {
  const nearSecond = fc
    .tuple(
      fc.integer({ min: 0, max: 11 }),
      fc.bigInt({ min: 1n, max: 1n << 44n }),
      fc.integer({ min: -2, max: 2 }),
    )
    .map(([exponent, seconds, delta]) => {
      const value = seconds * 10n ** BigInt(exponent) + BigInt(delta);
      return [BigInt.asUintN(64, value), exponent] as const;
    });
  fc.assert(
    fc.property(nearSecond, ([value, exponent]) => {
      const expected = reference(value, exponent);
      if (expected[0] <= Number.MAX_SAFE_INTEGER) assert.deepEqual(convert(value, exponent), expected);
    }),
    { numRuns: 5000 },
  );
});
