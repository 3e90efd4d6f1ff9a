/**
 * The span queue against a SpanExporter whose answers the test controls (the SDK's exporter
 * contract, not our code): drops are counted, concurrency stays bounded, shutdown drains with
 * a deadline and stops at a dead collector.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { type ExportStateDetail, SpanBatcher } from '../../agent/export/otel/span-batcher.ts';

/** An exporter that records each call and answers when the test says so. */
class HeldExporter implements SpanExporter {
  readonly calls: { spans: ReadableSpan[]; done: (result: ExportResult) => void }[] = [];
  inFlight = 0;
  maxInFlight = 0;

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.calls.push({
      spans,
      done: (result) => {
        this.inFlight--;
        done(result);
      },
    });
  }

  answerAll(code: ExportResultCode, error?: Error): number {
    const pending = this.calls.splice(0);
    for (const call of pending) call.done({ code, ...(error ? { error } : {}) });
    return pending.length;
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const span = (n: number): ReadableSpan => ({ name: `s${n}` }) as unknown as ReadableSpan;

test('a full queue drops the newest spans and counts them', () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    maxQueueSize: 10,
    maxExportBatchSize: 4,
    scheduledDelayMillis: 1000,
    maxConcurrentExports: 1,
  });
  let accepted = 0;
  for (let i = 0; i < 15; i++) if (batcher.offer(span(i))) accepted++;
  assert.equal(accepted, 10);
  assert.equal(batcher.counters.droppedQueueFull, 5);
  assert.equal(batcher.queued, 10);
  assert.equal(exporter.calls.length, 0, 'offer() never exports synchronously');
});

test('concurrency stays at maxConcurrentExports, also while flushing', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    maxQueueSize: 1000,
    maxExportBatchSize: 10,
    scheduledDelayMillis: 1000,
    maxConcurrentExports: 3,
  });
  for (let i = 0; i < 95; i++) batcher.offer(span(i));
  const flushed = batcher.forceFlush();
  await sleep(5);
  assert.equal(exporter.calls.length, 3);
  let exported = 0;
  while (exporter.calls.length > 0) {
    exported += exporter.calls.reduce((n, c) => n + c.spans.length, 0);
    exporter.answerAll(ExportResultCode.SUCCESS);
    await sleep(1);
  }
  await flushed;
  assert.equal(exported, 95);
  assert.equal(exporter.maxInFlight, 3);
  assert.equal(batcher.counters.exported, 95);
  assert.equal(batcher.queued, 0);
});

test('a partly filled batch is sent after the scheduled delay', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    maxQueueSize: 100,
    maxExportBatchSize: 50,
    scheduledDelayMillis: 300,
    maxConcurrentExports: 2,
  });
  const started = performance.now();
  batcher.offer(span(1));
  batcher.offer(span(2));
  await sleep(10);
  if (performance.now() - started < 250) assert.equal(exporter.calls.length, 0, 'not before the delay');
  await sleep(600);
  assert.equal(exporter.calls.length, 1);
  assert.equal(exporter.calls[0]!.spans.length, 2);
  exporter.answerAll(ExportResultCode.SUCCESS);
});

test('shutdown drain stops at the first failed export and counts the rest as failed', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    maxQueueSize: 1000,
    maxExportBatchSize: 10,
    scheduledDelayMillis: 1000,
    maxConcurrentExports: 1,
  });
  for (let i = 0; i < 50; i++) batcher.offer(span(i));
  const drained = batcher.drain(performance.now() + 5000);
  await sleep(5);
  assert.equal(exporter.answerAll(ExportResultCode.FAILED, new Error('14 UNAVAILABLE: collector down')), 1);
  const result = await drained;
  assert.equal(result.complete, false);
  assert.equal(exporter.calls.length, 0, 'no further batch was sent');
  assert.equal(batcher.counters.failed, 50);
  assert.equal(batcher.counters.abandoned, 40);
  assert.equal(batcher.counters.exportErrors, 1);
  assert.equal(batcher.lastError, '14 UNAVAILABLE: collector down');
  assert.equal(batcher.offer(span(99)), false);
  assert.equal(batcher.counters.droppedAfterShutdown, 1);
});

test('shutdown drain gives up at the deadline when the exporter never answers', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    maxQueueSize: 1000,
    maxExportBatchSize: 10,
    scheduledDelayMillis: 1000,
    maxConcurrentExports: 2,
  });
  for (let i = 0; i < 30; i++) batcher.offer(span(i));
  const started = performance.now();
  const result = await batcher.drain(started + 50);
  assert.ok(performance.now() - started < 500);
  assert.equal(result.complete, false);
  assert.equal(batcher.counters.failed, 30);
  assert.equal(batcher.counters.exported, 0);
  // A late answer is not counted twice.
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.counters.exported, 0);
  assert.equal(batcher.counters.failed, 30);
});

