/**
 * Request buffers reused once exported (request-buffers.ts): a buffer comes back only when given
 * back, holds exactly the request (its whole ArrayBuffer, for the gRPC transport's no-copy path),
 * and the encoder's requests stay byte for byte the SDK serializer's when built in reused buffers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OtlpTraceEncoder } from '../../agent/export/otel/otlp-encode.ts';
import { PairSpan } from '../../agent/export/otel/pair-span.ts';
import { RequestBufferPool } from '../../agent/export/otel/request-buffers.ts';
import { SpanIdPool } from '../../agent/export/otel/span-ids.ts';

test('a buffer is reused only after it was given back; each owns its whole ArrayBuffer', () => {
  const pool = new RequestBufferPool(1 << 20);
  const a = pool.take(1000);
  const b = pool.take(500);
  assert.notEqual(a.buffer, b.buffer, 'nothing given back yet: two buffers');
  assert.equal(a.byteLength, a.buffer.byteLength);
  pool.give(a);
  const c = pool.take(2000);
  assert.equal(c.buffer, a.buffer, 'the given-back buffer, resized');
  assert.equal(c.byteLength, 2000);
  assert.equal(c.byteLength, c.buffer.byteLength);
  // Larger than a pooled buffer holds: one of its own, never pooled.
  const huge = pool.take((1 << 20) + 1);
  pool.give(huge);
  pool.give(Uint8Array.of(1, 2, 3));
  assert.equal(pool.free, 0, 'only the pool’s own buffers come back');
  pool.give(c);
  pool.give(c);
  assert.equal(pool.free, 1, 'a buffer given back twice is kept once');
});

test('requests built in reused buffers are the SDK serializer’s bytes', () => {
  const pool = new RequestBufferPool(1 << 20);
  const encoder = new OtlpTraceEncoder(pool);
  const ids = new SpanIdPool();
  const resources = [0, 1].map((i) => resourceFromAttributes({ 'service.name': `svc-${i}` }));
  for (let round = 0; round < 5; round++) {
    const spans: PairSpan[] = [];
    // Requests of changing sizes, so a reused buffer grows and shrinks.
    for (let i = 0; i < 3 + ((round * 7) % 5) * 20; i++) {
      const at = ids.take();
      spans.push(
        new PairSpan(
          `span ${round}.${i}`,
          SpanKind.CLIENT,
          ids.pool,
          at,
          undefined,
          1_700_000_000 + i,
          round,
          1_700_000_001 + i,
          round,
          1_000_000_000,
          { code: SpanStatusCode.UNSET },
          { round, text: 'x'.repeat(i * 3) },
          resources[i % 2]!,
        ),
      );
    }
    for (const span of spans) encoder.add(span);
    const bytes = encoder.take();
    assert.equal(
      Buffer.compare(bytes, ProtobufTraceSerializer.serializeRequest(spans)!),
      0,
      `round ${round}`,
    );
    pool.give(bytes);
  }
});
