/**
 * Bounds of the out-of-order buffers (issue 11): per direction in segments and in bytes that
 * count what each segment holds (FIN-only and snaplen-cut ones included), a global byte budget
 * paid by the flow that inserts, and delivery order kept through the head-indexed buffer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { StreamConsumer, StreamProtocol } from '../../../agent/correlate/tcp-stream/consumer.ts';
import {
  defaultTcpReassemblyOptions,
  kSegmentOverheadBytes,
  TcpReassembly,
  type TcpReassemblyOptions,
} from '../../../agent/correlate/tcp-stream/reassembly.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';
import {
  captureTime,
  Feeder,
  kMs,
  kSecond,
  RecordingProtocol,
  type Segment,
  TcpConversation,
  TcpFlag,
} from './builder.ts';

function setup(
  options: Partial<TcpReassemblyOptions> = {},
  protocol: StreamProtocol = new RecordingProtocol(),
): { reassembly: TcpReassembly; feeder: Feeder; skips: SkipCounters } {
  const skips = new SkipCounters();
  const reassembly = new TcpReassembly(
    [protocol],
    { ...defaultTcpReassemblyOptions(), maxConnections: 100, idleTimeoutNanos: 60 * kSecond, ...options },
    skips,
  );
  return { reassembly, feeder: new Feeder(reassembly), skips };
}

const bufferFull = skipReason('tcp.buffer_full');
const bufferBudget = skipReason('tcp.buffer_budget');

/** A FIN-only segment of the client at `seq` (no payload, one sequence number). */
function finAt(c: TcpConversation, seq: number): Segment {
  const fin = c.ack(true);
  fin.seq = seq >>> 0;
  fin.flags = TcpFlag.Ack | TcpFlag.Fin;
  return fin;
}

