/**
 * Span creation cost, SDK Tracer path vs the direct ReadableSpan path wirespan uses (a
 * measurement, not a test):
 *
 *   npm run bench -- --span-path [spans=200000]
 *
 * Both build spans from the same mapped corpus pairs (real attribute sets), with one Resource
 * per observed service, and hand them to a span sink that only keeps them:
 * - tracer: one TracerProvider per service (NodeSDK's single provider has one Resource),
 *   tracer.startSpan(name, {kind, startTime, attributes}, parent) + span.end(endTime);
 * - direct: new PairSpan(...) with a cached Resource (agent/export/otel/pair-span.ts).
 * Export (serialisation, gRPC) is the same code for both and is not measured here.
 */
import path from 'node:path';
import { ROOT_CONTEXT, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  RandomIdGenerator,
  type ReadableSpan,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { PairSpan } from '../../agent/export/otel/pair-span.ts';
import { kDefaultLocalNetworks, SpanMapper } from '../../agent/export/otel/span-mapper.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

const count = Number(process.argv[2] ?? 200_000);
const files = [
  path.join(corpusDir, 'dns/pcapplusplus--DnsPackets.pcap'),
  path.join(corpusDir, 'http/pcapplusplus--http-packets2.pcap'),
  path.resolve(import.meta.dirname, '../fixtures/demo.pcap'),
];
const mapper = new SpanMapper({
  localNetworks: kDefaultLocalNetworks,
  serviceMap: [],
  httpRoutes: [],
  sourceFiles: null,
});
const mapped = files.flatMap((file) => replayPairs([file]).pairs.map((pair) => mapper.map(pair)));
const services = [...new Set(mapped.map((m) => m.serviceName))];
const resources = new Map(services.map((name) => [name, resourceFromAttributes({ 'service.name': name })]));

let kept: ReadableSpan[] = [];
const sink: SpanProcessor = {
  onStart() {},
  onEnd(span) {
    kept.push(span);
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const tracers = new Map(
  services.map((name) => [
    name,
    new TracerProvider({
      resource: resources.get(name)!,
      spanProcessors: [sink],
      sampler: new AlwaysOnSampler(),
    }).getTracer('wirespan'),
  ]),
);
const ids = new RandomIdGenerator();

function viaTracer(n: number): void {
  for (let i = 0; i < n; i++) {
    const m = mapped[i % mapped.length]!;
    const parent = m.parent
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: m.parent.traceId,
          spanId: m.parent.parentSpanId,
          traceFlags: TraceFlags.SAMPLED,
          isRemote: true,
        })
      : ROOT_CONTEXT;
    const span = tracers
      .get(m.serviceName)!
      .startSpan(
        m.name,
        { kind: m.kind, startTime: [m.startSeconds, m.startNanos], attributes: { ...m.attributes } },
        parent,
      );
    if (m.statusCode === SpanStatusCode.ERROR) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end([m.endSeconds, m.endNanos]);
  }
}

function direct(n: number): void {
  for (let i = 0; i < n; i++) {
    const m = mapped[i % mapped.length]!;
    const traceId = m.parent?.traceId ?? ids.generateTraceId();
    kept.push(
      new PairSpan(
        m.name,
        m.kind,
        Buffer.from(traceId + ids.generateSpanId(), 'hex'),
        0,
        m.parent ? { traceId, spanId: m.parent.parentSpanId, traceFlags: 1, isRemote: true } : undefined,
        m.startSeconds,
        m.startNanos,
        m.endSeconds,
        m.endNanos,
        m.durationNanos,
        { code: m.statusCode },
        { ...m.attributes },
        resources.get(m.serviceName)!,
      ),
    );
  }
}

function measure(label: string, run: (n: number) => void): number {
  kept = [];
  run(Math.min(20_000, count)); // warm-up
  kept = [];
  const started = process.hrtime.bigint();
  run(count);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = Math.round(count / seconds);
  console.log(`${label}: ${rate} spans/s (${count} spans in ${seconds.toFixed(2)} s, ${kept.length} kept)`);
  return rate;
}

const tracerRate = measure('tracer path', viaTracer);
const directRate = measure('direct path', direct);
console.log(`direct / tracer: ${(directRate / tracerRate).toFixed(2)}x`);
