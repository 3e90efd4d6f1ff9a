/** The allocation-sampling tool (performance.md "How to profile") writes a profile and sums it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/run-cli.ts';

const tool = path.join(repoRoot, 'test/tools/allocation-sampling.mjs');

test('allocation sampling: a run writes a profile of the bytes it allocated, collected ones included', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-alloc-'));
  try {
    const profile = path.join(dir, 'run.heapprofile');
    const run = spawnSync(
      process.execPath,
      // ~100 MB of arrays, each garbage as soon as the next one is made.
      ['--import', tool, '-e', 'for (let i = 0; i < 1e6; i++) globalThis.last = new Array(8).fill(i);'],
      { cwd: repoRoot, env: { ...process.env, ALLOCATION_PROFILE: profile }, encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    const summed = spawnSync(process.execPath, [tool, profile, '1'], { encoding: 'utf8' });
    assert.equal(summed.status, 0, summed.stderr);
    const [first, ...top] = summed.stdout.trim().split('\n');
    const total = Number(/^([\d.]+) MB allocated in all$/.exec(first!)?.[1]);
    // Only what is alive at exit would be a few MB.
    assert.ok(total > 50, summed.stdout);
    // The loop's function first.
    assert.equal(top.length, 1, summed.stdout);
    assert.match(top[0]!, /^\s+[\d.]+ MB {2}\(anonymous\) \[eval\]:1$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
