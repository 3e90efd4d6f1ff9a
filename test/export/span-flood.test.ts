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
import { createOtelExporter } from '../../agent/export/otel/index.ts';
import {
  type FloodAggregate,
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
