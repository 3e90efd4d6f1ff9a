/**
 * This thread's spans (`--workers 0`: OtelExporter.emit()) take the workers' path: each span is
 * encoded into an OTLP request as it is made (span-request-encoder.ts CappedRequestEncoder) and
 * the queue holds requests, bounded in spans, as for the workers' requests. Pinned here: the
 * queue drops whole requests; a request being built counts as queued and leaves after
 * scheduledDelayMillis, with no flush; `run` closes it when read up (closeRequest()); a `run`
 * checkpoint closes it (checkpointMark()) and waits for its spans, not for later ones.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOtelExporter } from '../../agent/export/otel/index.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { freePort, type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');
const { pairs } = replayPairs([demo]);

const receivers: OtlpReceiver[] = [];
after(async () => {
  for (const receiver of receivers) await receiver.close();
});

test('replay: a full queue drops whole requests (spans counted), never part of one', async () => {
  const exporter = await createOtelExporter({
    endpoint: `http://127.0.0.1:${await freePort()}`,
    metrics: false,
    exportTimeoutMillis: 500,
    shutdownTimeoutMillis: 600,
    batch: { maxQueueSize: 10, maxExportBatchSize: 4, maxConcurrentExports: 1, scheduledDelayMillis: 10_000 },
  });
  // Requests of 4 spans: two fit (8), the third would take the queue to 12 > 10.
  for (const pair of pairs.slice(0, 12)) exporter.emit(pair);
  assert.equal(exporter.counters.queued, 8);
  assert.equal(exporter.counters.dropped, 4);
  const result = await exporter.shutdown();
  assert.equal(result.dropped, 4);
  assert.equal(result.exported + result.failed, 8);
});

test('the request being built counts as queued, and is sent scheduledDelayMillis after its first span', async () => {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const exporter = await createOtelExporter({
    endpoint: receiver.endpoint,
    metrics: false,
    batch: { maxExportBatchSize: 100, scheduledDelayMillis: 50 },
  });
  for (const pair of pairs.slice(0, 3)) exporter.emit(pair);
  assert.equal(exporter.counters.queued, 3, 'not exported yet: a checkpoint must wait for them');
  assert.equal(exporter.counters.exported, 0);
  const deadline = Date.now() + 10_000;
  while (exporter.counters.exported < 3 && Date.now() < deadline) await sleep(20);
  assert.equal(exporter.counters.exported, 3, 'sent without a flush');
  assert.deepEqual(
    receiver.traceRequests.map((r) => r.spanCount),
    [3],
  );
  assert.deepEqual(await exporter.shutdown(), { exported: 3, dropped: 0, failed: 0, error: null });
});

test('closeRequest() sends the request being built at once, not after scheduledDelayMillis (run, read up)', async () => {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const exporter = await createOtelExporter({
    endpoint: receiver.endpoint,
    metrics: false,
    batch: { maxExportBatchSize: 100, scheduledDelayMillis: 600_000 },
  });
  for (const pair of pairs.slice(0, 3)) exporter.emit(pair);
  exporter.closeRequest();
  exporter.closeRequest(); // nothing being built: no empty request
  const deadline = Date.now() + 10_000;
  while (exporter.counters.exported < 3 && Date.now() < deadline) await sleep(20);
  assert.equal(exporter.counters.exported, 3, 'sent without a flush or the delay');
  assert.deepEqual(
    receiver.traceRequests.map((r) => r.spanCount),
    [3],
  );
  assert.deepEqual(await exporter.shutdown(), { exported: 3, dropped: 0, failed: 0, error: null });
});

test('checkpointMark() closes the request being built; settledThrough reaches the mark once those spans are exported', async () => {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const exporter = await createOtelExporter({
    endpoint: receiver.endpoint,
    metrics: false,
    batch: { maxExportBatchSize: 100, scheduledDelayMillis: 60_000 },
  });
  for (const pair of pairs.slice(0, 3)) exporter.emit(pair);
  assert.equal(exporter.settledThrough, 0);
  const mark = exporter.checkpointMark();
  assert.equal(mark, 3, 'the three spans of the request being built are numbered');
  // Later spans, in a request that is not closed (the delay is a minute): not waited for.
  for (const pair of pairs.slice(3, 5)) exporter.emit(pair);
  const deadline = Date.now() + 10_000;
  while (exporter.settledThrough < mark && Date.now() < deadline) await sleep(20);
  assert.equal(exporter.settledThrough, 3);
  assert.equal(exporter.counters.queued, 5, 'the two later spans are still queued');
  assert.deepEqual(
    receiver.traceRequests.map((r) => r.spanCount),
    [3],
  );
  assert.deepEqual(await exporter.shutdown(), { exported: 5, dropped: 0, failed: 0, error: null });
  assert.equal(exporter.settledThrough, 5);
  assert.equal(exporter.checkpointMark(), 5);
});
