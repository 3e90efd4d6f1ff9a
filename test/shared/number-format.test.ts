import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNumber } from '../../agent/shared/number-format.ts';

const intl = new Intl.NumberFormat('en-US');

test('formatNumber groups safe integers as en-US Intl does, at every length and sign', () => {
  const values = [0, -0, 1, -1, 999, 1000, -1000, 12_345, 123_456, 1_234_567, -987_654_321];
  for (let power = 1; power <= 2 ** 52; power *= 2) values.push(power - 1, power, -power);
  values.push(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER);
  for (const value of values) assert.equal(formatNumber(value), intl.format(value), String(value));
  assert.equal(formatNumber(1_234_567), '1,234,567');
  assert.equal(formatNumber(-1000), '-1,000');
});

test('formatNumber leaves fractions, unsafe and non-finite values to Intl', () => {
  for (const value of [
    1.5,
    -2.25,
    0.0004,
    1234.5678,
    2 ** 53,
    -(2 ** 60),
    1e21,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ])
    assert.equal(formatNumber(value), intl.format(value), String(value));
  assert.equal(formatNumber(1234.5678), '1,234.568');
});
