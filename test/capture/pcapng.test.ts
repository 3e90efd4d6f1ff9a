import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReadResult } from '../../agent/capture/record.ts';
import { PcapngBlock, PcapngBuilder, packetBytes } from './build.ts';
import { collect, hex } from './collect.ts';

const NS = 9;

describe('pcapng', () => {
  for (const littleEndian of [true, false]) {
    test(`${littleEndian ? 'little' : 'big'}-endian section with two interfaces`, () => {
      const bytes = new PcapngBuilder()
        .section(littleEndian)
        .interface({ linkType: 1, name: 'eth0' })
        .interface({ linkType: 101, tsresol: NS })
        .enhancedPacket({ timestamp: 1_764_370_840_123_456n, data: packetBytes(60, 1) })
        .enhancedPacket({
          interfaceId: 1,
          timestamp: 1_764_370_840_123_456_789n,
          data: packetBytes(33, 2),
          originalLength: 99,
        })
        .build();
      const outcome = collect(bytes);
      assert.equal(outcome.format, 'pcapng');
      assert.equal(outcome.error, null);
      assert.deepEqual(outcome.skips, {});
      assert.deepEqual(
        outcome.records.map((r) => [
          r.packetNumber,
          r.seconds,
          r.nanos,
          r.linkType,
          r.capturedLength,
          r.originalLength,
          r.hex,
        ]),
        [
          [1, 1764370840, 123_456_000, 1, 60, 60, hex(packetBytes(60, 1))],
          [2, 1764370840, 123_456_789, 101, 33, 99, hex(packetBytes(33, 2))],
        ],
      );
      assert.equal(outcome.position, bytes.length);
    });
  }

  test('a second section switches byte order and resets the interface list', () => {
    const bytes = new PcapngBuilder()
      .section(true)
      .interface({ linkType: 1 })
      .interface({ linkType: 113 })
      .enhancedPacket({ interfaceId: 1, timestamp: 5_000_000n, data: [1, 2, 3] })
      .section(false)
      .interface({ linkType: 101, tsresol: 3 })
      .enhancedPacket({ interfaceId: 1, timestamp: 1n, data: [4] })
      .enhancedPacket({ interfaceId: 0, timestamp: 7_250n, data: [5, 6] })
      .section(true)
      .enhancedPacket({ timestamp: 1n, data: [7] })
      .build();
    const outcome = collect(bytes);
    assert.equal(outcome.error, null);
    assert.deepEqual(
      outcome.records.map((r) => [r.packetNumber, r.seconds, r.nanos, r.linkType, r.hex]),
      [
        [1, 5, 0, 113, '010203'],
        [3, 7, 250_000_000, 101, '0506'],
      ],
    );
    assert.deepEqual(outcome.skips, { 'capture.pcapng_unknown_interface': 2 });
  });

  test('if_tsresol 10^-9, 10^-3, 2^-10, 10^-12, 10^0 and if_tsoffset', () => {
    const bytes = new PcapngBuilder()
      .section()
      .interface({ tsresol: 9 })
      .interface({ tsresol: 3, tsoffset: 1_000_000_000n })
      .interface({ tsresol: 0x80 | 10 })
      .interface({ tsresol: 12, tsoffset: -10n })
      .interface({ tsresol: 0 })
      .interface({ tsresol: 9, tsoffset: 1n << 33n })
      .enhancedPacket({ interfaceId: 0, timestamp: 1_764_370_840_123_456_789n, data: [0] })
      .enhancedPacket({ interfaceId: 1, timestamp: 764_370_840_123n, data: [1] })
      .enhancedPacket({ interfaceId: 2, timestamp: (1_764_370_840n << 10n) + 512n + 1n, data: [2] })
      .enhancedPacket({ interfaceId: 3, timestamp: 1_764_370_840_123_456_789_999n % (1n << 64n), data: [3] })
      .enhancedPacket({ interfaceId: 4, timestamp: 1_764_370_840n, data: [4] })
      .enhancedPacket({ interfaceId: 5, timestamp: 0xffff_ffff_ffff_ffffn, data: [5] })
      .build();
    const outcome = collect(bytes);
    assert.equal(outcome.error, null);
    const picoseconds = 1_764_370_840_123_456_789_999n % (1n << 64n);
    assert.deepEqual(
      outcome.records.map((r) => [r.seconds, r.nanos]),
      [
        [1764370840, 123_456_789],
        [1764370840, 123_000_000],
        // 513/1024 s = 0.5009765625 s, truncated to ns
        [1764370840, 500_976_562],
        [Number(picoseconds / 1_000_000_000_000n) - 10, Number((picoseconds % 1_000_000_000_000n) / 1000n)],
        [1764370840, 0],
        [
          Number(0xffff_ffff_ffff_ffffn / 1_000_000_000n) + 2 ** 33,
          Number(0xffff_ffff_ffff_ffffn % 1_000_000_000n),
        ],
      ],
    );
  });

  test('simple packet blocks: no timestamp (counted), caplen bounded by original length and snaplen', () => {
    const bytes = new PcapngBuilder()
      .section()
      .interface({ linkType: 1, snapLength: 8 })
      .simplePacket(packetBytes(5), 5)
      .simplePacket(packetBytes(20), 20)
      .simplePacket(packetBytes(6), 1514)
      .build();
    const outcome = collect(bytes);
    assert.deepEqual(
      outcome.records.map((r) => [
        r.packetNumber,
        r.seconds,
        r.nanos,
        r.capturedLength,
        r.originalLength,
        r.hex,
      ]),
      [
        [1, 0, 0, 5, 5, hex(packetBytes(5))],
        [2, 0, 0, 8, 20, hex(packetBytes(8))],
        // 6 data bytes + 2 padding: room 8, but the snaplen (8) and original length allow 8
        [3, 0, 0, 8, 1514, `${hex(packetBytes(6))}0000`],
      ],
    );
    assert.deepEqual(outcome.skips, { 'capture.pcapng_spb_no_timestamp': 3 });

    const unlimited = collect(
      new PcapngBuilder().section().interface().simplePacket(packetBytes(5), 5).build(),
    );
    assert.equal(unlimited.records[0]!.capturedLength, 5);
    const noInterface = collect(new PcapngBuilder().section().simplePacket([1], 1).build());
    assert.deepEqual(noInterface.skips, { 'capture.pcapng_unknown_interface': 1 });
  });

  test('obsolete packet blocks are skipped but keep tshark frame numbers; other blocks are skipped', () => {
    const bytes = new PcapngBuilder()
      .section()
      .interface()
      .block(PcapngBlock.NameResolution, [1, 0, 4, 0, 10, 0, 0, 1, 0, 0, 0, 0])
      .obsoletePacket(0, 1n, [9, 9])
      .enhancedPacket({ timestamp: 2n, data: [1] })
      .block(PcapngBlock.InterfaceStatistics, new Uint8Array(12))
      .block(PcapngBlock.Custom, packetBytes(9))
      .block(0x12345678, [])
      .enhancedPacket({ timestamp: 3n, data: [2], options: [1, 0, 2, 0, 0x68, 0x69, 0, 0, 0, 0, 0, 0] })
      .build();
    const outcome = collect(bytes);
    assert.equal(outcome.error, null);
    assert.deepEqual(
      outcome.records.map((r) => [r.packetNumber, r.nanos, r.hex]),
      [
        [2, 2000, '01'],
        [3, 3000, '02'],
      ],
    );
    assert.deepEqual(outcome.skips, { 'capture.pcapng_obsolete_packet_block': 1 });
  });

  test('EPB with an out-of-range interface id or a bad caplen is skipped, the next one is read', () => {
    const bytes = new PcapngBuilder()
      .section()
      .interface()
      .enhancedPacket({ interfaceId: 1, timestamp: 1n, data: [1] })
      .enhancedPacket({ interfaceId: 0xffffffff, timestamp: 1n, data: [1] })
      .enhancedPacket({ timestamp: 1n, data: [1, 2, 3, 4], capturedLength: 5 })
      .enhancedPacket({ timestamp: 1n, data: packetBytes(262148), capturedLength: 262145 })
      .block(PcapngBlock.EnhancedPacket, [0, 0, 0, 0])
      .enhancedPacket({ timestamp: 1n, data: packetBytes(262144) })
      .build();
    const outcome = collect(bytes);
    assert.equal(outcome.error, null);
    assert.deepEqual(
      outcome.records.map((r) => [r.packetNumber, r.capturedLength]),
      [[6, 262144]],
    );
    assert.deepEqual(outcome.skips, {
      'capture.pcapng_bad_packet_block': 3,
      'capture.pcapng_unknown_interface': 2,
    });
  });

  describe('broken framing fails with a clear error, after the good records', () => {
    const goodPrefix = () =>
      new PcapngBuilder()
        .section()
        .interface()
        .enhancedPacket({ timestamp: 1n, data: [1] });
    const goodLength = goodPrefix().build().length;
    const cases: [string, (builder: PcapngBuilder) => PcapngBuilder, RegExp][] = [
      ['zero-length block', (b) => b.word(6).word(0).word(0), /invalid total length 0 /],
      ['block length 8', (b) => b.word(6).word(8).word(8), /invalid total length 8 /],
      [
        'length not a multiple of 4',
        (b) => b.word(1).word(22).raw(new Uint8Array(14)).word(22),
        /invalid total length 22 /,
      ],
      [
        'length above 16 MiB',
        (b) =>
          b
            .word(6)
            .word(16 * 1024 * 1024 + 4)
            .word(0),
        /invalid total length 16777220 /,
      ],
      [
        'trailing length mismatch',
        (b) => b.word(6).word(16).word(0).word(20),
        /block of type 0x00000006: trailing length 20 ≠ leading length 16/,
      ],
      [
        'section header with a bad byte-order magic',
        (b) => b.word(0x0a0d0d0a).word(28).word(0x01020304).raw(new Uint8Array(12)).word(28),
        /section header has an invalid byte-order magic 0x04030201/,
      ],
      [
        'section header too short',
        (b) => b.word(0x0a0d0d0a).word(16).word(0x1a2b3c4d).word(16),
        /section header block is too short/,
      ],
      [
        'interface description too short',
        (b) => b.word(1).word(16).word(1).word(16),
        /interface description block is too short/,
      ],
    ];
    for (const [name, append, message] of cases) {
      test(name, () => {
        const outcome = collect(append(goodPrefix()).build());
        assert.equal(outcome.records.length, 1);
        assert.equal(outcome.last, ReadResult.Failed);
        assert.equal(outcome.error?.startsWith(`pcapng block at byte ${goodLength}: `), true, outcome.error!);
        assert.match(outcome.error!, message);
        assert.equal(outcome.position, goodLength);
      });
    }
  });

  test('malformed IDB options end the option list but keep the interface', () => {
    const bytes = new PcapngBuilder()
      .section()
      .block(PcapngBlock.InterfaceDescription, [1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0, 9, 0, 0, 0])
      .enhancedPacket({ timestamp: 1_000_001n, data: [1] })
      .build();
    const outcome = collect(bytes);
    assert.equal(outcome.error, null);
    assert.deepEqual(
      outcome.records.map((r) => [r.seconds, r.nanos, r.linkType]),
      [[1, 1000, 1]],
    );
  });

  test('a section header alone is a complete (empty) capture; a partial one is too short', () => {
    const header = new PcapngBuilder().section().build();
    const empty = collect(header);
    assert.equal(empty.error, null);
    assert.equal(empty.records.length, 0);
    assert.deepEqual(empty.skips, {});
    const partial = collect(header.subarray(0, header.length - 1));
    assert.equal(partial.last, ReadResult.NeedMore);
    assert.equal(partial.error, `file too short to be a capture (${header.length - 1} bytes)`);
  });

  test('a block cut at EOF is NeedMore; finish() counts it', () => {
    const bytes = new PcapngBuilder()
      .section()
      .interface()
      .enhancedPacket({ timestamp: 1n, data: [1] })
      .enhancedPacket({ timestamp: 2n, data: packetBytes(100) })
      .build();
    const outcome = collect(bytes.subarray(0, bytes.length - 5));
    assert.equal(outcome.records.length, 1);
    assert.equal(outcome.last, ReadResult.NeedMore);
    assert.deepEqual(outcome.skips, { 'capture.truncated_record': 1 });
    assert.equal(outcome.truncatedBytes, 100 + 32 - 5);
  });
});
