/**
 * The worker span path (agent/export/otel/span-request-encoder.ts) against the main-thread path
 * (OtelExporter.emit()): the same pairs (demo capture, corpus DNS/HTTP captures, traceparent
 * parents, a service map with resource attributes) go either way to the real gRPC receiver,
 * which must get the same spans, span by span and attribute by attribute (random ids aside),
 * the same counts and the same latency histograms. The encoder's batches cross a real
 * MessageChannel with their request bytes transferred, as from a worker.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel } from 'node:worker_threads';
import type { Pair } from '../../agent/correlate/pair.ts';
import { createOtelExporter, type OtelExporterOptions } from '../../agent/export/otel/index.ts';
import {
  type EncodedSpans,
  kDefaultMaxRequestBytes,
  kDefaultSpansPerRequest,
  SpanRequestEncoder,
  transferList,
} from '../../agent/export/otel/span-request-encoder.ts';
import { countProtobufSpans } from '../bench/otlp-receiver.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import {
  comparableSpan,
  freePort,
  type OtlpReceiver,
  type ReceivedMetric,
  startReceiver,
} from './otlp-receiver.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');
const corpus = (name: string): string => path.join(corpusDir, name);

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

/** Histogram points (name, attributes, count, buckets), sorted. */
function histograms(): string[] {
  const out: string[] = [];
  const all = receiver.lastMetrics('wirespan.pairs') as Map<string, ReceivedMetric>;
  for (const [name, metric] of all) {
    if (metric.type !== 'histogram') continue;
    for (const point of metric.dataPoints) {
      out.push(JSON.stringify([name, point.attributes, point.count, point.bucketCounts]));
    }
  }
  return out.sort();
}

interface Run {
  spans: string[];
  counters: Record<string, number>;
  histograms: string[];
  requests: number;
}

const options = (): OtelExporterOptions => ({
  endpoint: receiver.endpoint,
  serviceMap: [{ match: '0.0.0.0/0', service: 'everything', attributes: { 'service.namespace': 'corpus' } }],
  metricExportIntervalMillis: 60_000,
});

async function viaEmit(pairs: Pair[], files: string[], extra: OtelExporterOptions = {}): Promise<Run> {
  receiver.reset();
  const exporter = await createOtelExporter({ ...options(), sourceFiles: files, ...extra });
  for (const pair of pairs) exporter.emit(pair);
  await exporter.shutdown();
  return {
    spans: receiver.spans.map(comparableSpan).sort(),
    counters: { ...exporter.counters },
    histograms: histograms(),
    requests: receiver.traceRequests.length,
  };
}

async function viaWorkerEncoder(
  pairs: Pair[],
  files: string[],
  extra: OtelExporterOptions = {},
  spansPerRequest = kDefaultSpansPerRequest,
  workers = 1,
): Promise<Run & { batches: EncodedSpans[] }> {
  receiver.reset();
  const exporter = await createOtelExporter({ ...options(), sourceFiles: files, ...extra });
  const config = exporter.spanConfig;
  assert.ok(config !== null);
  const { port1, port2 } = new MessageChannel();
  const batches: EncodedSpans[] = [];
  let ended: () => void = () => {};
  const end = new Promise<void>((resolve) => {
    ended = resolve;
  });
  port2.on('message', (batch: EncodedSpans | 'end') => {
    if (batch === 'end') ended();
    else {
      batches.push(batch);
      exporter.offerEncoded(batch);
    }
  });
  // The "workers" (pairs dealt round-robin): the config crossed a thread boundary as structured clone.
  const encoders = Array.from(
    { length: workers },
    () =>
      new SpanRequestEncoder(
        {
          ...structuredClone(config),
          maxSpansPerRequest: spansPerRequest,
          maxRequestBytes: kDefaultMaxRequestBytes,
        },
        (fileId) => files[fileId],
        (batch) => {
          const transfer = transferList(batch);
          port1.postMessage(batch, transfer);
          for (const buffer of transfer) assert.equal(buffer.byteLength, 0, 'transferred, not copied');
        },
      ),
  );
  pairs.forEach((pair, i) => {
    encoders[i % workers]!.emit(pair);
  });
  for (const encoder of encoders) encoder.finish();
  port1.postMessage('end');
  await end;
  port1.close();
  await exporter.shutdown();
  return {
    spans: receiver.spans.map(comparableSpan).sort(),
    counters: { ...exporter.counters },
    histograms: histograms(),
    requests: receiver.traceRequests.length,
    batches,
  };
}

