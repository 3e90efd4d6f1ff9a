/**
 * Request floods against the matchers (issue 11): SYN flood, DNS query flood, HTTP pipelining on
 * one connection, header storms. Each crafted capture (crafted-flows.ts) is replayed at N and 4N
 * packets through the real reader, decoder and Correlator; each run must hit its cap and count
 * it (evictions reported unanswered, evicted), keep its tables within the caps, grow the heap by
 * far less than the extra entries would hold, and take time linear in the packets (4N within 8x
 * N's time: a generous guard against quadratic work, not a benchmark).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Correlator } from '../../agent/correlate/correlator.ts';
import { kMaxQueuedRequests } from '../../agent/correlate/http/matcher.ts';
import { kMaxHeadBytes } from '../../agent/correlate/http/parse.ts';
import { applyMemoryBudget } from '../../agent/correlate/memory-budget.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { Outcome, UnansweredReason } from '../../agent/correlate/pair.ts';
import { replayFiles } from '../../agent/pipeline/replay.ts';
import { SkipCounters, skipReason } from '../../agent/shared/skips.ts';
import { cpuMillis } from '../helpers/cpu-time.ts';
import { writeDnsQueryFlood, writeHeaderStorm, writePipelineFlood, writeSynFlood } from './crafted-flows.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-matcher-floods-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface FloodRun {
  packets: number;
  millis: number;
  /** Heap growth from before the replay to the end of input (before flush), after a full GC. */
  heapBytes: number;
  /** Most pending entries seen per protocol, sampled every 256 packets. */
  maxPending: Record<string, number>;
  unanswered: number;
  evicted: number;
  matched: number;
  skips: SkipCounters;
}

function replay(file: string, options: CorrelateOptions): FloodRun {
  const run: FloodRun = {
    packets: 0,
    millis: 0,
    heapBytes: 0,
    maxPending: {},
    unanswered: 0,
    evicted: 0,
    matched: 0,
    skips: new SkipCounters(),
  };
  const correlator = new Correlator(
    options,
    {
      emit: (pair) => {
        if (pair.outcome === Outcome.Matched) run.matched++;
        else {
          run.unanswered++;
          if (pair.unansweredReason === UnansweredReason.Evicted) run.evicted++;
        }
      },
    },
    run.skips,
  );
  const sample = () => {
    for (const [name, n] of Object.entries(correlator.pending()))
      run.maxPending[name] = Math.max(run.maxPending[name] ?? 0, n);
  };
  gc();
  const before = process.memoryUsage().heapUsed;
  const started = cpuMillis();
  replayFiles({
    files: [file],
    onRecord: null,
    sink: {
      onPacket(fileId, packetNumber, seconds, nanos, data, packet) {
        correlator.onPacket(fileId, packetNumber, seconds, nanos, data, packet);
        if ((++run.packets & 255) === 0) sample();
      },
      finish() {
        run.millis = cpuMillis() - started;
        sample();
        gc();
        run.heapBytes = process.memoryUsage().heapUsed - before;
        correlator.finish();
      },
    },
  });
  return run;
}

/** Replays the flood written by `write` at sizes n and 4n; returns both runs. */
function atNAnd4N(
  name: string,
  n: number,
  write: (file: string, count: number) => number,
  options: () => CorrelateOptions,
): [FloodRun, FloodRun] {
  const runs = [n, 4 * n].map((count) => {
    const file = path.join(dir, `${name}-${count}.pcap`);
    write(file, count);
    // Warm-up on the small size so the timed runs compare compiled code with compiled code.
    if (count === n) replay(file, options());
    // The faster of two runs: one GC pause or a busy neighbour on the shared machine is not a trend.
    const first = replay(file, options());
    const second = replay(file, options());
    const run = second.millis < first.millis ? second : first;
    fs.rmSync(file);
    return run;
  });
  const [small, large] = runs as [FloodRun, FloodRun];
  assert.ok(
    large.millis < 8 * Math.max(small.millis, 20),
    `${name}: ${n} took ${small.millis.toFixed(0)} ms, ${4 * n} took ${large.millis.toFixed(0)} ms`,
  );
  return [small, large];
}

function count(run: FloodRun, reason: string): number {
  return run.skips.get(skipReason(reason));
}

