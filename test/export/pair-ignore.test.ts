/**
 * Ignore rules (agent/export/otel/pair-ignore.ts) and the span switch per protocol, through the
 * PairSpanBuilder both span paths use: ignored pairs make no span and no latency point and are
 * counted; spans-off protocols make no span but keep their latency point.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAddress } from '../../agent/correlate/relay/networks.ts';
import { kNoIgnoreRules, PairIgnore } from '../../agent/export/otel/pair-ignore.ts';
import { PairSpanBuilder, type PairSpanConfig } from '../../agent/export/otel/pair-span-builder.ts';
import type { MetricPoint, PairData } from '../../agent/export/otel/span-mapper.ts';

function words(text: string): [number, number, number, number, number] {
  const parsed = parseAddress(text)!;
  return [parsed.ipVersion, ...parsed.words];
}

function pair(
  protocol: string,
  client: string,
  server: string,
  serverPort: number,
  detail: Record<string, unknown> | null,
): PairData {
  const edges = {
    firstSeconds: 1,
    firstNanos: 0,
    lastSeconds: 1,
    lastNanos: 5,
    packets: 1,
    bytes: 9,
    fileId: 0,
    packet: 1,
  };
  const [v, c0, c1, c2, c3] = words(client);
  const [, s0, s1, s2, s3] = words(server);
  return {
    outcome: 0,
    unansweredReason: 0,
    givenUpSeconds: 0,
    givenUpNanos: 0,
    protocol,
    transport: protocol === 'udp' || protocol === 'dns' ? 17 : 6,
    ipVersion: v,
    client0: c0,
    client1: c1,
    client2: c2,
    client3: c3,
    clientPort: 40000,
    server0: s0,
    server1: s1,
    server2: s2,
    server3: s3,
    serverPort,
    request: edges,
    response: { ...edges, firstNanos: 3, lastNanos: 9 },
    detail,
  };
}

const http = (target: string, userAgent = 'curl/8.5.0') =>
  pair('http', '10.1.1.1', '10.2.2.2', 8080, {
    method: 'GET',
    target,
    version: '1.1',
    status: 200,
    user_agent: userAgent,
  });

describe('PairIgnore', () => {
  test('path prefixes match on a segment boundary, query strings allowed after', () => {
    const rules = new PairIgnore({ ...kNoIgnoreRules, paths: ['/healthz', '/metrics/'] });
    assert.equal(rules.ignores(http('/healthz')), true);
    assert.equal(rules.ignores(http('/healthz/live')), true);
    assert.equal(rules.ignores(http('/healthz?full=1')), true);
    assert.equal(rules.ignores(http('/metrics')), true);
    assert.equal(rules.ignores(http('/healthzz')), false);
    assert.equal(rules.ignores(http('/api/healthz')), false);
  });
  test('globs: * within a segment, ** across, whole path', () => {
    const rules = new PairIgnore({ ...kNoIgnoreRules, paths: ['/static/**', '/api/*/ping', '/*.ico'] });
    assert.equal(rules.ignores(http('/static/js/main.3f9a8b7c.js')), true);
    assert.equal(rules.ignores(http('/api/v2/ping')), true);
    assert.equal(rules.ignores(http('/api/v2/x/ping')), false, '* stays in one segment');
    assert.equal(rules.ignores(http('/favicon.ico?v=3')), true);
    assert.equal(rules.ignores(http('/api/v2/ping/now')), false, 'the whole path must match');
    assert.equal(rules.ignores(http('/staticfiles/a')), false);
  });
  test('user agents by substring, case-insensitive; regex characters literal', () => {
    const rules = new PairIgnore({ ...kNoIgnoreRules, userAgents: ['kube-probe', 'Go-http-client/1.1 (x)'] });
    assert.equal(rules.ignores(http('/ready', 'kube-probe/1.29')), true);
    assert.equal(rules.ignores(http('/ready', 'KUBE-PROBE/1.30')), true);
    assert.equal(rules.ignores(http('/ready', 'Go-http-client/1.1 (x)')), true);
    assert.equal(rules.ignores(http('/ready', 'Go-http-client/1.1 x')), false);
    assert.equal(rules.ignores(http('/ready', 'curl/8.5.0')), false);
  });
  test('CIDRs match either end; ports the server port; protocols without detail', () => {
    const rules = new PairIgnore({ ...kNoIgnoreRules, cidrs: ['10.9.0.0/16', 'fd00::/8'], ports: [53] });
    assert.equal(rules.ignores(pair('tcp', '10.9.3.4', '10.2.2.2', 443, null)), true, 'client in CIDR');
    assert.equal(rules.ignores(pair('tcp', '10.1.1.1', '10.9.0.1', 443, null)), true, 'server in CIDR');
    assert.equal(rules.ignores(pair('tcp', 'fd00::1', 'fd00::2', 443, null)), true, 'IPv6');
    assert.equal(rules.ignores(pair('tcp', '10.1.1.1', '10.2.2.2', 443, null)), false);
    assert.equal(rules.ignores(pair('dns', '10.1.1.1', '10.2.2.2', 53, { name: 'a.test' })), true);
    assert.equal(
      rules.ignores(pair('udp', '10.1.1.1', '10.2.2.2', 40053, null)),
      false,
      'not the client port',
    );
  });
  test('no rules: inactive; bad rules are rejected with the option named', () => {
    assert.equal(new PairIgnore(kNoIgnoreRules).active, false);
    assert.throws(() => new PairIgnore({ ...kNoIgnoreRules, paths: ['healthz'] }), /ignorePaths/);
    assert.throws(() => new PairIgnore({ ...kNoIgnoreRules, cidrs: ['10.0.0.0/99'] }), /ignoreCidrs/);
    assert.throws(() => new PairIgnore({ ...kNoIgnoreRules, ports: [70000] }), /ignorePorts/);
  });
});

function builder(overrides: Partial<PairSpanConfig>) {
  const spans: string[] = [];
  const metrics: MetricPoint[] = [];
  const config: PairSpanConfig = {
    localNetworks: ['10.2.0.0/16'],
    serviceMap: [],
    httpRoutes: [],
    httpRouteHeuristics: true,
    ignore: kNoIgnoreRules,
    spansOff: [],
    sampleRatio: 1,
    slowSpanSeconds: null,
    maxServices: 100,
    valueLengthLimit: Number.POSITIVE_INFINITY,
    unansweredSpansPerSecond: 0,
    unansweredSpansTotalPerSecond: undefined,
    unansweredLateSeconds: undefined,
    sharedResourceAttributes: {},
    traces: true,
    ...overrides,
  };
  const b = new PairSpanBuilder(
    config,
    null,
    (span) => spans.push(span.name),
    (metric) => metrics.push(metric),
  );
  return { b, spans, metrics };
}

describe('PairSpanBuilder noise controls', () => {
  const tcp = pair('tcp', '10.1.1.1', '10.2.2.2', 5432, null);
  test('ignored pairs: no span, no latency point, counted', () => {
    const { b, spans, metrics } = builder({ ignore: { ...kNoIgnoreRules, paths: ['/healthz'] } });
    b.emit(http('/healthz'));
    b.emit(http('/api/users/7'));
    assert.deepEqual(spans, ['GET /api/users/{id}']);
    assert.deepEqual(
      metrics.map((m) => m.attributes['http.route']),
      ['/api/users/{id}'],
    );
    assert.equal(b.counts.ignored, 1);
  });
  test('spans off for tcp: no tcp span, its latency point stays; http unaffected', () => {
    const { b, spans, metrics } = builder({ spansOff: ['tcp'] });
    b.emit(tcp);
    b.emit(http('/'));
    assert.deepEqual(spans, ['GET /']);
    assert.deepEqual(
      metrics.map((m) => `${m.name} ${m.attributes['wirespan.protocol'] ?? 'http'}`),
      ['wirespan.pair.duration tcp', 'http.server.request.duration http'],
    );
    assert.equal(b.counts.ignored, 0);
    assert.equal(b.counts.sampledOut, 0, 'not counted as sampling');
  });
  test('an unknown protocol in spansOff is rejected, naming the known ones', () => {
    assert.throws(() => builder({ spansOff: ['tcpp'] }), /spansOff: unknown protocol "tcpp" \(known: .*tcp/);
  });
});
