/**
 * End to end: capture files replayed in-process through the real reader → decoder →
 * correlator, every pair emitted to the OTel exporter, spans and metrics received by a real
 * OTLP/gRPC server in this process. Expectations come from the pairs' public JSONL form.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createOtelExporter, type OtelExporterOptions } from '../../agent/export/otel/index.ts';
import type { PipelineStatsSnapshot } from '../../agent/export/pipeline-stats.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { type OtlpReceiver, type ReceivedSpan, startReceiver } from './otlp-receiver.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');
const corpus = (name: string): string => path.join(corpusDir, name);

interface Message {
  first: string;
  last: string;
  packets: number;
  bytes: number;
}

/** A pair's JSONL line (docs/output.md, "JSONL pairs"). */
interface Json {
  outcome: 'matched' | 'unanswered';
  protocol: string;
  transport: string;
  client: { address: string; port: number };
  server: { address: string; port: number };
  start: string;
  end?: string;
  duration_ns?: number;
  reason?: string;
  given_up?: string;
  request: Message;
  response?: Message;
  dns?: { id: number; name: string; type: string | null; rcode: string | null; answers: number | null };
  http?: { method: string; target: string; version: string; status: number | null; traceparent?: string };
}

/** RFC 3339 UTC text with up to nine fraction digits → exact Unix nanoseconds as a decimal string. */
function rfc3339ToNanos(text: string): string {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  assert.ok(match, text);
  const seconds = BigInt(Date.parse(`${match[1]}Z`) / 1000);
  return (seconds * 1_000_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'))).toString();
}

/** Where a pair's span ends: the response's last byte, or the given-up time. */
function endOf(pair: Json): string {
  return rfc3339ToNanos((pair.end ?? pair.given_up)!);
}

function pairKey(pair: Json): string {
  return [pair.protocol, rfc3339ToNanos(pair.start), endOf(pair), pair.client.address, pair.client.port].join(
    '|',
  );
}

function spanKey(span: ReceivedSpan): string {
  const a = span.attributes;
  return [
    a['wirespan.protocol'],
    span.startTimeUnixNano,
    span.endTimeUnixNano,
    a['client.address'],
    a['client.port'],
  ].join('|');
}

interface Exported {
  json: Json[];
  spans: ReceivedSpan[];
  /** Span by pair key. */
  byKey: Map<string, ReceivedSpan>;
  result: Awaited<ReturnType<Awaited<ReturnType<typeof createOtelExporter>>['shutdown']>>;
  counters: Awaited<ReturnType<typeof createOtelExporter>>['counters'];
}

let receiver: OtlpReceiver;

/** Replays `files`, emits every pair (as structured clones when `clone`), shuts down, collects. */
async function exportFiles(
  files: string[],
  options: OtelExporterOptions = {},
  transform: (pairs: ReturnType<typeof replayPairs>['pairs']) => object[] = (pairs) => pairs,
): Promise<Exported> {
  receiver.reset();
  const replayed = replayPairs(files);
  const exporter = await createOtelExporter({ endpoint: receiver.endpoint, ...options });
  for (const pair of transform(replayed.pairs)) exporter.emit(pair as never);
  const result = await exporter.shutdown();
  const spans = [...receiver.spans];
  const byKey = new Map(spans.map((span) => [spanKey(span), span]));
  return { json: replayed.json as unknown as Json[], spans, byKey, result, counters: exporter.counters };
}

function spanOf(run: Exported, predicate: (pair: Json) => boolean): { pair: Json; span: ReceivedSpan } {
  const pair = run.json.find(predicate);
  assert.ok(pair, 'no such pair in the capture');
  const span = run.byKey.get(pairKey(pair));
  assert.ok(span, `no span for pair ${pairKey(pair)}`);
  return { pair, span };
}

before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());

