/**
 * Agent mode (`retryUntilExported`) against a real OTLP/gRPC receiver that is not there yet:
 * the exporter sends to a port where nothing listens, the receiver then starts ON THAT PORT,
 * and every span arrives exactly once; the outage is reported once when it starts and once when
 * it ends; while it lasts, whenRoom() holds the caller back and nothing is dropped. Drops past
 * the hard cap and spans still unexported at the shutdown deadline are reported, not silent.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createOtelExporter,
  type ExportState,
  type ExportStateDetail,
} from '../../agent/export/otel/index.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { freePort, type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');
const { pairs, json } = replayPairs([demo]);

const receivers: OtlpReceiver[] = [];
after(async () => {
  for (const receiver of receivers) await receiver.close();
});

async function waitFor(condition: () => boolean, what: string, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** RFC 3339 with 9 fraction digits → exact nanoseconds since the epoch, as text. */
function nanosText(rfc3339: string): string {
  const match = /^(.*)\.(\d{9})Z$/.exec(rfc3339);
  assert.ok(match, rfc3339);
  return (BigInt(Date.parse(`${match[1]}Z`) / 1000) * 1_000_000_000n + BigInt(match[2]!)).toString();
}

/** start/end of every pair (end = given-up time for unanswered ones), `rounds` times, sorted. */
function expectedTimes(rounds: number): string[] {
  const one = json.map(
    (pair) => `${nanosText(pair.start as string)}-${nanosText((pair.end ?? pair.given_up) as string)}`,
  );
  return Array.from({ length: rounds }, () => one)
    .flat()
    .sort();
}

test('agent mode: spans emitted while no collector listens all arrive, once, when it comes up', async () => {
  const port = await freePort();
  const states: { state: ExportState; detail: ExportStateDetail }[] = [];
  const exporter = await createOtelExporter({
    endpoint: `http://127.0.0.1:${port}`,
    retryUntilExported: true,
    onExportStateChange: (state, detail) => states.push({ state, detail }),
    metrics: false,
    exportTimeoutMillis: 2000,
    shutdownTimeoutMillis: 5000,
    // Several batches, several in flight when the collector turns out to be down; short retries.
    batch: { maxExportBatchSize: 16, scheduledDelayMillis: 20, retryInitialMillis: 50, retryMaxMillis: 300 },
  });
  const rounds = 5;
  for (let round = 0; round < rounds; round++) for (const pair of pairs) exporter.emit(pair);
  const total = rounds * pairs.length;

  await waitFor(() => exporter.counters.traceExportRetries >= 3, 'a few retries against the dead port');
  assert.equal(exporter.exportState, 'failing');
  assert.deepEqual(
    states.map((s) => s.state),
    ['failing'],
  );
  assert.match(states[0]!.detail.error, /UNAVAILABLE/);
  assert.equal(exporter.counters.exported, 0);
  assert.equal(exporter.counters.failed, 0, 'nothing given up');

  const receiver = await startReceiver(port);
  receivers.push(receiver);
  await waitFor(() => receiver.spans.length >= total, `${total} spans at the receiver`);

  const result = await exporter.shutdown();
  assert.deepEqual(result, { exported: total, dropped: 0, failed: 0, error: null });
  assert.equal(receiver.spans.length, total, 'no span twice');
  assert.equal(new Set(receiver.spans.map((s) => s.spanId)).size, total);
  assert.deepEqual(
    receiver.spans.map((s) => `${s.startTimeUnixNano}-${s.endTimeUnixNano}`).sort(),
    expectedTimes(rounds),
  );
  const counters = exporter.counters;
  assert.ok(counters.traceExportRetries >= 3, `retries: ${counters.traceExportRetries}`);
  assert.ok(counters.traceExportErrors >= 3, `failed requests: ${counters.traceExportErrors}`);
  assert.equal(counters.dropped, 0);
  assert.equal(counters.failed, 0);
  assert.equal(counters.exported, total);

  assert.deepEqual(
    states.map((s) => s.state),
    ['failing', 'ok'],
    'the outage reported once when it started, once when it ended',
  );
  const ok = states[1]!.detail;
  assert.ok(ok.durationMillis > 0);
  assert.ok(ok.retries >= 3, `retries during the outage: ${ok.retries}`);
  assert.ok(ok.failedRequests >= ok.retries);
  assert.match(ok.error, /UNAVAILABLE/);
});

test('agent mode: while the collector is down, whenRoom() holds once the queue is full; nothing is dropped', async () => {
  const port = await freePort();
  let failing = 0;
  const exporter = await createOtelExporter({
    endpoint: `http://127.0.0.1:${port}`,
    retryUntilExported: true,
    onExportStateChange: (state) => {
      if (state === 'failing') failing++;
    },
    metrics: false,
    exportTimeoutMillis: 2000,
    shutdownTimeoutMillis: 5000,
    batch: {
      maxQueueSize: 40,
      maxExportBatchSize: 10,
      maxQueueOverflow: 20,
      scheduledDelayMillis: 20,
      retryInitialMillis: 50,
      retryMaxMillis: 200,
    },
  });
  const spans = pairs.slice(0, 40);
  for (const pair of spans) exporter.emit(pair);
  await waitFor(() => failing === 1 && exporter.counters.traceExportRetries >= 1, 'the outage');

  let room = false;
  const roomPromise = exporter.whenRoom().then(() => {
    room = true;
  });
  // Past the queue's size, within its overflow: accepted, not dropped.
  for (const pair of pairs.slice(0, 10)) exporter.emit(pair);
  await waitFor(() => exporter.counters.traceExportRetries >= 4, 'more retries');
  assert.equal(room, false, 'whenRoom() stays pending while the collector is down');
  assert.equal(exporter.counters.dropped, 0);
  assert.equal(exporter.counters.queued, 50, 'every span accepted');

  const receiver = await startReceiver(port);
  receivers.push(receiver);
  await waitFor(() => room, 'whenRoom() to resolve after the collector came up');
  await roomPromise;
  assert.equal(exporter.exportState, 'ok');
  await waitFor(() => receiver.spans.length >= 50, '50 spans at the receiver');
  const result = await exporter.shutdown();
  assert.deepEqual(result, { exported: 50, dropped: 0, failed: 0, error: null });
  assert.equal(receiver.spans.length, 50);
  assert.equal(failing, 1);
});

test('agent mode: drops beyond the hard cap and spans left at the shutdown deadline are reported', async () => {
  const port = await freePort();
  const exporter = await createOtelExporter({
    endpoint: `http://127.0.0.1:${port}`,
    retryUntilExported: true,
    metrics: false,
    exportTimeoutMillis: 500,
    shutdownTimeoutMillis: 600,
    batch: { maxQueueSize: 10, maxQueueOverflow: 5, maxExportBatchSize: 5, maxConcurrentExports: 1 },
  });
  // emit() never exports synchronously: the queue holds 15 (10 + overflow), the rest is dropped.
  for (const pair of pairs.slice(0, 30)) exporter.emit(pair);
  assert.equal(exporter.counters.queued, 15);
  assert.equal(exporter.counters.dropped, 15);
  const result = await exporter.shutdown();
  assert.equal(result.exported, 0);
  assert.equal(result.dropped, 15);
  assert.equal(result.failed, 15, 'given up at the deadline');
  assert.match(result.error ?? '', /UNAVAILABLE.*\(15 spans not exported, gave up after \d+ ms\)/);
  assert.match(result.error ?? '', /15 spans dropped: the export queue was full/);
});
