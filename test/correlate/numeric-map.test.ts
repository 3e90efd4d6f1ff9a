import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NumericIndex, NumericMap } from '../../agent/correlate/numeric-map.ts';
import { cpuMillis } from '../helpers/cpu-time.ts';

test('behaves like a Map under random sets, deletes and takes of colliding 53-bit keys (fast-check)', () => {
  // Keys share their low bits often (same slot), so probe runs and backward-shift deletion are exercised.
  const key = fc
    .tuple(fc.integer({ min: 0, max: 0x1fffff }), fc.integer({ min: 0, max: 63 }))
    .map(([high, low]) => high * 0x1_0000_0000 + low * 1024);
  const operation = fc.constantFrom('set', 'delete', 'take');
  fc.assert(
    fc.property(fc.array(fc.tuple(operation, key, fc.integer()), { maxLength: 3000 }), (operations) => {
      const map = new NumericMap<number>();
      const reference = new Map<number, number>();
      for (const [op, k, v] of operations) {
        if (op === 'set') {
          assert.equal(map.set(k, v), reference.get(k));
          reference.set(k, v);
        } else if (op === 'delete') {
          assert.equal(map.delete(k), reference.delete(k));
        } else {
          assert.equal(map.take(k), reference.get(k));
          reference.delete(k);
        }
        assert.equal(map.size, reference.size);
      }
      for (const [, k] of operations) assert.equal(map.get(k), reference.get(k));
    }),
    { numRuns: 200 },
  );
});

test('grows past its initial capacity and clears', () => {
  const map = new NumericMap<string>();
  for (let i = 0; i < 100_000; i++) map.set(i * 7919 + 2 ** 40, `v${i}`);
  assert.equal(map.size, 100_000);
  assert.equal(map.get(5 * 7919 + 2 ** 40), 'v5');
  assert.equal(map.get(3), undefined);
  map.clear();
  assert.equal(map.size, 0);
  assert.equal(map.get(5 * 7919 + 2 ** 40), undefined);
});

test('sequential keys churned oldest-first stay cheap per operation (regression: one probe run per table)', () => {
  // HTTP numbers its requests 1, 2, 3, ...; a pipelining flood inserts the newest and deletes the
  // oldest. Unmixed, consecutive keys formed one run that every backward-shift deletion walked:
  // time grew with the window (16x the window, ~16x the time). Mixed, it stays flat.
  const churn = (window: number, operations: number): number => {
    const map = new NumericMap<number>();
    for (let k = 1; k <= window; k++) map.set(k, k);
    const started = cpuMillis();
    for (let k = window + 1; k <= window + operations; k++) {
      map.set(k, k);
      assert.equal(map.delete(k - window), true);
    }
    const elapsed = cpuMillis() - started;
    assert.equal(map.size, window);
    assert.equal(map.get(window + operations), window + operations);
    return elapsed;
  };
  churn(1024, 50_000); // warm-up (JIT)
  const small = Math.min(churn(1024, 200_000), churn(1024, 200_000));
  const large = Math.min(churn(16_384, 200_000), churn(16_384, 200_000));
  assert.ok(large < small * 6, `window 16,384: ${large} ms vs window 1,024: ${small} ms`);
});

test('NumericIndex behaves like a Map of numbers under random sets and deletes of colliding keys, through growth (fast-check)', () => {
  const key = fc
    .tuple(fc.integer({ min: 0, max: 0x1fffff }), fc.integer({ min: 0, max: 63 }))
    .map(([high, low]) => high * 0x1_0000_0000 + low * 1024);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), key, fc.nat()), { maxLength: 3000 }), (operations) => {
      const index = new NumericIndex();
      const reference = new Map<number, number>();
      for (const [isSet, k, v] of operations) {
        if (isSet) assert.equal(index.set(k, v), !reference.has(k));
        else assert.equal(index.delete(k), reference.has(k));
        if (isSet) reference.set(k, v);
        else reference.delete(k);
        assert.equal(index.size, reference.size);
      }
      for (const [, k] of operations) assert.equal(index.get(k), reference.get(k) ?? -1);
    }),
    { numRuns: 200 },
  );
  const index = new NumericIndex();
  for (let i = 0; i < 100_000; i++) index.set(i * 7919 + 2 ** 40, i);
  assert.equal(index.size, 100_000);
  assert.equal(index.get(5 * 7919 + 2 ** 40), 5);
  index.clear();
  assert.equal(index.get(5 * 7919 + 2 ** 40), -1);
});

test('NumericIndex deleteIfValue deletes a key only under that value, like a Map checked first (fast-check)', () => {
  const key = fc
    .tuple(fc.integer({ min: 0, max: 0x1fffff }), fc.integer({ min: 0, max: 15 }))
    .map(([high, low]) => high * 0x1_0000_0000 + low * 1024);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), key, fc.integer({ min: 0, max: 3 })), { maxLength: 2000 }),
      (operations) => {
        const index = new NumericIndex();
        const reference = new Map<number, number>();
        for (const [isSet, k, v] of operations) {
          if (isSet) {
            index.set(k, v);
            reference.set(k, v);
          } else {
            const matches = reference.get(k) === v;
            assert.equal(index.deleteIfValue(k, v), matches);
            if (matches) reference.delete(k);
          }
          assert.equal(index.size, reference.size);
        }
        for (const [, k] of operations) assert.equal(index.get(k), reference.get(k) ?? -1);
      },
    ),
    { numRuns: 200 },
  );
});