describe('TcpReassembly: out-of-order buffer bounds', () => {
  test('FIN-only segments after a hole count per segment and hit the segment bound', () => {
    const protocol = new RecordingProtocol();
    const { feeder, reassembly, skips } = setup({ maxBufferedSegmentsPerDirection: 4 }, protocol);
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('a')], 0);
    c.client('L'); // the hole
    const hole = c.clientNext - 1;
    feeder.feed(c.client('x'), 10 * kMs);
    // Each FIN after the hole is a distinct buffered entry with no captured byte.
    for (let i = 0; i < 3; i++) feeder.feed(finAt(c, hole + 2 + i), (11 + i) * kMs);
    assert.equal(reassembly.bufferedBytes(), 1 + 4 * kSegmentOverheadBytes);
    assert.equal(skips.get(bufferFull), 0);
    feeder.feed(finAt(c, hole + 5), 20 * kMs);
    assert.equal(skips.get(bufferFull), 1);
    // The hole is given up: the byte after it, then the first FIN ends the direction.
    assert.deepEqual(protocol.events, ['#1 C "a" @4', '#1 C gap 1 @5', '#1 C "x" @5', '#1 C fin @6']);
    assert.equal(reassembly.bufferedBytes(), 0);
  });

  test('snaplen-cut segments with no captured byte count towards the byte bound', () => {
    const protocol = new RecordingProtocol();
    const { feeder, reassembly, skips } = setup(
      { maxBufferedBytesPerDirection: 3 * kSegmentOverheadBytes, maxBufferedSegmentsPerDirection: 1000 },
      protocol,
    );
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('a')], 0);
    c.client('LOST');
    const cut: Segment[] = [];
    for (let i = 0; i < 4; i++) {
      const segment = c.client('');
      segment.seq = c.clientNext;
      segment.wireLength = 10;
      c.clientNext += 10;
      cut.push(segment);
    }
    feeder.feedAll(cut.slice(0, 3), 10 * kMs);
    assert.equal(reassembly.bufferedBytes(), 3 * kSegmentOverheadBytes);
    assert.equal(skips.get(bufferFull), 0);
    feeder.feed(cut[3]!, 20 * kMs);
    assert.equal(skips.get(bufferFull), 1);
    assert.equal(reassembly.bufferedBytes(), 0);
    assert.deepEqual(protocol.events, [
      '#1 C "a" @4',
      '#1 C gap 4 @5',
      '#1 C gap 10 @5',
      '#1 C gap 10 @6',
      '#1 C gap 10 @7',
      '#1 C gap 10 @8',
    ]);
  });

  test('the global budget gives up the holes of the inserting direction, not the others', () => {
    const protocol = new RecordingProtocol();
    const perSegment = 4 + kSegmentOverheadBytes;
    const { feeder, reassembly, skips } = setup({ maxBufferedBytesTotal: 3 * perSegment }, protocol);
    const a = new TcpConversation({ clientPort: 1001 });
    const b = new TcpConversation({ clientPort: 1002 });
    feeder.feedAll([...a.handshake(), ...b.handshake(), a.client('a'), b.client('b')], 0);
    const aHole = a.client('LLLL');
    feeder.feed(a.client('a111'), 10 * kMs); // @9
    feeder.feed(a.client('a222'), 11 * kMs); // @10
    b.client('LLLL');
    feeder.feed(b.client('b111'), 12 * kMs); // @11: the budget is now full
    assert.equal(reassembly.bufferedBytes(), 3 * perSegment);
    assert.equal(skips.get(bufferBudget), 0);
    feeder.feed(b.client('b222'), 13 * kMs); // @12: would pass it
    assert.equal(skips.get(bufferBudget), 1);
    assert.equal(skips.get(bufferFull), 0);
    // b (the inserting flow) lost its hole; a still waits for its own.
    assert.deepEqual(protocol.events.slice(2), ['#2 C gap 4 @11', '#2 C "b111" @11', '#2 C "b222" @12']);
    assert.equal(reassembly.bufferedBytes(), 2 * perSegment);
    feeder.feed(aHole, 14 * kMs); // @13 fills a's hole
    assert.deepEqual(protocol.events.slice(5), ['#1 C "LLLL" @13', '#1 C "a111" @13', '#1 C "a222" @13']);
    assert.equal(reassembly.bufferedBytes(), 0);
  });

  test('the running total follows every way a buffer empties: fill, give-up, idle expiry, eviction, ignore, flush', () => {
    const nobody = new RecordingProtocol(() => false);
    const { feeder, reassembly } = setup({ maxConnections: 3, idleTimeoutNanos: kSecond }, nobody);
    const perByte = 1 + kSegmentOverheadBytes;
    // Ignored: both directions exhaust the claim budget while the client holds a segment.
    const ignored = new TcpConversation({ clientPort: 1001 });
    feeder.feedAll([...ignored.handshake(), ignored.client('x'.repeat(4096))], 0);
    ignored.client('L');
    feeder.feed(ignored.client('y'), kMs);
    assert.equal(reassembly.bufferedBytes(), perByte);
    feeder.feed(ignored.server('z'.repeat(4096)), 2 * kMs);
    assert.equal(reassembly.bufferedBytes(), 0);
    // Eviction: a third connection pushes out the least recently seen one with its buffer.
    const evicted = new TcpConversation({ clientPort: 1002 });
    feeder.feedAll(evicted.handshake(), 3 * kMs);
    evicted.client('L');
    feeder.feed(evicted.client('y'), 4 * kMs);
    const idle = new TcpConversation({ clientPort: 1003 });
    feeder.feedAll(idle.handshake(), 5 * kMs);
    idle.client('L');
    feeder.feed(idle.client('y'), 6 * kMs);
    feeder.feed(ignored.ack(true), 6 * kMs + 1); // the ignored one is seen again: not the oldest
    assert.equal(reassembly.bufferedBytes(), 2 * perByte);
    const last = new TcpConversation({ clientPort: 1004 });
    feeder.feedAll(last.handshake(), 7 * kMs);
    assert.equal(reassembly.bufferedBytes(), perByte);
    // Idle expiry.
    feeder.feed(last.client('q'), 8 * kMs);
    reassembly.expire(...captureTime(kSecond + 7 * kMs + 1));
    assert.equal(reassembly.connectionCount(), 1);
    assert.equal(reassembly.bufferedBytes(), 0);
    // Flush.
    last.client('L');
    feeder.feed(last.client('y'), 9 * kMs);
    assert.equal(reassembly.bufferedBytes(), perByte);
    reassembly.flush();
    assert.equal(reassembly.bufferedBytes(), 0);
  });

  test('bounds must be numbers >= 0', () => {
    for (const key of [
      'maxBufferedBytesPerDirection',
      'maxBufferedSegmentsPerDirection',
      'maxBufferedBytesTotal',
    ] as const) {
      assert.throws(() => setup({ [key]: -1 }), RangeError);
      assert.throws(() => setup({ [key]: Number.NaN }), RangeError);
    }
  });
});