test('whenRoom() resolves once the waiting spans are back under half the queue', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    maxQueueSize: 40,
    maxExportBatchSize: 5,
    scheduledDelayMillis: 1000,
    maxConcurrentExports: 2,
  });
  for (let i = 0; i < 40; i++) batcher.offer(span(i));
  let resolved = false;
  const room = batcher.whenRoom().then(() => {
    resolved = true;
  });
  await sleep(5);
  // Two batches in flight, 30 spans still waiting: more than half of 40.
  assert.equal(batcher.queued, 30);
  assert.equal(resolved, false);
  exporter.answerAll(ExportResultCode.SUCCESS); // two more go out: 20 waiting
  await room;
  assert.equal(resolved, true);
  assert.equal(batcher.queued, 20);
  while (exporter.calls.length > 0) {
    exporter.answerAll(ExportResultCode.SUCCESS);
    await sleep(1);
  }
});

test('invalid options are rejected', () => {
  const exporter = new HeldExporter();
  assert.throws(
    () =>
      new SpanBatcher(exporter, {
        maxQueueSize: 0,
        maxExportBatchSize: 1,
        scheduledDelayMillis: 1,
        maxConcurrentExports: 1,
      }),
    /maxQueueSize/,
  );
  assert.throws(
    () =>
      new SpanBatcher(exporter, {
        maxQueueSize: 1,
        maxExportBatchSize: 1,
        scheduledDelayMillis: -1,
        maxConcurrentExports: 1,
      }),
    /scheduledDelayMillis/,
  );
});

/** An error as the OTLP/gRPC exporter reports it: a gRPC ServiceError with its status code. */
const grpcError = (code: number, message: string): Error => Object.assign(new Error(message), { code });
const unavailable = () => grpcError(14, '14 UNAVAILABLE: No connection established');

async function waitFor(condition: () => boolean, what: string, timeoutMillis = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const retrying = {
  retryUntilExported: true,
  retryInitialMillis: 10,
  retryMaxMillis: 40,
  scheduledDelayMillis: 1000,
} as const;

test('retryUntilExported: failed batches are kept and retried, one probe at a time, until accepted', async () => {
  const exporter = new HeldExporter();
  const states: [string, ExportStateDetail][] = [];
  const batcher = new SpanBatcher(exporter, {
    ...retrying,
    maxQueueSize: 100,
    maxExportBatchSize: 10,
    maxConcurrentExports: 2,
    onStateChange: (state, detail) => states.push([state, detail]),
  });
  for (let i = 0; i < 30; i++) batcher.offer(span(i));
  await waitFor(() => exporter.calls.length === 2, 'two requests');
  exporter.answerAll(ExportResultCode.FAILED, unavailable());
  assert.equal(batcher.state, 'failing');
  assert.deepEqual(
    states.map(([state]) => state),
    ['failing'],
  );
  assert.equal(states[0]![1].pendingSpans, 30);
  assert.match(states[0]![1].error, /UNAVAILABLE/);
  assert.equal(batcher.queued, 30, 'the failed spans wait again');
  // Three failed probes: each time exactly one request, the oldest batch first.
  for (let attempt = 0; attempt < 3; attempt++) {
    await waitFor(() => exporter.calls.length === 1, `probe ${attempt + 1}`);
    await sleep(15);
    assert.equal(exporter.calls.length, 1, 'nothing else is sent while failing');
    assert.deepEqual(
      exporter.calls[0]!.spans.map((s) => s.name),
      Array.from({ length: 10 }, (_, i) => `s${i}`),
    );
    exporter.answerAll(ExportResultCode.FAILED, unavailable());
  }
  assert.equal(states.length, 1, 'the outage is reported once');
  await waitFor(() => exporter.calls.length === 1, 'the probe that succeeds');
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.state, 'ok');
  assert.deepEqual(
    states.map(([state]) => state),
    ['failing', 'ok'],
  );
  const ok = states[1]![1];
  assert.equal(ok.retries, 4);
  assert.equal(ok.failedRequests, 5);
  assert.ok(ok.durationMillis > 0);
  // Back to full concurrency.
  await waitFor(() => exporter.calls.length === 2, 'the rest, two at a time');
  exporter.answerAll(ExportResultCode.SUCCESS);
  await batcher.forceFlush();
  assert.equal(batcher.counters.exported, 30);
  assert.equal(batcher.counters.failed, 0);
  assert.equal(batcher.counters.exportErrors, 5);
  assert.equal(batcher.counters.retries, 5, 'four probes, and the second failed batch resent once');
});

test('retryUntilExported: spans beyond maxQueueSize + maxQueueOverflow are dropped and counted', () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    ...retrying,
    maxQueueSize: 10,
    maxQueueOverflow: 5,
    maxExportBatchSize: 5,
    maxConcurrentExports: 1,
  });
  let accepted = 0;
  for (let i = 0; i < 20; i++) if (batcher.offer(span(i))) accepted++;
  assert.equal(accepted, 15);
  assert.equal(batcher.counters.droppedQueueFull, 5);
});

