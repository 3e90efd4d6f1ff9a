/**
 * The worker hook (agent/pipeline/worker-main.ts with WorkerSinkConfig.spanEncoder): real pipeline
 * workers (worker.mjs, the chunk ring) read the capture bytes, correlate their shard and post
 * 'spans' messages with encoded requests; the main thread gives them to
 * OtelExporter.offerEncoded(). The real gRPC receiver must get the same spans, attribute by
 * attribute (random ids aside), the same counters and the same latency histograms as from the
 * main-thread path (replayed pairs into OtelExporter.emit()), with one and with two workers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { createOtelExporter, type OtelExporterOptions } from '../../agent/export/otel/index.ts';
import {
  kDefaultMaxRequestBytes,
  kDefaultSpansPerRequest,
} from '../../agent/export/otel/span-request-encoder.ts';
import { ChunkProducer } from '../../agent/pipeline/chunk-ring.ts';
import {
  allocatePipelineMemory,
  kFlagEndOfInput,
  kFlagFileEnd,
  kFlagFileStart,
} from '../../agent/pipeline/layout.ts';
import {
  kPairBacklogWeight,
  type WorkerConfig,
  type WorkerMessage,
  type WorkerSinkConfig,
} from '../../agent/pipeline/messages.ts';
import {
  comparableSpan,
  type OtlpReceiver,
  type ReceivedMetric,
  startReceiver,
} from '../export/otlp-receiver.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

const files = [
  path.resolve(import.meta.dirname, '../fixtures/demo.pcap'),
  path.join(corpusDir, 'dns/pcapplusplus--DnsPackets.pcap'),
  path.join(corpusDir, 'http/pcapplusplus--http-packets2.pcap'),
];

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

function histograms(): string[] {
  const out: string[] = [];
  for (const [name, metric] of receiver.lastMetrics('wirespan.pairs') as Map<string, ReceivedMetric>) {
    if (metric.type !== 'histogram') continue;
    for (const p of metric.dataPoints)
      out.push(JSON.stringify([name, p.attributes, p.count, p.bucketCounts]));
  }
  return out.sort();
}

const exporterOptions = (): OtelExporterOptions => ({
  endpoint: receiver.endpoint,
  sourceFiles: files,
  serviceMap: [
    { match: '127.0.0.153:53', service: 'dns-cache', attributes: { 'service.namespace': 'demo' } },
  ],
});

interface Run {
  spans: string[];
  counters: Record<string, number>;
  histograms: string[];
}

async function mainThread(): Promise<Run> {
  receiver.reset();
  const exporter = await createOtelExporter(exporterOptions());
  for (const pair of replayPairs(files).pairs) exporter.emit(pair);
  await exporter.shutdown();
  return {
    spans: receiver.spans.map(comparableSpan).sort(),
    counters: { ...exporter.counters },
    histograms: histograms(),
  };
}

/** The capture bytes through `count` real workers, with small slots (many chunks per file). */
async function workers(count: number): Promise<Run & { spansMessages: number }> {
  receiver.reset();
  const exporter = await createOtelExporter(exporterOptions());
  const slotBytes = 4096;
  const memory = allocatePipelineMemory(count, 8, slotBytes);
  const producer = new ChunkProducer(memory);
  let spansMessages = 0;
  const exited: Promise<void>[] = [];
  for (let index = 0; index < count; index++) {
    const config: WorkerConfig = {
      compileCacheDir: null,
      memory,
      worker: index,
      workers: count,
      options: defaultCorrelateOptions(),
      statsIntervalMillis: 0,
      latencySummary: false,
      reportProcessed: true,
    };
    const worker = new Worker(new URL('../../agent/pipeline/worker.mjs', import.meta.url), {
      workerData: config,
    });
    const sinks: WorkerSinkConfig = {
      files,
      output: 'none',
      postPairs: false,
      spanEncoder: {
        ...exporter.spanConfig!,
        maxSpansPerRequest: kDefaultSpansPerRequest,
        maxRequestBytes: kDefaultMaxRequestBytes,
      },
      kubernetesPort: null,
      namesPort: null,
    };
    worker.postMessage(sinks);
    worker.on('message', (message: WorkerMessage) => {
      assert.notEqual(message.type, 'pairs', 'no pair objects with spanEncoder');
      if (message.type === 'spans') {
        spansMessages++;
        exporter.offerEncoded(message.batch);
        producer.outputWritten(index, message.batch.pairs * kPairBacklogWeight);
      }
    });
    exited.push(
      new Promise((resolve, reject) => {
        worker.on('error', reject);
        worker.on('exit', () => resolve());
      }),
    );
  }
  const acquire = async (): Promise<number> => {
    for (;;) {
      const slot = producer.acquireSlot();
      if (slot >= 0) return slot;
      await producer.waitForRelease(100);
    }
  };
  for (let fileId = 0; fileId < files.length; fileId++) {
    const bytes = readFileSync(files[fileId]!);
    for (let at = 0; at < bytes.length; at += slotBytes) {
      const slot = await acquire();
      const length = Math.min(slotBytes, bytes.length - at);
      producer.slotBytes(slot).set(bytes.subarray(at, at + length));
      const flags = (at === 0 ? kFlagFileStart : 0) | (at + length === bytes.length ? kFlagFileEnd : 0);
      producer.publish(slot, length, fileId, flags);
    }
  }
  producer.publish(await acquire(), 0, 0, kFlagEndOfInput);
  await Promise.all(exited);
  await exporter.shutdown();
  return {
    spans: receiver.spans.map(comparableSpan).sort(),
    counters: { ...exporter.counters },
    histograms: histograms(),
    spansMessages,
  };
}

test('workers encoding spans give the receiver what the main-thread exporter gives it', async () => {
  const main = await mainThread();
  assert.ok(main.spans.length > 50, `spans: ${main.spans.length}`);
  assert.ok(
    main.spans.some((s) => s.includes('"dns-cache"')),
    'the service map applies',
  );
  for (const count of [1, 2]) {
    const run = await workers(count);
    assert.ok(run.spansMessages >= count, `'spans' messages: ${run.spansMessages}`);
    assert.equal(run.spans.length, main.spans.length, `${count} workers: span count`);
    assert.deepEqual(run.spans, main.spans, `${count} workers: spans`);
    assert.deepEqual(run.counters, main.counters, `${count} workers: counters`);
    assert.deepEqual(run.histograms, main.histograms, `${count} workers: histograms`);
  }
});
