/**
 * Every capture of tcpdump's and PcapPlusPlus's test suites (1,003 files, many malformed on
 * purpose; test/fixtures/public/MANIFEST.md) goes through replay, with and without workers, and
 * through report: each run must end normally, read every file and print no stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, runCli } from '../helpers/run-cli.ts';

const archives = ['tcpdump', 'pcapplusplus-1', 'pcapplusplus-2', 'pcapplusplus-3'];
let work = '';
let dirs: string[] = [];
let fileCount = 0;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-public-'));
  for (const name of archives) {
    const archive = path.join(repoRoot, 'test/fixtures/public', `${name}.tar.xz`);
    const tar = spawnSync('tar', ['-xJf', archive, '-C', work], { encoding: 'utf8' });
    assert.equal(tar.status, 0, `tar -xJf ${archive}: ${tar.stderr}`);
  }
  dirs = archives.map((name) => path.join(work, name));
  fileCount = dirs.reduce((sum, dir) => sum + fs.readdirSync(dir).length, 0);
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A crash, an uncaught exception or an internal error shows up as a stack frame or "Error". */
function assertCleanRun(result: { status: number | null; stderr: string }, what: string): void {
  assert.equal(result.status, 0, `${what} exit status ${result.status}\n${result.stderr.slice(-4000)}`);
  assert.doesNotMatch(result.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${what} printed a stack trace`);
  assert.doesNotMatch(result.stderr, /\b(TypeError|RangeError|ReferenceError|FATAL|heap out of memory)\b/);
}

test('the archives hold the whole public corpus', () => {
  assert.equal(fileCount, 1003);
});

for (const workers of ['0', '2']) {
  test(`replay --workers ${workers} reads every public capture to the end without crashing`, () => {
    const output = path.join(work, `pairs-${workers}.jsonl`);
    const result = runCli([
      'replay',
      ...dirs,
      '--workers',
      workers,
      '--output',
      `jsonl:${output}`,
      '--summary',
      'json',
    ]);
    assertCleanRun(result, `replay --workers ${workers}`);
    const summary = JSON.parse(result.stderr.trim().split('\n').at(-1)!) as {
      files: number;
      files_read: number;
      errors: unknown[];
    };
    assert.deepEqual([summary.files, summary.files_read], [fileCount, fileCount]);
    const lines = fs.readFileSync(output, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length > 1000, `pairs written: ${lines.length}`);
    for (const line of lines) JSON.parse(line);
  });
}

test('report renders the whole public corpus', () => {
  const html = path.join(work, 'report.html');
  const result = runCli(['report', ...dirs, '-o', html]);
  assertCleanRun(result, 'report');
  assert.ok(fs.statSync(html).size > 10_000);
});
