/**
 * The queue of encoded export requests (agent/export/otel/request-batcher.ts) against an
 * exporter whose answers the test controls, then end to end: spans encoded by OtlpTraceEncoder
 * (as a worker would) go through RequestBatcher and the pass-through OTLP/gRPC exporter to the
 * real gRPC receiver, which decodes exactly the spans that were encoded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { FreshChannel } from '../../agent/export/otel/fresh-channel.ts';
import {
  FreshChannelRequestExporter,
  OtlpBytesExporter,
} from '../../agent/export/otel/otlp-bytes-exporter.ts';
import { OtlpTraceEncoder } from '../../agent/export/otel/otlp-encode.ts';
import { PairSpan } from '../../agent/export/otel/pair-span.ts';
import {
  type EncodedRequest,
  RequestBatcher,
  type RequestExporter,
} from '../../agent/export/otel/request-batcher.ts';
import type { ExportStateDetail } from '../../agent/export/otel/span-batcher.ts';
import { freePort, startReceiver } from './otlp-receiver.ts';

type Result = { code: ExportResultCode; error?: Error };

/** Records each request (by its first byte, the test's request number) and answers when told. */
class HeldExporter implements RequestExporter {
  readonly calls: { id: number; done: (result: Result) => void }[] = [];
  inFlight = 0;
  maxInFlight = 0;

  export(request: EncodedRequest, done: (result: Result) => void): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.calls.push({
      id: request.bytes[0]!,
      done: (result) => {
        this.inFlight--;
        done(result);
      },
    });
  }

  answerAll(code: ExportResultCode, error?: Error): number[] {
    const pending = this.calls.splice(0);
    for (const call of pending) call.done({ code, ...(error ? { error } : {}) });
    return pending.map((c) => c.id);
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const request = (id: number): Uint8Array => Uint8Array.of(id);
const grpcError = (code: number, message: string): Error => Object.assign(new Error(message), { code });
const unavailable = () => grpcError(14, '14 UNAVAILABLE: No connection established');

async function waitFor(condition: () => boolean, what: string, timeoutMillis = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

test('the queue is counted in spans: a request that does not fit is dropped whole and counted', () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { maxQueueSize: 100, maxConcurrentExports: 1 });
  assert.equal(batcher.offer(request(1), 60), true);
  assert.equal(batcher.offer(request(2), 40), true);
  assert.equal(batcher.offer(request(3), 1), false);
  assert.equal(batcher.counters.droppedQueueFull, 1);
  assert.equal(batcher.counters.accepted, 100);
  assert.equal(batcher.queued, 100);
  assert.equal(exporter.calls.length, 0, 'offer() never exports synchronously');
  // A request larger than the whole queue still goes through an empty queue.
  const empty = new RequestBatcher(exporter, { maxQueueSize: 10, maxConcurrentExports: 1 });
  assert.equal(empty.offer(request(4), 50), true);
});

test('requests go out in order, at most maxConcurrentExports at a time', async () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { maxQueueSize: 10_000, maxConcurrentExports: 3 });
  for (let i = 0; i < 10; i++) batcher.offer(request(i), 10);
  const flushed = batcher.forceFlush();
  await waitFor(() => exporter.calls.length === 3, 'three requests');
  await sleep(5);
  assert.equal(exporter.calls.length, 3);
  const order: number[] = [];
  while (order.length < 10) {
    await waitFor(() => exporter.calls.length > 0, 'a request');
    order.push(...exporter.answerAll(ExportResultCode.SUCCESS));
  }
  await flushed;
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(exporter.maxInFlight, 3);
  assert.equal(batcher.counters.exported, 100);
  assert.equal(batcher.queued + batcher.inFlight, 0);
});

