/**
 * Configuration through the real CLI: WIRESPAN_* variables (Kubernetes service links ignored
 * with one warning), errors that name the flag, the variable or the config file with the value
 * as given, repeated scalar flags, and the health endpoints (GET/HEAD only, bind address).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startHealthServer } from '../../agent/cli/health-server.ts';
import { dropUnknownEnv } from '../../agent/cli/option-checks.ts';
import { repoRoot, runCli } from '../helpers/run-cli.ts';

const cli = path.join(repoRoot, 'agent/cli/main.mjs');

/** The environment without any WIRESPAN_* of the test runner's own. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('WIRESPAN')) env[name] = value;
  return { ...env, ...extra };
}

interface Run {
  status: number | null;
  stderr: string;
}

/**
 * Runs `wirespan run ...` until it logs "watching" (then SIGTERM) or exits by itself;
 * `whileRunning` is called once it watches.
 */
function runAgent(
  args: string[],
  env: Record<string, string>,
  whileRunning: (stderr: () => string) => Promise<void> = async () => {},
): Promise<Run> {
  const child = spawn(process.execPath, [cli, 'run', ...args], { cwd: repoRoot, env: cleanEnv(env) });
  let stderr = '';
  let started = false;
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "watching" line within 30 s: ${stderr}`));
    }, 30_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (!started && stderr.includes('"watching"')) {
        started = true;
        whileRunning(() => stderr)
          .catch(reject)
          .finally(() => child.kill('SIGTERM'));
      }
    });
    exited.then((status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-config-env-'));
}

function jsonLogLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('Kubernetes service-link variables of a Service named wirespan are ignored with one warning; known keys are still read', async () => {
  const dir = tempDir();
  const port = 20000 + Math.floor(Math.random() * 20000);
  // What Kubernetes injects for `Service wirespan` (port 8080, named http) into every pod of the namespace.
  const serviceLinks = {
    WIRESPAN_SERVICE_HOST: '10.96.12.7',
    WIRESPAN_SERVICE_PORT: '8080',
    WIRESPAN_SERVICE_PORT_HTTP: '8080',
    WIRESPAN_PORT: 'tcp://10.96.12.7:8080',
    WIRESPAN_PORT_8080_TCP: 'tcp://10.96.12.7:8080',
    WIRESPAN_PORT_8080_TCP_PROTO: 'tcp',
    WIRESPAN_PORT_8080_TCP_PORT: '8080',
    WIRESPAN_PORT_8080_TCP_ADDR: '10.96.12.7',
  };
  const run = await runAgent(['--watch', dir, '--state-dir', path.join(dir, 'state')], {
    ...serviceLinks,
    WIRESPAN_HEALTH_PORT: String(port),
    WIRESPAN_STATS_INTERVAL: '0',
  });
  assert.equal(run.status, 0, run.stderr);
  const lines = jsonLogLines(run.stderr);
  const warnings = lines.filter((line) => line.level === 'warn');
  assert.equal(warnings.length, 1, run.stderr);
  assert.deepEqual(warnings[0]!.variables, Object.keys(serviceLinks).sort());
  const watching = lines.find((line) => line.msg === 'watching')!;
  assert.equal(watching.healthPort, port, 'WIRESPAN_HEALTH_PORT (a known key) is read');
});

test('a known name holding a service-link value (a Service named wirespan-health) is ignored, not a port error', async () => {
  const dir = tempDir();
  const run = await runAgent(['--watch', dir, '--state-dir', path.join(dir, 'state'), '--health-port', '0'], {
    WIRESPAN_HEALTH_PORT: 'tcp://10.96.0.9:8089',
    WIRESPAN_HEALTH_SERVICE_HOST: '10.96.0.9',
  });
  assert.equal(run.status, 0, run.stderr);
  const warning = jsonLogLines(run.stderr).find((line) => line.level === 'warn');
  assert.deepEqual(warning?.variables, ['WIRESPAN_HEALTH_PORT', 'WIRESPAN_HEALTH_SERVICE_HOST']);
});

test('dropUnknownEnv keeps option names and aliases (either spelling), drops everything else with the prefix', () => {
  const env: NodeJS.ProcessEnv = {
    WIRESPAN_HEALTH_PORT: '1',
    WIRESPAN_INPUT: '/p',
    WIRESPAN_PORT: '2',
    WIRESPANX: '3',
    WIRESPAN_TIMEOUT__X: '4',
    OTHER: '5',
  };
  assert.deepEqual(dropUnknownEnv(env, ['health-port', 'watch', 'input', 'shutdownTimeout']), [
    'WIRESPANX',
    'WIRESPAN_PORT',
    'WIRESPAN_TIMEOUT__X',
  ]);
  assert.deepEqual(Object.keys(env).sort(), ['OTHER', 'WIRESPAN_HEALTH_PORT', 'WIRESPAN_INPUT']);
});

async function usageError(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await runAgent(args, env);
  assert.equal(run.status, 2, run.stderr);
  return run.stderr;
}

test('errors name the flag, the variable or the config file, with the value as given', async () => {
  const dir = tempDir();
  const base = ['--watch', dir, '--state-dir', path.join(dir, 'state')];
  assert.match(
    await usageError([...base, '--timeout', 'soon']),
    /--timeout: not a positive number of seconds: "soon"/,
  );
  assert.match(
    await usageError(base, { WIRESPAN_HEALTH_PORT: 'eighty' }),
    /WIRESPAN_HEALTH_PORT \(the environment variable of --health-port\): not a port number: "eighty"/,
  );
  const env = await usageError(base, { WIRESPAN_SHUTDOWN_TIMEOUT: '-1' });
  assert.match(env, /WIRESPAN_SHUTDOWN_TIMEOUT.*"-1"/);
  assert.doesNotMatch(env, /NaN/);
  assert.match(
    await usageError(base, { WIRESPAN_ON_DONE: 'shred' }),
    /on-done.*"shred".*WIRESPAN_ON_DONE/s,
    'choices errors name the variable too',
  );
  const config = path.join(dir, 'wirespan.yaml');
  fs.writeFileSync(config, `watch: [${dir}]\ngrace: later\n`);
  assert.match(
    await usageError(['--config', config]),
    new RegExp(`grace: in the --config file ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*"later"`),
  );
});

test('a scalar flag given twice is an error naming it; list flags accumulate', async () => {
  const dir = tempDir();
  const base = ['--watch', dir, '--state-dir', path.join(dir, 'state')];
  assert.match(
    await usageError([...base, '--health-port', '0', '--health-port', '0']),
    /--health-port was given 2 times \("0", "0"\): give it once/,
  );
  assert.match(await usageError([...base, '--grace=1', '--grace=2']), /--grace was given 2 times/);
  const run = await runAgent([...base, '--health-port', '0', '--dns-ports', '53', '--dns-ports', '5353'], {});
  assert.equal(run.status, 0, run.stderr);
});

async function request(
  port: number,
  method: string,
  urlPath: string,
): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`, { method });
  return { status: response.status, body: await response.text() };
}

