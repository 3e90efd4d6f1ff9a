import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonLines, runCli } from '../helpers/run-cli.ts';

/** The text blocks, one string per pair (REQ/RES/LATENCY or REQ/NO RESPONSE), sorted. */
function blocks(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n').filter(Boolean)) {
    if (line.startsWith('REQ: ')) out.push(line);
    else out[out.length - 1] += `\n${line}`;
  }
  return out.sort();
}

test('--output text prints the original engine blocks, the same with and without workers', () => {
  const single = runCli(['replay', 'test/fixtures/demo.pcap', '--workers', '0', '--output', 'text', '-q']);
  const parallel = runCli(['replay', 'test/fixtures/demo.pcap', '--workers', '2', '--output', 'text', '-q']);
  assert.equal(single.status, 0, single.stderr);
  const pairs = jsonLines(runCli(['replay', 'test/fixtures/demo.pcap', '--workers', '0', '-q']).stdout);
  const textBlocks = blocks(single.stdout);
  assert.equal(textBlocks.length, pairs.length);
  assert.deepEqual(blocks(parallel.stdout), textBlocks);
  const latencies = textBlocks
    .flatMap((b) => /LATENCY: (\d+) ns/.exec(b)?.[1] ?? [])
    .map(Number)
    .sort((a, b) => a - b);
  const durations = pairs
    .flatMap((p) => (p.duration_ns === undefined ? [] : [p.duration_ns as number]))
    .sort((a, b) => a - b);
  assert.deepEqual(latencies, durations);
  assert.equal(
    textBlocks.filter((b) => b.includes('NO RESPONSE')).length,
    pairs.filter((p) => p.outcome === 'unanswered').length,
  );
});