describe('worker encoder = main-thread exporter', () => {
  const captures: [string, string[]][] = [
    ['demo.pcap', [demo]],
    [
      'corpus DNS, HTTP, SLL',
      [
        corpus('dns/pcapplusplus--DnsPackets.pcap'),
        corpus('http/pcapplusplus--http-packets2.pcap'),
        corpus('linktypes/pcapplusplus--sll.pcap'),
      ],
    ],
  ];
  for (const [name, files] of captures) {
    test(`${name}: the same spans, counts and histograms`, async () => {
      const pairs = replayPairs(files).pairs;
      assert.ok(pairs.length > 10, `pairs: ${pairs.length}`);
      const main = await viaEmit(pairs, files);
      const worker = await viaWorkerEncoder(pairs, files, {}, 7);
      assert.equal(main.spans.length, pairs.length);
      assert.deepEqual(worker.spans, main.spans);
      assert.deepEqual(worker.counters, main.counters);
      assert.deepEqual(worker.histograms, main.histograms);
      assert.ok(main.histograms.length > 0);
      const requests = worker.batches.flatMap((b) => b.requests);
      const unanswered = worker.batches.reduce((n, b) => n + b.unanswered.length, 0);
      if (name === 'demo.pcap')
        assert.ok(unanswered > 0, 'unanswered pairs go to the main thread (its flood guard)');
      assert.equal(requests.reduce((n, r) => n + r.spans, 0) + unanswered, pairs.length);
      assert.ok(
        requests.every((r) => r.spans <= 7),
        'requests of at most 7 spans',
      );
      assert.equal(requests.length, Math.ceil((pairs.length - unanswered) / 7));
      // Latency points travel as typed arrays, each distinct histogram and attribute set once a batch.
      const points = worker.batches.reduce((n, b) => n + b.latency.values.length, 0);
      const sets = worker.batches.reduce((n, b) => n + b.latency.sets.length, 0);
      assert.ok(points > 0 && sets < points, `${sets} sets for ${points} points`);
      for (const { latency } of worker.batches) assert.ok(latency.set.every((i) => i < latency.sets.length));
    });
  }

  test('sampling keeps errors and slow spans the same way, and counts the rest', async () => {
    const files = [corpus('http/pcapplusplus--http-packets2.pcap'), demo];
    const pairs = replayPairs(files).pairs;
    // Ratio 0: only errors, timeouts and slow spans are kept (deterministic, unlike a ratio).
    const sampling = { sampleRatio: 0, slowSpanSeconds: 0.05 };
    const main = await viaEmit(pairs, files, sampling);
    const worker = await viaWorkerEncoder(pairs, files, sampling);
    assert.ok(main.counters.sampledOut! > 0 && main.spans.length > 0);
    assert.deepEqual(worker.spans, main.spans);
    assert.deepEqual(worker.counters, main.counters);
  });

  test('unanswered floods become the same aggregate spans', async () => {
    const files = [corpus('http/pcapplusplus--http-packets.pcap')];
    const pairs = replayPairs(files).pairs;
    const flood = { unansweredSpansPerSecond: 1, unansweredSpansTotalPerSecond: 1 };
    const main = await viaEmit(pairs, files, flood);
    // Two encoders, as two workers: a source's pairs are spread over both, and the limits still
    // hold for the whole agent (the unanswered pairs meet one flood guard on the main thread).
    const worker = await viaWorkerEncoder(pairs, files, flood, kDefaultSpansPerRequest, 2);
    assert.ok(
      main.spans.some((s) => s.includes('unanswered flood')),
      'the capture makes an aggregate',
    );
    assert.ok(
      worker.batches.some((b) => b.unanswered.length > 0),
      'unanswered pairs went to the main thread',
    );
    assert.deepEqual(worker.spans, main.spans);
    assert.deepEqual(worker.counters, main.counters);
  });
});