test('health endpoints answer GET and HEAD only (405 with Allow otherwise)', async () => {
  const server: http.Server = await startHealthServer('127.0.0.1', 0, { notReadyBecause: () => null });
  try {
    const { port, address } = server.address() as AddressInfo;
    assert.equal(address, '127.0.0.1');
    assert.deepEqual(await request(port, 'GET', '/healthz'), { status: 200, body: 'ok\n' });
    assert.deepEqual(await request(port, 'HEAD', '/readyz'), { status: 200, body: '' });
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, { method });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD');
      await response.text();
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('--health-address (alias of --health-host) sets the bind address of the agent', async () => {
  const dir = tempDir();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const run = await runAgent(
    [
      '--watch',
      dir,
      '--state-dir',
      path.join(dir, 'state'),
      '--health-address',
      '127.0.0.1',
      '--health-port',
      String(port),
    ],
    {},
    async () => {
      assert.equal((await request(port, 'GET', '/healthz')).status, 200);
      assert.equal((await request(port, 'POST', '/healthz')).status, 405);
    },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(await usageError(['--watch', dir, '--health-address', '']), /--health-address|--health-host/);
});

test('an all-sources flood limit below the per-source one is a usage error naming both flags', () => {
  const result = runCli([
    'replay',
    'test/fixtures/demo.pcap',
    '--unanswered-spans-per-second',
    '10',
    '--unanswered-spans-per-second-total',
    '5',
  ]);
  assert.equal(result.status, 2);
  assert.match(
    result.stderr,
    /--unanswered-spans-per-second-total \(5\) must be at least --unanswered-spans-per-second \(10\)/,
  );
});
