/**
 * OTLP span encoding throughput, single thread (a measurement, not a test):
 *
 *   npm run bench -- --otlp-encode [spans=200000] [batch=2048] [rounds=5]
 *
 * The same PairSpans (built as sdk.ts builds them from the mapped corpus DNS/HTTP captures and
 * the demo capture, with the base resource's attributes on every per-service resource and a
 * source file name) are encoded in export-sized batches by otlp-transformer's
 * ProtobufTraceSerializer, by wirespan's OtlpTraceEncoder (encode(): the main thread's span
 * queue) and by its streaming form (add() per span, take() per batch: the workers), alternately,
 * `rounds` times each; prints spans/s and bytes/span for each (median round) and the ratios.
 */
import path from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace';
import { OtlpTraceEncoder } from '../../agent/export/otel/otlp-encode.ts';
import { PairSpan } from '../../agent/export/otel/pair-span.ts';
import { detectBaseResource, serviceResource, sharedAttributes } from '../../agent/export/otel/resource.ts';
import { kDefaultLocalNetworks, SpanMapper } from '../../agent/export/otel/span-mapper.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

const count = Number(process.argv[2] ?? 200_000);
const batchSize = Number(process.argv[3] ?? 2048);
const rounds = Number(process.argv[4] ?? 5);
const files = [
  path.join(corpusDir, 'dns/pcapplusplus--DnsPackets.pcap'),
  path.join(corpusDir, 'http/pcapplusplus--http-packets2.pcap'),
  path.resolve(import.meta.dirname, '../fixtures/demo.pcap'),
];
const mapper = new SpanMapper({
  localNetworks: kDefaultLocalNetworks,
  serviceMap: [],
  httpRoutes: [],
  sourceFiles: (fileId) => files[fileId],
});
const shared = sharedAttributes(await detectBaseResource({ 'k8s.node.name': 'node-1' }));
const resources = new Map<string, Resource>();
const ids = new RandomIdGenerator();
const pairs = replayPairs(files).pairs;
const spans: PairSpan[] = [];
for (let i = 0; i < count; i++) {
  const m = mapper.map(pairs[i % pairs.length]!);
  let resource = resources.get(m.serviceName);
  if (resource === undefined) {
    resource = serviceResource(shared, m.serviceName, m.serviceAttributes);
    resources.set(m.serviceName, resource);
  }
  const traceId = m.parent?.traceId ?? ids.generateTraceId();
  spans.push(
    new PairSpan(
      m.name,
      m.kind,
      Buffer.from(traceId + ids.generateSpanId(), 'hex'),
      0,
      m.parent === null
        ? undefined
        : { traceId, spanId: m.parent.parentSpanId, traceFlags: m.parent.flags & 0xff, isRemote: true },
      m.startSeconds,
      m.startNanos,
      m.endSeconds,
      m.endNanos,
      m.durationNanos,
      { code: m.statusCode },
      m.attributes,
      resource,
    ),
  );
}
const batches: PairSpan[][] = [];
for (let at = 0; at < spans.length; at += batchSize) batches.push(spans.slice(at, at + batchSize));

const encoder = new OtlpTraceEncoder();
const streaming = new OtlpTraceEncoder();
const candidates = {
  sdk: (batch: PairSpan[]) => ProtobufTraceSerializer.serializeRequest(batch)!.length,
  wirespan: (batch: PairSpan[]) => encoder.encode(batch).length,
  streaming: (batch: PairSpan[]) => {
    for (const span of batch) streaming.add(span);
    return streaming.take().length;
  },
};
const results: Record<string, { rates: number[]; bytes: number }> = {
  sdk: { rates: [], bytes: 0 },
  wirespan: { rates: [], bytes: 0 },
  streaming: { rates: [], bytes: 0 },
};
for (let round = 0; round < rounds; round++) {
  for (const [name, encode] of Object.entries(candidates)) {
    let bytes = 0;
    const started = process.hrtime.bigint();
    for (const batch of batches) bytes += encode(batch);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    results[name]!.rates.push(spans.length / seconds);
    results[name]!.bytes = bytes;
  }
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const sdk = median(results.sdk!.rates);
const ours = median(results.wirespan!.rates);
const streamed = median(results.streaming!.rates);
console.log(
  JSON.stringify({
    spans: spans.length,
    batchSize,
    resources: resources.size,
    sdkSpansPerSecond: Math.round(sdk),
    wirespanSpansPerSecond: Math.round(ours),
    ratio: Number((ours / sdk).toFixed(2)),
    streamingSpansPerSecond: Math.round(streamed),
    streamingRatio: Number((streamed / sdk).toFixed(2)),
    sdkBytesPerSpan: Math.round(results.sdk!.bytes / spans.length),
    wirespanBytesPerSpan: Math.round(results.wirespan!.bytes / spans.length),
    streamingBytesPerSpan: Math.round(results.streaming!.bytes / spans.length),
  }),
);
