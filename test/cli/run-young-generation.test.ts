/**
 * `wirespan run` restarts itself once (execve, same process id) with a small young generation
 * for the main thread (agent/cli/main.mjs: the sidecar's peak RSS), unless the user gave
 * --max-semi-space-size; other commands keep V8's own sizing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../helpers/run-cli.ts';

const main = path.join(repoRoot, 'agent/cli/main.mjs');

/** The command line /proc shows for a CLI process once it is watching, then SIGTERM. */
async function runningCommandLine(
  nodeArgs: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
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
    return fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('run restarts with 4 MiB semi-spaces; a size the user gives is left alone', {
  skip: process.platform !== 'linux',
}, async () => {
  const plain = await runningCommandLine([]);
  assert.ok(plain.includes('--max-semi-space-size=4'), plain.join(' '));
  assert.equal(plain.filter((arg) => arg.startsWith('--max-semi-space-size')).length, 1);
  const given = await runningCommandLine(['--max-semi-space-size=16']);
  assert.deepEqual(
    given.filter((arg) => arg.startsWith('--max-semi-space-size')),
    ['--max-semi-space-size=16'],
  );
  const fromEnv = await runningCommandLine([], { ...process.env, NODE_OPTIONS: '--max-semi-space-size=8' });
  assert.ok(!fromEnv.some((arg) => arg.startsWith('--max-semi-space-size')), fromEnv.join(' '));
});
