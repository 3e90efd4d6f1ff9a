/**
 * latency-histograms.ts against the SDK's own histogram aggregation (what metrics.ts used
 * before): the same points recorded into both, collected by readers of either temporality, must
 * give the same metrics: descriptors, attributes, bucket counts, count, sum, min, max, start and
 * end times (Date.now is a fake clock here, read by both), and the same cardinality overflow.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  type MetricData,
  type MetricProducer,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { createOtelExporter } from '../../agent/export/otel/index.ts';
import { kCardinalityLimit, LatencyHistograms } from '../../agent/export/otel/latency-histograms.ts';
import { kDefaultLatencyBoundaries } from '../../agent/export/otel/metrics.ts';
import type { MetricPoint } from '../../agent/export/otel/span-mapper.ts';
import type { LatencyPoints } from '../../agent/export/otel/span-request-encoder.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');

const kHistograms = [
  { name: 'dns.lookup.duration', description: 'Duration of dns requests' },
  { name: 'wirespan.pair.duration', description: 'Duration of pairs' },
];
const kBoundaries = [...kDefaultLatencyBoundaries, 0.3];
kBoundaries.sort((a, b) => a - b);

class TestReader extends MetricReader {
  constructor(temporality: AggregationTemporality, metricProducers: MetricProducer[] = []) {
    super({ aggregationTemporalitySelector: () => temporality, metricProducers });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const kTemporalities = [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA];

/** The SDK's aggregation, as metrics.ts configured it before (explicit-bucket views, min/max). */
function sdkSide(): { record: (point: MetricPoint) => void; readers: TestReader[] } {
  const readers = kTemporalities.map((t) => new TestReader(t));
  const provider = new MeterProvider({
    readers,
    views: kHistograms.map(({ name }) => ({
      instrumentName: name,
      aggregation: {
        type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
        options: { boundaries: [...kBoundaries], recordMinMax: true },
      },
    })),
  });
  const meter = provider.getMeter('wirespan', '0.1.0');
  const histograms = new Map(
    kHistograms.map(({ name, description }) => [
      name,
      meter.createHistogram(name, {
        unit: 's',
        description,
        advice: { explicitBucketBoundaries: [...kBoundaries] },
      }),
    ]),
  );
  return { record: (point) => histograms.get(point.name)?.record(point.value, point.attributes), readers };
}

function ourSide(): { latency: LatencyHistograms; readers: TestReader[] } {
  const latency = new LatencyHistograms(kHistograms, kBoundaries, () => Date.now());
  const readers = kTemporalities.map((t) => new TestReader(t, [latency.producer(t)]));
  new MeterProvider({ readers });
  return { latency, readers };
}

/** A collection's histograms as comparable plain data (delta points sorted: see the note below). */
async function collected(reader: TestReader): Promise<unknown[]> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const metrics: MetricData[] = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  return metrics.map((metric) => {
    const points = metric.dataPoints.map((point) => ({
      attributes: Object.entries(point.attributes).sort(([a], [b]) => a.localeCompare(b)),
      startTime: point.startTime,
      endTime: point.endTime,
      value: point.value,
    }));
    // Delta: the SDK orders points by their first record since the last collection, wirespan by
    // the series' creation (cumulative: both by creation). The order carries no meaning.
    if (metric.aggregationTemporality === AggregationTemporality.DELTA)
      points.sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
    return {
      descriptor: metric.descriptor,
      temporality: metric.aggregationTemporality,
      type: metric.dataPointType,
      points,
    };
  });
}

/** A deterministic pseudo-random sequence (xorshift32). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Attribute sets: a few services, each with a few sets, keys in varying order (the same set). */
function attributeSet(next: () => number): Attributes {
  const service = `dns://10.0.0.${Math.floor(next() * 4)}:53`;
  const rcode = ['NOERROR', 'NXDOMAIN', 'SERVFAIL'][Math.floor(next() * 3)]!;
  return next() < 0.5
    ? { 'service.name': service, 'dns.response_code': rcode, 'network.transport': 'udp' }
    : { 'network.transport': 'udp', 'dns.response_code': rcode, 'service.name': service };
}

function latencyValue(next: () => number): number {
  const r = next();
  // Exact boundaries, zero, past the last boundary, negative (dropped), and ordinary values.
  if (r < 0.1) return kBoundaries[Math.floor(next() * kBoundaries.length)]!;
  if (r < 0.12) return 0;
  if (r < 0.14) return 12.5;
  if (r < 0.15) return -0.001;
  return next() ** 3 * 2;
}

let clock = 1_700_000_000_000;

