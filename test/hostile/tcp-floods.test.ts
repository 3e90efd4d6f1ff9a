/**
 * Crafted TCP floods against reassembly's out-of-order buffers (issue 11, items 1 and 2), at
 * small sizes: each capture is written on the fly (crafted-tcp.ts), decoded by the real reader
 * and decoder, and must hit the bound (skip counter), keep the buffered total under its cap,
 * hold no more memory at 4x the packets, and take time linear in the packets (4x the packets
 * in well under 16x the time: a quadratic guard, generous for a shared machine).
 * The full sizes run in `npm run bench -- --hostile`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { PacketView } from '../../agent/correlate/matcher.ts';
import { setConnectionKey } from '../../agent/correlate/tcp-stream/connection.ts';
import type { StreamConsumer, StreamProtocol } from '../../agent/correlate/tcp-stream/consumer.ts';
import {
  defaultTcpReassemblyOptions,
  kConnectionOverheadBytes,
  TcpReassembly,
  type TcpReassemblyOptions,
} from '../../agent/correlate/tcp-stream/reassembly.ts';
import type { DecodedPacket } from '../../agent/decode/packet.ts';
import { replayFiles } from '../../agent/pipeline/replay.ts';
import { SkipCounters, skipReason } from '../../agent/shared/skips.ts';
import { cpuMillis } from '../helpers/cpu-time.ts';
import { runCli } from '../helpers/run-cli.ts';
import { writeFinFlood, writeManyHoles, writeOneByteFlood } from './crafted-tcp.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-tcp-floods-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Claims every connection and counts what it is handed. */
class CountingProtocol implements StreamProtocol, StreamConsumer {
  readonly name = 'counting';
  bytes = 0;
  gaps = 0;
  claim(): StreamConsumer {
    return this;
  }
  onData(_fromClient: boolean, _data: Uint8Array, _offset: number, length: number): void {
    this.bytes += length;
  }
  onGap(_fromClient: boolean, bytes: number): void {
    this.gaps += bytes;
  }
  onClose(): void {}
  pendingCount(): number {
    return 0;
  }
  expire(): void {}
  flush(): void {}
}

interface FloodRun {
  skips: SkipCounters;
  /** Milliseconds spent reading, decoding and reassembling (file writing excluded). */
  millis: number;
  /** Largest bufferedBytes() seen after any packet. */
  maxBuffered: number;
  /** Heap (+ array buffers) held after the last packet, before flush, over the empty reassembly. */
  retained: number;
  protocol: CountingProtocol;
}

/** Reads `file` through the real reader and decoder into a TcpReassembly with `options`. */
function run(file: string, options: Partial<TcpReassemblyOptions> = {}): FloodRun {
  const skips = new SkipCounters();
  const protocol = new CountingProtocol();
  const reassembly = new TcpReassembly([protocol], { ...defaultTcpReassemblyOptions(), ...options }, skips);
  const view = new PacketView();
  let maxBuffered = 0;
  let retained = 0;
  const base = heapUsed();
  const started = cpuMillis();
  replayFiles({
    files: [file],
    onRecord: null,
    sink: {
      onPacket(fileId, packetNumber, seconds, nanos, data: Uint8Array, packet: DecodedPacket) {
        view.packet = packet;
        view.data = data;
        view.seconds = seconds;
        view.nanos = nanos;
        view.fileId = fileId;
        view.packetNumber = packetNumber;
        setConnectionKey(view);
        reassembly.onPacket(view);
        const buffered = reassembly.bufferedBytes();
        if (buffered > maxBuffered) maxBuffered = buffered;
      },
      finish() {
        retained = heapUsed() - base;
        reassembly.flush();
      },
    },
  });
  const millis = cpuMillis() - started;
  assert.equal(reassembly.bufferedBytes(), 0);
  return { skips, millis, maxBuffered, retained, protocol };
}

const bufferFull = skipReason('tcp.buffer_full');
const bufferBudget = skipReason('tcp.buffer_budget');
const kMiB = 1024 * 1024;

