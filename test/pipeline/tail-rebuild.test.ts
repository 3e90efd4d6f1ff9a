/**
 * `run`'s checkpoint remembers where the requests pending at it were read (rebuildFrom), and a
 * restart reads from there up to the checkpoint again, quietly (tail.ts): the tail on its own,
 * with the record loop on this thread and with workers, on the demo capture and on longer
 * re-timed copies of it; and --on-done, which waits for a saved checkpoint that no longer needs
 * a file. The whole agent killed and restarted: test/cli/run.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { Outcome, type Pair } from '../../agent/correlate/pair.ts';
import type { DirectoryCheckpoint } from '../../agent/pipeline/checkpoint.ts';
import { emptyTailCounters, type TailCounters } from '../../agent/pipeline/tail.ts';
import { spawnTailWorkers, TailedDirectory } from '../../agent/pipeline/tailed-directory.ts';
import { type OwnedRecord, pcapBytes, readAllRecords } from '../helpers/pcap-writer.ts';
import { repoRoot } from '../helpers/run-cli.ts';

const demo = readAllRecords(path.join(repoRoot, 'test/fixtures/demo.pcap'));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-rebuild-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** A new watched directory with these captures (all but the last finished: older mtimes). */
function directory(files: OwnedRecord[][]): { dir: string; paths: string[] } {
  const dir = path.join(root, `d${dirs++}`);
  fs.mkdirSync(dir);
  const old = Date.now() / 1000 - 60;
  const paths = files.map((records, i) => {
    const file = path.join(dir, `cap-${i}.pcap`);
    fs.writeFileSync(file, pcapBytes(records));
    if (i < files.length - 1) fs.utimesSync(file, old + i, old + i);
    return file;
  });
  return { dir, paths };
}

interface Run {
  pairs: Pair[];
  checkpoint: DirectoryCheckpoint;
  /** With `packets`: the checkpoint just before the stop (as a crash would have left it). */
  running: DirectoryCheckpoint | null;
  counters: TailCounters;
  logs: string[];
  watched: TailedDirectory;
}

/**
 * Tails `dir` (resuming at `resume`) until `packets` records were counted, or, with `stopAfter`,
 * stops after that many tail steps; then ends as `run` does (the pending requests reported
 * unless rebuilding) and returns the pairs, the final checkpoint and the counters.
 */