test('retryUntilExported: shutdown keeps retrying until its deadline, then counts what is left', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    ...retrying,
    maxQueueSize: 100,
    maxExportBatchSize: 10,
    maxConcurrentExports: 1,
  });
  for (let i = 0; i < 20; i++) batcher.offer(span(i));
  let answering = true;
  const answer = (async () => {
    while (answering) {
      exporter.answerAll(ExportResultCode.FAILED, unavailable());
      await sleep(1);
    }
  })();
  const drained = await batcher.drain(performance.now() + 300);
  answering = false;
  await answer;
  assert.equal(drained.complete, false);
  assert.ok(batcher.counters.exportErrors >= 3, `attempts: ${batcher.counters.exportErrors}`);
  assert.equal(batcher.counters.exported, 0);
  assert.equal(batcher.counters.failed, 20);
  assert.equal(batcher.counters.abandoned, 20);
  assert.match(batcher.outageError ?? '', /UNAVAILABLE/);
});

test('retryUntilExported: shutdown retries a failing collector at once and finishes when it accepts', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    ...retrying,
    retryInitialMillis: 60_000,
    retryMaxMillis: 60_000,
    maxQueueSize: 100,
    maxExportBatchSize: 10,
    maxConcurrentExports: 1,
  });
  for (let i = 0; i < 20; i++) batcher.offer(span(i));
  batcher.forceFlush().catch(() => {});
  await waitFor(() => exporter.calls.length === 1, 'the first request');
  exporter.answerAll(ExportResultCode.FAILED, unavailable());
  // The next retry would be a minute away; shutdown does not wait for it.
  const drained = batcher.drain(performance.now() + 5000);
  for (let i = 0; i < 2; i++) {
    await waitFor(() => exporter.calls.length === 1, 'a request');
    exporter.answerAll(ExportResultCode.SUCCESS);
  }
  assert.deepEqual(await drained, { complete: true });
  assert.equal(batcher.counters.exported, 20);
  assert.equal(batcher.counters.failed, 0);
});

test('retryUntilExported: a rejected batch is not retried forever', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    ...retrying,
    maxQueueSize: 100,
    maxExportBatchSize: 4,
    maxConcurrentExports: 1,
  });
  for (let i = 0; i < 4; i++) batcher.offer(span(i));
  batcher.forceFlush().catch(() => {});
  await waitFor(() => exporter.calls.length === 1, 'the request');
  // Malformed for the collector: resending the same spans cannot succeed.
  exporter.answerAll(ExportResultCode.FAILED, grpcError(3, '3 INVALID_ARGUMENT: bad span'));
  assert.equal(batcher.counters.failed, 4);
  assert.equal(batcher.queued, 0);

  // Over the collector's message size limit: halves, then quarters; a single span that is still
  // too large is given up, the others go through.
  for (let i = 4; i < 8; i++) batcher.offer(span(i));
  batcher.forceFlush().catch(() => {});
  const tooLarge = () => grpcError(8, '8 RESOURCE_EXHAUSTED: grpc: received message larger than max');
  const sizes: number[] = [];
  while (batcher.counters.exported + batcher.counters.failed < 8) {
    await waitFor(() => exporter.calls.length === 1, 'a request');
    const call = exporter.calls[0]!;
    sizes.push(call.spans.length);
    const fits = call.spans.length === 1 && call.spans[0]!.name !== 's4';
    exporter.answerAll(
      fits ? ExportResultCode.SUCCESS : ExportResultCode.FAILED,
      fits ? undefined : tooLarge(),
    );
  }
  assert.deepEqual(sizes, [4, 2, 1, 1, 2, 1, 1]);
  assert.equal(batcher.counters.exported, 3);
  assert.equal(batcher.counters.failed, 5);
  assert.equal(batcher.queued, 0);
});

test('settledThrough: spans of the batch being filled are not settled; halves of a split batch settle in order', async () => {
  const exporter = new HeldExporter();
  const batcher = new SpanBatcher(exporter, {
    ...retrying,
    maxQueueSize: 100,
    maxExportBatchSize: 4,
    maxConcurrentExports: 2,
  });
  for (let i = 0; i < 6; i++) batcher.offer(span(i));
  // Spans 1-4 sealed (a request), 5-6 in the open batch.
  await waitFor(() => exporter.calls.length === 1, 'the full batch');
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.settledThrough, 4);
  batcher.forceFlush().catch(() => {});
  await waitFor(() => exporter.calls.length === 1, 'the partial batch');
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.settledThrough, 6);

  // Spans 7-10 are too large for the collector: split in halves 7-8 and 9-10.
  for (let i = 6; i < 10; i++) batcher.offer(span(i));
  await waitFor(() => exporter.calls.length === 1, 'the batch');
  const tooLarge = () => grpcError(8, '8 RESOURCE_EXHAUSTED: grpc: received message larger than max');
  exporter.answerAll(ExportResultCode.FAILED, tooLarge());
  assert.equal(batcher.settledThrough, 6);
  // The probe sends the first half alone; then both slots carry one half each.
  await waitFor(() => exporter.calls.length === 1, 'the first half');
  assert.deepEqual(
    exporter.calls[0]!.spans.map((s) => s.name),
    ['s6', 's7'],
  );
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.settledThrough, 8);
  await waitFor(() => exporter.calls.length === 1, 'the second half');
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.settledThrough, 10);
});
