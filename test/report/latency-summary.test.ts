/**
 * The end-of-run latency summary (`replay --summary`): its numbers equal those recomputed
 * from the JSONL pairs of the same replay, in both pipeline modes, and worker snapshots merge
 * exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';
import PackedHistogramModule from 'hdr-histogram-js/dist/PackedHistogram.js';
import { MessageEdges, Outcome, Pair } from '../../agent/correlate/pair.ts';
import {
  bucketSlot,
  highestEquivalentValue,
  kExactValues,
  kHighestTrackableNanos,
  kLargestRecordedNanos,
  kPackedValues,
  kSignificantDigits,
  type LatencyReport,
  type LatencyRow,
  LatencySummary,
  slotValue,
} from '../../agent/report/latency-summary.ts';
import { jsonLines, runCli } from '../helpers/run-cli.ts';

/** The reference: hdr-histogram-js with wirespan's settings (the summary reimplements its buckets). */
function latencyHistogram(packed = true) {
  const histogram = packed
    ? new PackedHistogramModule.default(1, kHighestTrackableNanos, kSignificantDigits)
    : new Int32HistogramModule.default(1, kHighestTrackableNanos, kSignificantDigits);
  histogram.autoResize = true;
  return histogram;
}

interface Expected {
  protocol: string;
  server?: { address: string; port: number };
  requests: number;
  matched: number;
  unanswered: number;
  errors: number;
  durations: number[];
}

/** Per protocol and per server, straight from the JSONL lines. */
function fromJsonl(lines: Record<string, unknown>[]): { protocols: Expected[]; servers: Expected[] } {
  const protocols = new Map<string, Expected>();
  const servers = new Map<string, Expected>();
  const get = (map: Map<string, Expected>, key: string, make: () => Expected): Expected => {
    let entry = map.get(key);
    if (!entry) {
      entry = make();
      map.set(key, entry);
    }
    return entry;
  };
  for (const line of lines) {
    const protocol = line.protocol as string;
    const server = line.server as { address: string; port: number };
    const empty = () => ({ protocol, requests: 0, matched: 0, unanswered: 0, errors: 0, durations: [] });
    const entries = [
      get(protocols, protocol, empty),
      get(servers, `${protocol} ${server.address} ${server.port}`, () => ({
        ...empty(),
        server: { address: server.address, port: server.port },
      })),
    ];
    const rcode = (line.dns as { rcode?: string | null } | undefined)?.rcode;
    const status = (line.http as { status?: number | null } | undefined)?.status;
    const error =
      (typeof rcode === 'string' && rcode !== 'NOERROR') || (typeof status === 'number' && status >= 500);
    for (const entry of entries) {
      entry.requests++;
      if (error) entry.errors++;
      if (line.outcome === 'matched') {
        entry.matched++;
        entry.durations.push(Math.max(0, line.duration_ns as number));
      } else {
        entry.unanswered++;
      }
    }
  }
  return { protocols: [...protocols.values()], servers: [...servers.values()] };
}

/** Checks one summary row against the JSONL: counts exactly, percentiles against the exact order statistics. */
function checkRow(row: LatencyRow, expected: Expected, where: string): void {
  assert.equal(row.requests, expected.requests, `${where} requests`);
  assert.equal(row.matched, expected.matched, `${where} matched`);
  assert.equal(row.unanswered, expected.unanswered, `${where} unanswered`);
  assert.equal(row.errors, expected.errors, `${where} errors`);
  if (expected.matched === 0) {
    assert.deepEqual([row.p50_ns, row.p90_ns, row.p99_ns, row.max_ns], [null, null, null, null], where);
    return;
  }
  // Sorting is fine in a test: this is the exact reference.
  const sorted = [...expected.durations].sort((a, b) => a - b);
  const max = sorted[sorted.length - 1]!;
  assert.equal(row.max_ns, max, `${where} max is exact`);
  const histogram = latencyHistogram();
  for (const d of expected.durations) histogram.recordValue(d);
  for (const [p, value] of [
    [50, row.p50_ns],
    [90, row.p90_ns],
    [99, row.p99_ns],
  ] as const) {
    // The same histogram fed from the JSONL gives the same number...
    assert.equal(value, Math.min(histogram.getValueAtPercentile(p), max), `${where} p${p} (histogram)`);
    // ...which is the nearest-rank value rounded up to its bucket (3 significant digits), at most the max.
    const exact = sorted[Math.max(1, Math.ceil((p / 100) * sorted.length - 1e-9)) - 1]!;
    assert.ok(
      value !== null && value >= exact && value <= Math.min(max, exact + exact / 1024 + 1),
      `${where} p${p}: ${value} vs exact ${exact}`,
    );
  }
}