/** Collects one direction's bytes and gaps (byte values; a gap is n entries of -1). */
class StreamCollector implements StreamProtocol, StreamConsumer {
  readonly name = 'collector';
  readonly client: number[] = [];
  claim(): StreamConsumer {
    return this;
  }
  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number): void {
    if (fromClient) for (let i = 0; i < length; i++) this.client.push(data[offset + i]!);
  }
  onGap(fromClient: boolean, bytes: number): void {
    if (fromClient) for (let i = 0; i < bytes; i++) this.client.push(-1);
  }
  onClose(): void {}
  pendingCount(): number {
    return 0;
  }
  expire(): void {}
  flush(): void {}
}

describe('TcpReassembly: head-indexed buffer keeps order', () => {
  test('property: hundreds of small segments in any order, some lost, come out in order with gaps for the lost', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 40, max: 400 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.nat({ max: 0xffffffff }),
        (count, order, losses, isn) => {
          const collector = new StreamCollector();
          const { feeder, reassembly } = setup({}, collector);
          const c = new TcpConversation({ clientIsn: isn });
          feeder.feedAll([...c.handshake(), c.client('!')], 0);
          const segments: Segment[] = [];
          for (let i = 0; i < count; i++) segments.push(c.client(new Uint8Array(1 + (i % 3)).fill(i & 0x7f)));
          const lost = new Set(losses.map((loss) => loss % count));
          // A permutation from `order` (Fisher-Yates driven by the generated numbers).
          const shuffled = segments.map((_, i) => i);
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = order[i % order.length]! % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          let at = kMs;
          for (const i of shuffled) {
            at += 1000;
            if (!lost.has(i)) feeder.feed(segments[i]!, at);
          }
          reassembly.flush();
          assert.equal(reassembly.bufferedBytes(), 0);
          let lastKept = -1;
          for (let i = 0; i < count; i++) if (!lost.has(i)) lastKept = i;
          const expected: number[] = [0x21];
          for (let i = 0; i <= lastKept; i++) {
            const payload = segments[i]!.payload;
            for (const byte of payload) expected.push(lost.has(i) ? -1 : byte);
          }
          assert.deepEqual(collector.client, expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('partial drains, front and middle insertions around the compaction point keep the stream intact', () => {
    const collector = new StreamCollector();
    const { feeder, reassembly } = setup({}, collector);
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    const segments: Segment[] = [];
    for (let i = 0; i < 300; i++) segments.push(c.client(new Uint8Array([i & 0xff])));
    let at = kMs;
    const feed = (i: number) => {
      at += 1000;
      feeder.feed(segments[i]!, at);
    };
    const cost = 1 + kSegmentOverheadBytes;
    // Holes at 0 and 50..52: 53..299 arrive descending (front insertions), 1..49 ascending
    // (middle insertions), then duplicates.
    for (let i = 299; i >= 53; i--) feed(i);
    for (let i = 1; i < 50; i++) feed(i);
    for (let i = 150; i > 0; i -= 7) if (i < 50 || i > 52) feed(i);
    assert.equal(reassembly.bufferedBytes(), 296 * cost);
    feed(0); // drains 1..49: the head moves, the slots stay
    assert.equal(collector.client.length, 50);
    assert.equal(reassembly.bufferedBytes(), 247 * cost);
    feed(51); // before every buffered segment: takes the slot before the head
    feed(52); // between 51 and 53
    assert.equal(reassembly.bufferedBytes(), 249 * cost);
    feed(50); // drains everything, compacting on the way
    assert.deepEqual(
      collector.client,
      segments.map((_, i) => i & 0xff),
    );
    assert.equal(reassembly.bufferedBytes(), 0);
  });
});
