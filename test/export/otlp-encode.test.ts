/**
 * The span encoder (agent/export/otel/otlp-encode.ts) against the SDK's serializer
 * (ProtobufTraceSerializer from @opentelemetry/otlp-transformer): both encode the same spans,
 * the receiver's protobuf definitions (@elastic/mockotlpserver's protos) decode both, and the
 * decoded requests are compared span by span and attribute by attribute.
 *
 * Spans: real PairSpans built the way sdk.ts builds them (the real span mapper over the demo
 * capture and corpus DNS/HTTP captures: unanswered pairs, DNS and HTTP errors, traceparent
 * parents, a service map with extra resource attributes, several resources), plus synthetic
 * spans for what pairs do not carry today (every attribute value type, events, links, trace
 * state, status messages, long and non-ASCII strings), plus random ones (fast-check). Then the
 * new exporter end to end through the real gRPC receiver, against the SDK's OTLPTraceExporter.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type Attributes,
  type AttributeValue,
  type HrTime,
  type Link,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
} from '@opentelemetry/api';
import { ExportResultCode, type InstrumentationScope, TraceState } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import { RandomIdGenerator, type ReadableSpan, type TimedEvent } from '@opentelemetry/sdk-trace';
import fc from 'fast-check';
import { OtlpBytesExporter } from '../../agent/export/otel/otlp-bytes-exporter.ts';
import { OtlpTraceEncoder } from '../../agent/export/otel/otlp-encode.ts';
import { transportPayload } from '../../agent/export/otel/otlp-transport.ts';
import { kScope, kStatusError, PairSpan } from '../../agent/export/otel/pair-span.ts';
import { detectBaseResource, serviceResource, sharedAttributes } from '../../agent/export/otel/resource.ts';
import { kDefaultLocalNetworks, type PairData, SpanMapper } from '../../agent/export/otel/span-mapper.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

// The receiver's decoder: protobufjs over the OTLP .proto files that mockotlpserver ships.
interface ProtoType {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: object): Record<string, unknown>;
}
const require = createRequire(import.meta.url);
const { getProtoRoot } = require('@elastic/mockotlpserver/lib/proto.js') as {
  getProtoRoot(): { lookupType(name: string): ProtoType };
};
const requestType = getProtoRoot().lookupType(
  'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
);

type Raw = Record<string, unknown>;

/** Decodes a request; 64-bit values as decimal strings, bytes as hex, absent fields as their defaults. */
function decode(bytes: Uint8Array): Raw {
  const message = requestType.decode(bytes);
  const object = requestType.toObject(message, {
    longs: String,
    enums: String,
    bytes: String,
    defaults: true,
    arrays: true,
  });
  return hexIds(object) as Raw;
}

/** Base64 ids → hex, recursively (easier to read in a failed assertion). */
function hexIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIds);
  if (typeof value !== 'object' || value === null) return value;
  const out: Raw = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] =
      (key === 'traceId' || key === 'spanId' || key === 'parentSpanId') && typeof v === 'string'
        ? Buffer.from(v, 'base64').toString('hex')
        : hexIds(v);
  }
  return out;
}

/** KeyValue lists sorted by key (attribute order carries no meaning), recursively. */
function sortAttributes(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(sortAttributes);
    const isKeyValues = items.every((item) => typeof item === 'object' && item !== null && 'key' in item);
    return isKeyValues && items.length > 0
      ? [...items].sort((a, b) => String((a as Raw).key).localeCompare(String((b as Raw).key)))
      : items;
  }
  if (typeof value !== 'object' || value === null) return value;
  const out: Raw = {};
  for (const [key, v] of Object.entries(value)) out[key] = sortAttributes(v);
  return out;
}

interface FlatSpan {
  resource: unknown;
  resourceSchemaUrl: unknown;
  scope: unknown;
  scopeSchemaUrl: unknown;
  span: Raw;
}

