/**
 * Span ids made as bytes (span-ids.ts): random, non-zero, never changed once handed out (a pool
 * is replaced, not refilled), and the sampler's fraction of a trace id the same from its bytes as
 * from its hex.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { traceIdBytesFraction, traceIdFraction } from '../../agent/export/otel/sampler.ts';
import { kSpanIdBytes, kTraceIdBytes, nonZero, SpanIdPool } from '../../agent/export/otel/span-ids.ts';

describe('SpanIdPool', () => {
  test('ids are random, distinct and kept by their pool when the next pool starts', () => {
    const ids = new SpanIdPool();
    const seen = new Set<string>();
    const held: { pool: Buffer; at: number; hex: string }[] = [];
    for (let i = 0; i < 10_000; i++) {
      const at = ids.take();
      const pool = ids.pool;
      const trace = pool.toString('hex', at, at + kTraceIdBytes);
      const span = pool.toString('hex', at + kTraceIdBytes, at + kTraceIdBytes + kSpanIdBytes);
      assert.ok(!/^0+$/.test(trace) && !/^0+$/.test(span));
      seen.add(trace);
      seen.add(span);
      if (i % 1000 === 0) held.push({ pool, at, hex: trace + span });
    }
    assert.equal(seen.size, 20_000);
    assert.ok(new Set(held.map((h) => h.pool)).size > 1, 'more than one pool used');
    for (const h of held) {
      assert.equal(h.pool.toString('hex', h.at, h.at + kTraceIdBytes + kSpanIdBytes), h.hex);
    }
  });

  test('an all-zero id gets a last byte of 1; any other is left as it is', () => {
    const bytes = Buffer.alloc(24);
    bytes[20] = 7;
    nonZero(bytes, 0, kTraceIdBytes);
    nonZero(bytes, kTraceIdBytes, kSpanIdBytes);
    assert.equal(bytes.toString('hex'), `${'0'.repeat(30)}01${'0'.repeat(8)}07${'0'.repeat(6)}`);
  });
});

test('the sampler fraction of a trace id: the same from its bytes as from its hex', () => {
  const ids = new SpanIdPool();
  for (let i = 0; i < 1000; i++) {
    const at = ids.take();
    const hex = ids.pool.toString('hex', at, at + kTraceIdBytes);
    assert.equal(traceIdBytesFraction(ids.pool, at), traceIdFraction(hex), hex);
  }
  const top = Buffer.from(`${'0'.repeat(19)}${'f'.repeat(13)}`, 'hex');
  assert.equal(traceIdBytesFraction(top, 0), traceIdFraction(top.toString('hex')));
  assert.ok(traceIdBytesFraction(top, 0) < 1);
});
