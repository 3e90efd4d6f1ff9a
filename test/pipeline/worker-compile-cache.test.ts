/**
 * Workers use the main thread's compile cache directory (private, checked by main.mjs) and
 * never Node's default for a worker, a shared node-compile-cache directory in the system
 * temp directory (where anyone could plant compiled code).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/run-cli.ts';

const cli = path.join(repoRoot, 'agent/cli/main.mjs');
const capture = path.join(repoRoot, 'test/fixtures/demo.pcap');

function countFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) n++;
  return n;
}

test('--workers 2: the workers cache compiled code in the main thread’s directory, nothing in the temp directory', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-cache-'));
  try {
    const tmp = path.join(root, 'tmp');
    const cache = path.join(root, 'cache');
    fs.mkdirSync(tmp);
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, WIRESPAN_COMPILE_CACHE: cache };
    delete env.NODE_COMPILE_CACHE;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const run = (workers: string) =>
      spawnSync(process.execPath, [cli, 'replay', capture, '--workers', workers, '--output', 'none'], {
        env,
        encoding: 'utf8',
        timeout: 120_000,
      });
    const single = run('0');
    assert.equal(single.status, 0, single.stderr);
    const mainOnly = countFiles(cache);
    assert.ok(mainOnly > 0, 'the main thread caches in WIRESPAN_COMPILE_CACHE');
    const parallel = run('2');
    assert.equal(parallel.status, 0, parallel.stderr);
    // Modules only workers load (worker-main.ts...) land in the same directory.
    assert.ok(countFiles(cache) > mainOnly, `worker modules cached: ${countFiles(cache)} vs ${mainOnly}`);
    assert.deepEqual(fs.readdirSync(tmp), [], 'nothing in the temp directory');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