describe('demo capture', () => {
  let run: Exported;
  before(async () => {
    // Structured clones: what worker threads will post (plain objects, no prototypes).
    run = await exportFiles([demo], {}, (pairs) => pairs.map((pair) => structuredClone(pair)));
  });

  test('one span per pair, every span matching its pair exactly, all exported', () => {
    assert.equal(run.json.length, 42);
    assert.equal(run.spans.length, run.json.length);
    assert.deepEqual(run.result, { exported: 42, dropped: 0, failed: 0, error: null });
    for (const pair of run.json) assert.ok(run.byKey.has(pairKey(pair)), `span for ${pairKey(pair)}`);
    assert.equal(new Set(run.spans.map((s) => s.spanId)).size, run.spans.length, 'span ids are unique');
  });

  test('start and end are the capture times to the nanosecond', () => {
    const first = run.spans.find((s) => s.startTimeUnixNano === '1795909658801815380');
    assert.ok(first, 'first DNS query span');
    assert.equal(first.name, 'DNS A');
    assert.equal(first.endTimeUnixNano, '1795909658802306080');
    // The rate-limited download: ~2 s, response spread over several packets.
    const download = spanOf(run, (p) => p.http?.target === '/download/report.bin').span;
    assert.equal(download.startTimeUnixNano, '1795909664530072496');
    assert.equal(download.endTimeUnixNano, '1795909666533149552');
    // Unanswered SNMP request: ends when it was given up (end of input).
    const snmp = spanOf(run, (p) => p.protocol === 'udp' && p.server.port === 161).span;
    assert.equal(snmp.startTimeUnixNano, '1795909667535310600');
    assert.equal(snmp.endTimeUnixNano, '1795909667805296164');
    // The other two edge times, as exact offsets from the start.
    const pair = run.json.find((p) => p.http?.target === '/download/report.bin')!;
    assert.equal(
      BigInt(download.startTimeUnixNano) +
        BigInt(download.attributes['wirespan.response.first_offset_ns'] as number),
      BigInt(rfc3339ToNanos(pair.response!.first)),
    );
    assert.equal(download.attributes['wirespan.request.last_offset_ns'], 0);
    assert.equal(download.attributes['wirespan.response.packets'], pair.response?.packets);
    assert.equal(download.attributes['wirespan.response.bytes'], pair.response?.bytes);
  });

  test('DNS spans: DNS {QTYPE}, question, rcode, answers, errors', () => {
    const { span } = spanOf(run, (p) => p.protocol === 'dns' && p.dns?.type === 'MX');
    assert.equal(span.name, 'DNS MX');
    assert.equal(span.kind, 'SERVER'); // loopback resolver: local by default
    assert.deepEqual(
      {
        question: span.attributes['dns.question.name'],
        type: span.attributes['dns.question.type'],
        rcode: span.attributes['dns.response_code'],
        answers: span.attributes['wirespan.dns.answer_count'],
        transport: span.attributes['network.transport'],
        networkType: span.attributes['network.type'],
        server: span.attributes['server.address'],
        port: span.attributes['server.port'],
        client: span.attributes['client.address'],
        status: span.status.code,
      },
      {
        question: 'demo.test',
        type: 'MX',
        rcode: 'NOERROR',
        answers: 1,
        transport: 'udp',
        networkType: 'ipv4',
        server: '127.0.0.153',
        port: 53,
        client: '127.0.0.1',
        status: 'UNSET',
      },
    );
    assert.equal(span.attributes['error.type'], undefined);
    assert.ok(
      run.spans.every((s) => !s.name.includes('demo.test')),
      'never the query name in a span name',
    );

    const nxdomain = spanOf(run, (p) => p.protocol === 'dns' && p.dns?.rcode === 'NXDOMAIN').span;
    assert.equal(nxdomain.attributes['error.type'], 'NXDOMAIN');
    assert.equal(nxdomain.status.code, 'ERROR');

    const overTcp = spanOf(run, (p) => p.protocol === 'dns' && p.transport === 'tcp').span;
    assert.equal(overTcp.attributes['network.transport'], 'tcp');

    const unanswered = spanOf(run, (p) => p.protocol === 'dns' && p.outcome === 'unanswered').span;
    assert.equal(unanswered.status.code, 'ERROR');
    assert.equal(unanswered.attributes['error.type'], 'timeout');
    assert.equal(unanswered.attributes['wirespan.unanswered.reason'], 'end_of_input');
    assert.equal(unanswered.attributes['dns.response_code'], undefined);
  });

  test('HTTP spans: stable conventions, status rules by kind, redacted query', () => {
    const ok = spanOf(run, (p) => p.http?.target === '/api/orders').span;
    assert.equal(ok.name, 'POST /api/orders', 'no id in the path: the heuristic route is the path');
    assert.equal(ok.kind, 'SERVER');
    assert.deepEqual(
      Object.fromEntries(
        [
          'http.request.method',
          'http.response.status_code',
          'url.path',
          'url.scheme',
          'server.address',
          'server.port',
          'client.address',
          'network.peer.address',
          'network.protocol.version',
          'network.transport',
          'user_agent.original',
          'http.request.body.size',
        ].map((k) => [k, ok.attributes[k]]),
      ),
      {
        'http.request.method': 'POST',
        'http.response.status_code': 201,
        'url.path': '/api/orders',
        'url.scheme': 'http',
        'server.address': 'api.demo.test',
        'server.port': 8080,
        'client.address': '127.0.0.1',
        'network.peer.address': '127.0.0.1',
        'network.protocol.version': '1.1',
        'network.transport': 'tcp',
        'user_agent.original': 'curl/7.88.1',
        'http.request.body.size': 25,
      },
    );
    assert.equal(ok.attributes['url.full'], undefined, 'url.full is a CLIENT attribute');

    const notFound = spanOf(run, (p) => p.http?.status === 404).span;
    assert.equal(notFound.status.code, 'UNSET', '4xx is not a server error');
    assert.equal(notFound.attributes['error.type'], undefined);
    const failed = spanOf(run, (p) => p.http?.status === 500).span;
    assert.equal(failed.status.code, 'ERROR');
    assert.equal(failed.attributes['error.type'], '500');

    const search = spanOf(run, (p) => p.http?.target?.startsWith('/search') === true).span;
    assert.equal(search.attributes['url.path'], '/search');
    assert.equal(search.attributes['url.query'], 'REDACTED');

    const v6 = spanOf(run, (p) => p.protocol === 'http' && p.client.address === '::1').span;
    assert.equal(v6.attributes['network.type'], 'ipv6');
    assert.equal(v6.resource['service.name'], 'http://[::1]:8080');
  });

  test('TCP handshake and UDP spans: low-cardinality names, refused connect', () => {
    const names = new Set(run.spans.map((s) => s.name));
    assert.ok(names.has('TCP connect 8080'));
    assert.ok(names.has('TCP connect 53'));
    assert.ok(names.has('UDP 123'));
    const refused = spanOf(run, (p) => p.protocol === 'tcp' && p.server.port === 5432).span;
    assert.equal(refused.name, 'TCP connect 5432');
    assert.equal(refused.status.code, 'ERROR');
    assert.equal(refused.attributes['error.type'], 'connection_closed');
    const ntp = spanOf(run, (p) => p.protocol === 'udp' && p.server.port === 123).span;
    assert.equal(ntp.attributes['network.transport'], 'udp');
    assert.equal(ntp.status.code, 'UNSET');
  });

  test('traceparent joins the application trace; other spans start their own', () => {
    const { pair, span } = spanOf(run, (p) => typeof p.http?.traceparent === 'string');
    const [, traceId, parentId] = String(pair.http?.traceparent).split('-');
    assert.equal(span.traceId, traceId);
    assert.equal(span.parentSpanId, parentId);
    assert.notEqual(span.spanId, parentId);
    const others = run.spans.filter((s) => s !== span);
    assert.ok(others.every((s) => s.parentSpanId === undefined));
    assert.equal(new Set(others.map((s) => s.traceId)).size, others.length, 'fresh random trace ids');
    assert.ok(others.every((s) => /^[0-9a-f]{32}$/.test(s.traceId) && !/^0+$/.test(s.traceId)));
    assert.ok(run.spans.every((s) => /^[0-9a-f]{16}$/.test(s.spanId) && !/^0+$/.test(s.spanId)));
  });

  test('one resource per observed server, reused: spans grouped by service.name', () => {
    for (const pair of run.json) {
      const span = run.byKey.get(pairKey(pair))!;
      const address = pair.server.address.includes(':') ? `[${pair.server.address}]` : pair.server.address;
      assert.equal(span.resource['service.name'], `${pair.protocol}://${address}:${pair.server.port}`);
      // The observed server is not written in wirespan's SDK language (nor sent by its SDK).
      assert.equal(span.resource['telemetry.sdk.language'], undefined);
      assert.equal(
        span.resource['process.pid'],
        undefined,
        "the agent's process is not the observed service",
      );
    }
    for (const request of receiver.traceRequests) {
      assert.equal(
        new Set(request.resourceServiceNames).size,
        request.resourceServiceNames.length,
        'each service appears once per export request',
      );
    }
    assert.equal(run.spans[0]!.scope.name, 'wirespan');
  });

  test('latency histograms count every matched pair, by protocol and kind', () => {
    const metrics = receiver.lastMetrics('dns.lookup.duration');
    const count = (name: string, filter: (a: Record<string, unknown>) => boolean = () => true): number =>
      (metrics.get(name)?.dataPoints ?? [])
        .filter((p) => filter(p.attributes))
        .reduce((n, p) => n + Number(p.count), 0);
    const matched = (protocol: string): number =>
      run.json.filter((p) => p.protocol === protocol && p.outcome === 'matched').length;
    assert.equal(count('dns.lookup.duration'), matched('dns'));
    assert.equal(count('http.server.request.duration'), matched('http'));
    assert.equal(count('http.client.request.duration'), 0);
    assert.equal(
      count('wirespan.pair.duration', (a) => a['wirespan.protocol'] === 'tcp'),
      matched('tcp'),
    );
    assert.equal(
      count('wirespan.pair.duration', (a) => a['wirespan.protocol'] === 'udp'),
      matched('udp'),
    );
    const dns = metrics.get('dns.lookup.duration')!;
    assert.equal(dns.unit, 's');
    // Under each observed server's own resource (service-metrics.ts), named on the points too.
    for (const metric of receiver.lastRequest('dns.lookup.duration')) {
      if (metric.name !== 'dns.lookup.duration') continue;
      assert.notEqual(metric.resource['service.name'], 'wirespan');
      assert.ok(
        metric.dataPoints.every((p) => p.attributes['service.name'] === metric.resource['service.name']),
      );
    }
    const bounds = dns.dataPoints[0]!.explicitBounds!;
    assert.equal(bounds[0], 0.00005, 'sub-millisecond buckets');
    assert.ok(bounds.includes(10));
    // Low cardinality only: never addresses, ports, ids or paths.
    for (const metric of metrics.values()) {
      for (const point of metric.dataPoints) {
        for (const key of Object.keys(point.attributes)) {
          assert.ok(
            !/address|\.port$|url\.(path|full|query)|dns\.question\.name|dns\.id|client/.test(key),
            `${metric.name} has ${key}`,
          );
        }
      }
    }
    const pairs = metrics.get('wirespan.pairs')!;
    const unanswered = pairs.dataPoints.filter((p) => p.attributes['wirespan.outcome'] === 'unanswered');
    assert.equal(
      unanswered.reduce((n, p) => n + Number(p.value), 0),
      run.json.filter((p) => p.outcome === 'unanswered').length,
    );
    assert.equal(metrics.get('wirespan.spans.exported')!.dataPoints[0]!.value, 42);
  });
});

