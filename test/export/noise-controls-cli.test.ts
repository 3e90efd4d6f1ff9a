/**
 * Cardinality and noise controls with the real CLI into a real OTLP receiver, on the demo
 * capture (curl and ncat against a real HTTP server, DNS, TCP and UDP): heuristic routes on by
 * default, the ignore rules, and spans off per protocol; JSONL keeps every pair. Expected counts
 * come from the JSONL of the same run, filtered by the same rules written out here.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type CliResult, jsonLines, repoRoot, runCliAsync } from '../helpers/run-cli.ts';
import { type OtlpReceiver, type ReceivedMetric, startReceiver } from './otlp-receiver.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());

/** The CLI without OTEL_* from the developer's shell (the receiver lives in this process). */
function runCli(args: string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
  return runCliAsync(args, { env });
}

interface JsonPair {
  protocol: string;
  outcome: string;
  client: { address: string };
  server: { port: number };
  http?: { target: string; user_agent?: string };
}

function metric(name: string): ReceivedMetric | undefined {
  return receiver.lastRequest(name).find((m) => m.name === name);
}

/** Sum of the histogram counts of `name` over points whose attribute `key` is `value`. */
function histogramCount(name: string, key: string, value: unknown): number {
  const points = receiver
    .lastRequest(name)
    .filter((m) => m.name === name)
    .flatMap((m) => m.dataPoints);
  return points.filter((p) => p.attributes[key] === value).reduce((sum, p) => sum + Number(p.count), 0);
}

test('heuristic routes on by default: REST ids templated in span names and http.route', async () => {
  receiver.reset();
  const run = await runCli(['replay', demo, '--workers', '0', '--otlp', receiver.endpoint]);
  assert.equal(run.status, 0, run.stderr);
  const users = (jsonLines(run.stdout) as unknown as JsonPair[]).filter((p) =>
    /^\/api\/users\/\d+$/.test(p.http?.target ?? ''),
  );
  assert.ok(users.length >= 2, 'the demo capture asks for several user ids');
  const spans = receiver.spans.filter((s) => s.name === 'GET /api/users/{id}');
  assert.equal(spans.length, users.length);
  assert.ok(spans.every((s) => s.attributes['http.route'] === '/api/users/{id}'));
  assert.equal(
    histogramCount('http.server.request.duration', 'http.route', '/api/users/{id}'),
    users.filter((p) => p.outcome === 'matched').length,
  );

  receiver.reset();
  const off = await runCli([
    'replay',
    demo,
    '-o',
    'none',
    '--workers',
    '0',
    '--otlp',
    receiver.endpoint,
    '--http-route-heuristics',
    'false',
  ]);
  assert.equal(off.status, 0, off.stderr);
  assert.equal(receiver.spans.filter((s) => s.name === 'GET /api/users/{id}').length, 0);
  assert.ok(receiver.spans.some((s) => s.name === 'GET' && s.attributes['url.path'] === '/api/users/1'));
});

for (const workers of ['0', '2']) {
  test(`ignore rules and --spans-off (--workers ${workers}): spans, metrics and JSONL`, async () => {
    receiver.reset();
    const run = await runCli([
      'replay',
      demo,
      '--workers',
      workers,
      '--otlp',
      receiver.endpoint,
      '--ignore-path',
      '/api/health',
      '--ignore-user-agent',
      'NCAT',
      '--ignore-cidr',
      '::1/128',
      '--ignore-port',
      '53',
      '--spans-off',
      'tcp,udp',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const pairs = jsonLines(run.stdout) as unknown as JsonPair[];
    const ignored = (p: JsonPair) =>
      p.server.port === 53 ||
      p.client.address === '::1' ||
      (p.http?.target ?? '').startsWith('/api/health') ||
      (p.http?.user_agent ?? '').toLowerCase().includes('ncat');
    const kept = pairs.filter((p) => !ignored(p));
    const ignoredCount = pairs.length - kept.length;
    assert.ok(ignoredCount > 0 && kept.length > 0, 'the capture has pairs of both kinds');
    assert.ok(
      pairs.some((p) => p.protocol === 'dns'),
      'JSONL still lists ignored pairs',
    );

    const expectedSpans = kept.filter((p) => p.protocol !== 'tcp' && p.protocol !== 'udp');
    assert.equal(receiver.spans.length, expectedSpans.length);
    const spanProtocols = new Set(receiver.spans.map((s) => s.attributes['wirespan.protocol']));
    assert.deepEqual([...spanProtocols], ['http']);
    for (const span of receiver.spans) {
      assert.notEqual(span.attributes['url.path'], '/api/health');
      assert.notEqual(span.attributes['client.address'], '::1');
    }

    assert.equal(Number(metric('wirespan.pairs.ignored')?.dataPoints[0]?.value), ignoredCount);
    assert.equal(metric('dns.lookup.duration'), undefined, 'ignored: no latency point');
    // Spans off, latency kept: TCP handshakes still feed their histogram.
    const tcpMatched = kept.filter((p) => p.protocol === 'tcp' && p.outcome === 'matched').length;
    assert.ok(tcpMatched > 0);
    assert.equal(histogramCount('wirespan.pair.duration', 'wirespan.protocol', 'tcp'), tcpMatched);
    const httpMatched = kept.filter((p) => p.protocol === 'http' && p.outcome === 'matched').length;
    assert.equal(histogramCount('http.server.request.duration', 'url.scheme', 'http'), httpMatched);
  });
}

test('bad noise-control flags are usage errors (exit 2) naming the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['--spans-off', 'tcp,htp'], /spans-off.*unknown protocol "htp" \(known: .*http/],
    [['--ignore-cidr', '10.0.0.0/33'], /ignore-cidr/],
    [['--ignore-port', '70000'], /ignore-port/],
    [['--ignore-path', 'healthz'], /ignore-path.*must start with "\/"/],
  ];
  for (const [flags, message] of cases) {
    const run = await runCli(['replay', demo, '-o', 'none', '--otlp', receiver.endpoint, ...flags]);
    assert.equal(run.status, 2, `${flags.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
});
