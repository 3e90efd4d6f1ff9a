/**
 * `wirespan replay`'s progress bar: drawn on a terminal (a pseudo-TTY from util-linux
 * `script`), never on a pipe or with --quiet.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot, runCli } from '../helpers/run-cli.ts';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const cli = path.join(repoRoot, 'agent/cli/main.mjs');
/** What only the bar prints (the summary says "packets/s" too, but never "ETA"). */
const bar = /wirespan [█░]+ +\d+% \| [\d.]+\/[\d.]+ MiB \| [\d,]+ packets\/s \| [\d,]+ pairs \| ETA /;

const quote = (arg: string): string => `'${arg.replaceAll("'", "'\\''")}'`;

/** Runs the CLI with stdout and stderr on a pseudo-terminal; returns what the terminal got. */
function runOnTty(args: string[]): { status: number | null; output: string } {
  const command = [process.execPath, cli, ...args].map(quote).join(' ');
  const result = spawnSync('script', ['-qfec', command, '/dev/null'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TERM: 'xterm', COLUMNS: '160' },
  });
  return { status: result.status, output: result.stdout };
}

for (const workers of ['0', '2']) {
  test(`the progress bar is drawn on a terminal (--workers ${workers})`, {
    skip: !hasScript && 'no script(1)',
  }, () => {
    const { status, output } = runOnTty([
      'replay',
      'test/fixtures/corpus/dns',
      '-o',
      'none',
      '--workers',
      workers,
    ]);
    assert.equal(status, 0, output);
    assert.match(output, bar);
    // The bar is cleared before the summary, which still follows in full.
    assert.match(output, /wirespan: 14 files/);
    assert.match(output, /latency by protocol/);
  });
}

test('no progress bar with --quiet on a terminal', { skip: !hasScript && 'no script(1)' }, () => {
  const { status, output } = runOnTty(['replay', 'test/fixtures/corpus/dns', '-o', 'none', '--quiet']);
  assert.equal(status, 0, output);
  assert.doesNotMatch(output, /ETA/);
  assert.equal(output.trim(), '');
});

test('no progress bar on a pipe, in either pipeline mode', () => {
  for (const workers of ['0', '2']) {
    const result = runCli(['replay', 'test/fixtures/corpus/dns', '-o', 'none', '--workers', workers]);
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /ETA/);
    assert.ok(!result.stderr.includes('\u001b'), 'no terminal escapes on a pipe');
    assert.match(result.stderr, /^wirespan: 14 files/);
  }
});

test('--no-progress turns the bar off on a terminal', { skip: !hasScript && 'no script(1)' }, () => {
  const { output } = runOnTty(['replay', 'test/fixtures/corpus/dns', '-o', 'none', '--no-progress']);
  assert.doesNotMatch(output, /ETA/);
  assert.match(output, /wirespan: 14 files/);
});

test('--progress on a pipe: plain progress lines, no terminal escapes', () => {
  const result = runCli(['replay', 'test/fixtures/demo.pcap', '-o', 'none', '--progress']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, bar);
  assert.ok(!result.stderr.includes('\u001b'), 'no terminal escapes');
  assert.match(result.stderr, /^wirespan: 1 files/m);
});