/** A small budget, so small floods reach its caps. */
function smallBudget(): CorrelateOptions {
  const options = defaultCorrelateOptions();
  applyMemoryBudget(options, 16);
  return options;
}

describe('matcher floods stay within their caps, in linear time', { timeout: 120_000 }, () => {
  test('SYN flood: the handshake table stops at maxPending.tcp, the rest is evicted and counted', () => {
    const n = 10_000;
    const cap = smallBudget().maxPending.tcp!;
    const [small, large] = atNAnd4N('syn', n, writeSynFlood, smallBudget);
    for (const run of [small, large]) {
      assert.equal(run.maxPending.tcp, cap);
      assert.equal(count(run, 'tcp.pending_evicted') + count(run, 'tcp.evicted'), run.evicted);
    }
    assert.equal(large.evicted, 4 * n - cap);
    // 30,000 more SYNs held would be ~24 MB (~820 bytes each).
    assert.ok(
      large.heapBytes - small.heapBytes < 4e6,
      `heap grew ${large.heapBytes - small.heapBytes} bytes`,
    );
  });

  test('DNS query flood (253-character names): the query table stops at maxPending.dns', () => {
    const n = 10_000;
    const cap = smallBudget().maxPending.dns!;
    const [small, large] = atNAnd4N('dns', n, (file, c) => writeDnsQueryFlood(file, c, true), smallBudget);
    for (const run of [small, large]) assert.equal(run.maxPending.dns, cap);
    assert.equal(large.evicted, 4 * n - cap);
    assert.equal(large.unanswered, 4 * n);
    assert.ok(
      large.heapBytes - small.heapBytes < 4e6,
      `heap grew ${large.heapBytes - small.heapBytes} bytes`,
    );
  });

  test('HTTP pipelining on one connection: the queue stops at kMaxQueuedRequests, in linear time', () => {
    const n = 5_000;
    const [small, large] = atNAnd4N('pipeline', n, writePipelineFlood, defaultCorrelateOptions);
    for (const run of [small, large]) assert.equal(run.maxPending.http, kMaxQueuedRequests);
    assert.equal(count(large, 'http.queue_evicted'), 4 * n - kMaxQueuedRequests);
    assert.equal(large.evicted, 4 * n - kMaxQueuedRequests);
    assert.ok(
      large.heapBytes - small.heapBytes < 4e6,
      `heap grew ${large.heapBytes - small.heapBytes} bytes`,
    );
  });

  test('HTTP pipelining past maxPending.http: the table evicts first, tombstones stay capped', () => {
    const n = 2_000;
    const cap = smallBudget().maxPending.http!;
    const [, large] = atNAnd4N('pipeline-small-budget', n, writePipelineFlood, smallBudget);
    assert.equal(large.maxPending.http, cap);
    assert.equal(count(large, 'http.evicted'), 4 * n - cap);
  });

  test('header storm (~36 KB heads, 8 KB target and User-Agent): fields are clipped, heap per request bounded', () => {
    const n = 200;
    const [small, large] = atNAnd4N(
      'storm',
      n,
      (file, c) => writeHeaderStorm(file, c, 500),
      defaultCorrelateOptions,
    );
    assert.equal(count(large, 'http.field_truncated'), 2 * 4 * n);
    assert.equal(large.maxPending.http, 4 * n);
    // Unclipped, each request would hold its 8 KB target and User-Agent (16 KB+ besides ~2.5 KB of state).
    const perRequest = (large.heapBytes - small.heapBytes) / (3 * n);
    assert.ok(perRequest < 12_000, `${perRequest.toFixed(0)} heap bytes per pending request`);
  });

  test('header storm over the head cap: each connection is given up and counted, its head buffer freed', () => {
    const n = 200;
    const [small, large] = atNAnd4N(
      'storm-oversize',
      n,
      (file, c) => writeHeaderStorm(file, c, 0, true),
      defaultCorrelateOptions,
    );
    assert.equal(count(large, 'http.header_too_large'), 4 * n);
    assert.equal(large.maxPending.http ?? 0, 0);
    // Each dead direction used to keep its kMaxHeadBytes buffer until its connection went.
    const perConnection = (large.heapBytes - small.heapBytes) / (3 * n);
    assert.ok(perConnection < kMaxHeadBytes / 4, `${perConnection.toFixed(0)} heap bytes per connection`);
  });
});
