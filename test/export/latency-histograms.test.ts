/**
 * latency-histograms.ts against the SDK's own histogram aggregation (what metrics.ts used
 * before): the same points recorded into both, collected by readers of either temporality, must
 * give the same metrics: descriptors, attributes, bucket counts, count, sum, min, max, start and
 * end times (Date.now is a fake clock here, read by both), and the same cardinality overflow;
 * also over many collections of churning attribute sets, where delta readers alone let the series
 * nobody holds be freed (seriesInUse) and a cumulative reader keeps them all.
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
function sdkSide(temporalities = kTemporalities): {
  record: (point: MetricPoint) => void;
  readers: TestReader[];
} {
  const readers = temporalities.map((t) => new TestReader(t));
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

function ourSide(temporalities = kTemporalities): { latency: LatencyHistograms; readers: TestReader[] } {
  const latency = new LatencyHistograms(kHistograms, kBoundaries, () => Date.now());
  const readers = temporalities.map((t) => new TestReader(t, [latency.producer(t)]));
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

/** Attribute set `id` of a churning cluster: pods (services) and their sets come and go. */
function churningSet(id: number, next: () => number): Attributes {
  const service = `10.1.${id >> 3}.7:53`;
  const rcode = ['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED'][id & 3]!;
  const type = id & 4 ? 'A' : 'AAAA';
  return next() < 0.5
    ? { 'service.name': service, 'dns.response_code': rcode, 'dns.question.type': type }
    : { 'dns.question.type': type, 'dns.response_code': rcode, 'service.name': service };
}

/** A (histogram, attribute set) as a string, to count the distinct series recorded. */
function seriesKey(point: MetricPoint): string {
  return `${point.name} ${JSON.stringify(Object.entries(point.attributes).sort(([a], [b]) => a.localeCompare(b)))}`;
}

/** What churn() tells its check after each round's collections. */
interface ChurnRound {
  round: number;
  /** Distinct series recorded in the last 6 rounds (0 after the quiet rounds). */
  recent: number;
  /** Distinct series recorded ever (those past the cardinality limit included). */
  ever: number;
  /** Points in reader 0's last collection. */
  reported: number;
}

/**
 * Records churning attribute sets into the SDK and into wirespan, round after round: a window of
 * sets sliding by 10 per round (points and worker batches), a set recorded every round, one every
 * fourth round (absent in between), and in rounds 40, 44 and 60 more new sets than the
 * cardinality limit (the overflow series again, then anew). Reader 0 collects every round,
 * reader 1 (if any) every third; each collection is compared with the SDK's. `check` runs after
 * each round's collections, and after two quiet rounds in which every reader collects twice
 * (with round = rounds).
 */