test('onExported gets each request the collector accepted, not a failed one', async () => {
  const exporter = new HeldExporter();
  const exported: number[] = [];
  const batcher = new RequestBatcher(exporter, {
    maxQueueSize: 100,
    maxConcurrentExports: 2,
    onExported: (accepted) => exported.push(accepted.bytes[0]!),
  });
  batcher.offer(request(1), 1);
  batcher.offer(request(2), 1);
  await waitFor(() => exporter.calls.length === 2, 'two requests');
  exporter.calls[1]!.done({ code: ExportResultCode.FAILED, error: unavailable() });
  exporter.calls[0]!.done({ code: ExportResultCode.SUCCESS });
  assert.deepEqual(exported, [1]);
});

test('whenRoom() resolves once the waiting spans are back under half the queue', async () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { maxQueueSize: 100, maxConcurrentExports: 1 });
  for (let i = 0; i < 4; i++) batcher.offer(request(i), 25);
  let room = false;
  void batcher.whenRoom().then(() => {
    room = true;
  });
  await waitFor(() => exporter.calls.length === 1, 'the first request');
  // 75 waiting: not yet.
  await sleep(5);
  assert.equal(room, false);
  exporter.answerAll(ExportResultCode.SUCCESS);
  await waitFor(() => exporter.calls.length === 1, 'the second request');
  // The second request in flight: 50 waiting.
  await waitFor(() => room, 'room');
  exporter.answerAll(ExportResultCode.SUCCESS);
  await waitFor(() => exporter.calls.length === 1, 'third');
  exporter.answerAll(ExportResultCode.SUCCESS);
  await waitFor(() => exporter.calls.length === 1, 'fourth');
  exporter.answerAll(ExportResultCode.SUCCESS);
  await batcher.forceFlush();
});

test('default policy: a failed request is counted failed; shutdown stops at the first failure', async () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { maxQueueSize: 1000, maxConcurrentExports: 1 });
  batcher.offer(request(1), 7);
  await waitFor(() => exporter.calls.length === 1, 'the request');
  exporter.answerAll(ExportResultCode.FAILED, unavailable());
  assert.equal(batcher.counters.failed, 7);
  assert.equal(batcher.state, 'failing');
  for (let i = 0; i < 5; i++) batcher.offer(request(i), 10);
  const drained = batcher.drain(performance.now() + 5000);
  await waitFor(() => exporter.calls.length === 1, 'a request in the drain');
  exporter.answerAll(ExportResultCode.FAILED, unavailable());
  assert.deepEqual(await drained, { complete: false });
  assert.equal(batcher.counters.exported, 0);
  assert.equal(batcher.counters.failed, 57);
  assert.equal(batcher.counters.abandoned, 40);
  assert.equal(batcher.offer(request(9), 3), false);
  assert.equal(batcher.counters.droppedAfterShutdown, 3);
});

test('shutdown gives up at its deadline when the exporter never answers', async () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { maxQueueSize: 1000, maxConcurrentExports: 2 });
  for (let i = 0; i < 3; i++) batcher.offer(request(i), 5);
  const drained = await batcher.drain(performance.now() + 50);
  assert.deepEqual(drained, { complete: false });
  assert.equal(batcher.counters.failed, 15);
  assert.equal(batcher.counters.abandoned, 15);
  // A late answer is not counted.
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.counters.exported, 0);
});

const retrying = { retryUntilExported: true, retryInitialMillis: 10, retryMaxMillis: 40 } as const;

