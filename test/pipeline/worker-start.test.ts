/**
 * The worker pipeline's two steps (`run` spawns its workers before it builds the exporter):
 * workers spawned long before they are told where their pairs go give the same pairs; a
 * worker that fails before then aborts the pipeline with its reason; a pipeline whose start
 * does not go on is stopped without a failure and leaves no thread behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileByteSource } from '../../agent/capture/byte-source.ts';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { TailPublisher } from '../../agent/pipeline/tail-publisher.ts';
import { WorkerPipeline } from '../../agent/pipeline/worker-pipeline.ts';
import { jsonLines, repoRoot, runCli } from '../helpers/run-cli.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');

/** The options a worker cannot build its correlator with: the relay matcher rejects the CIDR. */
function unbuildable(): ReturnType<typeof defaultCorrelateOptions> {
  const options = defaultCorrelateOptions();
  options.relay.enabled = true;
  options.relay.internalNetworks = ['10.0.0.0/99'];
  return options;
}

for (const workers of [1, 2]) {
  test(`${workers} worker(s) configured a second after they were spawned (modules loaded, loops built): the pairs replay finds`, async () => {
    let text = '';
    const decoder = new TextDecoder();
    // As `run` spawns them: the file table grows, its names come on the ports of the configuration.
    const pipeline = new WorkerPipeline({
      workers,
      options: defaultCorrelateOptions(),
      statsIntervalMillis: 0,
      reportProcessed: true,
      slots: 4,
      slotBytes: 4096,
    });
    try {
      // Long enough for the workers to wait for their configuration (their start takes ~0.35 s).
      await sleep(1000);
      assert.equal(pipeline.failure, null);
      pipeline.configure({
        files: [],
        output: 'jsonl',
        writeOutput: (bytes) => {
          text += decoder.decode(bytes);
        },
        onPairs: null,
      });
      const publisher = new TailPublisher(pipeline);
      const source = new FileByteSource(demo, true);
      publisher.range(0, demo, source, 0, fs.statSync(demo).size, 0, 0, true, true);
      publisher.closeSource(source);
      assert.equal(await publisher.flush(), true);
      await pipeline.end();
      assert.equal(pipeline.failure, null);
      const expected = runCli(['replay', demo, '--workers', '0']).stdout;
      assert.ok(jsonLines(expected).length > 10);
      // The names port came with the configuration: every line names the file.
      assert.deepEqual(text.split('\n').filter(Boolean).sort(), expected.split('\n').filter(Boolean).sort());
    } finally {
      await pipeline.terminate();
    }
  });
}

test('a worker that fails before its configuration arrives aborts the pipeline with its reason; terminate() ends it', async () => {
  const failures: string[] = [];
  const pipeline = new WorkerPipeline({
    workers: 2,
    options: unbuildable(),
    statsIntervalMillis: 0,
    reportProcessed: true,
    onFailure: (message) => failures.push(message),
  });
  const deadline = Date.now() + 30_000; // hang guard only
  while (failures.length === 0) {
    assert.ok(Date.now() < deadline, 'no failure reported');
    await sleep(10);
  }
  assert.equal(failures.length, 1, 'reported once');
  assert.match(failures[0]!, /worker \d failed: .*10\.0\.0\.0\/99/s);
  assert.equal(pipeline.failure, failures[0]);
  assert.equal(pipeline.producer.aborted, true);
  assert.equal(await pipeline.acquire(), -1, 'nothing more is published');
  await pipeline.terminate();
});

test('a pipeline never configured (its start did not go on) is stopped by terminate(), which is no failure', async () => {
  const failures: string[] = [];
  const pipeline = new WorkerPipeline({
    workers: 2,
    options: defaultCorrelateOptions(),
    statsIntervalMillis: 0,
    reportProcessed: true,
    onFailure: (message) => failures.push(message),
  });
  await sleep(500);
  // Resolves once both threads are gone (a thread left would also keep this test's process alive).
  await pipeline.terminate();
  await sleep(50);
  assert.deepEqual(failures, []);
  assert.equal(pipeline.failure, null);
});