/** Every span with its resource and scope, by span id; plus the request's grouping. */
function flatten(request: Raw): { spans: Map<string, FlatSpan>; groups: string[] } {
  const spans = new Map<string, FlatSpan>();
  const groups: string[] = [];
  for (const rs of request.resourceSpans as Raw[]) {
    for (const ss of rs.scopeSpans as Raw[]) {
      groups.push(`${(ss.spans as Raw[]).length} spans`);
      for (const span of ss.spans as Raw[]) {
        assert.ok(!spans.has(span.spanId as string), `duplicate span id ${span.spanId}`);
        spans.set(span.spanId as string, {
          resource: sortAttributes(rs.resource),
          resourceSchemaUrl: rs.schemaUrl,
          scope: sortAttributes(ss.scope),
          scopeSchemaUrl: ss.schemaUrl,
          span: sortAttributes(span) as Raw,
        });
      }
    }
  }
  return { spans, groups };
}

/** Encodes with both serializers, decodes both, compares span by span; returns the decoded request. */
function assertEquivalent(spans: ReadableSpan[]): Raw {
  const ours = new OtlpTraceEncoder().encode(spans);
  const sdk = ProtobufTraceSerializer.serializeRequest(spans);
  assert.ok(sdk !== undefined);
  const decodedOurs = decode(ours);
  const decodedSdk = decode(sdk);
  const a = flatten(decodedOurs);
  const b = flatten(decodedSdk);
  assert.equal(a.spans.size, spans.length);
  assert.deepEqual(a.groups, b.groups, 'same ResourceSpans/ScopeSpans grouping');
  for (const [spanId, expected] of b.spans) {
    const actual = a.spans.get(spanId);
    assert.ok(actual, `span ${spanId} missing`);
    const attributes = (expected.span.attributes as Raw[]) ?? [];
    const actualAttributes = (actual.span.attributes as Raw[]) ?? [];
    // Attribute by attribute first, for a readable failure.
    assert.deepEqual(
      actualAttributes.map((kv) => kv.key),
      attributes.map((kv) => kv.key),
      `span ${spanId}: attribute keys`,
    );
    for (let i = 0; i < attributes.length; i++) {
      assert.deepEqual(actualAttributes[i], attributes[i], `span ${spanId}: ${attributes[i]!.key}`);
    }
    assert.deepEqual(actual, expected, `span ${spanId}`);
  }
  return decodedOurs;
}

