/**
 * Start-up cost: a replay that exports nothing must not load the OpenTelemetry SDK and gRPC
 * (they were ~40 % of every start-up), and a command loads only its own command module (`run`'s
 * tail, health server and node:http are not a replay's). Exporting loads the SDK pieces it uses,
 * not every exporter of every signal; the YAML parser loads for --config only, Node's bundled undici
 * (behind node:http's ES module facade) not at all. A module hook in the child lists what it
 * loads, followed by Node's internal modules (process.moduleLoadList) and how many
 * Intl.NumberFormat it made (the first loads ICU's data: none at start, and none for whole numbers)
 * and how often it called net.isIPv6 (the first call compiles a large regular expression).
 * yargs' help layout packages load only for --help. The metric SDK, its OTLP exporter and
 * otlp-transformer load when metrics are first exported, not while `run` starts; the
 * semantic-conventions package only with the SDK (its core and resources), not to make spans.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/run-cli.ts';

const hook = `
import fs from 'node:fs';
import net from 'node:net';
import module from 'node:module';
import { threadId } from 'node:worker_threads';
const loaded = [];
module.registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
let numberFormats = 0;
const NumberFormat = Intl.NumberFormat;
Intl.NumberFormat = function (...args) { numberFormats++; return new NumberFormat(...args); };
let isIPv6Calls = 0;
const isIPv6 = net.isIPv6;
net.isIPv6 = (text) => { isIPv6Calls++; return isIPv6(text); };
module.syncBuiltinESMExports();
process.on('exit', () => fs.writeFileSync(process.env.LOADED_LIST + (threadId === 0 ? '' : '.worker' + threadId), [...loaded, ...process.moduleLoadList, 'net.isIPv6 ' + isIPv6Calls, 'Intl.NumberFormat ' + numberFormats].join('\\n')));
`;

/** The package directories under node_modules that `replay <args>` loads. */
function packagesLoaded(args: string[]): Set<string> {
  return packagesOf(modulesLoaded(['replay', ...args], 0));
}

function packagesOf(urls: string[]): Set<string> {
  return new Set(
    urls
      .map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1])
      .filter((name) => name !== undefined),
  );
}

const demo = 'test/fixtures/demo.pcap';
const loadsUndici = (loaded: string[]): boolean =>
  loaded.some((name) => name.includes('internal/deps/undici'));

/**
 * The URLs of every module `wirespan <args>` loads, then Node's internal ones (it must exit with
 * `status`): on the main thread, or in the worker thread of that id (1: the first).
 */
function modulesLoaded(args: string[], status: number, thread = 0): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-imports-'));
  try {
    const hookFile = path.join(dir, 'hook.mjs');
    const list = path.join(dir, 'loaded.txt');
    fs.writeFileSync(hookFile, hook);
    const result = spawnSync(
      process.execPath,
      ['--import', hookFile, path.join(repoRoot, 'agent/cli/main.mjs'), ...args],
      { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, LOADED_LIST: list }, timeout: 60_000 },
    );
    assert.equal(result.status, status, result.stderr);
    return fs.readFileSync(thread === 0 ? list : `${list}.worker${thread}`, 'utf8').split('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A TCP port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('replay without --otlp or --prometheus-port loads neither the OpenTelemetry SDK nor gRPC', async () => {
  const plain = packagesLoaded([demo, '--output', 'none', '--workers', '0']);
  assert.ok(!plain.has('cli-progress'), 'a progress bar without a TTY or --progress');
  assert.ok(packagesLoaded([demo, '--output', 'none', '--workers', '0', '--progress']).has('cli-progress'));
  const sdk = [...plain].filter((p) => p.startsWith('@grpc/') || /^@opentelemetry\/(sdk|exporter)/.test(p));
  assert.deepEqual(sdk, []);
  // The hook sees the exporter's packages when export is asked for (the check above can fail).
  const port = String(await freePort());
  const exporting = packagesLoaded([demo, '--output', 'none', '--workers', '0', '--prometheus-port', port]);
  assert.ok(exporting.has('@opentelemetry/sdk-metrics'), [...exporting].join(' '));
});

const ours = (urls: string[]) =>
  urls.filter((url) => url.startsWith('file:')).map((url) => url.slice(url.indexOf('/agent/') + 1));