function summaryJson(stderr: string): { latency: LatencyReport; pairs: Record<string, unknown> } {
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `--summary json prints one line on stderr: ${stderr}`);
  return JSON.parse(lines[0]!);
}

const byKey = (e: { protocol: string; server?: { address: string; port: number } }) =>
  `${e.protocol} ${e.server?.address ?? ''} ${e.server?.port ?? ''}`;

for (const corpus of ['test/fixtures/corpus/http', 'test/fixtures/corpus/dns', 'test/fixtures/demo.pcap']) {
  test(`summary numbers equal the JSONL's: ${corpus}, --workers 0 and 2`, () => {
    const reports: LatencyReport[] = [];
    for (const workers of ['0', '2']) {
      const result = runCli([
        'replay',
        corpus,
        '--workers',
        workers,
        '--summary',
        'json',
        '--summary-top',
        '100000',
      ]);
      assert.ok(result.status === 0 || result.status === 1, result.stderr);
      const { latency } = summaryJson(result.stderr);
      const expected = fromJsonl(jsonLines(result.stdout));
      const where = `${corpus} --workers ${workers}`;
      assert.ok(expected.protocols.length > 0, `${where}: the corpus has pairs`);
      assert.equal(latency.unit, 'ns');
      assert.deepEqual(
        latency.protocols.map(byKey),
        expected.protocols.map(byKey).sort(),
        `${where} protocols`,
      );
      for (const row of latency.protocols)
        checkRow(row, expected.protocols.find((e) => byKey(e) === byKey(row))!, `${where} ${byKey(row)}`);
      assert.equal(latency.servers_total, expected.servers.length, `${where} servers_total`);
      assert.equal(
        latency.servers_by_requests.length,
        expected.servers.length,
        `${where}: every server listed`,
      );
      for (const row of latency.servers_by_requests)
        checkRow(row, expected.servers.find((e) => byKey(e) === byKey(row))!, `${where} ${byKey(row)}`);
      // Rankings: by requests (descending), and by p99 over the servers with a matched pair.
      const requests = latency.servers_by_requests.map((r) => r.requests);
      assert.deepEqual(
        requests,
        [...requests].sort((a, b) => b - a),
        `${where} ranked by requests`,
      );
      const p99s = latency.servers_by_p99.map((r) => r.p99_ns!);
      assert.deepEqual(
        p99s,
        [...p99s].sort((a, b) => b - a),
        `${where} ranked by p99`,
      );
      assert.equal(latency.servers_by_p99.length, expected.servers.filter((e) => e.matched > 0).length);
      reports.push(latency);
    }
    assert.deepEqual(reports[1], reports[0], 'the same summary whatever the worker count');
  });
}

