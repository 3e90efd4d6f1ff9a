/**
 * The bundle the image runs (agent/build-bundle.ts, `npm run build`), built into a temporary
 * directory with no node_modules above it and run for real: it must behave as the sources do.
 * `replay` gives the same JSONL and summary counts with --workers 0 and 2 (workers write their
 * shards' pairs as they complete: with 2 the lines are compared sorted), help and version are
 * the same (yargs' help layout stand-in), --config (YAML) and --progress (cli-progress) load
 * their packages from inside the bundle, `run --otlp` delivers the same spans to the real
 * receiver, and so does `replay --otlp --kubernetes` against the local API server. Every file the bundle loads must be there: a copy without the worker entry, or
 * without a chunk that is only imported lazily, fails.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildBundle, kLicensesFile } from '../../agent/build-bundle.ts';
import { clusterCapture, seedCluster } from '../enrich/cluster.ts';
import { FakeApiServer, kubeconfigText } from '../enrich/fake-api-server.ts';
import { comparableSpan, type OtlpReceiver, startReceiver } from '../export/otlp-receiver.ts';
import { readAllRecords, writePcap } from '../helpers/pcap-writer.ts';
import { type CliResult, repoRoot, runCli, runCliAsync, startAgent } from '../helpers/run-cli.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-bundle-'));
const dist = path.join(root, 'dist');
const bundleMain = path.join(dist, 'main.mjs');

/** The chunk whose code came from `source` (an agent/ path): found by the name esbuild gives it. */
function chunkOf(source: string): string {
  const stem = path.basename(source, path.extname(source));
  const chunk = fs.readdirSync(dist).find((file) => file.startsWith(`${stem}-`) && file.endsWith('.mjs'));
  assert.ok(chunk, `no chunk for ${source} in ${dist}`);
  return chunk;
}

/** A copy of the bundle without `file`. */
function bundleWithout(file: string): string {
  const copy = fs.mkdtempSync(path.join(root, 'without-'));
  fs.cpSync(dist, copy, { recursive: true });
  fs.rmSync(path.join(copy, file));
  return path.join(copy, 'main.mjs');
}

/** The summary line of replay's pair counts. */
const pairsLine = (result: CliResult) => /^\s*pairs:.*$/m.exec(result.stderr)?.[0];

before(async () => {
  for (let dir = root; dir !== path.dirname(dir); dir = path.dirname(dir))
    assert.ok(!fs.existsSync(path.join(dir, 'node_modules')), `${dir} holds a node_modules`);
  await buildBundle(dist);
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('the bundle', () => {
  for (const workers of ['0', '2']) {
    test(`replay --workers ${workers}: the same JSONL and pair counts as the sources`, () => {
      const args = ['replay', demo, '--workers', workers];
      const sources = runCli(args);
      const bundled = runCli(args, { cli: bundleMain });
      assert.equal(bundled.status, 0, bundled.stderr);
      assert.equal(sources.status, 0, sources.stderr);
      assert.ok(sources.stdout.split('\n').length > 20);
      const lines = (result: CliResult) =>
        workers === '0' ? result.stdout : result.stdout.split('\n').sort().join('\n');
      assert.equal(lines(bundled), lines(sources));
      assert.match(bundled.stderr, workers === '0' ? /one thread\)/ : /2 workers\)/);
      assert.equal(pairsLine(bundled), pairsLine(sources));
    });
  }

  test('help and version are the sources', () => {
    for (const args of [['--help'], ['run', '--help'], ['replay', '--help'], ['--version']]) {
      const sources = runCli(args);
      const bundled = runCli(args, { cli: bundleMain });
      assert.equal(bundled.status, 0, bundled.stderr);
      assert.equal(bundled.stdout, sources.stdout, args.join(' '));
    }
  });

  test('--config (YAML) and --progress (cli-progress) load their packages from the bundle', () => {
    const missing = path.join(root, 'no-such-dir');
    const config = path.join(root, 'config.yaml');
    fs.writeFileSync(config, `watch: ${JSON.stringify(missing)}\nhealth-port: 0\n`);
    const run = runCli(['run', '--config', config], { cli: bundleMain });
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      /watch directory does not exist.*no-such-dir/,
      'the watch directory from the file',
    );
    const replay = runCli(['replay', demo, '--output', 'none', '--progress'], { cli: bundleMain });
    assert.equal(replay.status, 0, replay.stderr);
    assert.match(replay.stderr, /^wirespan .*\d+% \| [\d.]+\/[\d.]+ MiB/m, 'the progress line');
  });

  test('names every bundled package with its licence text', () => {
    const notices = fs.readFileSync(path.join(dist, kLicensesFile), 'utf8');
    for (const name of ['@grpc/grpc-js', 'yargs', '@opentelemetry/sdk-trace', 'cli-progress', 'yaml'])
      assert.match(notices, new RegExp(`^${name}@[\\d.]+ \\(`, 'm'), name);
    assert.match(notices, /Apache License/);
    assert.match(notices, /Permission is hereby granted/, 'MIT texts');
  });

  test('a copy without the worker entry or a lazily imported chunk fails', () => {
    const args = ['replay', demo, '--output', 'none'];
    assert.notEqual(runCli([...args, '--workers', '2'], { cli: bundleWithout('worker.mjs') }).status, 0);
    // The worker's output formatter is imported when a worker starts; replay's command module when it runs.
    const noRenderer = bundleWithout(chunkOf('agent/output/pair-output.ts'));
    assert.equal(runCli([...args, '--workers', '0'], { cli: noRenderer }).status, 0, 'not loaded: no output');
    assert.notEqual(runCli(['replay', demo, '--workers', '2'], { cli: noRenderer }).status, 0);
    assert.notEqual(runCli(args, { cli: bundleWithout(chunkOf('agent/cli/replay-command.ts')) }).status, 0);
  });
});

