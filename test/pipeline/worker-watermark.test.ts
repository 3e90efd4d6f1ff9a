/**
 * The checkpoint watermark of the worker pipeline (`run --workers N`): once every worker has
 * reported chunk S processed, every pair made from the records of chunks 0..S has reached the
 * sinks; pairs that only end of input makes (requests still pending, reported unanswered)
 * come with the end. A tail's ranges below the restart offset are read but not processed.
 * Workers configured long after they were spawned (as `run` spawns them before it builds its
 * exporter) give the same lines.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileByteSource } from '../../agent/capture/byte-source.ts';
import { correlateOptionsFrom } from '../../agent/cli/replay-command.ts';
import { TailPublisher } from '../../agent/pipeline/tail-publisher.ts';
import { WorkerPipeline } from '../../agent/pipeline/worker-pipeline.ts';
import { readAllRecords, writePcap } from '../helpers/pcap-writer.ts';
import { jsonLines, repoRoot, runCli } from '../helpers/run-cli.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');

const correlate = correlateOptionsFrom({
  dnsPorts: [53],
  dnsLatencyFrom: 'first',
  udpPorts: [161],
  httpKeepQuery: false,
  relay: false,
  internalNetworks: [],
  relayEcho: false,
  relayCrossTransport: false,
  timeoutSeconds: 30,
});

function withoutSource(pair: Record<string, unknown>): string {
  const { source: _source, ...rest } = pair;
  return JSON.stringify(rest);
}

/**
 * `workers` spawned as `run` spawns them (the file table grows: names come on the ports of the
 * configuration), configured after `configureAfterMillis` (`run` builds its exporter in between).
 */
async function startPipeline(
  workers: number,
  configureAfterMillis = 0,
): Promise<{ pipeline: WorkerPipeline; lines: () => string[]; text: () => string }> {
  let text = '';
  const decoder = new TextDecoder();
  const pipeline = new WorkerPipeline({
    workers,
    options: correlate,
    statsIntervalMillis: 0,
    reportProcessed: true,
    // Small slots: the file goes through in many chunks.
    slots: 4,
    slotBytes: 4096,
  });
  if (configureAfterMillis > 0) await sleep(configureAfterMillis);
  pipeline.configure({
    files: [],
    output: 'jsonl',
    writeOutput: (bytes) => {
      text += decoder.decode(bytes);
    },
    onPairs: null,
  });
  return {
    pipeline,
    lines: () => jsonLines(text).map(withoutSource).sort(),
    text: () => text,
  };
}

async function processedThrough(pipeline: WorkerPipeline, seq: number): Promise<void> {
  const deadline = Date.now() + 30_000; // hang guard only
  while (pipeline.processedThrough() < seq) {
    if (Date.now() > deadline) throw new Error(`chunk ${seq} never reported processed`);
    await sleep(5);
  }
}

const expectedAll = (): string[] =>
  jsonLines(runCli(['replay', demo, '--workers', '0', '--udp-ports', '161']).stdout)
    .map(withoutSource)
    .sort();

for (const workers of [1, 2]) {
  test(`${workers} worker(s): once chunk S is processed, every pair its records made has arrived; end of input brings the rest`, async () => {
    const all = expectedAll();
    const byRecords = all.filter((line) => !line.includes('"reason":"end_of_input"'));
    assert.ok(byRecords.length < all.length, 'the demo capture ends with pending requests');
    const { pipeline, lines } = await startPipeline(workers);
    const publisher = new TailPublisher(pipeline);
    const source = new FileByteSource(demo, true);
    const size = fs.statSync(demo).size;
    try {
      // Half the file, then the rest: the watermark after each part.
      const half = Math.floor(size / 2);
      publisher.range(0, demo, source, 0, half, 0, 0, true, false);
      assert.equal(await publisher.flush(), true);
      const firstHalf = pipeline.lastPublished;
      assert.ok(firstHalf >= 3, `${firstHalf + 1} chunks`);
      await processedThrough(pipeline, firstHalf);
      const early = lines();
      assert.ok(early.length > 0 && early.length < byRecords.length, `${early.length} pairs after half`);
      publisher.range(0, demo, source, half, size, 0, 0, false, false);
      assert.equal(await publisher.flush(), true);
      await processedThrough(pipeline, pipeline.lastPublished);
      // Every pair the records finish is in; the pending requests are not reported yet.
      assert.deepEqual(lines(), byRecords);
      publisher.range(0, demo, source, size, size, 0, 0, false, true);
      publisher.closeSource(source);
      await publisher.flush();
      await pipeline.end();
      assert.equal(pipeline.failure, null);
      assert.deepEqual(lines(), all);
    } finally {
      await pipeline.terminate();
    }
  });
}

test('records below the restart offset are read (headers) but not processed again', async () => {
  const records = readAllRecords(demo);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-skip-'));
  const whole = path.join(dir, 'whole.pcap');
  writePcap(whole, records);
  // The end of record 100: classic pcap, a 24-byte file header, 16 bytes before each record.
  let offset = 24;
  for (const record of records.slice(0, 100)) offset += 16 + record.bytes.length;
  const { pipeline, lines } = await startPipeline(2);
  const publisher = new TailPublisher(pipeline);
  const source = new FileByteSource(whole, true);
  try {
    publisher.range(0, whole, source, 0, fs.statSync(whole).size, offset, 0, true, true);
    publisher.closeSource(source);
    await publisher.flush();
    await pipeline.end();
    assert.equal(pipeline.stats()[0]!.packets, records.length - 100);
    // The same pairs as a capture of the records after the offset only.
    const rest = path.join(dir, 'rest.pcap');
    writePcap(rest, records.slice(100));
    const expected = jsonLines(runCli(['replay', rest, '--workers', '0', '--udp-ports', '161']).stdout)
      .map(withoutSource)
      .sort();
    assert.ok(expected.length > 0);
    assert.deepEqual(lines(), expected);
  } finally {
    await pipeline.terminate();
  }
});

for (const workers of [1, 2]) {
  test(`${workers} worker(s) configured a second after they were spawned (modules loaded, loops built, waiting): the lines replay writes`, async () => {
    // Long enough for the workers to wait for their configuration (their start takes ~0.35 s).
    const { pipeline, text } = await startPipeline(workers, 1000);
    const publisher = new TailPublisher(pipeline);
    const source = new FileByteSource(demo, true);
    try {
      publisher.range(0, demo, source, 0, fs.statSync(demo).size, 0, 0, true, true);
      publisher.closeSource(source);
      assert.equal(await publisher.flush(), true);
      await pipeline.end();
      assert.equal(pipeline.failure, null);
      const expected = runCli(['replay', demo, '--workers', '0', '--udp-ports', '161']).stdout;
      assert.ok(jsonLines(expected).length > 10);
      // Whole lines: the file's name came on the names port the configuration carried.
      const sorted = (lines: string) => lines.split('\n').filter(Boolean).sort();
      assert.deepEqual(sorted(text()), sorted(expected));
    } finally {
      await pipeline.terminate();
    }
  });
}
