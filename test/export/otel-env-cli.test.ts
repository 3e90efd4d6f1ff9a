/**
 * The OTEL_* variables of README.md ("OpenTelemetry export") "Environment variables", each with
 * the real CLI against a real receiver (OTLP/gRPC and OTLP/HTTP in one mockotlpserver, which
 * tells the transport and path of every request) or a real scrape of the Prometheus endpoint.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CliResult, jsonLines, repoRoot, runCliAsync } from '../helpers/run-cli.ts';
import { freePort, type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');
const kTraceService = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const kMetricsService = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver(0, { http: true });
});
after(() => receiver.close());

/** The environment without OTEL_* from the developer's shell, plus `env`. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
  return { ...base, ...env };
}

/** The CLI with `env` over the clean environment (the receiver lives in this process). */
function runCliWith(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCliAsync(args, { env: cleanEnv(env) });
}

function transports(signal: 'traces' | 'metrics'): string[] {
  const http = signal === 'traces' ? '/v1/traces' : '/v1/metrics';
  const grpc = signal === 'traces' ? kTraceService : kMetricsService;
  return receiver.requests
    .filter((r) => r.path === http || r.path === grpc)
    .map((r) => `${r.transport} ${r.path} ${r.contentType ?? ''}`.trim());
}

const kDemoPairs = jsonLines((await runCliWith(['replay', demo, '--workers', '0'], {})).stdout).length;

for (const workers of ['0', '2']) {
  test(`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (--workers ${workers}): spans and metrics as POST application/x-protobuf`, async () => {
    receiver.reset();
    const result = await runCliWith(
      // Workers send the bytes they encoded; one thread encodes span objects: both over HTTP.
      ['replay', demo, '-o', 'none', '--workers', workers, '--otlp'],
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.httpEndpoint },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(receiver.spans.length, kDemoPairs);
    const traces = new Set(transports('traces'));
    const metrics = new Set(transports('metrics'));
    assert.deepEqual([...traces], ['http /v1/traces application/x-protobuf']);
    assert.deepEqual([...metrics], ['http /v1/metrics application/x-protobuf']);
    assert.ok(receiver.lastMetrics('dns.lookup.duration').size > 0);
  });
}

