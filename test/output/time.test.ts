import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTimestamp } from '../../agent/output/time.ts';

test('formats epoch seconds and nanoseconds exactly, nine fraction digits', () => {
  assert.equal(formatTimestamp(0, 0), '1970-01-01T00:00:00.000000000Z');
  assert.equal(formatTimestamp(1764370840, 123456789), '2025-11-28T23:00:40.123456789Z');
  assert.equal(formatTimestamp(951782400, 1), '2000-02-29T00:00:00.000000001Z');
  assert.equal(formatTimestamp(4102444799, 999999999), '2099-12-31T23:59:59.999999999Z');
});

test('agrees with Date on millisecond-aligned instants across four centuries', () => {
  for (let s = -2208988800; s < 7258118400; s += 86400 * 37 + 3907) {
    const expected = new Date(s * 1000).toISOString().replace('.000Z', '.000000007Z');
    assert.equal(formatTimestamp(s, 7), expected);
  }
});

test('handles times past 2106 (pcapng 64-bit timestamps) that a u32 would wrap', () => {
  assert.equal(formatTimestamp(2 ** 32 + 5, 0), '2106-02-07T06:28:21.000000000Z');
});
