/**
 * The worker pipeline gives the same pairs whatever the worker count: --workers 0 (one
 * thread, the reference), 1, 2 and 4 produce the same set of JSONL lines (order may differ).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { corpusDir } from '../helpers/corpus.ts';
import { runCli } from '../helpers/run-cli.ts';

function sortedLines(args: string[]): string[] {
  const result = runCli(args);
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter(Boolean).sort();
}

const inputs = [
  ['http', path.join(corpusDir, 'http')],
  ['dns', path.join(corpusDir, 'dns')],
  ['linktypes', path.join(corpusDir, 'linktypes')],
  ['demo', 'test/fixtures/demo.pcap'],
] as const;

for (const [name, input] of inputs) {
  test(`${name}: --workers 0, 1, 2 and 4 emit the same pairs`, () => {
    const reference = sortedLines([
      'replay',
      input,
      '--workers',
      '0',
      '--relay',
      '--internal-networks',
      '10.0.0.0/8',
    ]);
    assert.ok(reference.length > 0);
    for (const workers of ['1', '2', '4']) {
      const lines = sortedLines([
        'replay',
        input,
        '--workers',
        workers,
        '--relay',
        '--internal-networks',
        '10.0.0.0/8',
      ]);
      assert.deepEqual(lines, reference, `--workers ${workers}`);
    }
  });
}

test('the summary says how many workers ran and counts the same pairs', () => {
  const single = runCli(['replay', path.join(corpusDir, 'http'), '--workers', '0', '--output', 'none']);
  const parallel = runCli(['replay', path.join(corpusDir, 'http'), '--workers', '2', '--output', 'none']);
  assert.match(single.stderr, /one thread/);
  assert.match(parallel.stderr, /2 workers/);
  const pairsLine = (text: string) => text.split('\n').find((line) => line.includes('pairs:'));
  assert.equal(pairsLine(parallel.stderr), pairsLine(single.stderr));
});