test('--summary-top limits both rankings; the text summary prints the table after the summary lines', () => {
  const json = runCli([
    'replay',
    'test/fixtures/demo.pcap',
    '-o',
    'none',
    '--summary',
    'json',
    '--summary-top',
    '2',
  ]);
  assert.equal(json.status, 0, json.stderr);
  const parsed = summaryJson(json.stderr) as unknown as {
    latency: LatencyReport;
    packets: number;
    files: number;
    pairs: Record<string, { matched: number }>;
    errors: string[];
  };
  assert.equal(parsed.packets, 160);
  assert.equal(parsed.files, 1);
  assert.deepEqual(parsed.errors, []);
  assert.equal(parsed.pairs.dns?.matched, 12);
  assert.equal(parsed.latency.top, 2);
  assert.equal(parsed.latency.servers_by_requests.length, 2);
  assert.equal(parsed.latency.servers_by_p99.length, 2);
  assert.equal(parsed.latency.servers_by_requests[0]?.server?.address, '127.0.0.1');

  const text = runCli(['replay', 'test/fixtures/demo.pcap', '-o', 'none']);
  assert.equal(text.status, 0, text.stderr);
  const lines = text.stderr.split('\n');
  const pairsLine = lines.findIndex((l) => l.startsWith('  pairs:'));
  const table = lines.findIndex((l) => l.startsWith('  latency by protocol'));
  assert.ok(pairsLine >= 0 && table > pairsLine, text.stderr);
  assert.match(text.stderr, /^ {2}dns +13 +1 +2 +0\.381 /m);
  assert.match(text.stderr, /top 10 servers by requests \(of 10\)/);
  assert.match(text.stderr, /top 10 servers by p99/);
  assert.match(text.stderr, /^ {2}http \[::1\]:8080 /m);

  const none = runCli(['replay', 'test/fixtures/demo.pcap', '-o', 'none', '--summary', 'none']);
  assert.equal(none.status, 0);
  assert.match(none.stderr, /pairs: dns matched=12/);
  assert.doesNotMatch(none.stderr, /latency by protocol/);

  const quiet = runCli(['replay', 'test/fixtures/demo.pcap', '-o', 'none', '--summary', 'json', '--quiet']);
  assert.equal(quiet.stderr, '');

  const bad = runCli(['replay', 'test/fixtures/demo.pcap', '--summary', 'yaml']);
  assert.equal(bad.status, 2);
  const badTop = runCli(['replay', 'test/fixtures/demo.pcap', '--summary-top', '0']);
  assert.equal(badTop.status, 2);
});

/** A synthetic matched (or unanswered) DNS pair to one of a few servers. */
function pair(server: number, nanos: number | null, rcode = 'NOERROR'): Pair {
  const p = new Pair();
  p.protocol = 'dns';
  p.transport = 17;
  p.ipVersion = 4;
  p.server0 = (10 << 24) | server;
  p.serverPort = 53;
  p.request.begin(1_800_000_000, 100, 0, 1, 40);
  if (nanos === null) {
    p.outcome = Outcome.Unanswered;
  } else {
    const end = 100 + nanos;
    p.response = new MessageEdges().begin(
      1_800_000_000 + Math.floor(end / 1e9),
      end % 1_000_000_000,
      0,
      2,
      60,
    );
  }
  p.detail = { rcode: nanos === null ? null : rcode };
  return p;
}

test('worker snapshots merge into exactly the single-summary result (exact values and histogram buckets)', () => {
  let seed = 42;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const whole = new LatencySummary();
  const shards = [new LatencySummary(), new LatencySummary(), new LatencySummary()];
  // Server 1: many pairs (histogram path); server 2: a few (exact path, but > kExactValues once merged).
  const counts = [5000, kExactValues - 10];
  for (const [s, n] of counts.entries()) {
    for (let i = 0; i < n; i++) {
      const nanos = random() < 0.02 ? null : Math.floor(10 ** (3 + random() * 7));
      const p = pair(s + 1, nanos, random() < 0.05 ? 'SERVFAIL' : 'NOERROR');
      whole.add(p);
      shards[i % 3]!.add(p);
    }
  }
  const merged = new LatencySummary();
  for (const shard of shards) merged.merge(structuredClone(shard.snapshot()));
  assert.deepEqual(merged.report(), whole.report());
  const report = whole.report();
  assert.equal(report.protocols[0]?.requests, counts[0]! + counts[1]!);
  assert.ok((report.protocols[0]?.errors ?? 0) > 0);
  assert.ok((report.protocols[0]?.unanswered ?? 0) > 0);
  assert.equal(report.servers_by_requests[0]?.server?.address, '10.0.0.1');
});

