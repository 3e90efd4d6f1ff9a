/**
 * `wirespan run` restarts itself once (execve, same process id) with a small young generation
 * for the main thread (agent/cli/main.mjs: the sidecar's peak RSS) and a floor under the
 * old-generation limit (full GCs driven by request buffers), each unless the user gave that
 * flag, and with GLIBC_TUNABLES that keep freed request buffers in the
 * allocator, unless the user set GLIBC_TUNABLES. `replay --otlp` restarts with the same floor and
 * tunables (not the young generation); other commands keep the defaults.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { restartSettings } from '../../agent/cli/restart-settings.mjs';
import { repoRoot } from '../helpers/run-cli.ts';

const main = path.join(repoRoot, 'agent/cli/main.mjs');

/** The command line and environment /proc shows for a CLI process once it is watching, then SIGTERM. */
async function runningProcess(
  nodeArgs: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ cmdline: string[]; environ: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-young-'));
  const child = spawn(
    process.execPath,
    [...nodeArgs, main, 'run', '--watch', dir, '--state-dir', path.join(dir, 'state'), '--health-port', '0'],
    { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    for (let i = 0; i < 300 && !stderr.includes('"watching"'); i++) await sleep(100);
    assert.ok(stderr.includes('"watching"'), stderr);
    // The same process (execve keeps the id), now with its new command line.
    const read = (file: string) =>
      fs.readFileSync(`/proc/${child.pid}/${file}`, 'utf8').split('\0').filter(Boolean);
    return { cmdline: read('cmdline'), environ: read('environ') };
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('run restarts with 4 MiB semi-spaces and a 64 MB old-generation floor; a flag the user gives is left alone', {
  skip: process.platform !== 'linux',
}, async () => {
  const named = (cmdline: string[], name: string) => cmdline.filter((arg) => arg.startsWith(name));
  const plain = (await runningProcess([])).cmdline;
  assert.deepEqual(named(plain, '--max-semi-space-size'), ['--max-semi-space-size=4'], plain.join(' '));
  assert.deepEqual(
    named(plain, '--initial-old-space-size'),
    ['--initial-old-space-size=64'],
    plain.join(' '),
  );
  const given = (await runningProcess(['--max-semi-space-size=16'])).cmdline;
  assert.deepEqual(named(given, '--max-semi-space-size'), ['--max-semi-space-size=16']);
  assert.deepEqual(named(given, '--initial-old-space-size'), ['--initial-old-space-size=64']);
  const oldGiven = (await runningProcess(['--initial-old-space-size=128'])).cmdline;
  assert.deepEqual(named(oldGiven, '--initial-old-space-size'), ['--initial-old-space-size=128']);
  assert.deepEqual(named(oldGiven, '--max-semi-space-size'), ['--max-semi-space-size=4']);
  const fromEnv = (await runningProcess([], { ...process.env, NODE_OPTIONS: '--max-semi-space-size=8' }))
    .cmdline;
  assert.deepEqual(named(fromEnv, '--max-semi-space-size'), [], fromEnv.join(' '));
});

test('run restarts with malloc tunables that keep freed buffers; tunables the user sets are left alone', {
  skip: process.platform !== 'linux',
}, async () => {
  const withoutUsers = { ...process.env };
  delete withoutUsers.GLIBC_TUNABLES;
  const tunables = (environ: string[]) => environ.filter((entry) => entry.startsWith('GLIBC_TUNABLES='));
  const plain = await runningProcess([], withoutUsers);
  // glibc cuts /proc/<pid>/environ's copy after the first tunable it parsed: compare that much.
  const ours = tunables(plain.environ);
  assert.equal(ours.length, 1, plain.environ.join(' '));
  assert.ok(ours[0]!.startsWith('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432'), ours[0]);
  // Also when only the young generation was given (the restart still happens, for the tunables).
  const semiGiven = await runningProcess(['--max-semi-space-size=16'], withoutUsers);
  assert.equal(tunables(semiGiven.environ).length, 1, semiGiven.environ.join(' '));
  const users = await runningProcess([], { ...withoutUsers, GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' });
  assert.deepEqual(tunables(users.environ), ['GLIBC_TUNABLES=glibc.malloc.arena_max=2']);
  assert.ok(users.cmdline.includes('--max-semi-space-size=4'), users.cmdline.join(' '));
});

test('restartSettings: run and replay --otlp get their settings, other commands none', () => {
  const env = { PATH: '/usr/bin' };
  const tunables = {
    GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456',
  };
  const argv = (...args: string[]) => ['node', 'main.mjs', ...args];
  assert.deepEqual(restartSettings(argv('run', '--watch', '/d'), [], env), {
    flags: ['--max-semi-space-size=4', '--initial-old-space-size=64'],
    env: tunables,
  });
  const exporting = { flags: ['--initial-old-space-size=64'], env: tunables };
  assert.deepEqual(restartSettings(argv('replay', 'a.pcap', '--otlp'), [], env), exporting);
  assert.deepEqual(restartSettings(argv('replay', 'a.pcap', '--otlp', 'http://c:4317'), [], env), exporting);
  assert.deepEqual(restartSettings(argv('replay', 'a.pcap', '--otlp=http://c:4317'), [], env), exporting);
  assert.equal(restartSettings(argv('replay', 'a.pcap', '--output', 'jsonl:x'), [], env), null);
  assert.equal(restartSettings(argv('report', 'a.pcap', '--otlp'), [], env), null);
  assert.equal(restartSettings(argv('--help'), [], env), null);
  // What the user set wins, and with everything set there is no restart.
  assert.equal(
    restartSettings(argv('replay', 'a.pcap', '--otlp'), ['--initial-old-space-size=32'], {
      ...env,
      GLIBC_TUNABLES: 'glibc.malloc.arena_max=2',
    }),
    null,
  );
  assert.deepEqual(restartSettings(argv('run'), ['--initial-old-space-size=32'], { ...env, ...tunables }), {
    flags: ['--max-semi-space-size=4'],
    env: {},
  });
});

test('replay --otlp restarts with the old-generation floor and the malloc tunables, not the young generation', {
  skip: process.platform !== 'linux',
}, async () => {
  // A collector that accepts connections and never answers: the export waits while /proc is read.
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as net.AddressInfo).port;
  const withoutUsers = { ...process.env };
  delete withoutUsers.GLIBC_TUNABLES;
  const child = spawn(
    process.execPath,
    [
      main,
      'replay',
      path.join(repoRoot, 'test/fixtures/demo.pcap'),
      '--output',
      'none',
      '--otlp',
      `http://127.0.0.1:${port}`,
    ],
    { cwd: repoRoot, env: withoutUsers, stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    const read = (file: string) =>
      fs.readFileSync(`/proc/${child.pid}/${file}`, 'utf8').split('\0').filter(Boolean);
    let cmdline: string[] = [];
    for (let i = 0; i < 100 && !cmdline.includes('--initial-old-space-size=64'); i++) {
      await sleep(50);
      cmdline = read('cmdline');
    }
    assert.ok(cmdline.includes('--initial-old-space-size=64'), cmdline.join(' '));
    assert.ok(!cmdline.some((arg) => arg.startsWith('--max-semi-space-size')), cmdline.join(' '));
    const tunables = read('environ').filter((entry) => entry.startsWith('GLIBC_TUNABLES='));
    assert.equal(tunables.length, 1);
    assert.ok(tunables[0]!.startsWith('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432'), tunables[0]);
  } finally {
    child.kill('SIGKILL');
    await exited;
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
