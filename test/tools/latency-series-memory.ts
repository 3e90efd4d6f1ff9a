/**
 * The latency histograms' series registry (agent/export/otel/latency-histograms.ts) in a churning
 * cluster: heap used after GC and CPU, recording 1 M pairs (PAIRS) with a collection every 2,000.
 * Run with --expose-gc:
 *   node --expose-gc test/tools/latency-series-memory.ts [pods|routes|steady] [delta|cumulative] [BUILD]
 * - pods: 100,000 distinct attribute sets over 500 collections, 4 per service (a pod IP), a
 *   window of 400 sets sliding by 200 per collection; attributes made per pair, as a worker's
 *   batch arrives cloned;
 * - routes: the same sets over 10 services (routes churning within a service);
 * - steady: 2,000 sets that never change.
 * BUILD: another latency-histograms.ts to measure (e.g. main's, for a before/after).
 * Prints heap MB before and after 100, 250 and all collections, CPU of the records and of the
 * collections, and the series in use at the end.
 */
import path from 'node:path';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import type { LatencyHistograms as Histograms } from '../../agent/export/otel/latency-histograms.ts';
import { kDefaultLatencyBoundaries } from '../../agent/export/otel/metrics.ts';

const [scenario = 'pods', temporality = 'delta', build] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const module = build ?? path.resolve(import.meta.dirname, '../../agent/export/otel/latency-histograms.ts');
const { LatencyHistograms } = (await import(module)) as { LatencyHistograms: typeof Histograms };

const kPairs = Number(process.env.PAIRS ?? 1_000_000);
const kPairsPerCollection = 2000;
const kCollections = kPairs / kPairsPerCollection;
const names = ['dns.lookup.duration', 'http.server.request.duration', 'wirespan.pair.duration'];
let clock = 1_700_000_000_000;
const latency = new LatencyHistograms(
  names.map((name) => ({ name, description: name })),
  kDefaultLatencyBoundaries,
  () => clock,
);
const producer = latency.producer(
  temporality === 'cumulative' ? AggregationTemporality.CUMULATIVE : AggregationTemporality.DELTA,
);

/** xorshift32: the same pairs in every run. */
let seed = 12345;
function next(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}

function attributesOf(id: number): Record<string, string | number> {
  return {
    'service.name':
      scenario === 'routes' ? `svc-${id % 10}` : `10.${(id >> 10) & 255}.${(id >> 2) & 255}.${id & 3}:8080`,
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'http.route': `/api/v1/item${id}`,
    'network.protocol.version': '1.1',
  };
}

const steady = Array.from({ length: 2000 }, (_, id) => ({
  name: names[id % names.length]!,
  value: 0,
  attributes: attributesOf(id),
}));
const churning = { name: names[1]!, value: 0, attributes: {} as Record<string, string | number> };

function heapMb(): string {
  gc!();
  gc!();
  return (process.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
}

function cpuMs(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
}

const heaps = [`before ${heapMb()}`];
let recordMs = 0;
let collectMs = 0;
for (let c = 0; c < kCollections; c++) {
  const recording = process.cpuUsage();
  for (let i = 0; i < kPairsPerCollection; i++) {
    const value = next() ** 3;
    if (scenario === 'steady') {
      const point = steady[Math.floor(next() * steady.length)]!;
      point.value = value;
      latency.recordPoint(point);
    } else {
      churning.attributes = attributesOf(c * 200 + Math.floor(next() * 400));
      churning.value = value;
      latency.recordPoint(churning);
    }
  }
  recordMs += cpuMs(recording);
  clock += 1000;
  const collecting = process.cpuUsage();
  await producer.collect();
  collectMs += cpuMs(collecting);
  if (c + 1 === 100 || c + 1 === 250 || c + 1 === kCollections) heaps.push(`${c + 1}: ${heapMb()}`);
}
console.log(
  `${scenario} ${temporality}: heap MB ${heaps.join(', ')}; records ${recordMs.toFixed(0)} ms CPU ` +
    `(${((recordMs * 1e6) / kPairs).toFixed(0)} ns per pair, the attributes' making included), ` +
    `collections ${collectMs.toFixed(0)} ms; series in use ${latency.seriesInUse ?? '(not counted)'}`,
);