/** Exact ns of an HrTime, computed independently (BigInt). */
function nanosText(time: HrTime): string {
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');
const captures = [
  demo,
  path.join(corpusDir, 'dns/pcapplusplus--DnsPackets.pcap'),
  path.join(corpusDir, 'http/pcapplusplus--http-packets2.pcap'),
];

/** PairSpans as sdk.ts builds them (mapper, ids, traceparent parent, per-service resources). */
async function pairSpans(): Promise<PairSpan[]> {
  const mapper = new SpanMapper({
    localNetworks: kDefaultLocalNetworks,
    serviceMap: [
      {
        match: '127.0.0.153:53',
        service: 'coredns',
        attributes: { 'service.namespace': 'kube-system', 'wirespan.test.replicas': 3 },
      },
      { match: '127.0.0.0/8:8080', service: 'web', attributes: { 'deployment.environment.name': 'tëst' } },
    ],
    httpRoutes: ['/api/users/{id}', '/static/*'],
    sourceFiles: (fileId) => captures[fileId],
  });
  const base = await detectBaseResource({ 'k8s.node.name': 'node-1' });
  const shared = sharedAttributes(base);
  const resources = new Map<string, Resource>();
  const ids = new RandomIdGenerator();
  const spans: PairSpan[] = [];
  for (const pair of replayPairs(captures).pairs) {
    const mapped = mapper.map(structuredClone(pair) as PairData);
    let resource = resources.get(mapped.serviceName);
    if (resource === undefined) {
      resource = serviceResource(shared, mapped.serviceName, mapped.serviceAttributes);
      resources.set(mapped.serviceName, resource);
    }
    const parent = mapped.parent;
    const traceId = parent?.traceId ?? ids.generateTraceId();
    spans.push(
      new PairSpan(
        mapped.name,
        mapped.kind,
        Buffer.from(traceId + ids.generateSpanId(), 'hex'),
        0,
        parent === null
          ? undefined
          : { traceId, spanId: parent.parentSpanId, traceFlags: parent.flags & 0xff, isRemote: true },
        mapped.startSeconds,
        mapped.startNanos,
        mapped.endSeconds,
        mapped.endNanos,
        mapped.durationNanos,
        { code: mapped.statusCode },
        mapped.attributes,
        resource,
      ),
    );
  }
  return spans;
}

interface SpanInit {
  name?: string;
  kind?: SpanKind;
  traceId?: string;
  spanId?: string;
  traceState?: TraceState;
  traceFlags?: number;
  parent?: { spanId: string; isRemote?: boolean; traceFlags?: number };
  start?: HrTime;
  end?: HrTime;
  status?: { code: SpanStatusCode; message?: string };
  attributes?: Attributes;
  events?: TimedEvent[];
  links?: Link[];
  resource?: Resource;
  scope?: InstrumentationScope;
  dropped?: [number, number, number];
}

const ids = new RandomIdGenerator();
const defaultResource = resourceFromAttributes({ 'service.name': 'synthetic' });

/** A ReadableSpan literal (events, links, trace state: what PairSpan never has). */
function span(init: SpanInit): ReadableSpan {
  const traceId = init.traceId ?? ids.generateTraceId();
  const context = {
    traceId,
    spanId: init.spanId ?? ids.generateSpanId(),
    traceFlags: init.traceFlags ?? TraceFlags.SAMPLED,
    ...(init.traceState === undefined ? {} : { traceState: init.traceState }),
  };
  const start = init.start ?? [1_700_000_000, 123_456_789];
  const end = init.end ?? [1_700_000_001, 5];
  return {
    name: init.name ?? 'synthetic',
    kind: init.kind ?? SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext:
      init.parent === undefined
        ? undefined
        : {
            traceId,
            spanId: init.parent.spanId,
            traceFlags: init.parent.traceFlags ?? 1,
            ...(init.parent.isRemote === undefined ? {} : { isRemote: init.parent.isRemote }),
          },
    startTime: start,
    endTime: end,
    status: init.status ?? { code: SpanStatusCode.UNSET },
    attributes: init.attributes ?? {},
    links: init.links ?? [],
    events: init.events ?? [],
    duration: [0, 0],
    ended: true,
    resource: init.resource ?? defaultResource,
    instrumentationScope: init.scope ?? kScope,
    droppedAttributesCount: init.dropped?.[0] ?? 0,
    droppedEventsCount: init.dropped?.[1] ?? 0,
    droppedLinksCount: init.dropped?.[2] ?? 0,
  };
}

describe('OtlpTraceEncoder vs the SDK serializer', () => {
  let real: PairSpan[];
  before(async () => {
    real = await pairSpans();
  });

  test('real PairSpans from the demo capture and the corpus: same request, span by span', () => {
    // The set really is varied (otherwise this test proves little).
    assert.ok(real.length > 100, `${real.length} spans`);
    const names = new Set(real.map((s) => String(s.resource.attributes['service.name'])));
    assert.ok(names.has('coredns') && names.has('web') && names.size >= 5, [...names].join(', '));
    assert.ok(real.some((s) => s.attributes['wirespan.unanswered.reason'] !== undefined));
    assert.ok(real.some((s) => s.status.code === SpanStatusCode.ERROR));
    assert.ok(real.some((s) => s.parentSpanContext?.isRemote === true));
    assert.ok(real.some((s) => s.kind === SpanKind.SERVER) && real.some((s) => s.kind === SpanKind.CLIENT));
    assert.ok(real.some((s) => s.attributes['network.type'] === 'ipv6'));

    const decoded = assertEquivalent(real);
    // Stronger than needed, true with otlp-transformer 0.301.0: the very same bytes (same field
    // order and presence). An SDK upgrade that reorders fields may drop this line; the decoded
    // comparison above is the contract.
    assert.equal(
      Buffer.compare(new OtlpTraceEncoder().encode(real), ProtobufTraceSerializer.serializeRequest(real)!),
      0,
    );
    // And against the spans themselves, independently of both serializers.
    const byId = new Map(real.map((s) => [s.spanContext().spanId, s]));
    const resourceSpans = decoded.resourceSpans as Raw[];
    assert.equal(resourceSpans.length, names.size, 'one ResourceSpans per resource');
    for (const rs of resourceSpans) {
      assert.equal((rs.scopeSpans as Raw[]).length, 1, 'one ScopeSpans per scope');
      const scope = (rs.scopeSpans as Raw[])[0]!;
      assert.deepEqual(scope.scope, {
        name: kScope.name,
        version: kScope.version,
        attributes: [],
        droppedAttributesCount: 0,
      });
      for (const received of scope.spans as Raw[]) {
        const original = byId.get(received.spanId as string)!;
        assert.equal(received.traceId, original.spanContext().traceId);
        assert.equal(received.startTimeUnixNano, nanosText(original.startTime));
        assert.equal(received.endTimeUnixNano, nanosText(original.endTime));
        assert.equal(received.parentSpanId, original.parentSpanContext?.spanId ?? '');
        assert.equal(received.name, original.name);
      }
    }
  });

  test("a PairSpan's times are numbers: HrTime arrays made on demand, encoded exact", () => {
    const span = new PairSpan(
      'GET',
      SpanKind.CLIENT,
      Buffer.from(`${'12'.repeat(16)}${'34'.repeat(8)}`, 'hex'),
      0,
      undefined,
      4_294_967_295,
      999_999_999,
      4_294_967_297,
      500_000_000,
      1_500_000_001,
      kStatusError,
      {},
      defaultResource,
    );
    assert.deepEqual(span.startTime, [4_294_967_295, 999_999_999]);
    assert.deepEqual(span.endTime, [4_294_967_297, 500_000_000]);
    assert.deepEqual(span.duration, [1, 500_000_001]);
    assert.notEqual(span.startTime, span.startTime, 'a new array each time (none kept per span)');
    const received = (
      ((assertEquivalent([span]).resourceSpans as Raw[])[0]!.scopeSpans as Raw[])[0]!.spans as Raw[]
    )[0]!;
    assert.equal(received.startTimeUnixNano, '4294967295999999999');
    assert.equal(received.endTimeUnixNano, '4294967297500000000');
    assert.equal((received.status as Raw).code, 'STATUS_CODE_ERROR');
  });

  test('attribute keys that change position from span to span (the encoder remembers keys by position)', () => {
    const one = new OtlpTraceEncoder();
    const spans = [
      span({ attributes: { a: 1, b: 'x', c: 2 } }),
      span({ attributes: { a: 1, b: 'x', c: 2 } }),
      span({ attributes: { b: 'y', a: 3, c: 4 } }),
      span({ attributes: { a: 5, d: true, c: 6, e: 'z' } }),
      span({ attributes: { a: 7 } }),
      span({ attributes: { a: 8, b: 'w', c: 9, d: false } }),
      span({
        attributes: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 7) % 40}`, i])),
      }),
      span({ attributes: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, `v${i}`])) }),
    ];
    // One encoder for all (its remembered keys carried from span to span), and the SDK's bytes.
    for (const s of spans) one.add(s);
    assert.equal(Buffer.compare(one.take(), ProtobufTraceSerializer.serializeRequest(spans)!), 0);
    assertEquivalent(spans);
  });

  test('past the key cache (4,096 keys), new keys are written without it: same bytes, in a long attribute object too', () => {
    const one = new OtlpTraceEncoder();
    // 5,000 distinct keys fill the cache; the last spans' keys are all new to it, and one of
    // them grows the group buffer (16 KiB) in the middle of its attributes.
    const spans = Array.from({ length: 50 }, (_, s) =>
      span({
        attributes: Object.fromEntries(
          Array.from({ length: 100 }, (_, i) => [
            `key.${s}.${i}`,
            i % 3 === 0 ? `v${i}` : i % 3 === 1 ? i : 'é',
          ]),
        ),
      }),
    );
    spans.push(
      span({
        attributes: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`late.${i}`, 'x'.repeat(60)])),
      }),
    );
    for (const s of spans) one.add(s);
    assert.equal(Buffer.compare(one.take(), ProtobufTraceSerializer.serializeRequest(spans)!), 0);
    // The same encoder again: cached keys and uncached ones side by side.
    for (const s of spans) one.add(s);
    assert.equal(Buffer.compare(one.take(), ProtobufTraceSerializer.serializeRequest(spans)!), 0);
  });

  test('every attribute type, events, links, trace state, status message, dropped counts', () => {
    const otherResource = resourceFromAttributes({
      'service.name': 'other',
      'wirespan.test.bool': true,
      'wirespan.test.list': ['a', 'b'],
    });
    const versionless: InstrumentationScope = { name: 'no-version' };
    const withSchema: InstrumentationScope = { name: 'schema', version: '1.2.3', schemaUrl: 'https://x/1' };
    const values: Record<string, AttributeValue> = {
      empty: '',
      ascii: 'plain',
      unicode: 'grüße 日本 😀',
      lone: 'bad \ud800 surrogate',
      long127: 'x'.repeat(127),
      long128: 'y'.repeat(128),
      longUnicode: 'é'.repeat(100),
      huge: 'z'.repeat(20_000),
      zero: 0,
      one: 1,
      minusOne: -1,
      int31: 2 ** 31,
      int32: 2 ** 32,
      int32plus: 2 ** 32 + 7,
      maxSafe: Number.MAX_SAFE_INTEGER,
      minSafe: Number.MIN_SAFE_INTEGER,
      big: 2 ** 62,
      minusBig: -(2 ** 62),
      tooBig: 2 ** 63,
      double: 1.5,
      negativeDouble: -0.25,
      nan: Number.NaN,
      infinity: Number.POSITIVE_INFINITY,
      negativeZero: -0,
      yes: true,
      no: false,
      strings: ['a', '', 'ü'],
      numbers: [1, 2.5, -3],
      booleans: [true, false],
      emptyList: [],
      withHoles: ['a', null, undefined, 'b'],
    };
    const spans = [
      span({ attributes: values, kind: SpanKind.SERVER, dropped: [1, 2, 300] }),
      span({
        name: 'ünïcode name',
        status: { code: SpanStatusCode.ERROR, message: 'it broke: ✗' },
        traceState: new TraceState('vendor=value,other=1'),
        parent: { spanId: ids.generateSpanId(), isRemote: false },
        events: [
          { name: 'first', time: [1_700_000_000, 1], attributes: { a: 1 }, droppedAttributesCount: 2 },
          { name: 'second', time: [1_700_000_000, 999_999_999] },
        ],
        links: [
          {
            context: {
              traceId: ids.generateTraceId(),
              spanId: ids.generateSpanId(),
              traceFlags: 0,
              isRemote: true,
              traceState: new TraceState('k=v'),
            },
            attributes: { 'link.kind': 'follows' },
            droppedAttributesCount: 1,
          },
          { context: { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: 1 } },
        ],
      }),
      // Tiny span (< 128 bytes: the reserved length shrinks) and a huge one (> 16383 bytes: it grows).
      span({ name: '', kind: SpanKind.CLIENT, attributes: {} }),
      span({ attributes: { huge: 'h'.repeat(70_000) } }),
      span({ resource: otherResource, scope: versionless, kind: SpanKind.PRODUCER }),
      span({ resource: otherResource, scope: withSchema, kind: SpanKind.CONSUMER }),
      span({ resource: otherResource, scope: versionless }),
      span({ start: [0, 0], end: [0, 1] }),
      span({ start: [4_294_967_295, 999_999_999], end: [4_294_967_295, 999_999_999] }),
      span({ start: [1_234_567_890, 500_000_000], end: [2_000_000_000, 0] }),
      span({ traceFlags: 0, parent: { spanId: ids.generateSpanId(), isRemote: true, traceFlags: 0 } }),
    ];
    const decoded = assertEquivalent(spans);
    const flat = flatten(decoded);
    // The default resource's 8 spans in one group; the other resource's two scopes in first-seen order.
    assert.deepEqual(flat.groups, ['8 spans', '2 spans', '1 spans']);
    // Spot checks independent of the SDK.
    const first = flat.spans.get(spans[0]!.spanContext().spanId)!.span;
    const attribute = (name: string): Raw =>
      ((first.attributes as Raw[]).find((kv) => kv.key === name)!.value as Raw) ?? {};
    assert.equal(attribute('unicode').stringValue, 'grüße 日本 😀');
    assert.equal(attribute('minusBig').intValue, String(-(2n ** 62n)));
    assert.equal(attribute('maxSafe').intValue, String(Number.MAX_SAFE_INTEGER));
    assert.equal(attribute('tooBig').doubleValue, 2 ** 63);
    assert.equal((attribute('huge').stringValue as string).length, 20_000);
    for (const s of spans) {
      const received = flat.spans.get(s.spanContext().spanId)!.span;
      assert.equal(received.startTimeUnixNano, nanosText(s.startTime));
      assert.equal(received.endTimeUnixNano, nanosText(s.endTime));
    }
  });

  test('random attributes, times and names (property)', () => {
    const value = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
      fc.maxSafeInteger(),
      fc.double(),
      fc.boolean(),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }),
      fc.array(fc.integer(), { maxLength: 5 }),
    );
    const spanArbitrary = fc.record({
      name: fc.string({ unit: 'grapheme', maxLength: 50 }),
      attributes: fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), value, {
        maxKeys: 20,
      }),
      start: fc.tuple(fc.integer({ min: 0, max: 4_294_967_295 }), fc.integer({ min: 0, max: 999_999_999 })),
      end: fc.tuple(fc.integer({ min: 0, max: 4_294_967_295 }), fc.integer({ min: 0, max: 999_999_999 })),
      resource: fc.integer({ min: 0, max: 2 }),
      kind: fc.integer({ min: 0, max: 4 }),
      status: fc.integer({ min: 0, max: 2 }),
    });
    const resources = [0, 1, 2].map((i) => resourceFromAttributes({ 'service.name': `svc-${i}`, i }));
    fc.assert(
      fc.property(fc.array(spanArbitrary, { minLength: 1, maxLength: 30 }), (inits) => {
        const spans = inits.map((init) =>
          span({
            name: init.name,
            attributes: init.attributes as Attributes,
            start: init.start as HrTime,
            end: init.end as HrTime,
            resource: resources[init.resource]!,
            kind: init.kind as SpanKind,
            status: { code: init.status as SpanStatusCode },
          }),
        );
        assertEquivalent(spans);
      }),
      { numRuns: 150 },
    );
  });

  test("streaming (add, take) gives the SDK serializer's bytes, also when the last span is left for the next request", () => {
    const resources = [0, 1, 2].map((i) => resourceFromAttributes({ 'service.name': `svc-${i}`, i }));
    const scopes: InstrumentationScope[] = [
      kScope,
      { name: 'other', version: '1', schemaUrl: 'https://x/1' },
    ];
    const streaming = new OtlpTraceEncoder();
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            resource: fc.integer({ min: 0, max: 2 }),
            scope: fc.integer({ min: 0, max: 1 }),
            text: fc.string({ unit: 'grapheme', maxLength: 300 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (inits, leaveLast) => {
          const spans = inits.map((init) =>
            span({
              attributes: { text: init.text },
              resource: resources[init.resource]!,
              scope: scopes[init.scope]!,
            }),
          );
          // Requests closed at random points, the last span left for the next one at some.
          let from = 0;
          for (let i = 0; i < spans.length; i++) {
            streaming.add(spans[i]!);
            if (i % 7 !== 6 && i !== spans.length - 1) continue;
            const leave = leaveLast[i]! && i - from >= 1 && i !== spans.length - 1;
            const to = leave ? i : i + 1;
            const bound = streaming.requestBound;
            const taken = streaming.take(leave);
            const expected = ProtobufTraceSerializer.serializeRequest(spans.slice(from, to))!;
            assert.equal(Buffer.compare(taken, expected), 0, `spans ${from}..${to}`);
            if (!leave) assert.ok(taken.length <= bound, `${taken.length} <= bound ${bound}`);
            from = to;
          }
          assert.equal(streaming.added, 0);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('the buffer is reused, results are independent copies; large requests grow it', () => {
    const encoder = new OtlpTraceEncoder();
    const small = [span({ attributes: { a: 'first' } })];
    const first = encoder.encode(small);
    const copy = Buffer.from(first);
    // > 1 MiB request: the initial buffer grows.
    const many = Array.from({ length: 3000 }, (_, i) => span({ attributes: { i, text: 'p'.repeat(500) } }));
    const large = encoder.encode(many);
    assert.ok(large.length > 1 << 20, `${large.length} bytes`);
    assert.deepEqual(Buffer.from(first), copy, 'an earlier result is not overwritten');
    assert.equal(flatten(decode(large)).spans.size, 3000);
    assert.deepEqual(encoder.encode(small).length, first.length);
    assert.equal(encoder.encode([]).length, 0);
    assert.equal(ProtobufTraceSerializer.serializeRequest([])?.length, 0, 'as the SDK: an empty request');
  });

  test('group buffers given back after a huge request keep the span left for the next one', () => {
    const encoder = new OtlpTraceEncoder();
    const big = resourceFromAttributes({ 'service.name': 'big' });
    const small = resourceFromAttributes({ 'service.name': 'small' });
    // The huge span's group buffer (group 0) takes the group buffers beyond what is kept; the span
    // left out (group 1) moves to group 0's buffer, which is the one kept.
    const huge = span({ resource: big, attributes: { text: 'h'.repeat(17 << 20) } });
    const left = span({ resource: small, attributes: { text: 'left' } });
    const other = span({ resource: small });
    encoder.add(huge);
    encoder.add(other);
    encoder.add(left);
    const first = encoder.take(true);
    assert.equal(Buffer.compare(first, ProtobufTraceSerializer.serializeRequest([huge, other])!), 0);
    const next = span({ resource: big, attributes: { text: 'next' } });
    encoder.add(next);
    assert.equal(Buffer.compare(encoder.take(), ProtobufTraceSerializer.serializeRequest([left, next])!), 0);
  });

  test('a span that throws while encoded fails that request only; the next one is complete', () => {
    const encoder = new OtlpTraceEncoder();
    const other = resourceFromAttributes({ 'service.name': 'other' });
    const broken = {
      ...span({ resource: other }),
      spanContext: () => {
        throw new Error('broken span');
      },
    };
    assert.throws(() => encoder.encode([span({}), broken, span({ resource: other })]), /broken span/);
    const good = [span({ resource: other }), span({})];
    assert.equal(
      Buffer.compare(encoder.encode(good), ProtobufTraceSerializer.serializeRequest(good)!),
      0,
      'no group or byte left over from the failed request',
    );
  });

  test('a span whose resource is still detecting attributes is not cached with stale attributes', () => {
    let settled = false;
    const resource = resourceFromAttributes({
      'service.name': 'late',
      'late.value': new Promise<string>((resolve) => setImmediate(() => resolve('ready'))).then((v) => {
        settled = true;
        return v;
      }),
    });
    const encoder = new OtlpTraceEncoder();
    const pendingBytes = encoder.encode([span({ resource })]);
    return resource.waitForAsyncAttributes!().then(() => {
      assert.ok(settled);
      const after = decode(encoder.encode([span({ resource })]));
      const attributes = (((after.resourceSpans as Raw[])[0]!.resource as Raw).attributes as Raw[]).map(
        (kv) => kv.key,
      );
      assert.ok(attributes.includes('late.value'), attributes.join(', '));
      assert.ok(pendingBytes.length > 0);
    });
  });
});

describe('encoded requests end to end through the SDK transport (real gRPC receiver)', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  /** Sends `spans` in two requests, each span batch through `exportBatch`. */
  async function send(
    exportBatch: (batch: ReadableSpan[], done: (result: { code: number; error?: Error }) => void) => void,
    shutdown: () => Promise<void>,
    spans: ReadableSpan[],
  ): Promise<typeof receiver.spans> {
    receiver.reset();
    const batches = [spans.slice(0, 100), spans.slice(100)];
    for (const batch of batches) {
      const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
        exportBatch(batch, resolve),
      );
      assert.equal(result.code, ExportResultCode.SUCCESS, result.error?.message);
    }
    await shutdown();
    return [...receiver.spans].sort((a, b) => a.spanId.localeCompare(b.spanId));
  }

  test('the receiver gets the same spans from our encoder and transport as from the SDK exporter', async () => {
    const spans = await pairSpans();
    const sdk = new OTLPTraceExporter({ url: receiver.endpoint });
    const viaSdk = await send(
      (batch, done) => sdk.export(batch, done),
      () => sdk.shutdown(),
      spans,
    );
    const ours = new OtlpBytesExporter({ url: receiver.endpoint });
    const encoder = new OtlpTraceEncoder();
    const viaOurs = await send(
      (batch, done) => ours.export({ bytes: encoder.encode(batch), spans: batch.length }, done),
      () => ours.shutdown(),
      spans,
    );
    assert.equal(viaOurs.length, spans.length);
    assert.equal(viaSdk.length, spans.length);
    for (let i = 0; i < viaSdk.length; i++) assert.deepEqual(viaOurs[i], viaSdk[i]);
    assert.deepEqual(receiver.traceRequests.length, 2);
  });

  test('an unreachable collector: a failed export carrying gRPC UNAVAILABLE (what fresh-channel.ts keys on)', async () => {
    const exporter = new OtlpBytesExporter({ url: 'http://127.0.0.1:1', timeoutMillis: 500 });
    const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
      exporter.export({ bytes: new OtlpTraceEncoder().encode([span({})]), spans: 1 }, resolve),
    );
    assert.equal(result.code, ExportResultCode.FAILED);
    assert.equal(
      (result.error as { code?: number } | undefined)?.code,
      14,
      'gRPC UNAVAILABLE passed through',
    );
    await exporter.shutdown();
  });
});

test('gRPC gets a request that owns its ArrayBuffer as that buffer (no copy), HTTP the bytes', () => {
  const whole = Buffer.allocUnsafeSlow(16).fill(7);
  const payload = transportPayload('grpc', whole);
  assert.equal(payload as unknown, whole.buffer);
  // What the SDK's gRPC transport does first: wraps, does not copy.
  assert.equal(Buffer.from(payload).buffer, whole.buffer);
  const part = whole.subarray(2, 10);
  assert.equal(transportPayload('grpc', part), part);
  assert.equal(transportPayload('http/protobuf', whole), whole);
});
