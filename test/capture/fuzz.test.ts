/**
 * Hostile input: random bytes, and valid captures with random byte mutations and truncations,
 * read all at once and appended in random chunks. The reader must never throw, must terminate
 * (collect() bounds the next() calls by the input size), must never hand out bytes outside its
 * buffer (checked in collect()), and tailing must give exactly what reading at once gives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PcapMagic } from '../../agent/capture/magic.ts';
import { buildPcap, PcapngBlock, PcapngBuilder } from './build.ts';
import { collect } from './collect.ts';

const packet = fc.uint8Array({ minLength: 0, maxLength: 80 });

const validPcap = fc
  .record({
    littleEndian: fc.boolean(),
    nanoseconds: fc.boolean(),
    modified: fc.boolean(),
    records: fc.array(
      fc.record({
        seconds: fc.nat(),
        fraction: fc.nat(),
        data: packet,
        originalLength: fc.nat({ max: 2000 }),
      }),
      { maxLength: 6 },
    ),
  })
  .map(({ records, ...options }) => buildPcap(options, records));

type PcapngStep = (builder: PcapngBuilder) => PcapngBuilder;

const pcapngStep: fc.Arbitrary<PcapngStep> = fc.oneof(
  fc.boolean().map((littleEndian) => (b: PcapngBuilder) => b.section(littleEndian)),
  fc
    .record({
      linkType: fc.nat({ max: 300 }),
      snapLength: fc.nat({ max: 100 }),
      tsresol: fc.option(fc.nat({ max: 255 }), { nil: undefined }),
      tsoffset: fc.option(fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }), { nil: undefined }),
    })
    .map((spec) => (b: PcapngBuilder) => b.interface(spec)),
  fc
    .record({
      interfaceId: fc.nat({ max: 3 }),
      timestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      data: packet,
      originalLength: fc.nat({ max: 2000 }),
    })
    .map((spec) => (b: PcapngBuilder) => b.enhancedPacket(spec)),
  packet.map((data) => (b: PcapngBuilder) => b.simplePacket(data)),
  fc.tuple(fc.nat({ max: 3 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), packet).map(
    ([id, ts, data]) =>
      (b: PcapngBuilder) =>
        b.obsoletePacket(id, ts, data),
  ),
  fc
    .tuple(
      fc.constantFrom(
        PcapngBlock.NameResolution,
        PcapngBlock.InterfaceStatistics,
        PcapngBlock.Custom,
        0x40000000,
      ),
      packet,
    )
    .map(
      ([type, body]) =>
        (b: PcapngBuilder) =>
          b.block(type, body),
    ),
);

const validPcapng = fc
  .tuple(fc.boolean(), fc.array(pcapngStep, { maxLength: 8 }))
  .map(([littleEndian, steps]) => {
    let builder = new PcapngBuilder().section(littleEndian);
    for (const step of steps) builder = step(builder);
    return builder.build();
  });

/** Overwrites random bytes (byte or whole 32-bit word), then maybe truncates. */
const mutated = fc
  .tuple(
    fc.oneof(validPcap, validPcapng),
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.boolean()), { maxLength: 6 }),
    fc.option(fc.nat(), { nil: undefined }),
  )
  .map(([bytes, edits, truncateAt]) => {
    const copy = bytes.slice();
    for (const [index, value, wholeWord] of edits) {
      if (copy.length === 0) break;
      const at = index % copy.length;
      if (wholeWord) copy.fill(value, at, Math.min(copy.length, at + 4));
      else copy[at] = value;
    }
    return truncateAt === undefined ? copy : copy.subarray(0, truncateAt % (copy.length + 1));
  });

/** Random bytes, half of them behind a valid magic so they reach the record parsers. */
const randomBytes = fc
  .tuple(
    fc.option(fc.constantFrom(...Object.values(PcapMagic), 0xd4c3b2a1, 0x4d3cb2a1, 0x34cdb2a1, 0x0a0d0d0a), {
      nil: undefined,
    }),
    fc.uint8Array({ maxLength: 600 }),
  )
  .map(([magic, rest]) => {
    if (magic === undefined) return rest;
    const bytes = new Uint8Array(4 + rest.length);
    new DataView(bytes.buffer).setUint32(0, magic);
    bytes.set(rest, 4);
    return bytes;
  });

const readOptions = fc.record({
  windowSize: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
});
const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 });

function checkReader(bytes: Uint8Array, options: { windowSize?: number }, chunks: number[]): void {
  const whole = collect(bytes, options);
  const tailed = collect(bytes, options, chunks);
  assert.deepEqual(tailed, whole);
  if (whole.error === null) {
    // Everything not delivered as records is either consumed framing or the counted partial tail.
    assert.equal(whole.position + whole.truncatedBytes, bytes.length);
  }
}

test('random bytes: no throw, terminates, tail equals all-at-once', () => {
  fc.assert(fc.property(randomBytes, readOptions, chunkSizes, checkReader), { numRuns: 1500 });
});

test('mutated and truncated valid captures: no throw, terminates, tail equals all-at-once', () => {
  fc.assert(fc.property(mutated, readOptions, chunkSizes, checkReader), { numRuns: 1500 });
});

test('valid captures read cleanly: every packet block is a record or a counted skip', () => {
  fc.assert(
    fc.property(fc.oneof(validPcap, validPcapng), readOptions, chunkSizes, (bytes, options, chunks) => {
      checkReader(bytes, options, chunks);
      const outcome = collect(bytes, options);
      assert.equal(outcome.error, null);
      assert.equal(outcome.position, bytes.length);
      assert.equal(outcome.skips['capture.truncated_record'], undefined);
    }),
    { numRuns: 500 },
  );
});
