import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryByteSource } from '../../agent/capture/byte-source.ts';
import { CaptureReader } from '../../agent/capture/reader.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters, skipReason } from '../../agent/shared/skips.ts';
import { buildPcap, PcapngBlock, PcapngBuilder, packetBytes } from './build.ts';
import { collect } from './collect.ts';

const TRUNCATED_RECORD = skipReason('capture.truncated_record');

const samples: [string, Uint8Array][] = [
  [
    'pcap big-endian ns',
    buildPcap({ littleEndian: false, nanoseconds: true }, [
      { seconds: 1, fraction: 2, data: packetBytes(60) },
      { seconds: 3, fraction: 1_000_000_004, data: packetBytes(0) },
      { seconds: 5, fraction: 6, data: packetBytes(1500, 7) },
    ]),
  ],
  [
    'pcapng two sections',
    new PcapngBuilder()
      .section(false)
      .interface({ linkType: 113, tsresol: 9 })
      .enhancedPacket({ timestamp: 1_764_370_840_123_456_789n, data: packetBytes(61) })
      .block(PcapngBlock.Custom, packetBytes(33))
      .obsoletePacket(0, 1n, [1])
      .simplePacket(packetBytes(17), 17)
      .section(true)
      .interface({ tsresol: 0x80 | 10 })
      .enhancedPacket({ interfaceId: 3, timestamp: 1n, data: [1] })
      .enhancedPacket({ timestamp: 1025n, data: packetBytes(400, 2) })
      .build(),
  ],
];

describe('streaming', () => {
  for (const [name, bytes] of samples) {
    test(`${name}: fed one byte at a time gives the same records as all at once (tail)`, () => {
      const whole = collect(bytes);
      assert.ok(whole.records.length >= 3);
      const tailed = collect(bytes, {}, [1]);
      assert.deepEqual(tailed, whole);
    });

    test(`${name}: any window size gives the same records (compaction and growth)`, () => {
      const whole = collect(bytes);
      for (const windowSize of [1, 7, 16, 64, 100, 1000]) {
        assert.deepEqual(collect(bytes, { windowSize }), whole, `window ${windowSize}`);
        assert.deepEqual(
          collect(bytes, { windowSize }, [3, 50, 1, 7]),
          whole,
          `window ${windowSize}, chunked`,
        );
      }
    });
  }

  test('NeedMore leaves the reader at a record boundary and it continues there', () => {
    const bytes = samples[0]![1];
    const source = new MemoryByteSource();
    const reader = new CaptureReader(source, new SkipCounters());
    source.append(bytes.subarray(0, 10));
    assert.equal(reader.next(), ReadResult.NeedMore);
    assert.equal(reader.position, 0);
    source.append(bytes.subarray(10, 24 + 16 + 59));
    assert.equal(reader.next(), ReadResult.NeedMore);
    assert.equal(reader.position, 24);
    assert.equal(reader.format, 'pcap');
    source.append(bytes.subarray(24 + 16 + 59, 24 + 16 + 60));
    assert.equal(reader.next(), ReadResult.Record);
    assert.equal(reader.record.packetNumber, 1);
    assert.equal(reader.position, 24 + 16 + 60);
    assert.equal(reader.next(), ReadResult.NeedMore);
    source.append(bytes.subarray(24 + 16 + 60));
    assert.equal(reader.next(), ReadResult.Record);
    assert.equal(reader.next(), ReadResult.Record);
    assert.equal(reader.next(), ReadResult.NeedMore);
    assert.equal(reader.position, bytes.length);
    assert.equal(reader.packets, 3);
    assert.equal(reader.bytesRead, bytes.length);
  });

  test('reads in window-sized chunks, never the whole file, with one reused record object', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({
      seconds: i,
      fraction: 0,
      data: packetBytes(60_000, i),
    }));
    const bytes = buildPcap({}, records);
    const reader = new CaptureReader(new MemoryByteSource(bytes), new SkipCounters());
    const record = reader.record;
    assert.equal(reader.next(), ReadResult.Record);
    assert.ok(reader.bytesRead <= 1024 * 1024, `read ${reader.bytesRead} bytes for the first record`);
    const window = record.data;
    let count = 1;
    while (reader.next() === ReadResult.Record) {
      count++;
      assert.equal(reader.record, record);
      assert.equal(record.data, window, 'the window is reused, not reallocated');
      assert.equal(record.data[record.offset], (record.seconds & 0xff) as number);
    }
    assert.equal(count, 100);
    assert.equal(reader.bytesRead, bytes.length);
  });

  test('a block larger than the window grows it once; a hostile length does not', () => {
    const big = new PcapngBuilder()
      .section()
      .interface()
      .enhancedPacket({ timestamp: 1n, data: packetBytes(100), options: new Uint8Array(3 * 1024 * 1024) })
      .enhancedPacket({ timestamp: 2n, data: packetBytes(10) })
      .build();
    const reader = new CaptureReader(new MemoryByteSource(big), new SkipCounters());
    assert.equal(reader.next(), ReadResult.Record);
    assert.equal(reader.record.capturedLength, 100);
    assert.ok(reader.record.data.length >= 3 * 1024 * 1024);
    assert.equal(reader.next(), ReadResult.Record);
    assert.equal(reader.record.packetNumber, 2);

    // Claims a 16 MiB block but the file holds 40 bytes: NeedMore without growing the window.
    const hostile = new PcapngBuilder()
      .section()
      .word(6)
      .word(16 * 1024 * 1024)
      .word(0)
      .build();
    const skips = new SkipCounters();
    const hostileReader = new CaptureReader(new MemoryByteSource(hostile), skips, { windowSize: 64 });
    assert.equal(hostileReader.next(), ReadResult.NeedMore);
    assert.equal(hostileReader.record.data.length, 64);
    hostileReader.finish();
    assert.equal(hostileReader.truncatedBytes, 12);
    assert.deepEqual(skips.toObject(), { 'capture.truncated_record': 1 });
  });

  test('finish() counts once, and nothing for a file ending at a record boundary', () => {
    const bytes = samples[0]![1];
    const skips = new SkipCounters();
    const reader = new CaptureReader(new MemoryByteSource(bytes.subarray(0, bytes.length - 1)), skips);
    while (reader.next() === ReadResult.Record);
    reader.finish();
    reader.finish();
    assert.equal(skips.get(TRUNCATED_RECORD), 1);
    assert.equal(reader.truncatedBytes, 16 + 1500 - 1);
    assert.equal(reader.error, null);

    const atBoundary = collect(bytes);
    assert.equal(atBoundary.truncatedBytes, 0);
    assert.equal(atBoundary.skips['capture.truncated_record'], undefined);
  });

  test('a source that throws becomes a Failed read with the message', () => {
    const failing = {
      read(): number {
        throw new Error('EIO: i/o error, read');
      },
      size: () => 100,
    };
    const reader = new CaptureReader(failing, new SkipCounters());
    assert.equal(reader.next(), ReadResult.Failed);
    assert.equal(reader.error, 'read failed at byte 0: EIO: i/o error, read');
  });
});