describe('requests', () => {
  test('a request is closed before the byte cap: every request under it, every span in one', async () => {
    const exporter = await createOtelExporter({ endpoint: receiver.endpoint, metrics: false });
    try {
      const batches: EncodedSpans[] = [];
      const encoder = new SpanRequestEncoder(
        { ...exporter.spanConfig!, maxSpansPerRequest: 64, maxRequestBytes: 8_000 },
        null,
        (batch) => batches.push(batch),
      );
      const pairs = replayPairs([demo]).pairs;
      for (let i = 0; i < 200; i++) encoder.emit(pairs[i % pairs.length]!);
      encoder.finish();
      const requests = batches.flatMap((b) => b.requests);
      assert.equal(
        requests.reduce((n, r) => n + r.spans, 0) + batches.reduce((n, b) => n + b.unanswered.length, 0),
        200,
      );
      for (const r of requests) {
        assert.ok(r.bytes.length <= 8_000, `${r.bytes.length} bytes`);
        assert.equal(countProtobufSpans(r.bytes), r.spans);
      }
      assert.ok(
        requests.some((r) => r.spans < 32) &&
          requests.every((r) => r.bytes.length > 6_000 || r === requests.at(-1)),
        `requests were closed at the cap, not before: ${requests.map((r) => `${r.spans}/${r.bytes.length}`).join(',')}`,
      );
      assert.equal(
        batches.reduce((n, b) => n + b.pairs, 0),
        200,
      );
    } finally {
      await exporter.shutdown();
    }
  });

  test('maxSpansPerRequest must be a positive integer', async () => {
    const exporter = await createOtelExporter({ endpoint: receiver.endpoint, metrics: false });
    try {
      assert.throws(
        () =>
          new SpanRequestEncoder(
            { ...exporter.spanConfig!, maxSpansPerRequest: 0, maxRequestBytes: 1 },
            null,
            () => {},
          ),
        /maxSpansPerRequest/,
      );
    } finally {
      await exporter.shutdown();
    }
  });
});

test('retryUntilExported: an outage seen by both queues is reported once, and nothing is lost', async () => {
  const port = await freePort();
  const states: string[] = [];
  const exporter = await createOtelExporter({
    endpoint: `http://127.0.0.1:${port}`,
    metrics: false,
    retryUntilExported: true,
    exportTimeoutMillis: 1000,
    batch: { retryInitialMillis: 20, retryMaxMillis: 50, scheduledDelayMillis: 1 },
    onExportStateChange: (state) => states.push(state),
  });
  const pairs = replayPairs([demo]).pairs;
  const encoder = new SpanRequestEncoder(exporter.spanConfig!, null, (batch) => exporter.offerEncoded(batch));
  for (const pair of pairs) encoder.emit(pair);
  encoder.finish();
  // The same pairs again through the span-object queue.
  for (const pair of pairs) exporter.emit(pair);
  const deadline = Date.now() + 10_000;
  while (exporter.counters.traceExportErrors < 2 && Date.now() < deadline) await sleep(10);
  assert.equal(exporter.exportState, 'failing');
  const late = await startReceiver(port);
  try {
    await exporter.forceFlush();
    assert.deepEqual(states, ['failing', 'ok']);
    assert.equal(exporter.exportState, 'ok');
    const result = await exporter.shutdown();
    assert.equal(result.exported, 2 * pairs.length);
    assert.equal(result.failed + result.dropped, 0);
  } finally {
    await late.close();
  }
});
