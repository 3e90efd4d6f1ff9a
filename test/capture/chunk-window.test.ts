import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChunkWindow } from '../../agent/capture/chunk-window.ts';
import { CaptureReader } from '../../agent/capture/reader.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { buildPcap, PcapngBuilder, packetBytes } from './build.ts';
import { type CollectedRecord, collect, copyRecord } from './collect.ts';

const pcap = buildPcap({ nanoseconds: true }, [
  { seconds: 1, fraction: 2, data: packetBytes(60) },
  { seconds: 3, fraction: 4, data: packetBytes(0) },
  { seconds: 5, fraction: 6, data: packetBytes(1500, 7) },
  { seconds: 7, fraction: 8, data: packetBytes(33, 1) },
]);
const pcapng = new PcapngBuilder()
  .section()
  .interface({ tsresol: 9 })
  .enhancedPacket({ timestamp: 1_764_370_840_123_456_789n, data: packetBytes(61) })
  .simplePacket(packetBytes(17), 17)
  .enhancedPacket({ timestamp: 1025n, data: packetBytes(700, 2) })
  .build();

interface ChunkedRead {
  records: CollectedRecord[];
  /** Slots released, in order. */
  released: number[];
  /** Records whose bytes were not in a pushed chunk (copied into the carry). */
  copied: number;
  reader: CaptureReader;
}

/**
 * Feeds `bytes` to a ChunkWindow as a pipeline worker does (chunks of the given sizes, in pool
 * slots 0, 1, 2, ..., records drained and read chunks released after each push).
 */
function readChunked(bytes: Uint8Array, chunkSizes: readonly number[]): ChunkedRead {
  const window = new ChunkWindow();
  const reader = new CaptureReader(window, new SkipCounters());
  const chunks: Uint8Array[] = [];
  const released: number[] = [];
  const records: CollectedRecord[] = [];
  let copied = 0;
  for (let at = 0, slot = 0; at < bytes.length; slot++) {
    const size = chunkSizes[slot % chunkSizes.length]!;
    // A copy, as in a pool slot: the records must point into it, never into `bytes`.
    const chunk = bytes.slice(at, at + size);
    chunks.push(chunk);
    window.push(chunk, slot);
    at += size;
    while (reader.next() === ReadResult.Record) {
      const data = reader.record.data;
      if (!chunks.some((c) => c.buffer === data.buffer && c.byteOffset === data.byteOffset)) copied++;
      records.push(copyRecord(reader));
    }
    window.releaseRead((s) => released.push(s));
  }
  reader.finish();
  window.releaseAll((s) => released.push(s));
  return { records, released, copied, reader };
}

describe('ChunkWindow (records read in place in pool slots)', () => {
  for (const [name, bytes] of [
    ['pcap', pcap],
    ['pcapng', pcapng],
  ] as const) {
    test(`${name}: any chunking gives the records of a whole-file read`, () => {
      const whole = collect(bytes).records;
      for (const sizes of [[bytes.length], [1], [7], [64, 3], [100], [1000, 5, 999]]) {
        const { records, reader } = readChunked(bytes, sizes);
        assert.deepEqual(records, whole, `chunks of ${sizes.join(',')}`);
        assert.equal(reader.error, null);
        assert.equal(reader.position, bytes.length);
      }
    });
  }

  test('records inside one chunk are read in place; only records across a chunk edge are copied', () => {
    // Record 3 (1500 bytes from offset 24 + 76 + 16 = 116) crosses the edge at 1000.
    const { records, copied } = readChunked(pcap, [1000, 2000]);
    assert.equal(records.length, 4);
    assert.equal(copied, 1);
    assert.equal(readChunked(pcap, [pcap.length]).copied, 0);
  });

  test('a chunk goes back once its bytes were read or carried, each slot exactly once', () => {
    const { released } = readChunked(pcap, [50, 50, 2000]);
    assert.deepEqual(
      released.toSorted((a, b) => a - b),
      [0, 1, 2],
    );
    // The reader waits inside record 1 (file header 24 + record header 16 + 10 of 60 bytes):
    // those bytes are carried and slot 0 goes back at once; the chunk of the next records stays.
    const window = new ChunkWindow();
    const reader = new CaptureReader(window, new SkipCounters());
    const early: number[] = [];
    window.push(pcap.slice(0, 50), 0);
    assert.equal(reader.next(), ReadResult.NeedMore);
    window.releaseRead((s) => early.push(s));
    assert.deepEqual(early, [0]);
    window.push(pcap.slice(50, 1000), 1);
    assert.equal(reader.next(), ReadResult.Record);
    assert.equal(reader.next(), ReadResult.Record);
    window.releaseRead((s) => early.push(s));
    assert.deepEqual(early, [0], 'slot 1 holds the next record');
  });

  test('a record larger than the whole pool does not keep every slot borrowed', () => {
    // 3 slots of 1 KiB and a 10 KB record: each chunk must come back before the next is pushed.
    const big = buildPcap({}, [
      { seconds: 1, fraction: 0, data: packetBytes(10_000, 3) },
      { seconds: 2, fraction: 0, data: packetBytes(100, 4) },
    ]);
    const window = new ChunkWindow();
    const reader = new CaptureReader(window, new SkipCounters());
    const free = [0, 1, 2];
    const records: CollectedRecord[] = [];
    for (let at = 0; at < big.length; at += 1024) {
      const slot = free.shift();
      assert.notEqual(slot, undefined, `no free slot at byte ${at}`);
      window.push(big.slice(at, at + 1024), slot!);
      while (reader.next() === ReadResult.Record) records.push(copyRecord(reader));
      window.releaseRead((s) => free.push(s));
    }
    assert.deepEqual(records, collect(big).records);
  });

  test('a truncated last record waits for more bytes (NeedMore), and finish() counts it', () => {
    const { reader, records } = readChunked(pcap.subarray(0, pcap.length - 5), [300]);
    assert.equal(records.length, 3);
    assert.equal(reader.truncatedBytes, 16 + 33 - 5);
    assert.equal(reader.error, null);
  });
});