describe('the bundle exporting', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  /**
   * `run --otlp` over a copy of demo.pcap (the same path every time: spans name their file),
   * stopped once every packet was read: the spans received.
   */
  async function runSpans(entry: string, workers: string): Promise<string[]> {
    receiver.reset();
    const pcaps = path.join(root, 'pcaps');
    if (!fs.existsSync(pcaps)) {
      fs.mkdirSync(pcaps);
      const file = path.join(pcaps, 'cap-00.pcap');
      fs.copyFileSync(demo, file);
      const old = Date.now() / 1000 - 3600;
      fs.utimesSync(file, old, old);
    }
    const state = fs.mkdtempSync(path.join(root, 'state-'));
    const packets = readAllRecords(demo).length;
    const agent = startAgent(
      [
        ...['--watch', pcaps, '--state-dir', state, '--grace', '0.3'],
        ...['--health-port', '0', '--stats-interval', '1', '--otlp', receiver.endpoint, '--workers', workers],
      ],
      {},
      undefined,
      [],
      entry,
    );
    const packetsRead = () =>
      agent
        .stderr()
        .split('\n')
        .filter((line) => line.includes('"msg":"stats"'))
        .map((line) => JSON.parse(line).packets as number)
        .at(-1);
    const deadline = Date.now() + 30_000;
    while (packetsRead() !== packets && Date.now() < deadline) await sleep(100);
    // SIGTERM drains the pipeline and flushes every span, the pairs still pending included.
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.stderr());
    assert.equal(packetsRead(), packets, agent.stderr());
    return receiver.spans.map(comparableSpan).sort();
  }

  test('replay --otlp --kubernetes (its client is the largest lazy chunk): the same spans as the sources', async () => {
    const server = new FakeApiServer();
    await server.listen();
    seedCluster(server);
    const capture = path.join(root, 'cluster.pcap');
    writePcap(capture, clusterCapture());
    const kubeconfig = path.join(root, 'kubeconfig');
    fs.writeFileSync(kubeconfig, kubeconfigText(server.url));
    const replaySpans = async (cli: string) => {
      receiver.reset();
      const args = [
        'replay',
        capture,
        '--workers',
        '2',
        '-o',
        'none',
        '--otlp',
        receiver.endpoint,
        '--kubernetes',
      ];
      const result = await runCliAsync(args, { cli, env: { ...process.env, KUBECONFIG: kubeconfig } });
      assert.equal(result.status, 0, result.stderr);
      return receiver.spans.map(comparableSpan).sort();
    };
    try {
      const sources = await replaySpans(path.join(repoRoot, 'agent/cli/main.mjs'));
      assert.ok(
        sources.some((span) => span.includes('"k8s.deployment.name":"checkout"')),
        'named by the cluster',
      );
      assert.deepEqual(await replaySpans(bundleMain), sources);
    } finally {
      await server.close();
    }
  });

  for (const workers of ['0', '2']) {
    test(`run --otlp --workers ${workers}: the same spans as the sources`, async () => {
      const sources = await runSpans(path.join(repoRoot, 'agent/cli/main.mjs'), workers);
      const bundled = await runSpans(bundleMain, workers);
      assert.ok(sources.length > 20, `spans: ${sources.length}`);
      assert.deepEqual(bundled, sources);
    });
  }
});