async function churn(
  temporalities: AggregationTemporality[],
  rounds: number,
  check: (ours: LatencyHistograms, state: ChurnRound) => void,
): Promise<void> {
  const sdk = sdkSide(temporalities);
  const ours = ourSide(temporalities);
  const next = random(777);
  const recordedIn: Set<string>[] = [];
  const ever = new Set<string>();
  const collectReader = async (r: number, label: string): Promise<number> => {
    const points = (await collected(ours.readers[r]!)) as { points: unknown[] }[];
    assert.deepEqual(points, await collected(sdk.readers[r]!), label);
    return points.reduce((n, metric) => n + metric.points.length, 0);
  };
  for (let round = 0; round < rounds; round++) {
    const recorded = new Set<string>();
    recordedIn.push(recorded);
    const record = (point: MetricPoint): void => {
      sdk.record(point);
      ours.latency.recordPoint(point);
      if (point.value >= 0) recorded.add(seriesKey(point));
    };
    for (let i = 0; i < 150; i++) {
      clock += Math.floor(next() * 3);
      const id = round * 10 + Math.floor(next() * 30);
      record({
        name: kHistograms[id % 2]!.name,
        value: latencyValue(next),
        attributes: churningSet(id, next),
      });
    }
    record({
      name: kHistograms[0]!.name,
      value: latencyValue(next),
      attributes: { 'service.name': 'steady' },
    });
    if (round % 4 === 0)
      record({ name: kHistograms[1]!.name, value: 0.002, attributes: { 'service.name': 'sometimes' } });
    if (round === 40 || round === 44 || round === 60) {
      for (let i = 0; i < kCardinalityLimit + 5; i++) {
        const attributes = { 'service.name': `burst-${round}-${i}` };
        record({ name: kHistograms[0]!.name, value: 0.001, attributes });
      }
    }
    const sets: LatencyPoints['sets'] = [];
    for (let s = 0; s < 5; s++) {
      const id = round * 10 + Math.floor(next() * 30);
      sets.push({ name: kHistograms[id % 2]!.name, attributes: churningSet(id, next) });
    }
    const set = new Uint32Array(60);
    const values = new Float64Array(60);
    for (let i = 0; i < set.length; i++) {
      set[i] = Math.floor(next() * sets.length);
      values[i] = latencyValue(next);
      const point = { name: sets[set[i]!]!.name, value: values[i]!, attributes: sets[set[i]!]!.attributes };
      sdk.record(point);
      if (point.value >= 0) recorded.add(seriesKey(point));
    }
    ours.latency.recordPoints({ sets, set, values });
    clock += 1000;
    const reported = await collectReader(0, `round ${round}`);
    if (round % 3 === 2 && temporalities.length > 1) {
      clock += 7;
      await collectReader(1, `round ${round}`);
    }
    for (const key of recorded) ever.add(key);
    const recent = new Set(recordedIn.slice(-6).flatMap((keys) => [...keys])).size;
    check(ours.latency, { round, recent, ever: ever.size, reported });
  }
  let reported = 0;
  for (let quiet = 0; quiet < 2; quiet++) {
    clock += 1000;
    for (let r = temporalities.length - 1; r >= 0; r--) reported = await collectReader(r, `quiet ${quiet}`);
  }
  check(ours.latency, { round: rounds, recent: 0, ever: ever.size, reported });
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
    // The sets past the limit have no series of their own: 1,999 and the overflow series.
    assert.equal(ours.latency.seriesInUse, kCardinalityLimit);
    const first = await collected(ours.readers[0]!);
    assert.deepEqual(first, await collected(sdk.readers[0]!));
    const overflow = (first[0] as { points: { attributes: unknown }[] }).points.at(-1)!;
    assert.deepEqual(overflow.attributes, [['otel.metric.overflow', true]]);
    // A new collection period admits new series again.
    for (let s = kCardinalityLimit + 10; s < kCardinalityLimit + 20; s++) record(s, 0.002);
    assert.deepEqual(await collected(ours.readers[0]!), await collected(sdk.readers[0]!));
    assert.deepEqual(await collected(ours.readers[1]!), await collected(sdk.readers[1]!));
  });

  test('delta readers alone: churning sets over many collections give what the SDK gives, and the series nobody holds are freed', async () => {
    const delta = AggregationTemporality.DELTA;
    let most = 0;
    let ever = 0;
    await churn([delta, delta], 120, (ours, state) => {
      // A series lives until the collections after its last record (reader 1's: up to 6 rounds),
      // plus at most an overflow series per histogram.
      assert.ok(
        ours.seriesInUse <= state.recent + kHistograms.length,
        `round ${state.round}: ${ours.seriesInUse}`,
      );
      // After the last burst of new sets has been reported by both readers and freed.
      if (state.round > 66 && state.round < 120) most = Math.max(most, ours.seriesInUse);
      if (state.round === 120) assert.equal(ours.seriesInUse, 0);
      ever = state.ever;
    });
    // The windows of the last 6 rounds (80 sets), 'steady' and 'sometimes', of 7,000+ ever recorded.
    assert.ok(most <= 82 && ever > 7000, `${most} of ${ever}`);
  });

  test('a cumulative reader keeps every series it reported, with or without a delta reader', async () => {
    for (const temporalities of [kTemporalities, [AggregationTemporality.CUMULATIVE]]) {
      await churn(temporalities, 50, (ours, state) => {
        // Reader 0 is the cumulative one: it reports every series ever admitted, the overflow too.
        assert.equal(ours.seriesInUse, state.reported, `round ${state.round}`);
        assert.ok(state.round < 44 || state.reported > 4000, `${state.reported}`);
      });
    }
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
