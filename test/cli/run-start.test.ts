/**
 * `run`'s start with workers, which it spawns before it builds the exporter: a start that fails
 * after that (the exporter cannot be built, a worker fails while it starts, the output cannot be
 * opened) ends the process with its reason and leaves nothing running: no worker waiting for its
 * configuration, no Prometheus endpoint listening.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { runCliAsync } from '../helpers/run-cli.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-run-start-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A process still running after this was left hanging (runCliAsync kills it: status null). */
const kHangMillis = 30_000;

function runArgs(name: string, ...extra: string[]): string[] {
  const watch = path.join(root, name);
  fs.mkdirSync(watch);
  return [
    'run',
    '--watch',
    watch,
    '--state-dir',
    path.join(root, `${name}.state`),
    '--health-port',
    '0',
    ...extra,
  ];
}

/** A port something listens on (all addresses, as the Prometheus endpoint would), and its release. */
async function takenPort(): Promise<{ port: number; release: () => void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  return { port: (server.address() as net.AddressInfo).port, release: () => server.close() };
}

/** A free port (for a Prometheus endpoint that must then be given back). */
async function freePort(): Promise<number> {
  const { port, release } = await takenPort();
  release();
  return port;
}

for (const workers of ['0', '2']) {
  test(`--workers ${workers}: an exporter that cannot be built (its Prometheus port is taken) ends the run with exit 2 and its reason, no worker left running`, async () => {
    const taken = await takenPort();
    try {
      const result = await runCliAsync(
        runArgs(`exporter-${workers}`, '--workers', workers, '--prometheus-port', String(taken.port)),
        { timeoutMillis: kHangMillis },
      );
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /Prometheus endpoint on port \d+: .*EADDRINUSE/);
      assert.doesNotMatch(result.stderr, /"watching"/);
    } finally {
      taken.release();
    }
  });
}

test('--workers 2: a worker that fails while it starts, before its configuration arrives, ends the run with exit 1 and its reason; the exporter is shut down', async () => {
  // Fault injection by a module hook (--import runs in the workers too): a worker cannot load
  // its record loop, and the main thread loads the exporter slowly, so the failure comes first.
  const hook = path.join(root, 'worker-fails.mjs');
  fs.writeFileSync(
    hook,
    `import module from 'node:module';
import { isMainThread } from 'node:worker_threads';
module.registerHooks({
  load(url, context, next) {
    if (!isMainThread && url.endsWith('/agent/pipeline/record-loop.ts')) throw new Error('simulated worker start failure');
    if (isMainThread && url.endsWith('/agent/export/otel/index.ts')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
    return next(url, context);
  },
});
`,
  );
  const result = await runCliAsync(
    runArgs(
      'worker',
      '--workers',
      '2',
      '--otlp',
      'http://127.0.0.1:1',
      '--prometheus-port',
      String(await freePort()),
    ),
    { env: { ...process.env, NODE_OPTIONS: `--import ${hook}` }, timeoutMillis: kHangMillis },
  );
  assert.equal(result.status, 1, result.stderr);
  assert.match(
    result.stderr,
    /"pipeline worker failed".*worker \d failed: Error: simulated worker start failure/,
  );
  assert.doesNotMatch(result.stderr, /"watching"/, 'the run did not start');
});

test('an output that cannot be opened once the exporter is built (its Prometheus endpoint listening) ends the run with exit 1', async () => {
  const result = await runCliAsync(
    runArgs(
      'output',
      '--workers',
      '2',
      '--prometheus-port',
      String(await freePort()),
      '--output',
      `jsonl:${path.join(root, 'no-such-dir', 'pairs.jsonl')}`,
    ),
    { timeoutMillis: kHangMillis },
  );
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /cannot open output file/);
});
