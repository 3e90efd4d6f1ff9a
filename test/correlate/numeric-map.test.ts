import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NumericMap } from '../../agent/correlate/numeric-map.ts';

test('behaves like a Map under random sets and deletes of colliding 53-bit keys (fast-check)', () => {
  // Keys share their low bits often (same slot), so probe runs and backward-shift deletion are exercised.
  const key = fc
    .tuple(fc.integer({ min: 0, max: 0x1fffff }), fc.integer({ min: 0, max: 63 }))
    .map(([high, low]) => high * 0x1_0000_0000 + low * 1024);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), key, fc.integer()), { maxLength: 3000 }), (operations) => {
      const map = new NumericMap<number>();
      const reference = new Map<number, number>();
      for (const [isSet, k, v] of operations) {
        if (isSet) {
          map.set(k, v);
          reference.set(k, v);
        } else {
          assert.equal(map.delete(k), reference.delete(k));
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