test('--otlp URL with http/protobuf is the base URL: /v1/traces and /v1/metrics appended', async () => {
  receiver.reset();
  const result = await runCliWith(['replay', demo, '-o', 'none', '--otlp', `${receiver.httpEndpoint}/`], {
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(receiver.spans.length, kDemoPairs);
  assert.deepEqual(new Set(transports('traces')), new Set(['http /v1/traces application/x-protobuf']));
});

test('per-signal variables win: traces over HTTP to their endpoint, metrics over gRPC to theirs', async () => {
  receiver.reset();
  const result = await runCliWith(['replay', demo, '-o', 'none', '--otlp'], {
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.httpEndpoint}/v1/traces`,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.endpoint,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(receiver.spans.length, kDemoPairs);
  assert.deepEqual(new Set(transports('traces')), new Set(['http /v1/traces application/x-protobuf']));
  assert.deepEqual(new Set(transports('metrics')), new Set([`grpc ${kMetricsService}`]));
});

test('OTEL_TRACES_SAMPLER / _ARG are honoured; --sample-ratio wins only when given', async () => {
  receiver.reset();
  const off = await runCliWith(['replay', demo, '-o', 'none', '--otlp', receiver.endpoint], {
    OTEL_TRACES_SAMPLER: 'always_off',
    OTEL_METRICS_EXPORTER: 'none',
  });
  assert.equal(off.status, 0, off.stderr);
  const kept = receiver.spans.length;
  // Errors (unanswered, 5xx, DNS errors) are always kept: some spans, not all.
  assert.ok(kept > 0 && kept < kDemoPairs, `${kept} of ${kDemoPairs}`);
  // ... and spans joining a sampled traceparent (parent-based).
  assert.ok(receiver.spans.every((s) => s.status.code === 'ERROR' || s.parentSpanId !== undefined));

  receiver.reset();
  const ratio0 = await runCliWith(['replay', demo, '-o', 'none', '--otlp', receiver.endpoint], {
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0',
    OTEL_METRICS_EXPORTER: 'none',
  });
  assert.equal(ratio0.status, 0, ratio0.stderr);
  assert.equal(receiver.spans.length, kept);

  receiver.reset();
  const flag = await runCliWith(
    ['replay', demo, '-o', 'none', '--otlp', receiver.endpoint, '--sample-ratio', '1'],
    { OTEL_TRACES_SAMPLER: 'always_off', OTEL_METRICS_EXPORTER: 'none' },
  );
  assert.equal(flag.status, 0, flag.stderr);
  assert.equal(receiver.spans.length, kDemoPairs);
});

test('OTEL_TRACES_EXPORTER=none: metrics only; =console: spans on stdout, none sent', async () => {
  receiver.reset();
  const none = await runCliWith(['replay', demo, '-o', 'none', '--otlp', receiver.endpoint], {
    OTEL_TRACES_EXPORTER: 'none',
  });
  assert.equal(none.status, 0, none.stderr);
  assert.equal(transports('traces').length, 0);
  assert.ok(transports('metrics').length > 0);

  for (const workers of ['0', '2']) {
    receiver.reset();
    const console = await runCliWith(
      ['replay', demo, '-o', 'none', '--workers', workers, '--otlp', receiver.endpoint],
      { OTEL_TRACES_EXPORTER: 'console', OTEL_METRICS_EXPORTER: 'none' },
    );
    assert.equal(console.status, 0, console.stderr);
    assert.equal(receiver.requests.length, 0);
    // ConsoleSpanExporter prints one object per span with its name and span id.
    assert.equal(console.stdout.match(/^ {2}id: '[0-9a-f]{16}'/gm)?.length, kDemoPairs, console.stdout);
    assert.match(console.stdout, /name: 'DNS MX'/);
  }
});

test('OTEL_METRICS_EXPORTER=none: spans only; =console: metrics on stdout', async () => {
  receiver.reset();
  const none = await runCliWith(['replay', demo, '-o', 'none', '--otlp', receiver.endpoint], {
    OTEL_METRICS_EXPORTER: 'none',
  });
  assert.equal(none.status, 0, none.stderr);
  assert.equal(transports('metrics').length, 0);
  assert.equal(receiver.spans.length, kDemoPairs);

  receiver.reset();
  const console = await runCliWith(['replay', demo, '-o', 'none', '--otlp', receiver.endpoint], {
    OTEL_METRICS_EXPORTER: 'console',
    OTEL_TRACES_EXPORTER: 'none',
  });
  assert.equal(console.status, 0, console.stderr);
  assert.equal(receiver.requests.length, 0);
  assert.match(console.stdout, /name: 'dns\.lookup\.duration'/);
  assert.match(console.stdout, /name: 'wirespan\.pairs'/);
});

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMillis = 20_000) {
  const deadline = Date.now() + timeoutMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function scrape(port: number): Promise<string> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    return response.ok ? await response.text() : '';
  } catch {
    return '';
  }
}

/** The sum of every sample of `name` in a scrape. */
function seriesSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** `run` tailing a directory with the demo capture in it, `args` and `env` added; scrapes until `done`. */
async function scrapeRun(
  args: string[],
  env: Record<string, string>,
  port: number,
): Promise<{ text: string; stderr: string; status: number | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-prom-'));
  fs.copyFileSync(demo, path.join(dir, 'cap-20261128230000.pcap'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'agent/cli/main.mjs'),
      'run',
      '--watch',
      dir,
      '--grace',
      '0.3',
      '-o',
      'none',
      ...args,
    ],
    { cwd: repoRoot, env: cleanEnv(env) },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let text = '';
  try {
    // The demo's 12 matched DNS pairs, all in the latency histogram.
    await waitFor(async () => {
      text = await scrape(port);
      return seriesSum(text, 'dns_lookup_duration_seconds_count') === 12;
    }, `the demo's DNS pairs on :${port}/metrics\n${stderr}`);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { text, stderr, status: await exited };
}

test('run --prometheus-port without --otlp: a scrape endpoint, histograms labelled by the observed service', async () => {
  receiver.reset();
  const port = await freePort();
  const { text, stderr, status } = await scrapeRun(['--prometheus-port', String(port)], {}, port);
  assert.equal(status, 0, stderr);
  assert.equal(receiver.requests.length, 0, 'no OTLP');
  assert.match(
    text,
    /dns_lookup_duration_seconds_count\{(?=[^}]*otel_scope_name="wirespan")(?=[^}]*service_name="dns:\/\/127\.0\.0\.153:53")[^}]*\} \d+/,
  );
  // wirespan's own resource, without per-start attributes.
  const target = text.split('\n').find((line) => line.startsWith('target_info{'));
  assert.ok(target, text);
  assert.match(target, /service_name="wirespan"/);
  assert.match(target, /service_instance_id="[^"]+"/);
  assert.doesNotMatch(target, /process_pid=/);
  // Unit suffixes as the collector's Prometheus exporter adds them (not twice).
  assert.match(text, /^wirespan_bytes_read_total\{/m);
  assert.match(text, /^wirespan_lag_seconds\{/m);
});

test('OTEL_METRICS_EXPORTER=prometheus with OTEL_EXPORTER_PROMETHEUS_PORT/_HOST, next to OTLP spans', async () => {
  receiver.reset();
  const port = await freePort();
  const { text, stderr, status } = await scrapeRun(
    ['--otlp', receiver.endpoint],
    {
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    },
    port,
  );
  assert.equal(status, 0, stderr);
  assert.match(text, /http_server_request_duration_seconds_bucket\{/);
  assert.equal(transports('metrics').length, 0, 'metrics go to Prometheus only');
  assert.ok(receiver.spans.length > 0);
});

test('unsupported values: one line naming the variable, exit 2', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
      /^wirespan: OTEL_EXPORTER_OTLP_PROTOCOL=http\/json is not supported/,
    ],
    [
      { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'udp' },
      /^wirespan: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=udp is not supported/,
    ],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /^wirespan: OTEL_TRACES_EXPORTER=zipkin is not supported/],
    [
      { OTEL_METRICS_EXPORTER: 'otlp,statsd' },
      /^wirespan: OTEL_METRICS_EXPORTER=otlp,statsd is not supported/,
    ],
    [
      { OTEL_TRACES_SAMPLER: 'jaeger_remote' },
      /^wirespan: OTEL_TRACES_SAMPLER=jaeger_remote is not supported/,
    ],
    [
      { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' },
      /^wirespan: OTEL_TRACES_SAMPLER_ARG=1\.5 is not a ratio from 0 to 1/,
    ],
  ];
  const results = await Promise.all(
    cases.map(([env]) => runCliWith(['replay', demo, '-o', 'none', '--otlp', receiver.endpoint], env)),
  );
  for (const [i, result] of results.entries()) {
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, cases[i]![1]);
  }
});