test("a protocol's row is the merge of its servers' (each in another recording step)", () => {
  let seed = 3;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const summary = new LatencySummary();
  const expected: Expected = {
    protocol: 'dns',
    requests: 0,
    matched: 0,
    unanswered: 0,
    errors: 0,
    durations: [],
  };
  // Flat counts, packed values, exact values, and a server that never answered.
  for (const [server, n, answered] of [
    [1, kPackedValues + 500, true],
    [2, 1000, true],
    [3, kExactValues - 4, true],
    [4, 7, false],
  ] as const) {
    for (let i = 0; i < n; i++) {
      const nanos = answered ? Math.floor(10 ** (4 + random() * 5)) : null;
      const error = random() < 0.1;
      summary.add(pair(server, nanos, error ? 'SERVFAIL' : 'NOERROR'));
      expected.requests++;
      if (nanos === null) {
        expected.unanswered++;
        continue;
      }
      if (error) expected.errors++;
      expected.matched++;
      expected.durations.push(nanos);
    }
  }
  const report = summary.report(100);
  assert.equal(report.protocols.length, 1);
  checkRow(report.protocols[0]!, expected, 'dns');
  assert.equal(report.servers_total, 4);
});

test('percentiles: nearest rank at 3 significant digits, never above the exact maximum', () => {
  const summary = new LatencySummary();
  for (let v = 1; v <= 100; v++) summary.add(pair(1, v * 1_000_000));
  const row = summary.report().protocols[0]!;
  assert.equal(row.max_ns, 100_000_000);
  for (const [p, value] of [
    [50, row.p50_ns],
    [90, row.p90_ns],
    [99, row.p99_ns],
  ] as const) {
    const exact = p * 1_000_000;
    assert.ok(value !== null && value >= exact && value <= exact * (1 + 1 / 1024), `p${p} = ${value}`);
  }
  const single = new LatencySummary();
  single.add(pair(1, 123_456_789));
  const one = single.report().protocols[0]!;
  assert.deepEqual([one.p50_ns, one.p99_ns, one.max_ns], [123_456_789, 123_456_789, 123_456_789]);
});

test('a latency beyond 2^53 ns (a clock jump of years) is summarised, not a crash', () => {
  const summary = new LatencySummary();
  // Past kExactValues, so the values go through a histogram (hdr-histogram-js fails at 2^53).
  for (let v = 1; v <= 200; v++) summary.add(pair(1, v * 1_000_000));
  const years = 46 * 365 * 86_400 * 1_000_000_000;
  summary.add(pair(1, years));
  const row = summary.report().protocols[0]!;
  assert.equal(row.max_ns, years);
  assert.ok(row.p50_ns !== null && row.p50_ns < 200_000_000);
});

test('bucket arithmetic equals hdr-histogram-js at every magnitude up to 2^52', () => {
  const reference = latencyHistogram(false);
  let seed = 7;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const values: number[] = [0, 1, 2047, 2048, 2049, 4095, 4096, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52];
  for (let bits = 1; bits <= 52; bits++) {
    values.push(2 ** bits - 1, 2 ** bits, 2 ** bits + 1);
    for (let i = 0; i < 50; i++) values.push(Math.floor(2 ** (bits - 1) * (1 + random())));
  }
  for (const value of values) {
    const slot = reference.countsArrayIndex(value);
    assert.equal(bucketSlot(value), slot, `slot of ${value}`);
    assert.equal(slotValue(slot), reference.valueFromIndex(slot), `lowest value of slot ${slot}`);
    assert.equal(highestEquivalentValue(value), reference.highestEquivalentValue(value), `top of ${value}`);
  }
});

test('percentiles equal hdr-histogram-js in every step (exact, packed, flat counts), huge latencies included', () => {
  let seed = 11;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (const n of [kExactValues + 1, 100, 1000, kPackedValues, kPackedValues + 1, 20_000]) {
    const summary = new LatencySummary();
    const histogram = latencyHistogram();
    let max = 0;
    for (let i = 0; i < n; i++) {
      // Mostly milliseconds, some seconds and a few beyond 2^32 ns and 2^52 ns.
      const r = random();
      const nanos =
        r < 0.002
          ? Math.floor(2 ** 52 * (1 + random() * 8))
          : Math.floor(10 ** (2 + random() * (r < 0.05 ? 11 : 7)));
      summary.add(pair(1 + (i % 3), nanos));
      histogram.recordValue(Math.min(nanos, kLargestRecordedNanos));
      max = Math.max(max, nanos);
    }
    const row = summary.report().protocols[0]!;
    assert.equal(row.matched, n);
    assert.equal(row.max_ns, max);
    for (const [p, value] of [
      [50, row.p50_ns],
      [90, row.p90_ns],
      [99, row.p99_ns],
    ] as const) {
      assert.equal(value, Math.min(histogram.getValueAtPercentile(p), max), `${n} values: p${p}`);
    }
  }
});