test('retryUntilExported: failed requests are retried oldest first, one probe at a time, until accepted', async () => {
  const exporter = new HeldExporter();
  const states: [string, ExportStateDetail][] = [];
  const batcher = new RequestBatcher(exporter, {
    ...retrying,
    maxQueueSize: 1000,
    maxConcurrentExports: 2,
    onStateChange: (state, detail) => states.push([state, detail]),
  });
  for (let i = 0; i < 3; i++) batcher.offer(request(i), 10);
  await waitFor(() => exporter.calls.length === 2, 'two requests');
  // The second fails first: it must still go after the first one.
  const [first, second] = exporter.calls.splice(0);
  second!.done({ code: ExportResultCode.FAILED, error: unavailable() });
  first!.done({ code: ExportResultCode.FAILED, error: unavailable() });
  assert.equal(batcher.state, 'failing');
  assert.equal(states.length, 1);
  assert.equal(states[0]![1].pendingSpans, 30);
  for (let attempt = 0; attempt < 3; attempt++) {
    await waitFor(() => exporter.calls.length === 1, `probe ${attempt + 1}`);
    await sleep(15);
    assert.equal(exporter.calls.length, 1, 'nothing else is sent while failing');
    assert.deepEqual(exporter.answerAll(ExportResultCode.FAILED, unavailable()), [0]);
  }
  await waitFor(() => exporter.calls.length === 1, 'the probe that succeeds');
  assert.deepEqual(exporter.answerAll(ExportResultCode.SUCCESS), [0]);
  assert.equal(batcher.state, 'ok');
  assert.deepEqual(
    states.map(([s]) => s),
    ['failing', 'ok'],
  );
  const order: number[] = [];
  while (order.length < 2) {
    await waitFor(() => exporter.calls.length > 0, 'the rest');
    order.push(...exporter.answerAll(ExportResultCode.SUCCESS));
  }
  assert.deepEqual(order, [1, 2]);
  await batcher.forceFlush();
  assert.equal(batcher.counters.exported, 30);
  assert.equal(batcher.counters.failed, 0);
  assert.equal(batcher.counters.exportErrors, 5);
  assert.equal(batcher.counters.retries, 5);
});

test('retryUntilExported: the overflow is accepted, beyond it requests are dropped and counted', () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, {
    ...retrying,
    maxQueueSize: 10,
    maxQueueOverflow: 5,
    maxConcurrentExports: 1,
  });
  assert.equal(batcher.offer(request(1), 10), true);
  assert.equal(batcher.offer(request(2), 5), true);
  assert.equal(batcher.offer(request(3), 1), false);
  assert.equal(batcher.counters.droppedQueueFull, 1);
});

test('retryUntilExported: rejected requests are not retried; shutdown retries until its deadline', async () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { ...retrying, maxQueueSize: 1000, maxConcurrentExports: 1 });
  batcher.offer(request(1), 4);
  await waitFor(() => exporter.calls.length === 1, 'the request');
  exporter.answerAll(ExportResultCode.FAILED, grpcError(3, '3 INVALID_ARGUMENT: bad span'));
  assert.equal(batcher.counters.failed, 4);
  batcher.offer(request(2), 6);
  await waitFor(() => exporter.calls.length === 1, 'the next request');
  exporter.answerAll(
    ExportResultCode.FAILED,
    grpcError(8, '8 RESOURCE_EXHAUSTED: grpc: received message larger than max'),
  );
  assert.equal(batcher.counters.failed, 10, 'the same bytes cannot fit later');
  assert.equal(batcher.queued, 0);

  batcher.offer(request(3), 20);
  let answering = true;
  const answer = (async () => {
    while (answering) {
      exporter.answerAll(ExportResultCode.FAILED, unavailable());
      await sleep(1);
    }
  })();
  const drained = await batcher.drain(performance.now() + 200);
  answering = false;
  await answer;
  assert.equal(drained.complete, false);
  assert.equal(batcher.counters.exported, 0);
  assert.equal(batcher.counters.failed, 30);
  assert.equal(batcher.counters.abandoned, 20);
});

