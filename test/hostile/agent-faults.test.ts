/**
 * The agent against a hostile host: a compile cache planted by another local user, special
 * files and symlinks in the inputs, corrupt checkpoints, an unusable state directory, a
 * black-holed collector at shutdown. Real CLI processes throughout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, runCli, startAgent } from '../helpers/run-cli.ts';

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

test('replay: a FIFO or a device is a clear error at once, with or without workers', () => {
  const fifo = path.join(tempDir('wirespan-fifo-'), 'pipe.pcap');
  spawnSync('mkfifo', [fifo]);
  for (const input of [fifo, '/dev/zero']) {
    for (const workers of ['0', '2']) {
      const result = runCli(['replay', input, '--workers', workers]);
      assert.equal(result.status, 1, `${input} --workers ${workers}: ${result.stderr}`);
      assert.match(result.stderr, /not a regular file/);
    }
  }
});

function logEntries(stderr: string, message: RegExp): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => message.test(String(entry.msg)));
}

test('run: symlinks and special files in the watch directory are ignored (logged once); a backlog of finished files is read without one grace per file; a file read and then deleted is not lost', async () => {
  const watch = tempDir('wirespan-watch-');
  const outside = tempDir('wirespan-outside-');
  const secret = path.join(outside, 'secret.pcap');
  fs.copyFileSync(demo, secret);
  fs.symlinkSync(secret, path.join(watch, 'link-out.pcap'));
  spawnSync('mkfifo', [path.join(watch, 'fifo.pcap')]);
  // A backlog: 10 finished files with old mtimes; --grace 5 would take 50 s at one per grace.
  const old = Date.now() / 1000 - 3600;
  for (let i = 0; i < 10; i++) {
    const file = path.join(watch, `cap${i}.pcap`);
    fs.copyFileSync(demo, file);
    fs.utimesSync(file, old + i, old + i);
  }
  // Many non-capture files: classified once, not reopened at every look.
  for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(watch, `note${i}.txt`), 'not a capture');
  const state = tempDir('wirespan-state-');
  const started = Date.now();
  const agent = startAgent([
    '--watch',
    watch,
    '--state-dir',
    state,
    '--grace',
    '5',
    '--health-port',
    '0',
    '--stats-interval',
    '1',
  ]);
  try {
    // cap9 is the newest: it has no successor and stays open; cap0..cap8 are finished.
    await waitFor(() => agent.stderr().includes('cap9.pcap'), 'the backlog to be read', 40_000);
    const took = Date.now() - started;
    assert.ok(took < 30_000, `backlog took ${took} ms`);
    // Deleted after it was read to its end (still open, waiting for a successor): not lost.
    fs.unlinkSync(path.join(watch, 'cap9.pcap'));
    await waitFor(() => /reading the rest of it/.test(agent.stderr()), 'the removal to be seen');
    await sleep(1500);
  } finally {
    agent.child.kill('SIGTERM');
  }
  assert.equal(await agent.exited, 0, agent.stderr());
  const stderr = agent.stderr();
  assert.equal(logEntries(stderr, /ignoring symbolic link/).length, 1, stderr);
  assert.equal(logEntries(stderr, /ignoring special file/).length, 1, stderr);
  assert.doesNotMatch(stderr, /secret\.pcap/, 'the link target is never named, never read');
  assert.equal(logEntries(stderr, /reading capture file/).length, 10);
  assert.equal(logEntries(stderr, /capture file lost/).length, 0, stderr);
  const stopped = logEntries(stderr, /^stopped$/)[0]!;
  assert.deepEqual((stopped.files as Record<string, number>).lost, 0);
  assert.equal((stopped.files as Record<string, number>).done, 10, stderr);
});

test('run: a file truncated in place is not read again from the start; an unreadable entry is an error line and a counter', {
  skip: process.getuid?.() !== 0,
}, async () => {
  const watch = tempDir('wirespan-watch-');
  fs.chmodSync(watch, 0o755);
  const state = tempDir('wirespan-state-');
  fs.chownSync(state, kNobody, kNobody);
  const out = path.join(tempDir('wirespan-out-'), 'pairs.jsonl');
  fs.chownSync(path.dirname(out), kNobody, kNobody);
  const bytes = fs.readFileSync(demo);
  const first = path.join(watch, 'cap0.pcap');
  fs.writeFileSync(first, bytes);
  // Tests run as root, which EACCES does not stop: the agent runs as nobody here, and this
  // capture is readable by root only.
  const locked = path.join(watch, 'cap1.pcap');
  fs.writeFileSync(locked, bytes);
  fs.chmodSync(locked, 0o600);
  const agent = startAgent(
    [
      '--watch',
      watch,
      '--state-dir',
      state,
      '--grace',
      '60',
      '--health-port',
      '0',
      '--output',
      `jsonl:${out}`,
    ],
    { HOME: '/nonexistent' },
    kNobody,
  );
  try {
    await waitFor(
      () => /cannot read capture directory entry/.test(agent.stderr()),
      'the unreadable file',
    ).catch((e) => {
      throw new Error(`${e.message}: ${agent.stderr()}`);
    });
    await waitFor(() => agent.stderr().includes('reading capture file'), 'cap0 to be read');
    await sleep(1000);
    // Truncated in place to about half, after it was read (still open: no successor it can read).
    fs.truncateSync(first, Math.floor(bytes.length / 2));
    await waitFor(() => /truncated in place/.test(agent.stderr()), 'the truncation to be seen');
    await sleep(1500);
  } finally {
    agent.child.kill('SIGTERM');
  }
  assert.equal(await agent.exited, 0, agent.stderr());
  const stderr = agent.stderr();
  const unreadable = logEntries(stderr, /cannot read capture directory entry/);
  assert.equal(unreadable.length, 1, stderr);
  assert.match(String(unreadable[0]!.error), /EACCES/);
  assert.equal(logEntries(stderr, /reading capture file/).length, 1, `read once only\n${stderr}`);
  const expected = runCli(['replay', demo, '--workers', '0']).stdout.split('\n').filter(Boolean).length;
  const got = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
  assert.equal(got, expected, 'no pair twice');
  const stopped = logEntries(stderr, /^stopped$/)[0]!;
  assert.equal((stopped.files as Record<string, number>).error, 1, stderr);
});