test('each command loads its own command module only', () => {
  const replay = ours(
    modulesLoaded(['replay', 'test/fixtures/demo.pcap', '--output', 'none', '--workers', '0'], 0),
  );
  assert.ok(replay.includes('agent/cli/replay-command.ts'), replay.join(' '));
  for (const other of ['agent/cli/run-command.ts', 'agent/pipeline/tail.ts', 'agent/cli/health-server.ts'])
    assert.ok(!replay.includes(other), `replay loaded ${other}`);
  // `run` on a missing directory stops at once (exit 1), after loading its module.
  const run = ours(modulesLoaded(['run', '--watch', path.join(os.tmpdir(), 'wirespan-no-such-dir')], 1));
  assert.ok(run.includes('agent/cli/run-command.ts'), run.join(' '));
});

test('exporting loads the SDK pieces it uses: not the console span exporter, Prometheus, YAML or undici', async () => {
  // Nothing listens: the export fails (exit 1) after the exporter was made.
  const otlp = `http://127.0.0.1:${await freePort()}`;
  const loaded = modulesLoaded(['replay', demo, '--output', 'none', '--workers', '0', '--otlp', otlp], 1);
  const packages = packagesOf(loaded);
  assert.ok(
    packages.has('@grpc/grpc-js') && packages.has('@opentelemetry/sdk-metrics'),
    [...packages].join(' '),
  );
  for (const unused of ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-prometheus', 'yaml'])
    assert.ok(!packages.has(unused), `loaded ${unused}`);
  assert.ok(!loadsUndici(loaded), 'loaded undici');
});

test('run loads the YAML parser for --config only, and not undici (the health server takes node:http without its facade)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-imports-config-'));
  try {
    // A missing watch directory stops `run` at once (exit 1), after its modules and the config loaded.
    const missing = path.join(dir, 'no-such-dir');
    const plain = modulesLoaded(['run', '--watch', missing], 1);
    assert.ok(!packagesOf(plain).has('yaml'), 'loaded yaml without --config');
    assert.ok(!packagesOf(plain).has('cli-progress'), 'loaded the progress bar');
    assert.ok(!loadsUndici(plain), 'loaded undici');
    const config = path.join(dir, 'wirespan.yaml');
    fs.writeFileSync(config, `watch: [${JSON.stringify(missing)}]\n`);
    assert.ok(packagesOf(modulesLoaded(['run', '--config', config], 1)).has('yaml'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("yargs' help layout (cliui, string-width: ~55 ms) loads only to show help", () => {
  const layout = (packages: Set<string>) => ['cliui', 'string-width'].filter((name) => packages.has(name));
  const run = packagesOf(
    modulesLoaded(['run', '--watch', path.join(os.tmpdir(), 'wirespan-no-such-dir')], 1),
  );
  assert.deepEqual(layout(run), []);
  assert.deepEqual(layout(packagesLoaded([demo, '--output', 'none', '--workers', '0'])), []);
  assert.deepEqual(layout(packagesOf(modulesLoaded(['run', '--help'], 0))), ['cliui', 'string-width']);
});

test('a worker loads the line renderer and the latency summary only when it uses them (the agent does not)', () => {
  const used = ['agent/output/pair-output.ts', 'agent/report/latency-summary.ts'];
  const worker = (...args: string[]) =>
    ours(modulesLoaded(['replay', demo, '--workers', '1', ...args], 0, 1));
  const lean = worker('--output', 'none', '--summary', 'none');
  assert.ok(lean.includes('agent/pipeline/record-loop.ts'), lean.join(' '));
  assert.deepEqual(
    used.filter((name) => lean.includes(name)),
    [],
  );
  const full = worker('--output', 'jsonl:/dev/null', '--summary', 'text');
  assert.deepEqual(
    used.filter((name) => full.includes(name)),
    used,
  );
});

test('no Intl.NumberFormat (ICU data, ~20-40 ms) at start, nor for the whole numbers of a summary', () => {
  const numberFormats = (loaded: string[]) => Number(loaded.at(-1)?.replace('Intl.NumberFormat ', ''));
  // A missing watch directory: run stops after loading its modules (the summaries' included).
  assert.equal(
    numberFormats(modulesLoaded(['run', '--watch', path.join(os.tmpdir(), 'wirespan-no-such-dir')], 1)),
    0,
  );
  // The summary and its latency table print counts: formatNumber groups their digits itself.
  assert.equal(numberFormats(modulesLoaded(['replay', demo, '--output', 'none', '--workers', '0'], 0)), 0);
});

test("a worker making spans loads neither the OpenTelemetry api's index nor the SDK's resources and core (~45 ms of its start)", async () => {
  // Nothing listens: the export fails (exit 1) after the worker made and encoded its spans.
  const otlp = `http://127.0.0.1:${await freePort()}`;
  const worker = modulesLoaded(['replay', demo, '--workers', '1', '--output', 'none', '--otlp', otlp], 1, 1);
  assert.ok(ours(worker).includes('agent/export/otel/span-request-encoder.ts'), ours(worker).join(' '));
  const packages = packagesOf(worker);
  assert.deepEqual(
    ['@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/resources'].filter((name) =>
      packages.has(name),
    ),
    [],
  );
});

test('no net.isIPv6 at start (its first call compiles a large regular expression: ~12 ms of each thread)', async () => {
  const isIPv6Calls = (loaded: string[]) =>
    Number(loaded.find((line) => line.startsWith('net.isIPv6 '))?.slice('net.isIPv6 '.length));
  // The span path parses the default local networks (fd00::/8, ::1/128) on every thread; grpc-js
  // calls net.isIPv6 when it connects, so the main thread is checked exporting metrics only.
  const metrics = ['replay', demo, '--output', 'none', '--workers', '0', '--prometheus-port'];
  assert.equal(isIPv6Calls(modulesLoaded([...metrics, String(await freePort())], 0)), 0);
  const otlp = `http://127.0.0.1:${await freePort()}`;
  assert.equal(
    isIPv6Calls(modulesLoaded(['replay', demo, '--output', 'none', '--workers', '1', '--otlp', otlp], 1, 1)),
    0,
  );
  // The hook sees the calls: an address with a dotted IPv4 tail still goes through net.isIPv6.
  const dotted = [...metrics, String(await freePort()), '--local-networks', '::ffff:10.0.0.0/104'];
  assert.ok(isIPv6Calls(modulesLoaded(dotted, 0)) > 0);
});

test('the semantic-conventions package (its index: ~20 ms of a thread) loads with the OpenTelemetry SDK only, not to make spans', async () => {
  // The SDK's core and resources import it: the exporter's thread loads it, a worker and a replay without export do not.
  const semconv = '@opentelemetry/semantic-conventions';
  assert.ok(!packagesLoaded([demo, '--output', 'none', '--workers', '0']).has(semconv));
  // Nothing listens: the export fails (exit 1) after the worker made and encoded its spans.
  const otlp = `http://127.0.0.1:${await freePort()}`;
  const worker = modulesLoaded(['replay', demo, '--output', 'none', '--otlp', otlp, '--workers', '1'], 1, 1);
  assert.ok(ours(worker).includes('agent/export/otel/span-request-encoder.ts'), ours(worker).join(' '));
  assert.ok(!packagesOf(worker).has(semconv), [...packagesOf(worker)].join(' '));
  // The hook sees it where the SDK loads (the checks above can fail).
  const exporting = modulesLoaded(['replay', demo, '--output', 'none', '--otlp', otlp, '--workers', '0'], 1);
  assert.ok(packagesOf(exporting).has(semconv));
});

test("run's start (up to 'watching') loads no metric SDK, metric exporter or otlp-transformer: metrics are built at their first export", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-imports-run-'));
  const list = path.join(dir, 'loaded.txt');
  const hookFile = path.join(dir, 'hook.mjs');
  // Each load is appended as it happens: the list is read while the agent runs.
  fs.writeFileSync(
    hookFile,
    `import fs from 'node:fs';
import module from 'node:module';
module.registerHooks({ load(url, context, next) { fs.appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context); } });`,
  );
  fs.mkdirSync(path.join(dir, 'pcaps'));
  const otlp = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(
    process.execPath,
    [
      '--import',
      hookFile,
      path.join(repoRoot, 'agent/cli/main.mjs'),
      'run',
      '--watch',
      path.join(dir, 'pcaps'),
    ].concat([
      '--state-dir',
      path.join(dir, 'state'),
      '--otlp',
      otlp,
      '--health-port',
      '0',
      '--workers',
      '0',
    ]),
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('"msg":"watching"')) resolve();
      });
      child.on('exit', () => reject(new Error(`exited before watching: ${stderr}`)));
    });
    const packages = packagesOf(fs.readFileSync(list, 'utf8').split('\n'));
    assert.ok(packages.has('@grpc/grpc-js'), [...packages].join(' '));
    for (const deferred of [
      '@opentelemetry/sdk-metrics',
      '@opentelemetry/exporter-metrics-otlp-http',
      '@opentelemetry/otlp-transformer',
    ])
      assert.ok(!packages.has(deferred), `loaded ${deferred} at start`);
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