test('encoded requests reach the real gRPC receiver through the pass-through exporter', async () => {
  const receiver = await startReceiver();
  try {
    const exporter = new OtlpBytesExporter({ url: receiver.endpoint });
    const batcher = new RequestBatcher(exporter, { maxQueueSize: 10_000, maxConcurrentExports: 2 });
    const encoder = new OtlpTraceEncoder();
    const resources = [
      resourceFromAttributes({ 'service.name': 'dns://10.0.0.53:53' }),
      resourceFromAttributes({ 'service.name': 'api', 'deployment.environment.name': 'test' }),
    ];
    const expected: string[] = [];
    for (let r = 0; r < 5; r++) {
      const spans: PairSpan[] = [];
      for (let i = 0; i < 7; i++) {
        const n = r * 7 + i;
        const traceId = n.toString(16).padStart(32, '0');
        spans.push(
          new PairSpan(
            `GET /x/${n}`,
            SpanKind.SERVER,
            Buffer.from(traceId + (n + 1).toString(16).padStart(16, '0'), 'hex'),
            0,
            undefined,
            1_700_000_000 + n,
            123_456_789,
            1_700_000_000 + n,
            223_456_789,
            100_000_000,
            { code: n % 3 === 0 ? SpanStatusCode.ERROR : SpanStatusCode.UNSET },
            { 'http.response.status_code': 200 + n, 'url.path': `/x/${n}` },
            resources[n % 2]!,
          ),
        );
        expected.push(
          `${traceId} GET /x/${n} ${1_700_000_000 + n}123456789 ${n % 2 === 0 ? 'dns://10.0.0.53:53' : 'api'}`,
        );
      }
      assert.equal(batcher.offer(encoder.encode(spans), spans.length), true);
    }
    await batcher.forceFlush();
    const drained = await batcher.drain(performance.now() + 5000);
    await exporter.shutdown();
    assert.deepEqual(drained, { complete: true });
    assert.equal(batcher.counters.exported, 35);
    assert.equal(receiver.traceRequests.length, 5);
    const got = receiver.spans
      .map((s) => `${s.traceId} ${s.name} ${s.startTimeUnixNano} ${s.resource['service.name']}`)
      .sort();
    assert.deepEqual(got, expected.sort());
    const one = receiver.spans.find((s) => s.name === 'GET /x/3')!;
    assert.deepEqual(one.attributes, { 'http.response.status_code': 203, 'url.path': '/x/3' });
    assert.equal(one.status.code, 'ERROR');
  } finally {
    await receiver.close();
  }
});

test('retryUntilExported: a collector that comes up later gets everything (fresh channel after UNAVAILABLE)', async () => {
  const port = await freePort();
  const channel = new FreshChannel(
    'traces',
    (userAgent) =>
      new OtlpBytesExporter({
        url: `http://127.0.0.1:${port}`,
        timeoutMillis: 1000,
        ...(userAgent === undefined ? {} : { userAgent }),
      }),
    true,
  );
  const batcher = new RequestBatcher(new FreshChannelRequestExporter(channel), {
    ...retrying,
    maxQueueSize: 1000,
    maxConcurrentExports: 2,
  });
  const encoder = new OtlpTraceEncoder();
  const resource = resourceFromAttributes({ 'service.name': 'late' });
  for (let r = 0; r < 3; r++) {
    const span = new PairSpan(
      `s${r}`,
      SpanKind.CLIENT,
      Buffer.from(`${'a'.repeat(31)}${r}${'b'.repeat(15)}${r}`, 'hex'),
      0,
      undefined,
      1_700_000_000,
      r,
      1_700_000_001,
      r,
      1_000_000_000,
      { code: SpanStatusCode.UNSET },
      {},
      resource,
    );
    batcher.offer(encoder.encode([span]), 1);
  }
  await waitFor(() => batcher.counters.exportErrors >= 2, 'failed attempts', 10_000);
  assert.equal(batcher.state, 'failing');
  const receiver = await startReceiver(port);
  try {
    await batcher.forceFlush();
    assert.equal(batcher.counters.exported, 3);
    assert.equal(batcher.counters.failed, 0);
    assert.ok(channel.generation >= 1, 'a new channel after UNAVAILABLE');
    assert.deepEqual(receiver.spans.map((s) => s.name).sort(), ['s0', 's1', 's2']);
    await batcher.drain(performance.now() + 1000);
    await channel.shutdown();
  } finally {
    await receiver.close();
  }
});

