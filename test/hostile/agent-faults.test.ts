/**
 * The agent against a hostile host: a compile cache planted by another local user, special
 * files and symlinks in the inputs, corrupt checkpoints, an unusable state directory, a
 * black-holed collector at shutdown. Real CLI processes throughout.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, runCli } from '../helpers/run-cli.ts';

const cli = path.join(repoRoot, 'agent/cli/main.mjs');
const kNobody = 65534;
const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');

/** Runs `wirespan --version` with exactly these cache-related variables. */
function runWithEnv(extra: Record<string, string>): {
  status: number | null;
  stderr: string;
  stdout: string;
} {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.includes('COMPILE_CACHE') || key === 'XDG_CACHE_HOME') continue;
    env[key] = value;
  }
  const result = spawnSync(process.execPath, [cli, '--version'], {
    env: { ...env, ...extra },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((name) =>
    fs.statSync(path.join(dir, name)).isFile(),
  );
}

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

test('compile cache: a private per-user directory is made (0700) and used', () => {
  const base = tempDir('wirespan-xdg-');
  const result = runWithEnv({ XDG_CACHE_HOME: base });
  assert.equal(result.status, 0, result.stderr);
  const dir = path.join(base, 'wirespan', 'compile-cache');
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(base, 'wirespan')).mode & 0o777, 0o700);
  assert.ok(filesUnder(dir).length > 0, 'the cache was written');
  assert.equal(result.stderr, '');
});

test('compile cache: a directory planted by another user is not used', {
  skip: process.getuid?.() !== 0,
}, () => {
  const base = tempDir('wirespan-xdg-');
  const planted = path.join(base, 'wirespan', 'compile-cache');
  fs.mkdirSync(planted, { recursive: true, mode: 0o755 });
  fs.chownSync(path.join(base, 'wirespan'), kNobody, kNobody);
  fs.chownSync(planted, kNobody, kNobody);
  const result = runWithEnv({ XDG_CACHE_HOME: base });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(filesUnder(planted), [], 'nothing read from or written to the planted directory');
  assert.match(result.stderr, /compile cache off: .*owned by uid 65534/);
  assert.equal(result.stderr.trim().split('\n').length, 1, 'one warning');
});

test('compile cache: a group/world-writable WIRESPAN_COMPILE_CACHE is not used', () => {
  const dir = tempDir('wirespan-cc-');
  fs.chmodSync(dir, 0o777);
  const result = runWithEnv({ WIRESPAN_COMPILE_CACHE: dir });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(filesUnder(dir), []);
  assert.match(result.stderr, /compile cache off: .*may write it \(mode 777\)/);
  // The same directory made private is used: the check is what kept the cache out.
  fs.chmodSync(dir, 0o700);
  const ok = runWithEnv({ WIRESPAN_COMPILE_CACHE: dir });
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(filesUnder(dir).length > 0);
});

test('compile cache: NODE_COMPILE_CACHE planted by another user makes wirespan restart without it', {
  skip: process.getuid?.() !== 0,
}, () => {
  const good = tempDir('wirespan-ncc-');
  const control = runWithEnv({ NODE_COMPILE_CACHE: good });
  assert.equal(control.status, 0, control.stderr);
  const cachedModules = filesUnder(good).length;
  assert.ok(cachedModules > 1);

  const planted = tempDir('wirespan-ncc-');
  fs.chownSync(planted, kNobody, kNobody);
  fs.chmodSync(planted, 0o777);
  const result = runWithEnv({ NODE_COMPILE_CACHE: planted });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), control.stdout.trim());
  assert.match(result.stderr, /NODE_COMPILE_CACHE .* owned by uid 65534.*restarting without it/);
  // Node itself applied it to the entry file before wirespan could look; nothing after that.
  assert.ok(filesUnder(planted).length <= 1, filesUnder(planted).join(','));
});

