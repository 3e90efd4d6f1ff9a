/**
 * The worker pipeline's two steps (`run` spawns its workers before it builds the exporter;
 * worker-watermark.test.ts: workers configured late give the same lines): a worker that fails
 * before its configuration arrives aborts the pipeline with its reason; a pipeline whose start
 * does not go on is stopped without a failure and leaves no thread behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { WorkerPipeline } from '../../agent/pipeline/worker-pipeline.ts';

/** The options a worker cannot build its correlator with: the relay matcher rejects the CIDR. */
function unbuildable(): CorrelateOptions {
  const options = defaultCorrelateOptions();
  options.relay.enabled = true;
  options.relay.internalNetworks = ['10.0.0.0/99'];
  return options;
}

/** Two workers spawned as `run` spawns them, never configured; the failures they report. */
function spawnUnconfigured(options: CorrelateOptions): { pipeline: WorkerPipeline; failures: string[] } {
  const failures: string[] = [];
  const pipeline = new WorkerPipeline({
    workers: 2,
    options,
    statsIntervalMillis: 0,
    reportProcessed: true,
    onFailure: (message) => failures.push(message),
  });
  return { pipeline, failures };
}

test('a worker that fails before its configuration arrives aborts the pipeline with its reason; terminate() ends it', async () => {
  const { pipeline, failures } = spawnUnconfigured(unbuildable());
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
  const { pipeline, failures } = spawnUnconfigured(defaultCorrelateOptions());
  await sleep(500);
  // Resolves once both threads are gone (a thread left would also keep this test's process alive).
  await pipeline.terminate();
  await sleep(50);
  assert.deepEqual(failures, []);
  assert.equal(pipeline.failure, null);
});