describe('latency histograms aggregated by wirespan', () => {
  let realNow: () => number;
  beforeEach(() => {
    realNow = Date.now;
    Date.now = () => clock;
  });
  afterEach(() => {
    Date.now = realNow;
  });

  test('give what the SDK gives, cumulative and delta, point by point and batch by batch', async () => {
    const sdk = sdkSide();
    const ours = ourSide();
    const next = random(12345);
    for (let round = 0; round < 6; round++) {
      // One point at a time (workers 0).
      for (let i = 0; i < 300; i++) {
        clock += Math.floor(next() * 3);
        const point: MetricPoint = {
          name: kHistograms[next() < 0.7 ? 0 : 1]!.name,
          value: latencyValue(next),
          attributes: attributeSet(next),
        };
        sdk.record(point);
        ours.latency.recordPoint(point);
      }
      // A worker's batch: sets named once (some twice), points index them.
      const sets: LatencyPoints['sets'] = [];
      for (let s = 0; s < 8; s++)
        sets.push({ name: kHistograms[s % 2]!.name, attributes: attributeSet(next) });
      const set = new Uint32Array(200);
      const values = new Float64Array(200);
      for (let i = 0; i < set.length; i++) {
        set[i] = Math.floor(next() * sets.length);
        values[i] = latencyValue(next);
        sdk.record({ name: sets[set[i]!]!.name, value: values[i]!, attributes: sets[set[i]!]!.attributes });
      }
      ours.latency.recordPoints({ sets, set, values });
      clock += 1000;
      // Readers collect at different moments (the delta one not every round).
      assert.deepEqual(await collected(ours.readers[0]!), await collected(sdk.readers[0]!), `round ${round}`);
      if (round % 2 === 1) {
        clock += 7;
        assert.deepEqual(
          await collected(ours.readers[1]!),
          await collected(sdk.readers[1]!),
          `round ${round}`,
        );
      }
    }
  });

  test('an empty collection has no histograms', async () => {
    const ours = ourSide();
    assert.deepEqual(await collected(ours.readers[0]!), []);
    ours.latency.recordPoint({ name: 'not.a.histogram', value: 1, attributes: {} });
    assert.deepEqual(await collected(ours.readers[1]!), []);
  });

  test(`past ${kCardinalityLimit - 1} series between collections, new ones overflow as in the SDK`, async () => {
    const sdk = sdkSide();
    const ours = ourSide();
    const record = (service: number, value: number): void => {
      const point = { name: 'dns.lookup.duration', value, attributes: { 'service.name': `s${service}` } };
      sdk.record(point);
      ours.latency.recordPoint(point);
    };
    for (let s = 0; s < kCardinalityLimit + 10; s++) record(s, 0.001 * (s % 7));
    record(5, 0.5); // an admitted series still takes records
    const first = await collected(ours.readers[0]!);
    assert.deepEqual(first, await collected(sdk.readers[0]!));
    const overflow = (first[0] as { points: { attributes: unknown }[] }).points.at(-1)!;
    assert.deepEqual(overflow.attributes, [['otel.metric.overflow', true]]);
    // A new collection period admits new series again.
    for (let s = kCardinalityLimit + 10; s < kCardinalityLimit + 20; s++) record(s, 0.002);
    assert.deepEqual(await collected(ours.readers[0]!), await collected(sdk.readers[0]!));
    assert.deepEqual(await collected(ours.readers[1]!), await collected(sdk.readers[1]!));
  });
});

describe('the exporter', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  /** The dns.lookup.duration count of each metric request after emitting the demo pairs twice. */
  async function countsPerExport(temporality: string): Promise<number[]> {
    receiver.reset();
    const { pairs } = replayPairs([demo]);
    process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = temporality;
    try {
      const exporter = await createOtelExporter({ endpoint: receiver.endpoint, traces: false });
      for (let round = 0; round < 2; round++) {
        for (const pair of pairs) exporter.emit(pair);
        await exporter.forceFlush();
      }
      await exporter.shutdown();
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;
    }
    return receiver.metricRequests.map((request) =>
      request
        .filter((metric) => metric.name === 'dns.lookup.duration')
        .flatMap((metric) => metric.dataPoints)
        .reduce((n, point) => n + Number(point.count), 0),
    );
  }

  test('OTLP histograms follow OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', async () => {
    const [cumulative1, cumulative2, cumulativeLast] = await countsPerExport('cumulative');
    assert.ok(cumulative1! > 0);
    assert.deepEqual([cumulative2, cumulativeLast], [2 * cumulative1!, 2 * cumulative1!]);
    // Delta: each export has only the points since the previous one (none at shutdown).
    assert.deepEqual(await countsPerExport('delta'), [cumulative1, cumulative1, 0]);
  });
});