async function tail(
  dir: string,
  workers: number,
  resume: DirectoryCheckpoint | null,
  until: { packets: number } | { stopAfter: number },
  onDone: 'keep' | 'delete' = 'keep',
): Promise<Run> {
  const pairs: Pair[] = [];
  const logs: string[] = [];
  const counters = emptyTailCounters();
  const correlate = defaultCorrelateOptions();
  const watched = new TailedDirectory({
    dir,
    workers: spawnTailWorkers(workers, correlate, (message) => assert.fail(message)),
    correlate,
    sinks: { output: null, exporter: null, collector: { emit: (pair) => pairs.push(pair) }, room: null },
    tailOptions: { graceMillis: 100, onDone, pollMillis: 20, recordsPerStep: 8 },
    fileNames: [],
    counters,
    log: (level, message, fields) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`),
    resumeAt: resume,
  });
  let steps = 0;
  let beforeStop: DirectoryCheckpoint | null = null;
  const running = watched.tail.run(async () => {
    await watched.publish();
    if ('stopAfter' in until && ++steps >= until.stopAfter) watched.tail.stop();
  });
  if ('packets' in until) {
    const deadline = Date.now() + 20_000;
    while (counters.packets < until.packets) {
      assert.ok(Date.now() < deadline, `${counters.packets} of ${until.packets} packets read`);
      await sleep(20);
    }
    // Idle at the end of the newest file, every record processed (the workers' too).
    while (JSON.stringify(watched.safeCheckpoint()) !== JSON.stringify(watched.tail.checkpoint())) {
      assert.ok(Date.now() < deadline, 'the checkpoint caught up with reading');
      await sleep(20);
    }
    beforeStop = structuredClone(watched.safeCheckpoint());
    watched.tail.stop();
  }
  await running;
  await watched.finish();
  return { pairs, checkpoint: watched.safeCheckpoint(), running: beforeStop, counters, logs, watched };
}

/** The demo capture `copies` times, each `shift` seconds later than the one before. */
function retimed(copies: number, shift: number): OwnedRecord[] {
  const out: OwnedRecord[] = [];
  for (let copy = 0; copy < copies; copy++) {
    for (const record of demo) out.push({ ...record, seconds: record.seconds + copy * shift });
  }
  return out;
}

/** The end offset of each record of a classic pcap (24-byte header, 16 bytes before each record). */
function recordEnds(records: OwnedRecord[]): number[] {
  let offset = 24;
  return records.map((record) => {
    offset += 16 + record.bytes.length;
    return offset;
  });
}

const key = (pair: Pair): string =>
  `${pair.protocol} ${pair.request.firstSeconds}.${pair.request.firstNanos} ${pair.outcome}`;

test('the rebuild position follows capture time: every record before it is older than the pending window, the next steps are not', async () => {
  // 4 copies 20 s apart: ~69 s of capture; the window is the 30 s timeout + 2.
  const records = retimed(4, 20);
  const { dir, paths } = directory([records]);
  const run = await tail(dir, 0, null, { packets: records.length });
  const rebuild = run.running?.rebuildFrom;
  assert.ok(rebuild);
  assert.equal(rebuild.path, paths[0]);
  const newest = Math.max(...records.map((r) => r.seconds));
  const ends = recordEnds(records);
  const before = records.filter((_, i) => ends[i]! <= rebuild.offset);
  assert.ok(before.length > demo.length, `${before.length} records before it: it moved on`);
  assert.ok(before.every((r) => r.seconds < newest - 32));
  // Tight to a tail step (8 records): the records of the next two steps reach into the window.
  const next = records.slice(before.length, before.length + 16);
  assert.ok(
    next.some((r) => r.seconds >= newest - 32),
    'a later position would do',
  );
});

for (const workers of [0, 2]) {
  test(`--workers ${workers}: stopped while rebuilding, nothing is reported and the checkpoint stays the one resumed from`, async () => {
    const { dir } = directory([demo]);
    const first = await tail(dir, workers, null, { packets: demo.length });
    // The stop reported the requests pending at the end (end_of_input): the final checkpoint has
    // nothing to rebuild; a crash would have left the one before it.
    assert.equal(first.checkpoint.rebuildFrom, null);
    const crashed = first.running!;
    assert.ok(crashed.rebuildFrom);
    const second = await tail(dir, workers, crashed, { stopAfter: 2 });
    assert.deepEqual(second.pairs.map(key), []);
    assert.equal(second.counters.packets, 0);
    assert.deepEqual(second.checkpoint, crashed);
  });

  test(`--workers ${workers}: the file the rebuild starts in is gone: a warning, the rebuild starts at the resume file's beginning`, async () => {
    const all = (await tail(directory([demo]).dir, 0, null, { packets: demo.length })).pairs.map(key);
    // The resume file ends right after the request of the slowest exchange (packet 122, the 2 s
    // download): its response comes after the restart.
    const cut = 100;
    const resumeEnd = 122;
    const { dir, paths } = directory([demo.slice(0, cut), demo.slice(cut, resumeEnd)]);
    const first = await tail(dir, workers, null, { packets: resumeEnd });
    const resume = first.running!;
    assert.equal(resume.rebuildFrom?.path, paths[0]);
    assert.equal(resume.done.length, 1);
    // --on-done delete, or a ring that rotated it away, while the agent was down; then more capture.
    fs.rmSync(paths[0]!);
    fs.writeFileSync(path.join(dir, 'cap-2.pcap'), pcapBytes(demo.slice(resumeEnd)));
    const second = await tail(dir, workers, resume, { packets: demo.length - resumeEnd });
    assert.ok(
      second.logs.some(
        (line) => line.startsWith('warn cannot read again the capture file') && line.includes(paths[0]!),
      ),
      second.logs.join('\n'),
    );
    // Nothing emitted twice: every pair after the restart is one of the whole capture's that the
    // first run did not emit.
    const firstKeys = new Set(first.pairs.map(key));
    const allKeys = new Set(all);
    for (const pair of second.pairs) {
      assert.ok(allKeys.has(key(pair)) && !firstKeys.has(key(pair)), key(pair));
    }
    // The slowest exchange's request was read again from the resume file.
    assert.ok(
      second.pairs.some(
        (pair) =>
          pair.protocol === 'http' &&
          pair.outcome === Outcome.Matched &&
          pair.response!.lastSeconds - pair.request.firstSeconds >= 2,
      ),
      second.pairs.map(key).join('\n'),
    );
  });
}

test('--on-done delete waits for a saved checkpoint that no longer needs the file: not its position, not its rebuild', async () => {
  // Four files 20 s of capture apart: at the end the rebuild starts in the third (the window is 32 s).
  const files = [0, 1, 2, 3].map((copy) =>
    retimed(1, 0).map((r) => ({ ...r, seconds: r.seconds + copy * 20 })),
  );
  const { dir, paths } = directory(files);
  const run = await tail(dir, 0, null, { packets: files.flat().length }, 'delete');
  assert.deepEqual(fs.readdirSync(dir).length, 4, 'nothing deleted before a checkpoint is saved');
  const running = run.running!;
  assert.equal(running.rebuildFrom?.path, paths[2]);
  // A checkpoint from before the second file was done: only the first may go.
  const older = { ...running, done: running.done.filter((mark) => mark.path === paths[0]) };
  run.watched.tail.checkpointSaved(older);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['cap-1.pcap', 'cap-2.pcap', 'cap-3.pcap']);
  run.watched.tail.checkpointSaved(running);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['cap-2.pcap', 'cap-3.pcap']);
  // The final checkpoint (nothing to rebuild) frees the rest but the file still being read.
  run.watched.tail.checkpointSaved(run.checkpoint);
  assert.deepEqual(fs.readdirSync(dir), ['cap-3.pcap']);
});
