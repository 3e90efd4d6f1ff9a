/**
 * The flood guard with worker threads, end to end (issue 12): unanswered pairs reach the main
 * thread's one guard from several shards, and the requests still pending at the end of input
 * arrive all at once, one shard after the other, going back in capture time. The spans must be
 * those of `--workers 0`: each pair counts in its own second (span-flood.ts), whatever the order.
 * The same for `run --workers 2` drained by SIGTERM (the requests still pending then are
 * reported, shard after shard). Also checks the bench's counting receiver (test/bench/otlp-receiver.ts): the pairs its spans
 * stand for (an `unanswered flood` span counts wirespan.flood.count) are every pair.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kFloodSpanName } from '../../agent/export/otel/span-flood.ts';
import { startReceiver as startCountingReceiver } from '../bench/otlp-receiver.ts';
import { readAllRecords, writePcap } from '../helpers/pcap-writer.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { repoRoot } from '../helpers/run-cli.ts';
import { kCraftedTcpFlags, PcapStreamWriter } from '../hostile/crafted-tcp.ts';
import { type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

const kServer = 0x0a000050;
/** Spoofed SYNs over 3 seconds of capture time, all still pending at the end (timeout 5 s). */
const kSyns = 4500;
const kSeconds = 3;
/** A few sources send many (beyond the per-source limit), the rest one each (beyond the total). */
const kBusySources = 4;

/** The CLI with these arguments; resolves with its stderr once it exited 0 (`stop`: SIGTERM once `ready()`). */
async function wirespan(args: string[], stop?: { ready: () => boolean }): Promise<string> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'agent/cli/main.mjs'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const status = new Promise((resolve) => child.on('close', resolve));
  if (stop) {
    const deadline = Date.now() + 60_000;
    while (!stop.ready() && Date.now() < deadline) await sleep(100);
    child.kill('SIGTERM');
  }
  assert.equal(await status, 0, stderr);
  return stderr;
}

function replayOtlp(endpoint: string, workers: string, capture: string): Promise<string> {
  return wirespan([
    'replay',
    '--quiet',
    '--output',
    'none',
    '--summary',
    'none',
    '--workers',
    workers,
    '--otlp',
    endpoint,
    capture,
  ]);
}

function checkpointSays(
  stateDir: string,
  test: (checkpoint: { directories?: { done?: unknown[]; current?: { offset?: number } }[] }) => boolean,
): boolean {
  try {
    return test(JSON.parse(fs.readFileSync(path.join(stateDir, 'checkpoint.json'), 'utf8')));
  } catch {
    return false;
  }
}

/** The spans as comparable lines: aggregates whole, other spans by their second. */
function spanLines(spans: OtlpReceiver['spans']): string[] {
  return spans
    .map((s) =>
      s.name === kFloodSpanName
        ? `flood ${s.startTimeUnixNano} ${s.attributes['wirespan.flood.scope']} ${s.attributes['client.address']} ${s.attributes['wirespan.flood.count']}`
        : `span ${Math.floor(Number(BigInt(s.startTimeUnixNano) / 1_000_000_000n))}`,
    )
    .sort();
}

describe('unanswered floods with worker threads', () => {
  let receiver: OtlpReceiver;
  let capture: string;
  let dir: string;

  before(async () => {
    receiver = await startReceiver();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-flood-workers-'));
    const raw = path.join(dir, 'raw.pcap');
    const writer = new PcapStreamWriter(raw);
    for (let i = 0; i < kSyns; i++) {
      const client = i % 3 === 0 ? 0x0a010000 + (i % kBusySources) : 0x0b000000 + i;
      writer.tcp(client, 1024 + (i % 60000), kServer, 80, i * 7919, 0, kCraftedTcpFlags.syn, 0);
    }
    writer.close();
    // Spread the SYNs over kSeconds of capture time (the writer puts packets 1 µs apart).
    const start = 1_700_000_000;
    const records = readAllRecords(raw).map((record, i) => {
      const nanos = Math.floor((i * kSeconds * 1e9) / kSyns);
      return { ...record, seconds: start + Math.floor(nanos / 1e9), nanos: nanos % 1e9 };
    });
    capture = path.join(dir, 'spread-syn-flood.pcap');
    writePcap(capture, records);
  });
  after(async () => {
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('--workers 2 exports the spans of --workers 0 (each unanswered pair counts in its own second)', async () => {
    const { pairs } = replayPairs([capture]);
    assert.equal(pairs.filter((p) => p.outcome === 1).length, kSyns, 'every SYN is pending at the end');
    const runs: string[][] = [];
    for (const workers of ['0', '2']) {
      receiver.reset();
      await replayOtlp(receiver.endpoint, workers, capture);
      const spans = receiver.spans;
      const represented = spans.reduce(
        (sum, s) => sum + (s.name === kFloodSpanName ? Number(s.attributes['wirespan.flood.count']) : 1),
        0,
      );
      assert.equal(represented, pairs.length, `workers ${workers}: every pair in a span or an aggregate`);
      assert.ok(
        spans.some((s) => s.attributes['wirespan.flood.scope'] === 'all_sources') &&
          spans.some((s) => s.attributes['wirespan.flood.scope'] === 'source'),
        'the capture floods both tiers',
      );
      runs.push(spanLines(spans));
    }
    // Which of a second's pairs get their own span depends on arrival order; how many does not.
    assert.deepEqual(runs[1], runs[0]);
  });

  test('run --workers 2, drained by SIGTERM, exports those spans too', async () => {
    receiver.reset();
    await replayOtlp(receiver.endpoint, '0', capture);
    const expected = spanLines(receiver.spans);
    receiver.reset();
    const watched = path.join(dir, 'watched');
    fs.mkdirSync(watched);
    fs.copyFileSync(capture, path.join(watched, 'cap-0.pcap'));
    const old = Date.now() / 1000 - 3600;
    fs.utimesSync(path.join(watched, 'cap-0.pcap'), old, old); // a finished file of a backlog
    const stderr = await wirespan(
      [
        'run',
        '--watch',
        watched,
        '--state-dir',
        path.join(dir, 'state'),
        '--grace',
        '0.3',
        '--health-port',
        '0',
        '--workers',
        '2',
        '--otlp',
        receiver.endpoint,
      ],
      // Every record processed (the checkpoint is at the file's end): every SYN is still pending,
      // all of them come with the drain.
      {
        ready: () =>
          checkpointSays(path.join(dir, 'state'), (c) => {
            const watch = c.directories?.[0];
            return watch?.done?.length === 1 || watch?.current?.offset === fs.statSync(capture).size;
          }),
      },
    );
    assert.deepEqual(spanLines(receiver.spans), expected, stderr);
  });

  test("the bench's counting receiver counts the pairs behind the aggregates", async () => {
    const counting = await startCountingReceiver();
    try {
      await replayOtlp(counting.grpcUrl, '2', capture);
      const { pairs } = replayPairs([capture]);
      assert.equal(counting.pairs, pairs.length);
      assert.ok(counting.spans < counting.pairs, `${counting.spans} spans stand for ${counting.pairs} pairs`);
    } finally {
      await counting.close();
    }
  });
});