test('corrupt checkpoints: each one named, with what is wrong and what to do; no stack trace', () => {
  const watch = tempDir('wirespan-watch-');
  const state = tempDir('wirespan-state-');
  const cases: [string, RegExp][] = [
    [
      '{"version":1,"directories":[{"dir":"x","done":5,"current":null}]}',
      /directories\[0\]\.done: expected an array/,
    ],
    ['{"version":1,"directories":[{"dir":"x","done":[null],"current":null}]}', /directories\[0\]\.done\[0\]/],
    [
      '{"version":1,"directories":[{"dir":5,"done":[],"current":null}]}',
      /directories\[0\]\.dir: expected a string/,
    ],
    [
      '{"version":1,"directories":[{"dir":"x","done":[],"current":{"path":"p","dev":1,"ino":2,"offset":-4}}]}',
      /current\.offset: expected a non-negative integer/,
    ],
    ['{"version":2,"directories":[]}', /version: expected 1/],
    ['', /not JSON/],
    ['\u0000\u00ff random bytes', /not JSON/],
    ['[]', /expected a JSON object/],
  ];
  const file = path.join(state, 'checkpoint.json');
  for (const [text, problem] of cases) {
    fs.writeFileSync(file, text);
    const result = runCli(['run', '--watch', watch, '--state-dir', state, '--health-port', '0']);
    assert.equal(result.status, 1, `${text}: ${result.stderr}`);
    assert.ok(result.stderr.includes(`checkpoint ${file} is not valid`), result.stderr);
    assert.match(result.stderr, problem);
    assert.match(result.stderr, /move it away to start over/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--state-dir that cannot be made: one clear error naming the path and errno, at once', () => {
  const watch = tempDir('wirespan-watch-');
  const started = Date.now();
  // Node's own recursive mkdir loops forever on this path.
  const result = runCli([
    'run',
    '--watch',
    watch,
    '--state-dir',
    '/proc/wirespan-x/state',
    '--health-port',
    '0',
  ]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /cannot use state directory \/proc\/wirespan-x\/state: .*ENOENT/);
  assert.ok(Date.now() - started < 60_000);
  const file = path.join(watch, 'a-file');
  fs.writeFileSync(file, 'x');
  const notDir = runCli([
    'run',
    '--watch',
    watch,
    '--state-dir',
    path.join(file, 'sub'),
    '--health-port',
    '0',
  ]);
  assert.equal(notDir.status, 1);
  assert.match(notDir.stderr, /cannot use state directory .*a-file\/sub: .*ENOTDIR/);
});

/** A collector that accepts TCP connections and never answers (not even the HTTP/2 preface). */
async function blackHole(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function startAgent(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [cli, 'run', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function waitFor(condition: () => boolean, what: string, timeoutMillis = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('SIGTERM with a black-holed collector: exits within --shutdown-timeout + a few seconds, checkpoint safe', async () => {
  const hole = await blackHole();
  const watch = tempDir('wirespan-watch-');
  const state = tempDir('wirespan-state-');
  // Several copies so that the (small) export queue fills and the reader waits for room.
  for (let i = 0; i < 4; i++) fs.copyFileSync(demo, path.join(watch, `cap${i}.pcap`));
  const shutdownTimeout = 2;
  const agent = startAgent(
    [
      '--watch',
      watch,
      '--state-dir',
      state,
      '--otlp',
      `http://127.0.0.1:${hole.port}`,
      '--grace',
      '0.2',
      '--health-port',
      '0',
      '--shutdown-timeout',
      String(shutdownTimeout),
    ],
    { OTEL_BSP_MAX_QUEUE_SIZE: '8', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4' },
  );
  let stoppedAt = 0;
  try {
    await waitFor(() => agent.stderr().includes('reading capture file'), 'a file to be read');
    // Blocked on the export queue now (or soon): give it time to get there.
    await sleep(1500);
  } finally {
    stoppedAt = Date.now();
    agent.child.kill('SIGTERM');
  }
  const code = await agent.exited;
  const took = Date.now() - stoppedAt;
  await hole.close();
  assert.equal(code, 1, agent.stderr());
  // Generous for a loaded machine: the agent itself stops at shutdown-timeout + 3 s at the latest.
  assert.ok(took < (shutdownTimeout + 12) * 1000, `took ${took} ms\n${agent.stderr()}`);
  const checkpoint = JSON.parse(fs.readFileSync(path.join(state, 'checkpoint.json'), 'utf8'));
  // Nothing was exported: the checkpoint must not claim any file or position as done.
  assert.equal(checkpoint.directories.length, 1);
  assert.deepEqual(checkpoint.directories[0].done, []);
  assert.ok(
    checkpoint.directories[0].current === null || checkpoint.directories[0].current.offset === 0,
    JSON.stringify(checkpoint),
  );
  assert.match(agent.stderr(), /the checkpoint stays at the last point|shutdown did not finish in time/);
});