test('settledThrough: the settled prefix in offer order, over requests that finish out of order', async () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { maxQueueSize: 1000, maxConcurrentExports: 3 });
  assert.equal(batcher.settledThrough, 0);
  // Spans 1-10, 11-30, 31-35, 36-40 (the fourth waits for a slot).
  batcher.offer(request(1), 10);
  batcher.offer(request(2), 20);
  batcher.offer(request(3), 5);
  batcher.offer(request(4), 5);
  assert.equal(batcher.settledThrough, 0, 'accepted is not settled');
  await waitFor(() => exporter.calls.length === 3, 'three requests');
  const [first, second, third] = exporter.calls.splice(0);
  third!.done({ code: ExportResultCode.SUCCESS });
  second!.done({ code: ExportResultCode.SUCCESS });
  assert.equal(batcher.settledThrough, 0, 'spans 1-10 are still in flight');
  first!.done({ code: ExportResultCode.SUCCESS });
  assert.equal(batcher.settledThrough, 35, 'the fourth is still waiting');
  await waitFor(() => exporter.calls.length === 1, 'the fourth');
  // Without retries a failed request is counted: settled.
  exporter.answerAll(ExportResultCode.FAILED, unavailable());
  assert.equal(batcher.settledThrough, 40);
  // Span 41; a request refused by the full queue gets no number; the next accepted one is 42.
  assert.equal(batcher.offer(request(5), 1), true);
  assert.equal(batcher.offer(request(6), 2000), false);
  assert.equal(batcher.offer(request(7), 1), true);
  assert.equal(batcher.counters.accepted, 42);
  assert.equal(batcher.settledThrough, 40);
  await waitFor(() => exporter.calls.length === 2, 'the fifth and seventh');
  exporter.answerAll(ExportResultCode.SUCCESS);
  assert.equal(batcher.settledThrough, 42);
});

test('settledThrough, retryUntilExported: a failed request holds the prefix back until it is exported', async () => {
  const exporter = new HeldExporter();
  const batcher = new RequestBatcher(exporter, { ...retrying, maxQueueSize: 1000, maxConcurrentExports: 2 });
  batcher.offer(request(1), 10);
  batcher.offer(request(2), 10);
  batcher.offer(request(3), 10);
  await waitFor(() => exporter.calls.length === 2, 'two requests');
  const [first, second] = exporter.calls.splice(0);
  second!.done({ code: ExportResultCode.SUCCESS });
  first!.done({ code: ExportResultCode.FAILED, error: unavailable() });
  // Spans 11-20 are exported, but 1-10 go back to the queue's head: nothing is settled yet.
  assert.equal(batcher.counters.exported, 10);
  assert.equal(batcher.settledThrough, 0);
  await waitFor(() => exporter.calls.length === 1, 'the probe');
  assert.deepEqual(exporter.answerAll(ExportResultCode.FAILED, unavailable()), [1]);
  assert.equal(batcher.settledThrough, 0);
  await waitFor(() => exporter.calls.length === 1, 'the next probe');
  assert.deepEqual(exporter.answerAll(ExportResultCode.SUCCESS), [1]);
  assert.equal(batcher.settledThrough, 20, 'the third is still waiting or in flight');
  await waitFor(() => exporter.calls.length === 1, 'the third');
  // Rejected for good (not retried): counted failed, settled.
  exporter.answerAll(ExportResultCode.FAILED, grpcError(3, '3 INVALID_ARGUMENT: bad span'));
  assert.equal(batcher.settledThrough, 30);

  // Shutdown gives up on what the collector never took: counted failed (abandoned), settled.
  batcher.offer(request(4), 7);
  let answering = true;
  const answer = (async () => {
    while (answering) {
      exporter.answerAll(ExportResultCode.FAILED, unavailable());
      await sleep(1);
    }
  })();
  assert.equal(batcher.settledThrough, 30);
  const drained = await batcher.drain(performance.now() + 100);
  answering = false;
  await answer;
  assert.equal(drained.complete, false);
  assert.equal(batcher.settledThrough, 37);
});
