/**
 * The tail tells `run` when it has read everything there is (its `idle` callback, before it waits
 * for more), never in the middle of what is there: `run` then closes the span request being built
 * (`--workers 0`), as the workers close theirs at the end of every chunk, so the spans of what
 * was read do not wait out the batch delay (OTEL_BSP_SCHEDULE_DELAY).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { emptyTailCounters } from '../../agent/pipeline/tail.ts';
import { spawnTailWorkers, TailedDirectory } from '../../agent/pipeline/tailed-directory.ts';
import { pcapBytes, readAllRecords } from '../helpers/pcap-writer.ts';
import { repoRoot } from '../helpers/run-cli.ts';

const demo = readAllRecords(path.join(repoRoot, 'test/fixtures/demo.pcap'));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-idle-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

for (const workers of [0, 2]) {
  test(`idle is called once everything there is has been read, not before (${workers} workers)`, async () => {
    const dir = path.join(root, `w${workers}`);
    fs.mkdirSync(dir);
    const half = Math.floor(demo.length / 2);
    fs.writeFileSync(path.join(dir, 'cap-0.pcap'), pcapBytes(demo.slice(0, half)));
    const counters = emptyTailCounters();
    const correlate = defaultCorrelateOptions();
    const watched = new TailedDirectory({
      dir,
      workers: spawnTailWorkers(workers, correlate, (message) => assert.fail(message)),
      correlate,
      sinks: { output: null, exporter: null, collector: { emit: () => {} }, room: null },
      // A few records per step: reading the file takes many steps.
      tailOptions: { graceMillis: 60_000, onDone: 'keep', pollMillis: 20, recordsPerStep: 4 },
      fileNames: [],
      counters,
      log: () => {},
      resumeAt: null,
    });
    /** counters.packets at each idle() call. */
    const idleAt: number[] = [];
    const running = watched.tail.run(
      () => watched.publish(),
      () => idleAt.push(counters.packets),
    );
    const waitForIdleAt = async (packets: number): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (!idleAt.includes(packets)) {
        assert.ok(Date.now() < deadline, `idle after ${packets} packets (calls at ${idleAt.join(', ')})`);
        await sleep(10);
      }
    };
    await waitForIdleAt(half);
    // More is appended to the file being tailed: idle again only once it is read too.
    fs.appendFileSync(path.join(dir, 'cap-0.pcap'), pcapBytes(demo.slice(half)).subarray(24));
    await waitForIdleAt(demo.length);
    watched.tail.stop();
    await running;
    await watched.finish();
    assert.ok(
      idleAt.every((packets) => packets === half || packets === demo.length),
      `idle only when read up: ${idleAt.join(', ')}`,
    );
    assert.equal(counters.packets, demo.length);
  });
}