/** Runs sizes n and 4n (the smaller twice, keeping its best time) and checks linear time and flat memory. */
function checkScaling(
  name: string,
  write: (file: string, size: number) => void,
  n: number,
  options: Partial<TcpReassemblyOptions> = {},
): { small: FloodRun; large: FloodRun } {
  const smallFile = path.join(dir, `${name}-${n}.pcap`);
  const largeFile = path.join(dir, `${name}-${4 * n}.pcap`);
  write(smallFile, n);
  write(largeFile, 4 * n);
  run(smallFile, options); // warm-up: compile the hot paths before timing
  const small = run(smallFile, options);
  // The faster of two runs: one GC pause or a busy neighbour on the shared machine is not a trend.
  const largeRuns = [run(largeFile, options), run(largeFile, options)];
  const large = largeRuns[0]!.millis <= largeRuns[1]!.millis ? largeRuns[0]! : largeRuns[1]!;
  const ratio = large.millis / small.millis;
  assert.ok(
    ratio < 10,
    `${name}: ${4 * n} packets took ${large.millis.toFixed(0)} ms, ${n} took ${small.millis.toFixed(0)} ms (x${ratio.toFixed(1)}; linear is ~x4, quadratic x16)`,
  );
  // What the flood makes the reassembly hold does not grow with it.
  assert.ok(
    large.retained < small.retained + 4 * kMiB,
    `${name}: held ${(large.retained / kMiB).toFixed(1)} MiB after ${4 * n} packets, ${(small.retained / kMiB).toFixed(1)} MiB after ${n}`,
  );
  return { small, large };
}

describe('hostile TCP floods: bounded buffers, linear time', { timeout: 120_000 }, () => {
  test('FIN flood after a hole: the segment bound is hit, the buffer stays under it', () => {
    const { large } = checkScaling('fin', writeFinFlood, 25_000);
    const options = defaultTcpReassemblyOptions();
    assert.ok(large.skips.get(bufferFull) >= 1);
    assert.ok(large.maxBuffered <= options.maxBufferedBytesPerDirection);
    assert.ok(large.retained < 4 * kMiB, `held ${large.retained} bytes`);
    // The hole was given up (one byte) and the first FIN after it closed the direction.
    assert.equal(large.protocol.bytes, 1);
    assert.equal(large.protocol.gaps, 1);
  });

  test('1-byte segments each after a hole, ascending: given up every maxBufferedSegmentsPerDirection', () => {
    const n = 25_000;
    const { large } = checkScaling('one-byte', (file, size) => writeOneByteFlood(file, size), n);
    const perDirection = defaultTcpReassemblyOptions().maxBufferedSegmentsPerDirection;
    assert.equal(large.skips.get(bufferFull), Math.floor((4 * n) / (perDirection + 1)));
    assert.equal(large.protocol.bytes, 4 * n + 1);
    assert.equal(large.protocol.gaps, 4 * n);
  });

  test('1-byte segments each after a hole, descending (front insertions)', () => {
    const { large } = checkScaling(
      'one-byte-desc',
      (file, size) => writeOneByteFlood(file, size, true),
      25_000,
    );
    assert.ok(large.skips.get(bufferFull) >= 1);
    assert.ok(large.maxBuffered <= defaultTcpReassemblyOptions().maxBufferedBytesPerDirection);
  });

  test('many connections each holding bytes behind a hole: the global budget is paid by the inserting flows', () => {
    const budget = 2 * kMiB;
    const { small, large } = checkScaling(
      'many-holes',
      (file, size) => writeManyHoles(file, size, 8, 1000),
      500,
      { maxBufferedBytesTotal: budget },
    );
    for (const flood of [small, large]) {
      assert.ok(flood.maxBuffered <= budget, `${flood.maxBuffered} > ${budget}`);
      assert.ok(flood.skips.get(bufferBudget) > 0);
      // Every byte reached the consumer in the end (given up when the budget was full, or at flush).
      assert.equal(flood.protocol.gaps, flood === small ? 500 : 2000);
    }
    assert.equal(large.protocol.bytes, 2000 * (8 * 1000 + 1));
    // Connections themselves are bounded by maxConnections (about kConnectionOverheadBytes each):
    // 2,000 of them plus the 2 MiB budget stay within a few MiB.
    assert.ok(large.retained < budget + 2000 * kConnectionOverheadBytes + 4 * kMiB);
  });

  test('the CLI replays the floods with the bound hit and counted in the summary', () => {
    // One run (the CLI's start-up is the slow part): two floods on two connections.
    const fin = path.join(dir, 'cli-fin.pcap');
    const oneByte = path.join(dir, 'cli-one-byte.pcap');
    writeFinFlood(fin, 5000, 40_001);
    writeOneByteFlood(oneByte, 5000, false, 40_002);
    const result = runCli([
      'replay',
      fin,
      oneByte,
      '--output',
      'none',
      '--summary',
      'json',
      '--workers',
      '0',
    ]);
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stderr.slice(result.stderr.indexOf('{'))) as {
      skipped: Record<string, number>;
    };
    // FIN flood: once (its first FIN then ends the direction); 1-byte flood: every 1,025 segments.
    assert.equal(
      summary.skipped['tcp.buffer_full'],
      1 + Math.floor(5000 / 1025),
      JSON.stringify(summary.skipped),
    );
  });
});
