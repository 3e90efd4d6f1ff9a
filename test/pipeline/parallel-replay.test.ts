import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { replayParallel } from '../../agent/pipeline/parallel-replay.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

const capture = path.join(corpusDir, 'http/pcapplusplus--http-packets.pcap');

test('a tiny pool (2 slots of 4 KiB) makes the reader wait for every chunk, and nothing is lost', async () => {
  let text = '';
  const result = await replayParallel({
    files: [capture],
    workers: 2,
    options: defaultCorrelateOptions(),
    output: 'jsonl',
    writeOutput: (bytes) => {
      text += new TextDecoder().decode(bytes);
    },
    onPairs: null,
    onStats: null,
    statsIntervalMillis: 0,
    slots: 2,
    slotBytes: 4096,
  });
  assert.equal(result.failure, null);
  const expected = replayPairs([capture])
    .json.map((pair) => JSON.stringify(pair))
    .sort();
  const lines = text.split('\n').filter(Boolean).sort();
  assert.equal(lines.length, expected.length);
  assert.deepEqual(lines, expected);
  assert.equal(result.workers[0]?.packets, 1985);
});

test('a worker that fails is reported with its error and the run ends (no hang)', async () => {
  const options = defaultCorrelateOptions();
  // The relay matcher rejects this CIDR when the worker builds its correlator: the worker throws.
  options.relay.enabled = true;
  options.relay.internalNetworks = ['10.0.0.0/99'];
  const result = await replayParallel({
    files: [capture],
    workers: 2,
    options,
    output: 'none',
    writeOutput: () => {},
    onPairs: null,
    onStats: null,
    statsIntervalMillis: 0,
  });
  assert.match(result.failure ?? '', /worker \d failed: .*10\.0\.0\.0\/99/s);
});

test('pair objects can be posted to the main thread (for exporters) with all their fields', async () => {
  const pairs: unknown[] = [];
  const result = await replayParallel({
    files: [capture],
    workers: 2,
    options: defaultCorrelateOptions(),
    output: 'none',
    writeOutput: () => {},
    onPairs: (batch) => pairs.push(...batch),
    onStats: null,
    statsIntervalMillis: 0,
  });
  assert.equal(result.failure, null);
  const reference = replayPairs([capture]).pairs;
  assert.equal(pairs.length, reference.length);
  const first = pairs.find((p) => (p as { protocol: string }).protocol === 'http') as {
    request: { firstSeconds: number; firstNanos: number };
    detail: { method: string };
  };
  assert.equal(typeof first.request.firstSeconds, 'number');
  assert.equal(typeof first.detail.method, 'string');
});
