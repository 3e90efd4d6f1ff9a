import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grown } from '../../agent/shared/typed-arrays.ts';

test('grown keeps the kind and the old elements; the new ones are 0 or the fill', () => {
  const ints = grown(Int32Array.of(-1, 2, 3), 5);
  assert.ok(ints instanceof Int32Array);
  assert.deepEqual([...ints], [-1, 2, 3, 0, 0]);
  const bytes = grown(Uint8Array.of(255), 3);
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual([...bytes], [255, 0, 0]);
  const mins = grown(Float64Array.of(0.5, 7), 4, Number.POSITIVE_INFINITY);
  assert.ok(mins instanceof Float64Array);
  assert.deepEqual([...mins], [0.5, 7, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
  // A new array, not a view of the old one.
  const old = Uint32Array.of(1);
  const next = grown(old, 2);
  next[0] = 9;
  assert.equal(old[0], 1);
});
