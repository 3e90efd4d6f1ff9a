/**
 * `wirespan run --workers 0` sends the spans of its first step of records when that step ends,
 * not once a request holds OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans (or its batch delay ran out):
 * the collector sees the agent's first spans while it still reads its backlog. Real process,
 * the real OTLP/gRPC receiver.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReceiver } from '../export/otlp-receiver.ts';
import { type OwnedRecord, pcapBytes, readAllRecords } from '../helpers/pcap-writer.ts';
import { repoRoot, startAgent } from '../helpers/run-cli.ts';

/** More records than one step reads (run's kRecordsPerStep, 4096: 2048 query-answer pairs). */
const kPairs = 3000;
const kFirstStepPairs = 2048;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** The demo's first DNS query and answer, repeated with new ids, 1 ms apart. */
function writeBacklog(file: string): void {
  const [query, answer] = readAllRecords(path.join(repoRoot, 'test/fixtures/demo.pcap'));
  const records: OwnedRecord[] = [];
  for (let n = 0; n < kPairs; n++) {
    for (const record of [query!, answer!]) {
      const bytes = Uint8Array.from(record.bytes);
      bytes[40] = 0; // UDP checksum: none (the id changes)
      bytes[41] = 0;
      bytes[42] = (n >> 8) & 0xff; // DNS id
      bytes[43] = n & 0xff;
      const nanos = record.nanos + n * 1_000_000;
      records.push({
        ...record,
        bytes,
        seconds: record.seconds + Math.floor(nanos / 1e9),
        nanos: nanos % 1e9,
      });
    }
  }
  fs.writeFileSync(file, pcapBytes(records));
  const old = Date.now() / 1000 - 3600;
  fs.utimesSync(file, old, old);
}

test('run --workers 0: the first step spans leave when the step ends, before the request is full', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-first-request-'));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'pcaps');
  fs.mkdirSync(dir);
  writeBacklog(path.join(dir, 'cap-00.pcap'));
  const receiver = await startReceiver();
  cleanups.push(() => receiver.close());
  const agent = startAgent(
    [
      '--watch',
      dir,
      '--state-dir',
      path.join(root, 'state'),
      '--otlp',
      receiver.endpoint,
      '--health-port',
      '0',
      '--workers',
      '0',
    ],
    {
      // One request could hold the whole backlog, and would wait a minute for more.
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: String(4 * kPairs),
      OTEL_BSP_MAX_QUEUE_SIZE: String(8 * kPairs),
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      OTEL_METRICS_EXPORTER: 'none',
    },
  );
  cleanups.push(() => agent.child.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  while (receiver.spans.length < kPairs) {
    if (Date.now() > deadline) assert.fail(`${receiver.spans.length} spans of ${kPairs}:\n${agent.stderr()}`);
    await sleep(20);
  }
  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0, agent.stderr());
  // The first step's pairs, then the rest when the agent had read everything.
  assert.deepEqual(
    receiver.traceRequests.map((request) => request.spanCount),
    [kFirstStepPairs, kPairs - kFirstStepPairs],
  );
});