test('flat counts take the values gathered since the step to them: server rows, snapshots, every refill', () => {
  let seed = 5;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  // One server, so its row is read before any merge; a second refill of the gathered values and
  // some left over; and values every report or snapshot must count though not yet in the counts.
  for (const n of [kPackedValues + 1, kPackedValues + 7, 2 * kPackedValues + 1, 3 * kPackedValues + 123]) {
    const summary = new LatencySummary();
    const histogram = latencyHistogram();
    let max = 0;
    for (let i = 0; i < n; i++) {
      const nanos = Math.floor(10 ** (3 + random() * 6));
      summary.add(pair(1, nanos));
      histogram.recordValue(nanos);
      max = Math.max(max, nanos);
    }
    const merged = new LatencySummary();
    merged.merge(structuredClone(summary.snapshot()));
    for (const report of [summary.report(), merged.report()]) {
      for (const row of [report.servers_by_requests[0]!, report.protocols[0]!]) {
        assert.equal(row.matched, n);
        assert.equal(row.p50_ns, Math.min(histogram.getValueAtPercentile(50), max), `${n} values: p50`);
        assert.equal(row.p99_ns, Math.min(histogram.getValueAtPercentile(99), max), `${n} values: p99`);
      }
    }
    // Read twice: the counts already hold what the first read moved into them.
    assert.deepEqual(summary.report(), merged.report());
  }
});

test('servers are told apart by version, every address word and port (IPv6 without address text per pair)', () => {
  const summary = new LatencySummary();
  const make = (version: number, words: number[], port: number): Pair => {
    const p = pair(1, 1000);
    p.ipVersion = version;
    [p.server0, p.server1, p.server2, p.server3] = words as [number, number, number, number];
    p.serverPort = port;
    return p;
  };
  const servers: [number, number[], number][] = [
    [4, [0x0a000001, 0, 0, 0], 53],
    [6, [0x0a000001, 0, 0, 0], 53],
    [6, [0xfd000000, 0, 0, 1], 53],
    [6, [0xfd000000, 0, 1, 1], 53],
    [6, [0xfd000000, 1, 0, 1], 53],
    [6, [0xfd000000, 0, 0, 2], 53],
    [6, [0xfd000000, 0, 0, 1], 5353],
  ];
  for (let round = 0; round < 3; round++)
    for (const [i, [version, words, port]] of servers.entries())
      for (let n = 0; n <= i; n++) summary.add(make(version, words, port));
  const report = summary.report(100);
  assert.equal(report.servers_total, servers.length);
  const names = report.servers_by_requests.map((r) => `${r.server!.address} ${r.server!.port} ${r.requests}`);
  assert.deepEqual(names, [
    'fd00::1 5353 21',
    'fd00::2 53 18',
    'fd00:0:0:1::1 53 15',
    'fd00::1:0:1 53 12',
    'fd00::1 53 9',
    'a00:1:: 53 6',
    '10.0.0.1 53 3',
  ]);
});

test('bucket counts beyond 2^32 (merged snapshots of a long run) stay exact', () => {
  const stats = (buckets: number[]) => ({
    requests: buckets.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0),
    unanswered: 0,
    errors: 0,
    matched: buckets.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0),
    maxNanos: 6000,
    values: null,
    buckets,
  });
  const summary = new LatencySummary();
  summary.merge({ servers: [['dns', '10.0.0.1', 53, stats([1000, 2 ** 32 - 10, 6000, 2 ** 30])]] });
  summary.merge({ servers: [['dns', '10.0.0.1', 53, stats([1000, 20, 6000, 1])]] });
  const report = summary.report();
  for (const row of [report.protocols[0]!, report.servers_by_requests[0]!]) {
    assert.equal(row.matched, 2 ** 32 + 10 + 2 ** 30 + 1);
    assert.equal(row.p50_ns, 1000);
    assert.equal(row.p90_ns, 6000, 'the bucket top capped at the maximum');
  }
  const snapshot = summary.snapshot().servers[0]![3];
  assert.deepEqual(snapshot.buckets, [1000, 2 ** 32 + 10, 6000, 2 ** 30 + 1]);
});