describe('configuration', () => {
  test('span kind from localNetworks: CLIENT when only the client is local', async () => {
    const run = await exportFiles([demo], { localNetworks: ['127.0.0.1/32', '::1/128'] });
    const dns = spanOf(run, (p) => p.protocol === 'dns' && p.dns?.type === 'MX').span;
    assert.equal(dns.kind, 'CLIENT', 'resolver 127.0.0.153 is not local');
    assert.equal(dns.attributes['network.peer.address'], '127.0.0.153');
    assert.equal(dns.attributes['network.peer.port'], 53);
    const http = spanOf(run, (p) => p.http?.target === '/api/orders').span;
    assert.equal(http.kind, 'SERVER');
    assert.equal(http.attributes['network.peer.address'], '127.0.0.1');
  });

  test('nothing local: every span CLIENT; 4xx becomes an error, url.full is set', async () => {
    const run = await exportFiles([demo], { localNetworks: [] });
    assert.ok(run.spans.every((s) => s.kind === 'CLIENT'));
    const notFound = spanOf(run, (p) => p.http?.status === 404).span;
    assert.equal(notFound.status.code, 'ERROR');
    assert.equal(notFound.attributes['error.type'], '404');
    assert.equal(notFound.attributes['url.full'], 'http://api.demo.test:8080/missing.html');
    const metrics = receiver.lastMetrics('http.client.request.duration');
    const points = metrics.get('http.client.request.duration')!.dataPoints;
    assert.equal(
      points.reduce((n, p) => n + Number(p.count), 0),
      run.json.filter((p) => p.protocol === 'http' && p.outcome === 'matched').length,
    );
  });

  test('service map names resources; route templates name HTTP spans', async () => {
    const run = await exportFiles([demo], {
      serviceMap: [
        { match: '127.0.0.153:53', service: 'coredns', attributes: { 'service.namespace': 'kube-system' } },
        { match: '127.0.0.0/8:8080', service: 'web' },
        { match: '[::1]:8080', service: 'web' },
      ],
      httpRoutes: ['/api/users/{id}', '/static/*'],
    });
    const dns = spanOf(run, (p) => p.protocol === 'dns' && p.server.address === '127.0.0.153').span;
    assert.equal(dns.resource['service.name'], 'coredns');
    assert.equal(dns.resource['service.namespace'], 'kube-system');
    // The histograms of a mapped service: under the same resource as its spans.
    const coredns = receiver
      .lastRequest('dns.lookup.duration')
      .find((m) => m.name === 'dns.lookup.duration' && m.resource['service.name'] === 'coredns');
    assert.equal(coredns?.resource['service.namespace'], 'kube-system');
    const unmapped = spanOf(run, (p) => p.protocol === 'dns' && p.server.address === '127.0.0.154').span;
    assert.equal(unmapped.resource['service.name'], 'dns://127.0.0.154:53');
    const user = spanOf(run, (p) => p.http?.target === '/api/users/2').span;
    assert.equal(user.name, 'GET /api/users/{id}');
    assert.equal(user.attributes['http.route'], '/api/users/{id}');
    assert.equal(user.attributes['url.path'], '/api/users/2');
    assert.equal(user.resource['service.name'], 'web');
    assert.equal(spanOf(run, (p) => p.http?.target === '/static/app.css').span.name, 'HEAD /static/*');
    // No template matches: the heuristic route (http-route-heuristics.ts).
    assert.equal(spanOf(run, (p) => p.http?.target === '/api/orders').span.name, 'POST /api/orders');
    const webSpans = run.spans.filter((s) => s.resource['service.name'] === 'web');
    assert.equal(webSpans.length, run.json.filter((p) => p.server.port === 8080).length);
  });

  test('sampling keeps errors, timeouts, slow spans and sampled parents; histograms stay complete', async () => {
    const run = await exportFiles([demo], { sampleRatio: 0, slowSpanSeconds: 1 });
    const expected = run.json.filter(
      (p) =>
        p.outcome === 'unanswered' ||
        (p.http?.status ?? 0) >= 500 ||
        (p.dns?.rcode && p.dns.rcode !== 'NOERROR') ||
        (p.duration_ns ?? 0) >= 1e9 ||
        /-01$/.test(p.http?.traceparent ?? ''),
    );
    assert.ok(expected.length >= 6, `expected some kept spans, got ${expected.length}`);
    assert.deepEqual(run.spans.map(spanKey).sort(), expected.map(pairKey).sort());
    assert.equal(run.counters.sampledOut, run.json.length - expected.length);
    assert.equal(run.result.exported, expected.length);
    const metrics = receiver.lastMetrics('dns.lookup.duration');
    const count = (name: string): number =>
      (metrics.get(name)?.dataPoints ?? []).reduce((n, p) => n + Number(p.count), 0);
    assert.equal(
      count('dns.lookup.duration'),
      run.json.filter((p) => p.protocol === 'dns' && p.outcome === 'matched').length,
    );
    assert.equal(metrics.get('wirespan.spans.sampled_out')!.dataPoints[0]!.value, run.counters.sampledOut);
  });

  test('SLO thresholds become exact histogram boundaries', async () => {
    await exportFiles([demo], { sloBoundaries: [0.0003, 0.25] });
    const metrics = receiver.lastMetrics('http.server.request.duration');
    const bounds = metrics.get('http.server.request.duration')!.dataPoints[0]!.explicitBounds!;
    assert.ok(bounds.includes(0.0003) && bounds.includes(0.25));
    assert.deepEqual(
      [...bounds].sort((a, b) => a - b),
      bounds,
    );
  });

  test('exponential histograms on request', async () => {
    const run = await exportFiles([demo], { histogramAggregation: 'exponential' });
    const metric = receiver.lastMetrics('dns.lookup.duration').get('dns.lookup.duration')!;
    assert.equal(metric.type, 'exponentialHistogram');
    assert.equal(
      metric.dataPoints.reduce((n, p) => n + Number(p.count), 0),
      run.json.filter((p) => p.protocol === 'dns' && p.outcome === 'matched').length,
    );
  });

  test('invalid traceparent: ignored (new trace) and counted', async () => {
    const run = await exportFiles([demo], {}, (pairs) =>
      pairs.map((pair) => {
        const copy = structuredClone(pair);
        if (typeof copy.detail?.traceparent === 'string')
          copy.detail.traceparent = '00-not-a-valid-header-01';
        return copy;
      }),
    );
    assert.ok(run.spans.every((s) => s.parentSpanId === undefined));
    assert.equal(run.counters.invalidTraceparents, 1);
    const metrics = receiver.lastMetrics('wirespan.traceparent.invalid');
    assert.equal(metrics.get('wirespan.traceparent.invalid')!.dataPoints[0]!.value, 1);
  });

  test('emit never throws: malformed input and emits after shutdown are counted as dropped', async () => {
    receiver.reset();
    const exporter = await createOtelExporter({ endpoint: receiver.endpoint });
    const [good] = replayPairs([demo]).pairs;
    exporter.emit(null as never);
    exporter.emit({ protocol: 'dns' } as never);
    exporter.emit(good!);
    const result = await exporter.shutdown();
    exporter.emit(good!);
    assert.equal(result.exported, 1);
    assert.equal(result.dropped, 2);
    assert.match(result.error ?? '', /2 pairs could not be mapped/);
    assert.equal(exporter.counters.dropped, 3);
    assert.equal(receiver.spans.length, 1);
    assert.deepEqual(await exporter.shutdown(), result, 'shutdown is idempotent');
  });

  test('bad options are rejected with the option named', async () => {
    await assert.rejects(createOtelExporter({ localNetworks: ['10.0.0.0/33'] }), /localNetworks/);
    await assert.rejects(
      createOtelExporter({ serviceMap: [{ match: '10.0.0.1:99999', service: 'x' }] }),
      /serviceMap\[0\]/,
    );
    await assert.rejects(createOtelExporter({ httpRoutes: ['users/{id}'] }), /httpRoutes/);
    await assert.rejects(createOtelExporter({ sampleRatio: 2 }), /ratio/);
    await assert.rejects(createOtelExporter({ sloBoundaries: [-1] }), /sloBoundaries/);
    await assert.rejects(createOtelExporter({ endpoint: 'not a url' }), /endpoint/);
    await assert.rejects(createOtelExporter({ endpoint: 'collector:4317' }), /http:\/\/ or https:\/\//);
    // A rejected configuration leaves no exporter active: a valid one still starts.
    const exporter = await createOtelExporter({ endpoint: receiver.endpoint });
    await assert.rejects(createOtelExporter({ endpoint: receiver.endpoint }), /already active/);
    await exporter.shutdown();
  });
});

describe('corpus captures', () => {
  for (const file of [
    'linktypes/pcapplusplus--sll.pcap',
    'dns/pcapplusplus--DnsPackets.pcap',
    'http/pcapplusplus--http-packets2.pcap',
  ]) {
    test(`${file}: span count, exact times and histogram counts equal the pairs`, async () => {
      const run = await exportFiles([corpus(file)]);
      assert.ok(run.json.length > 0);
      assert.equal(run.spans.length, run.json.length);
      assert.equal(run.result.exported, run.json.length);
      for (const pair of run.json) {
        const span = run.byKey.get(pairKey(pair));
        assert.ok(span, `span for ${pairKey(pair)}`);
        assert.equal(span.attributes['wirespan.protocol'], pair.protocol);
        if (pair.protocol === 'dns') assert.equal(span.name, `DNS ${pair.dns?.type}`);
        if (pair.protocol === 'http')
          assert.equal(span.attributes['http.response.status_code'], pair.http?.status);
      }
      const metrics = receiver.lastMetrics('wirespan.pairs');
      const count = (name: string, filter: (a: Record<string, unknown>) => boolean = () => true): number =>
        (metrics.get(name)?.dataPoints ?? [])
          .filter((p) => filter(p.attributes))
          .reduce((n, p) => n + Number(p.count), 0);
      const matched = (protocol: string): number =>
        run.json.filter((p) => p.protocol === protocol && p.outcome === 'matched').length;
      assert.equal(count('dns.lookup.duration'), matched('dns'));
      assert.equal(
        count('http.server.request.duration') + count('http.client.request.duration'),
        matched('http'),
      );
      assert.equal(
        count('wirespan.pair.duration', (a) => a['wirespan.protocol'] === 'tcp'),
        matched('tcp'),
      );
      // Kind from the default local networks (RFC 1918 + loopback + fd00::/8).
      for (const pair of run.json) {
        const local = /^(10\.|192\.168\.|127\.|172\.(1[6-9]|2\d|3[01])\.)/.test(pair.server.address);
        assert.equal(run.byKey.get(pairKey(pair))!.kind, local ? 'SERVER' : 'CLIENT');
      }
    });
  }
});

describe('pipeline metrics', () => {
  test('gauges and counters come from the stats source at collection time', async () => {
    receiver.reset();
    const snapshot: PipelineStatsSnapshot = {
      packetsDecoded: 1200,
      packetsSkipped: { 'ipv4.fragment': 3, 'link.unsupported_linktype': 1 },
      bytesRead: 987654,
      files: { done: 4, lost: 1, error: 0 },
      pending: { dns: 7, http: 2 },
      pairs: { dns: { matched: 50, unanswered: 2, unansweredBy: { expired: 1, evicted: 1 } } },
      bufferPool: { free: 12, used: 4 },
      queues: [
        { name: 'decode.0', depth: 5, capacity: 64 },
        { name: 'pairs', depth: 0, capacity: 4096 },
      ],
      newestCapture: { seconds: Math.floor(Date.now() / 1000) - 3, nanos: 0 },
      spans: { exported: 10, dropped: 1 },
    };
    let calls = 0;
    const exporter = await createOtelExporter({
      endpoint: receiver.endpoint,
      statsSource: () => {
        calls++;
        return snapshot;
      },
    });
    const result = await exporter.shutdown();
    assert.equal(result.error, null);
    assert.ok(calls >= 1);
    const metrics = receiver.lastMetrics('wirespan.queue.depth');
    const point = (name: string, attributes: Record<string, unknown> = {}): number | undefined => {
      const metric = metrics.get(name);
      assert.ok(metric, `metric ${name} received`);
      const found = metric.dataPoints.find((p) =>
        Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
      );
      return found?.value as number | undefined;
    };
    assert.equal(point('wirespan.queue.depth', { 'wirespan.queue': 'decode.0' }), 5);
    assert.equal(point('wirespan.queue.capacity', { 'wirespan.queue': 'pairs' }), 4096);
    assert.equal(point('wirespan.buffer_pool.slots', { 'wirespan.state': 'free' }), 12);
    assert.equal(point('wirespan.buffer_pool.slots', { 'wirespan.state': 'used' }), 4);
    assert.equal(point('wirespan.packets', { 'wirespan.outcome': 'decoded' }), 1200);
    assert.equal(point('wirespan.packets', { 'wirespan.reason': 'ipv4.fragment' }), 3);
    assert.equal(point('wirespan.bytes.read'), 987654);
    assert.equal(point('wirespan.files', { 'wirespan.outcome': 'lost' }), 1);
    assert.equal(point('wirespan.pending', { 'wirespan.protocol': 'dns' }), 7);
    assert.equal(point('wirespan.pairs', { 'wirespan.outcome': 'matched' }), 50);
    assert.equal(point('wirespan.pairs', { 'wirespan.reason': 'evicted' }), 1);
    assert.equal(point('wirespan.spans.exported'), 10);
    assert.equal(point('wirespan.spans.dropped', { 'wirespan.reason': 'queue_full' }), 1);
    const lag = point('wirespan.lag')!;
    assert.ok(lag >= 3 && lag < 60, `lag ${lag}`);
    assert.equal(metrics.get('wirespan.lag')!.unit, 's');
    assert.equal(metrics.get('wirespan.bytes.read')!.type, 'sum');
    assert.equal(metrics.get('wirespan.queue.depth')!.type, 'gauge');
  });
});

describe('metrics before the metric stack exists', () => {
  test('the first periodic export (the SDK built when it is due) has every latency point from before it, the next one an interval later', async () => {
    receiver.reset();
    const replayed = replayPairs([demo]);
    const json = replayed.json as unknown as Json[];
    const interval = 500;
    const exporter = await createOtelExporter({
      endpoint: receiver.endpoint,
      metricExportIntervalMillis: interval,
    });
    const started = performance.now();
    for (const pair of replayed.pairs) exporter.emit(pair);
    const waitForMetricRequests = async (n: number): Promise<number> => {
      while (receiver.metricRequests.length < n) {
        assert.ok(performance.now() - started < 20 * interval, `metric request ${n} not received`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return performance.now() - started;
    };
    const firstAt = await waitForMetricRequests(1);
    const count = (name: string, protocol?: string): number =>
      (receiver.lastMetrics(name).get(name)?.dataPoints ?? [])
        .filter((p) => protocol === undefined || p.attributes['wirespan.protocol'] === protocol)
        .reduce((n, p) => n + Number(p.count), 0);
    const matched = (protocol: string): number =>
      json.filter((p) => p.protocol === protocol && p.outcome === 'matched').length;
    assert.ok(matched('dns') > 0 && matched('http') > 0 && matched('tcp') > 0);
    assert.equal(count('dns.lookup.duration'), matched('dns'));
    assert.equal(count('http.server.request.duration'), matched('http'));
    assert.equal(count('wirespan.pair.duration', 'tcp'), matched('tcp'));
    assert.equal(count('wirespan.pair.duration', 'udp'), matched('udp'));
    assert.ok(receiver.lastMetrics('wirespan.pairs').has('wirespan.pairs'));
    const secondAt = await waitForMetricRequests(2);
    assert.ok(firstAt >= interval * 0.8, `first export after ${firstAt} ms`);
    // The periodic schedule (an export every interval from the start), not the build's time plus one.
    assert.ok(secondAt >= interval * 1.8, `second export after ${secondAt} ms`);
    assert.equal((await exporter.shutdown()).error, null);
    assert.equal(count('dns.lookup.duration'), matched('dns'), 'cumulative: the same at the final export');
  });
});
