/**
 * Flood protection for spans (agent/export/otel/span-flood.ts): unanswered pairs of one source
 * beyond the rate become one `unanswered flood` span per source and second of capture time; the
 * source table is bounded. End to end: a crafted SYN flood capture through the exporter to a real
 * OTLP receiver.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOtelExporter } from '../../agent/export/otel/index.ts';
import {
  type FloodAggregate,
  FloodCheckpointHold,
  floodLateSeconds,
  kFloodSpanName,
  SpanFloodGuard,
} from '../../agent/export/otel/span-flood.ts';
import type { PairData } from '../../agent/export/otel/span-mapper.ts';
import { cpuMillis } from '../helpers/cpu-time.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { repoRoot } from '../helpers/run-cli.ts';
import { kCraftedTcpFlags, PcapStreamWriter } from '../hostile/crafted-tcp.ts';
import { type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

const kBase = 1_700_000_000;

function pair(client: number, seconds: number, nanos = 0, matched = false, protocol = 'tcp'): PairData {
  const edges = {
    firstSeconds: seconds,
    firstNanos: nanos,
    lastSeconds: seconds,
    lastNanos: nanos,
    packets: 1,
    bytes: 0,
    fileId: 0,
    packet: 1,
  };
  return {
    outcome: matched ? 0 : 1,
    unansweredReason: 0,
    givenUpSeconds: seconds + 30,
    givenUpNanos: nanos,
    protocol,
    transport: 6,
    ipVersion: 4,
    client0: client,
    client1: 0,
    client2: 0,
    client3: 0,
    clientPort: 40000,
    server0: 0x0a000001,
    server1: 0,
    server2: 0,
    server3: 0,
    serverPort: 80,
    request: edges,
    response: matched ? edges : null,
    detail: null,
  };
}

describe('SpanFloodGuard', () => {
  test('beyond the limit per source and interval, pairs are counted into one aggregate per interval', () => {
    const aggregates: FloodAggregate[] = [];
    const guard = new SpanFloodGuard({ perInterval: 3, lateSeconds: 0 }, (a) => aggregates.push(a));
    const a = 0x0a000002;
    const b = 0x0a000003;
    let admittedA = 0;
    let admittedB = 0;
    for (let i = 0; i < 10; i++) if (guard.admit(pair(a, kBase, i * 1000))) admittedA++;
    for (let i = 0; i < 2; i++) if (guard.admit(pair(b, kBase, i * 1000))) admittedB++;
    for (let i = 0; i < 20; i++)
      assert.ok(guard.admit(pair(a, kBase, i, true)), 'answered pairs are never limited');
    assert.deepEqual([admittedA, admittedB, aggregates.length], [3, 2, 0]);
    // Another protocol from the same address is its own source.
    assert.ok(guard.admit(pair(a, kBase, 0, false, 'dns')));
    // The next second: A's interval closes with 7 pairs counted.
    assert.ok(guard.admit(pair(a, kBase + 1)));
    assert.equal(aggregates.length, 1);
    const first = aggregates[0]!;
    assert.equal(first.name, kFloodSpanName);
    assert.equal(first.count, 7);
    assert.deepEqual(
      [first.startTime, first.endTime, first.durationNanos],
      [[kBase, 0], [kBase + 1, 0], 1e9],
    );
    assert.deepEqual(
      [
        first.attributes['wirespan.flood.count'],
        first.attributes['wirespan.flood.limit'],
        first.attributes['wirespan.protocol'],
        first.attributes['client.address'],
        first.attributes['network.transport'],
        first.attributes['wirespan.flood.scope'],
      ],
      [7, 3, 'tcp', '10.0.0.2', 'tcp', 'source'],
    );
    assert.equal(first.statusCode, 2, 'ERROR');
    assert.equal(guard.aggregated, 7);
    guard.flush();
    assert.equal(aggregates.length, 1, 'nothing pending: no more aggregates');
    assert.equal(guard.sources, 0);
  });

  test('spoofed floods (every request from a new address) are capped per protocol across all sources', () => {
    const aggregates: FloodAggregate[] = [];
    const guard = new SpanFloodGuard({ perInterval: 2, totalPerInterval: 5, lateSeconds: 0 }, (a) =>
      aggregates.push(a),
    );
    let admitted = 0;
    for (let i = 0; i < 50; i++) if (guard.admit(pair(0x0b000000 + i, kBase, i))) admitted++;
    assert.equal(admitted, 5, 'the first 5 of the interval, whatever their source');
    assert.ok(guard.admit(pair(1, kBase, 0, false, 'dns')), 'another protocol has its own total');
    assert.equal(aggregates.length, 0);
    assert.ok(guard.admit(pair(0x0c000000, kBase + 1)), 'a new interval starts a new total');
    assert.equal(aggregates.length, 1);
    const total = aggregates[0]!;
    assert.deepEqual(
      [
        total.count,
        total.attributes['wirespan.flood.scope'],
        total.attributes['wirespan.flood.limit'],
        total.attributes['client.address'],
        total.startTime,
      ],
      [45, 'all_sources', 5, undefined, [kBase, 0]],
    );
    guard.flush();
    assert.equal(guard.aggregated, 45);
    assert.throws(
      () => new SpanFloodGuard({ perInterval: 5, totalPerInterval: 4 }, () => {}),
      /totalPerInterval/,
    );
  });

  test('an interval closes once capture time has moved lateSeconds past it (also by answered pairs)', () => {
    const aggregates: FloodAggregate[] = [];
    const guard = new SpanFloodGuard({ perInterval: 1, lateSeconds: 1 }, (a) => aggregates.push(a));
    for (let i = 0; i < 5; i++) guard.admit(pair(7, kBase, i));
    guard.admit(pair(8, kBase + 1, 0, true));
    assert.equal(aggregates.length, 0, 'a late pair may still arrive for the interval');
    assert.equal(guard.admit(pair(7, kBase, 9)), false, 'a late pair counts in its own (full) interval');
    guard.admit(pair(8, kBase + 2, 0, true));
    assert.equal(aggregates.length, 1);
    assert.equal(aggregates[0]!.count, 5);
    // Later than lateSeconds: counted in the oldest open interval (kBase + 1), still bounded.
    assert.equal(guard.admit(pair(7, kBase, 10)), true, 'the first of interval kBase + 1');
    assert.equal(guard.admit(pair(7, kBase, 11)), false);
    guard.flush();
    assert.deepEqual(
      aggregates.map((a) => [a.startTime[0], a.count]),
      [
        [kBase, 5],
        [kBase + 1, 1],
      ],
    );
  });

  test('the spans do not depend on the order the unanswered pairs arrive in (worker shards, end of input)', () => {
    // Unanswered pairs over 6 seconds: 3 busy sources beyond the per-source limit, and a spoofed
    // flood beyond the per-protocol limit, plus answered pairs that move capture time on.
    const pairs: PairData[] = [];
    let spoofed = 0x0b000000;
    for (let second = 0; second < 6; second++) {
      for (let i = 0; i < 40; i++) pairs.push(pair(0x0a000010 + (i % 3), kBase + second, i * 1000));
      for (let i = 0; i < 30 + second * 10; i++) pairs.push(pair(spoofed++, kBase + second, i));
      pairs.push(pair(0x0a000001, kBase + second, 5, true));
    }
    const run = (order: PairData[]): { admitted: number; aggregates: string[] } => {
      const aggregates: string[] = [];
      const guard = new SpanFloodGuard({ perInterval: 5, totalPerInterval: 50 }, (a) =>
        aggregates.push(
          `${a.startTime[0]} ${a.attributes['wirespan.flood.scope']} ${a.attributes['client.address']} ${a.count}`,
        ),
      );
      let admitted = 0;
      for (const p of order) if (p.outcome !== 0 && guard.admit(p)) admitted++;
      guard.flush();
      return { admitted, aggregates: aggregates.sort() };
    };
    const inOrder = run(pairs);
    // Two shards by source address, the second one's pairs after the first's (as at end of input).
    const shard = (p: PairData): number => p.client0 & 1;
    const sharded = run([...pairs.filter((p) => shard(p) === 0), ...pairs.filter((p) => shard(p) === 1)]);
    const reversed = run([...pairs].reverse());
    let seed = 7;
    const shuffled = [...pairs];
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const random = run(shuffled);
    // Per second: 3 sources x 5 = 15, plus 30 + 10 s spoofed, at most 50 in all: 45, then 50.
    assert.equal(inOrder.admitted, 45 + 5 * 50);
    for (const other of [sharded, reversed, random]) assert.deepEqual(other, inOrder);
  });

  test('unanswered pairs given up a timeout after answered ones are still limited per source and second', () => {
    // As in a live capture: a pair is given up 30 s (the default timeout) after its request, by
    // which time answered pairs of 30 s later are passing through the guard, between them.
    const aggregates: FloodAggregate[] = [];
    const guard = new SpanFloodGuard({ perInterval: 10 }, (a) => aggregates.push(a));
    let admitted = 0;
    for (let i = 0; i < 1000; i++) {
      guard.admit(pair(9, kBase + 30, i, true));
      if (guard.admit(pair(7, kBase, i))) admitted++;
    }
    assert.equal(admitted, 10);
    guard.flush();
    assert.deepEqual(
      aggregates.map((a) => [a.attributes['client.address'], a.count]),
      [['0.0.0.7', 990]],
    );
    assert.equal(floodLateSeconds({ dns: 5e9, http: 30e9 }), 32, 'the longest timeout, plus the shards');
    assert.equal(floodLateSeconds({ dns: 1.5e9 }), 4);
  });

  test('the source table is bounded; the least recently seen source is closed (its aggregate emitted)', () => {
    const aggregates: FloodAggregate[] = [];
    const guard = new SpanFloodGuard({ perInterval: 1, maxSources: 2 }, (a) => aggregates.push(a));
    guard.admit(pair(1, kBase));
    guard.admit(pair(1, kBase)); // counted
    guard.admit(pair(2, kBase));
    guard.admit(pair(1, kBase)); // counted; 1 is now the most recent
    guard.admit(pair(3, kBase)); // evicts 2 (nothing to emit)
    assert.equal(aggregates.length, 0);
    guard.admit(pair(2, kBase)); // evicts 1: its aggregate (2 pairs) goes out
    assert.equal(aggregates.length, 1);
    assert.equal(aggregates[0]!.count, 2);
    assert.equal(aggregates[0]!.attributes['client.address'], '0.0.0.1');
    assert.equal(guard.sources, 2);
    // Many sources: never more than the bound, every source found again while tracked.
    const big = new SpanFloodGuard({ perInterval: 2, maxSources: 64 }, () => {});
    for (let i = 0; i < 100_000; i++) big.admit(pair(i % 5000, kBase));
    assert.ok(big.sources <= 64);
    const small = new SpanFloodGuard({ perInterval: 2, totalPerInterval: 1000, maxSources: 64 }, () => {});
    let admitted = 0;
    for (let i = 0; i < 6400; i++) if (small.admit(pair(i % 64, kBase))) admitted++;
    assert.equal(admitted, 128, 'with room for every source, each gets exactly the limit');
  });

  test('limit 0 turns the guard off', () => {
    const guard = new SpanFloodGuard({ perInterval: 0 }, () => assert.fail('no aggregate'));
    for (let i = 0; i < 1000; i++) assert.ok(guard.admit(pair(1, kBase)));
  });

  test('time is linear in the pairs, with a flood of spoofed sources churning the table', () => {
    const run = (n: number): number => {
      const guard = new SpanFloodGuard({ perInterval: 100, maxSources: 4096 }, () => {});
      const started = cpuMillis();
      for (let i = 0; i < n; i++) guard.admit(pair((i * 2654435761) >>> 0, kBase + Math.floor(i / 50_000)));
      return cpuMillis() - started;
    };
    run(50_000); // warm-up
    const one = run(200_000);
    const two = run(400_000);
    assert.ok(two < one * 5 + 50, `200k: ${one.toFixed(1)} ms, 400k: ${two.toFixed(1)} ms`);
  });
});

describe('checkpoints wait for pending aggregates', () => {
  test('each aggregate is stamped when its first pair is counted; the oldest pending stamp, until it is emitted', () => {
    let now = 0;
    const aggregates: FloodAggregate[] = [];
    const guard = new SpanFloodGuard(
      { perInterval: 2, totalPerInterval: 3, lateSeconds: 1, maxSources: 2, stamp: () => now },
      (a) => aggregates.push(a),
    );
    assert.equal(guard.oldestPendingStamp, Number.POSITIVE_INFINITY);
    now = 5;
    guard.admit(pair(1, kBase));
    guard.admit(pair(1, kBase));
    assert.equal(guard.oldestPendingStamp, Number.POSITIVE_INFINITY, 'admitted pairs are spans');
    now = 7;
    guard.admit(pair(1, kBase)); // source 1's aggregate starts
    now = 9;
    guard.admit(pair(1, kBase));
    assert.equal(guard.oldestPendingStamp, 7, 'stamped with its first pair');
    // Source 2's two pairs take the all-sources tier beyond 3: its aggregate starts at 11.
    now = 11;
    guard.admit(pair(2, kBase));
    guard.admit(pair(2, kBase));
    assert.equal(guard.oldestPendingStamp, 7);
    // Source 3 evicts source 1 (least recently seen): its aggregate goes out.
    now = 12;
    guard.admit(pair(3, kBase));
    assert.deepEqual(
      aggregates.map((a) => a.count),
      [2],
    );
    assert.equal(guard.oldestPendingStamp, 11, 'the all-sources aggregate is the oldest pending now');
    // Capture time moves past the open window: everything closes.
    guard.admit(pair(4, kBase + 2, 0, true));
    assert.equal(aggregates.length, 2);
    assert.equal(guard.oldestPendingStamp, Number.POSITIVE_INFINITY);
    now = 20;
    guard.admit(pair(5, kBase + 2));
    guard.admit(pair(5, kBase + 2));
    guard.admit(pair(5, kBase + 2));
    assert.equal(guard.oldestPendingStamp, 20);
    guard.flush();
    assert.equal(guard.oldestPendingStamp, Number.POSITIVE_INFINITY, 'flush() emits them');
  });

  test('limit 0: no aggregate, nothing pending', () => {
    const guard = new SpanFloodGuard({ perInterval: 0, stamp: () => assert.fail('no stamp') }, () => {});
    for (let i = 0; i < 100; i++) guard.admit(pair(1, kBase));
    assert.equal(guard.oldestPendingStamp, Number.POSITIVE_INFINITY);
  });

  test('FloodCheckpointHold: a candidate noted while an aggregate is pending waits until its span is settled', () => {
    let pending = Number.POSITIVE_INFINITY;
    const hold = new FloodCheckpointHold(() => pending);
    // No flood: the marks and the settled prefix as they are.
    assert.equal(hold.mark(10), 10);
    assert.equal(hold.settledThrough(10, 10), 10);
    // An aggregate starts with 10 spans accepted (all settled): a candidate before it had 10.
    pending = 10;
    const during = hold.mark(10);
    assert.equal(during, 10.5, 'past every span accepted, short of the next');
    assert.equal(hold.settledThrough(10, 10), 10, 'the earlier candidate is safe');
    assert.ok(hold.settledThrough(40, 40) < during, 'later spans settled: still held');
    const later = hold.mark(50);
    assert.equal(later, 50.5);
    // The aggregate closes: its span is among the 52 offered, not yet settled.
    pending = Number.POSITIVE_INFINITY;
    assert.equal(hold.settledThrough(50, 52), 10, 'held until the spans offered at its close are settled');
    assert.equal(hold.settledThrough(51, 52), 10);
    assert.equal(hold.settledThrough(52, 52), 52, 'released');
    assert.ok(hold.settledThrough(52, 52) >= later);
    assert.equal(hold.mark(52), 52);
  });

  test('FloodCheckpointHold: a sustained flood still moves the mark, always forward', () => {
    // Aggregates start every step and close 3 steps later; 1 span accepted and settled a step.
    const started: number[] = [];
    let accepted = 0;
    const hold = new FloodCheckpointHold(() => started.find((s) => s >= 0) ?? Number.POSITIVE_INFINITY);
    let previous = 0;
    const marks: number[] = [];
    for (let step = 0; step < 500; step++) {
      started.push(accepted);
      if (step >= 3) started[step - 3] = -1; // closed: its span is among the accepted
      accepted += 2; // one pair span and, from step 3 on, the aggregate's (rounded up: both)
      marks.push(hold.mark(accepted));
      const settled = hold.settledThrough(Math.max(0, accepted - 4), accepted);
      assert.ok(settled >= previous, `step ${step}: ${settled} < ${previous}`);
      previous = settled;
    }
    assert.ok(previous >= accepted - 20, `${previous} of ${accepted}: lags by the open window only`);
    assert.ok(marks.filter((m) => m <= previous).length > 400, 'most candidates became safe');
  });

  test('FloodCheckpointHold: closed aggregates beyond the remembered ones are merged (held longer, never shorter)', () => {
    let pending = 0;
    const hold = new FloodCheckpointHold(() => pending);
    hold.mark(0);
    for (let i = 1; i <= 100; i++) {
      pending = i * 10; // the oldest closed; the next one started at i * 10
      hold.settledThrough(0, i * 10);
    }
    // 100 closings seen; the first held at 0 until 10 is settled.
    assert.equal(hold.settledThrough(9, 1000), 0);
    assert.equal(hold.settledThrough(10, 1000), 10);
    // The merged tail holds at its oldest stamp until the newest of them is settled.
    assert.ok(hold.settledThrough(700, 1000) <= 700);
    assert.equal(hold.settledThrough(1000, 1000), 1000);
  });
});

describe('a crafted SYN flood through the exporter and an OTLP receiver', () => {
  let receiver: OtlpReceiver;
  let capture: string;
  const kFlooder = 0x0a090909; // 10.9.9.9
  const kQuiet = 0x0a080808; // 10.8.8.8
  const kServer = 0x0a000050;
  const kFloodSyns = 3000;
  const kQuietSyns = 40;

  before(async () => {
    receiver = await startReceiver();
    capture = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-span-flood-')), 'syn-flood.pcap');
    const writer = new PcapStreamWriter(capture);
    // Packets are 1 µs apart: everything within one second of capture time.
    for (let i = 0; i < kFloodSyns; i++) {
      writer.tcp(kFlooder, 1024 + (i % 60000), kServer, 80, i * 7919, 0, kCraftedTcpFlags.syn, 0);
      if (i % (kFloodSyns / kQuietSyns) === 0)
        writer.tcp(kQuiet, 2000 + i, kServer, 80, i, 0, kCraftedTcpFlags.syn, 0);
    }
    writer.close();
  });
  after(() => receiver.close());

  for (const limit of [100, 0]) {
    test(`--unanswered-spans-per-second ${limit}`, async () => {
      receiver.reset();
      const { pairs } = replayPairs([capture]);
      const unanswered = pairs.filter((p) => p.protocol === 'tcp' && p.outcome === 1);
      assert.equal(unanswered.length, kFloodSyns + kQuietSyns, 'every SYN is an unanswered pair');
      const exporter = await createOtelExporter({
        endpoint: receiver.endpoint,
        metrics: false,
        unansweredSpansPerSecond: limit,
        batch: { maxQueueSize: 1 << 16 },
      });
      for (const p of pairs) exporter.emit(p);
      assert.equal(exporter.counters.pairs, pairs.length, 'every pair is counted');
      const result = await exporter.shutdown();
      assert.equal(result.error, null);
      const spans = receiver.spans;
      const bySource = (address: string) => spans.filter((s) => s.attributes['client.address'] === address);
      const flood = spans.filter((s) => s.name === kFloodSpanName);
      if (limit === 0) {
        assert.equal(flood.length, 0);
        assert.equal(spans.length, pairs.length);
        return;
      }
      assert.equal(bySource('10.8.8.8').length, kQuietSyns, 'a source under the limit: every span');
      const flooder = bySource('10.9.9.9');
      assert.equal(flooder.length, limit + 1, 'the limit, one by one, and one aggregate');
      assert.equal(flood.length, 1);
      const aggregate = flood[0]!;
      assert.equal(aggregate.attributes['wirespan.flood.count'], kFloodSyns - limit);
      assert.equal(aggregate.attributes['wirespan.protocol'], 'tcp');
      assert.equal(aggregate.status.code, 'ERROR');
      const second = BigInt(unanswered[0]!.request.firstSeconds) * 1_000_000_000n;
      assert.equal(aggregate.startTimeUnixNano, second.toString());
      assert.equal(aggregate.endTimeUnixNano, (second + 1_000_000_000n).toString());
      // Spans exported one by one + counted ones = every pair.
      const counted = flood.reduce((n, s) => n + Number(s.attributes['wirespan.flood.count']), 0);
      assert.equal(spans.length - flood.length + counted, pairs.length);
    });
  }

  test("run's checkpoint mark: not settled while the aggregate is pending, settled once it is exported", async () => {
    receiver.reset();
    const { pairs } = replayPairs([capture]);
    const exporter = await createOtelExporter({
      endpoint: receiver.endpoint,
      metrics: false,
      unansweredSpansPerSecond: 100,
      batch: { maxQueueSize: 1 << 16, scheduledDelayMillis: 10 },
    });
    for (const p of pairs) exporter.emit(p);
    const mark = exporter.checkpointMark();
    const spans = pairs.length - (kFloodSyns - 100);
    assert.equal(mark, spans + 0.5, 'every span so far, and the aggregate to come');
    const deadline = Date.now() + 10_000;
    while (exporter.counters.exported < spans && Date.now() < deadline) await sleep(20);
    assert.equal(exporter.counters.exported, spans);
    assert.equal(exporter.settledThrough, 0, 'held where the aggregate started: before its pairs');
    await exporter.forceFlush(); // the aggregate goes out (as its interval would close)
    while (exporter.settledThrough < mark && Date.now() < deadline) await sleep(20);
    assert.equal(exporter.settledThrough, spans + 1);
    assert.equal(exporter.checkpointMark(), spans + 1);
    assert.equal((await exporter.shutdown()).error, null);
  });

  test('the real CLI: replay --otlp --unanswered-spans-per-second 10', async () => {
    receiver.reset();
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'replay',
        '--quiet',
        '--output',
        'none',
        '--otlp',
        receiver.endpoint,
        '--unanswered-spans-per-second',
        '10',
        capture,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const status = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(status, 0, stderr);
    const flooder = receiver.spans.filter((s) => s.attributes['client.address'] === '10.9.9.9');
    assert.equal(flooder.length, 11);
    const aggregate = flooder.find((s) => s.name === kFloodSpanName);
    assert.equal(aggregate?.attributes['wirespan.flood.count'], kFloodSyns - 10);
    const quiet = receiver.spans.filter((s) => s.attributes['client.address'] === '10.8.8.8');
    assert.equal(quiet.length, 11, 'at 10 per second the quieter source is limited too');
    assert.equal(
      quiet.find((s) => s.name === kFloodSpanName)?.attributes['wirespan.flood.count'],
      kQuietSyns - 10,
    );
  });
});
