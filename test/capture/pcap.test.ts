import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryByteSource } from '../../agent/capture/byte-source.ts';
import { CaptureReader } from '../../agent/capture/reader.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { buildPcap, packetBytes } from './build.ts';
import { collect, hex } from './collect.ts';

describe('classic pcap', () => {
  for (const littleEndian of [true, false]) {
    for (const nanoseconds of [false, true]) {
      test(`${littleEndian ? 'little' : 'big'}-endian, ${nanoseconds ? 'nano' : 'micro'}seconds`, () => {
        const fraction = nanoseconds ? 123_456_789 : 123_456;
        const bytes = buildPcap({ littleEndian, nanoseconds, linkType: 113 }, [
          { seconds: 1764370840, fraction, data: packetBytes(60, 1) },
          { seconds: 4294967295, fraction: 0, data: packetBytes(0) },
          {
            seconds: 1,
            fraction: nanoseconds ? 999_999_999 : 999_999,
            data: packetBytes(70, 3),
            originalLength: 1500,
          },
        ]);
        const outcome = collect(bytes);
        assert.equal(outcome.format, 'pcap');
        assert.equal(outcome.error, null);
        assert.equal(outcome.last, ReadResult.NeedMore);
        assert.deepEqual(outcome.skips, {});
        assert.deepEqual(
          outcome.records.map((r) => [
            r.packetNumber,
            r.seconds,
            r.nanos,
            r.linkType,
            r.capturedLength,
            r.originalLength,
          ]),
          [
            [1, 1764370840, 123_456_789 - (nanoseconds ? 0 : 789), 113, 60, 60],
            [2, 4294967295, 0, 113, 0, 0],
            [3, 1, 999_999_999 - (nanoseconds ? 0 : 999), 113, 70, 1500],
          ],
        );
        assert.equal(outcome.records[0]!.hex, hex(packetBytes(60, 1)));
        assert.equal(outcome.records[2]!.hex, hex(packetBytes(70, 3)));
        assert.deepEqual(
          outcome.records.map((r) => r.position),
          [24 + 16 + 60, 24 + 32 + 60, bytes.length],
        );
      });
    }
  }

  test('modified (Kuznetzov) pcap: 24-byte record headers, both byte orders', () => {
    for (const littleEndian of [true, false]) {
      const bytes = buildPcap({ littleEndian, modified: true }, [
        { seconds: 10, fraction: 5, data: packetBytes(20) },
        { seconds: 11, fraction: 6, data: packetBytes(30, 9) },
      ]);
      const outcome = collect(bytes);
      assert.equal(outcome.error, null);
      assert.deepEqual(
        outcome.records.map((r) => [r.seconds, r.nanos, r.hex]),
        [
          [10, 5000, hex(packetBytes(20))],
          [11, 6000, hex(packetBytes(30, 9))],
        ],
      );
    }
  });

  test('link type drops the FCS bits of the header field', () => {
    const outcome = collect(buildPcap({ linkType: 805306369 }, [{ seconds: 0, fraction: 0, data: [1] }]));
    assert.equal(outcome.records[0]!.linkType, 1);
  });

  test('caplen above 262144 fails naming the packet and offset; earlier records are delivered', () => {
    const bytes = buildPcap({}, [
      { seconds: 1, fraction: 0, data: packetBytes(10) },
      { seconds: 2, fraction: 0, data: packetBytes(262144) },
      { seconds: 3, fraction: 0, data: packetBytes(10), capturedLength: 262145 },
      { seconds: 4, fraction: 0, data: packetBytes(10) },
    ]);
    const outcome = collect(bytes);
    assert.equal(outcome.records.length, 2);
    assert.equal(outcome.records[1]!.capturedLength, 262144);
    assert.equal(outcome.last, ReadResult.Failed);
    const offset = 24 + 16 + 10 + 16 + 262144;
    assert.match(
      outcome.error!,
      new RegExp(`^packet 3 at byte ${offset}: captured length 262145 exceeds 262144`),
    );
    assert.equal(outcome.position, offset);
  });

  test('a failed reader stays failed', () => {
    const bytes = buildPcap({}, [{ seconds: 1, fraction: 0, data: [], capturedLength: 0x7fffffff }]);
    const reader = new CaptureReader(new MemoryByteSource(bytes), new SkipCounters());
    assert.equal(reader.next(), ReadResult.Failed);
    assert.equal(reader.next(), ReadResult.Failed);
    reader.finish();
    assert.match(reader.error!, /^packet 1 at byte 24: /);
  });

  test('timestamp fraction overflow carries into seconds and is counted', () => {
    const micro = collect(
      buildPcap({}, [
        { seconds: 100, fraction: 1_500_000, data: [1] },
        { seconds: 100, fraction: 999_999, data: [2] },
      ]),
    );
    assert.deepEqual(
      micro.records.map((r) => [r.seconds, r.nanos]),
      [
        [101, 500_000_000],
        [100, 999_999_000],
      ],
    );
    assert.deepEqual(micro.skips, { 'capture.timestamp_fraction_overflow': 1 });

    const nano = collect(
      buildPcap({ nanoseconds: true, littleEndian: false }, [
        { seconds: 4294967295, fraction: 0xffffffff, data: [1] },
        { seconds: 7, fraction: 1_000_000_000, data: [2] },
      ]),
    );
    assert.deepEqual(
      nano.records.map((r) => [r.seconds, r.nanos]),
      [
        [4294967295 + 4, 294_967_295],
        [8, 0],
      ],
    );
    assert.deepEqual(nano.skips, { 'capture.timestamp_fraction_overflow': 2 });
  });

  test('record header cut at EOF: NeedMore, then finish() counts the partial record', () => {
    const complete = buildPcap({}, [
      { seconds: 1, fraction: 0, data: packetBytes(40) },
      { seconds: 2, fraction: 0, data: packetBytes(40) },
    ]);
    for (const cut of [10, 16, 16 + 39]) {
      const bytes = complete.subarray(0, 24 + 56 + cut);
      const outcome = collect(bytes);
      assert.equal(outcome.records.length, 1);
      assert.equal(outcome.last, ReadResult.NeedMore);
      assert.equal(outcome.error, null);
      assert.equal(outcome.position, 24 + 56);
      assert.deepEqual(outcome.skips, { 'capture.truncated_record': 1 });
      assert.equal(outcome.truncatedBytes, cut);
    }
  });

  test('files shorter than the header are NeedMore, then "too short" on finish()', () => {
    const header = buildPcap({}, []);
    for (const length of [0, 3, 4, 10, 23]) {
      const reader = new CaptureReader(new MemoryByteSource(header.subarray(0, length)), new SkipCounters());
      assert.equal(reader.next(), ReadResult.NeedMore, `length ${length}`);
      assert.equal(reader.error, null);
      reader.finish();
      assert.equal(reader.error, `file too short to be a capture (${length} bytes)`);
      assert.equal(reader.next(), ReadResult.Failed);
    }
    const headerOnly = collect(header);
    assert.equal(headerOnly.error, null);
    assert.deepEqual(headerOnly.skips, {});
    assert.equal(headerOnly.position, 24);
  });

  test('anything else is not a capture', () => {
    const outcome = collect(new TextEncoder().encode('<html><body>hello</body></html>'));
    assert.equal(outcome.last, ReadResult.Failed);
    assert.equal(outcome.error, 'not a capture file (magic 0x3c68746d)');
    assert.equal(outcome.format, null);
  });
});
