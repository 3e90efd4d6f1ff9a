import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketView } from '../../../agent/correlate/matcher.ts';
import { kSegmentOverheadBytes } from '../../../agent/correlate/tcp-stream/connection.ts';
import {
  defaultTcpReassemblyOptions,
  kClaimBudgetBytes,
  TcpReassembly,
  type TcpReassemblyOptions,
} from '../../../agent/correlate/tcp-stream/reassembly.ts';
import { seqAdd, seqDiff } from '../../../agent/correlate/tcp-stream/sequence.ts';
import { DecodedPacket, IpProtocol } from '../../../agent/decode/packet.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';
import {
  captureTime,
  Feeder,
  ipv4,
  kMs,
  kSecond,
  RecordingProtocol,
  TcpConversation,
  TcpFlag,
} from './builder.ts';

function setup(
  options: Partial<TcpReassemblyOptions> = {},
  protocol = new RecordingProtocol(),
): { reassembly: TcpReassembly; feeder: Feeder; protocol: RecordingProtocol; skips: SkipCounters } {
  const skips = new SkipCounters();
  const reassembly = new TcpReassembly(
    [protocol],
    {
      ...defaultTcpReassemblyOptions(),
      maxConnections: 100,
      idleTimeoutNanos: 60 * kSecond,
      maxBufferedBytesPerDirection: 1 << 20,
      ...options,
    },
    skips,
  );
  return { reassembly, feeder: new Feeder(reassembly), protocol, skips };
}

const skip = (name: string) => skipReason(name);

describe('sequence arithmetic', () => {
  test('differences wrap modulo 2^32', () => {
    assert.equal(seqDiff(5, 0xfffffffb), 10);
    assert.equal(seqDiff(0xfffffffb, 5), -10);
    assert.equal(seqDiff(100, 100), 0);
    assert.equal(seqAdd(0xffffffff, 1), 0);
    assert.equal(seqAdd(0xfffffff0, 0x20), 0x10);
  });
});

describe('TcpReassembly: in-order delivery', () => {
  test('delivers each direction in order, roles from the SYN, claim sees the first bytes', () => {
    const { feeder, protocol, reassembly } = setup();
    const c = new TcpConversation({ clientPort: 40_000, serverPort: 8080 });
    feeder.feedAll([...c.handshake(), c.client('hello'), c.server('world'), c.client('again')], 0);
    assert.deepEqual(protocol.offers, ['C:hello']);
    assert.deepEqual(protocol.events, ['#1 C "hello" @4', '#1 S "world" @5', '#1 C "again" @6']);
    const info = protocol.connections[0]!;
    assert.equal(info.client0, ipv4(10, 0, 0, 1));
    assert.equal(info.clientPort, 40_000);
    assert.equal(info.server0, ipv4(10, 0, 0, 2));
    assert.equal(info.serverPort, 8080);
    assert.equal(reassembly.connectionCount(), 1);
  });

  test('a retransmitted segment is dropped', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    const data = c.client('abc');
    feeder.feedAll([...c.handshake(), data, data.copy(), c.client('def')], 0);
    assert.deepEqual(protocol.events, ['#1 C "abc" @4', '#1 C "def" @6']);
  });

  test('a partial overlap delivers only the new bytes', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    const first = c.client('abcdef');
    feeder.feed(first, 10 * kMs);
    // A retransmission of "def" that also carries the next 3 bytes.
    const overlap = first.split(3)[1];
    overlap.payload = new TextEncoder().encode('defghi');
    c.clientNext += 3;
    feeder.feed(overlap, 11 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "abcdef" @4', '#1 C "ghi" @5']);
  });

  test('a segment after a hole waits (copied) and is delivered with the packet that fills the hole', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    const [one, two, three] = c.cut(true, 'aaabbbccc', 3, 3);
    feeder.feed(three!, 10 * kMs);
    feeder.feed(two!, 11 * kMs);
    assert.deepEqual(protocol.events, []);
    feeder.feed(one!, 12 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "aaa" @6', '#1 C "bbb" @6', '#1 C "ccc" @6']);
  });

  test('a duplicated out-of-order segment is delivered once', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    const [one, two] = c.cut(true, 'aaabbb', 3);
    feeder.feed(two!, 10 * kMs);
    feeder.feed(two!.copy(), 11 * kMs);
    feeder.feed(one!, 12 * kMs);
    feeder.feed(two!.copy(), 13 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "aaa" @6', '#1 C "bbb" @6']);
  });

  test('sequence numbers wrap around 2^32 (in order and out of order)', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation({ clientIsn: 0xfffffff9, serverIsn: 0xfffffffe });
    feeder.feedAll(c.handshake(), 0);
    const [one, two, three] = c.cut(true, 'aaaabbbbcccc', 4, 4);
    assert.equal(two!.seq, 0xfffffffe);
    assert.equal(three!.seq, 2);
    feeder.feed(one!, 10 * kMs);
    feeder.feed(three!, 11 * kMs);
    feeder.feed(two!, 12 * kMs);
    feeder.feed(c.server('x'), 13 * kMs);
    feeder.feed(c.server('y'), 14 * kMs);
    assert.deepEqual(protocol.events, [
      '#1 C "aaaa" @4',
      '#1 C "bbbb" @6',
      '#1 C "cccc" @6',
      '#1 S "x" @7',
      '#1 S "y" @8',
    ]);
  });

  test('payload on a SYN (TCP Fast Open) starts after the SYN', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    const syn = c.syn();
    syn.payload = new TextEncoder().encode('early');
    syn.wireLength = 5;
    c.clientNext += 5;
    feeder.feed(syn, 0);
    feeder.feed(c.synAck(), kMs);
    feeder.feed(c.client('later'), 2 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "early" @1', '#1 C "later" @3']);
  });

  test('IPv6 connections are tracked with all four address words', () => {
    const { feeder, protocol, reassembly } = setup();
    const c = new TcpConversation({ ipv6: true, client: 1, server: 2 });
    feeder.feedAll([...c.handshake(), c.client('v6'), c.server('ok')], 0);
    assert.deepEqual(protocol.events, ['#1 C "v6" @4', '#1 S "ok" @5']);
    assert.equal(protocol.connections[0]!.ipVersion, 6);
    assert.equal(protocol.connections[0]!.client3, 1);
    assert.equal(protocol.connections[0]!.server0, 0x20010db8);
    assert.equal(reassembly.connectionCount(), 1);
  });

  test('non-TCP packets are ignored', () => {
    const { reassembly } = setup();
    const udp = new PacketView();
    udp.packet = new DecodedPacket();
    udp.packet.ipProtocol = IpProtocol.Udp;
    udp.packet.payloadLength = 4;
    udp.data = new Uint8Array(4);
    reassembly.onPacket(udp);
    assert.equal(reassembly.connectionCount(), 0);
  });
});

describe('TcpReassembly: close, reset, port reuse', () => {
  test('FIN closes its direction once and takes one sequence number', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    feeder.feed(c.client('req'), 10 * kMs);
    const fin = c.fin(false, 'bye');
    feeder.feed(fin, 11 * kMs);
    feeder.feed(fin.copy(), 12 * kMs);
    const clientFin = c.fin(true);
    feeder.feed(clientFin, 13 * kMs);
    assert.equal(c.clientNext, clientFin.seq + 1);
    assert.deepEqual(protocol.events, ['#1 C "req" @4', '#1 S "bye" @5', '#1 S fin @5', '#1 C fin @7']);
  });

  test('a connection closed both ways leaves the table; its late ACK and retransmitted FIN change nothing', () => {
    const { reassembly, feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    feeder.feed(c.client('req'), 10 * kMs);
    const serverFin = c.fin(false, 'resp');
    feeder.feed(serverFin, 11 * kMs);
    feeder.feed(c.fin(true), 12 * kMs);
    assert.equal(reassembly.connectionCount(), 0, 'ended connections do not occupy the table');
    feeder.feed(c.ack(false), 13 * kMs);
    feeder.feed(serverFin.copy(), 14 * kMs);
    assert.equal(reassembly.connectionCount(), 0);
    assert.deepEqual(protocol.events, ['#1 C "req" @4', '#1 S "resp" @5', '#1 S fin @5', '#1 C fin @6']);
  });

  test('a connection reused after one ended starts afresh, and the ended one keeps its endpoints', () => {
    const { reassembly, feeder, protocol } = setup();
    const first = new TcpConversation({ clientIsn: 100, serverIsn: 0xfffffff0 });
    feeder.feedAll([...first.handshake(), first.client('one'), first.server('resp')], 0);
    feeder.feedAll([first.fin(true), first.fin(false)], 10 * kMs);
    assert.equal(reassembly.connectionCount(), 0);
    // No handshake: roles guessed from the ports, sequence numbers synced from the first segments.
    const second = new TcpConversation({
      client: ipv4(10, 9, 9, 9),
      clientPort: 50_000,
      server: ipv4(192, 168, 0, 1),
      serverPort: 8080,
      clientIsn: 7_000_000,
      serverIsn: 3,
    });
    feeder.feedAll([second.client('two'), second.server('ok'), second.client('three')], 20 * kMs);
    assert.deepEqual(protocol.events, [
      '#1 C "one" @4',
      '#1 S "resp" @5',
      '#1 C fin @6',
      '#1 S fin @7',
      '#2 C "two" @8',
      '#2 S "ok" @9',
      '#2 C "three" @10',
    ]);
    const [one, two] = protocol.connections;
    assert.notEqual(one, two);
    assert.deepEqual(
      [one!.client0, one!.clientPort, one!.server0, one!.serverPort],
      [ipv4(10, 0, 0, 1), 40_000, ipv4(10, 0, 0, 2), 80],
    );
    assert.deepEqual(
      [two!.client0, two!.clientPort, two!.server0, two!.serverPort],
      [ipv4(10, 9, 9, 9), 50_000, ipv4(192, 168, 0, 1), 8080],
    );
  });

  test('a FIN after a hole waits for the hole', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    feeder.feed(c.client('q'), 10 * kMs);
    const data = c.server('abc');
    const fin = c.fin(false);
    feeder.feed(fin, 11 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "q" @4']);
    feeder.feed(data, 12 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "q" @4', '#1 S "abc" @6', '#1 S fin @6']);
  });

  test('RST closes both directions (the sender first) as reset', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('q'), c.rst(false), c.client('after')], 0);
    assert.deepEqual(protocol.events, ['#1 C "q" @4', '#1 S rst @5', '#1 C rst @5']);
  });

  test('a retransmitted SYN keeps the connection', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    const syn = c.syn();
    feeder.feedAll([syn, syn.copy(), c.synAck(), c.ack(true), c.client('x'), syn.copy()], 0);
    feeder.feed(c.client('y'), 10 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "x" @5', '#1 C "y" @7']);
  });

  test('a new SYN (other ISN) after FIN starts a new connection on the same tuple', () => {
    const { feeder, protocol, reassembly } = setup();
    const first = new TcpConversation({ clientIsn: 100 });
    feeder.feedAll([...first.handshake(), first.client('one'), first.fin(true), first.fin(false)], 0);
    const second = new TcpConversation({ clientIsn: 900_000, serverIsn: 77 });
    feeder.feedAll([...second.handshake(), second.client('two')], 10 * kMs);
    assert.deepEqual(protocol.offers, ['C:one', 'C:two']);
    assert.deepEqual(protocol.events, ['#1 C "one" @4', '#1 C fin @5', '#1 S fin @6', '#2 C "two" @10']);
    assert.equal(reassembly.connectionCount(), 1);
  });

  test('a new SYN on an open connection closes the old one (as reset) before starting over', () => {
    const { feeder, protocol } = setup();
    const first = new TcpConversation({ clientIsn: 100 });
    feeder.feedAll([...first.handshake(), first.client('one')], 0);
    const second = new TcpConversation({ clientIsn: 5_000_000 });
    feeder.feedAll([...second.handshake(), second.client('two')], 10 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "one" @4', '#1 C rst @5', '#1 S rst @5', '#2 C "two" @8']);
  });

  test('a SYN-ACK without its SYN makes its receiver the client', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation({ clientPort: 80, serverPort: 50_000 });
    feeder.feedAll([c.synAck(), c.ack(true), c.client('hi'), c.server('yo')], 0);
    assert.equal(protocol.connections[0]!.clientPort, 80);
    assert.deepEqual(protocol.events, ['#1 C "hi" @3', '#1 S "yo" @4']);
  });
});

describe('TcpReassembly: capture started mid-connection', () => {
  test('the higher port is guessed as the client', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation({ clientPort: 50_000, serverPort: 443 });
    feeder.feedAll([c.server('banner'), c.client('hello')], 0);
    assert.deepEqual(protocol.offers, ['S:banner']);
    assert.equal(protocol.connections[0]!.clientPort, 50_000);
    assert.deepEqual(protocol.events, ['#1 S "banner" @1', '#1 C "hello" @2']);
  });

  test('when no protocol claims under the guess, the swapped roles are tried: the claimed requester is the client', () => {
    const protocol = new RecordingProtocol((fromClient, text) => fromClient && text.startsWith('REQ'));
    const { feeder } = setup({}, protocol);
    // Server on the higher port: the port guess is wrong.
    const c = new TcpConversation({ clientPort: 8868, serverPort: 31_600 });
    feeder.feedAll([c.client('REQ 1'), c.server('RESP 1')], 0);
    assert.deepEqual(protocol.offers, ['S:REQ 1', 'C:REQ 1']);
    assert.equal(protocol.connections[0]!.clientPort, 8868);
    assert.equal(protocol.connections[0]!.serverPort, 31_600);
    assert.deepEqual(protocol.events, ['#1 C "REQ 1" @1', '#1 S "RESP 1" @2']);
  });

  test('the peer ACK syncs a direction: older data is a retransmission', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation({ clientPort: 50_000 });
    const stale = c.client('old');
    feeder.feed(c.ack(false), 0); // acks everything the client sent so far
    feeder.feed(stale, kMs);
    feeder.feed(c.client('new'), 2 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "new" @3']);
  });

  test('without SYN or ACK the first segment seen starts the direction', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation({ clientPort: 50_000 });
    const segment = c.client('first');
    segment.flags = TcpFlag.Psh;
    feeder.feed(segment, 0);
    assert.deepEqual(protocol.events, ['#1 C "first" @1']);
  });
});

describe('TcpReassembly: holes given up', () => {
  test('when the buffer is full the hole is given up: onGap, then buffered bytes with their own packets', () => {
    const { feeder, protocol, skips } = setup({
      maxBufferedBytesPerDirection: 8 + 2 * kSegmentOverheadBytes,
    });
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('a')], 0);
    const [, b, d, e] = c.cut(true, 'LLLLbbbbddddeeee', 4, 4, 4);
    feeder.feed(b!, 10 * kMs); // 4 buffered
    feeder.feed(d!, 11 * kMs); // 8 buffered
    assert.deepEqual(protocol.events, ['#1 C "a" @4']);
    feeder.feed(e!, 12 * kMs); // would be 12: give up
    assert.deepEqual(protocol.events, [
      '#1 C "a" @4',
      '#1 C gap 4 @5',
      '#1 C "bbbb" @5',
      '#1 C "dddd" @6',
      '#1 C "eeee" @7',
    ]);
    assert.equal(skips.get(skip('tcp.buffer_full')), 1);
    assert.equal(skips.get(skip('tcp.gap')), 1);
  });

  test('an ACK past the hole gives it up (the peer got what the capture lost)', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('a')], 0);
    const lost = c.client('LOST');
    feeder.feed(c.client('kept'), 10 * kMs);
    const notYet = c.server('not yet');
    notYet.ack = lost.seq; // acknowledges up to the hole only
    feeder.feed(notYet, 11 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "a" @4', '#1 S "not yet" @6']);
    feeder.feed(c.ack(false), 12 * kMs);
    assert.deepEqual(protocol.events, [
      '#1 C "a" @4',
      '#1 S "not yet" @6',
      '#1 C gap 4 @5',
      '#1 C "kept" @5',
    ]);
  });

  test('an ACK for one missing number with nothing buffered is no gap (an uncaptured FIN)', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('x')], 0);
    c.fin(true); // not captured
    feeder.feed(c.ack(false), 10 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "x" @4']);
  });

  test('a snaplen-cut payload delivers the captured bytes and a gap for the rest', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    const cut = c.client('0123456789');
    cut.payload = cut.payload.slice(0, 6);
    feeder.feed(cut, 10 * kMs);
    feeder.feed(c.client('next'), 11 * kMs);
    assert.deepEqual(protocol.events, ['#1 C "012345" @4', '#1 C gap 4 @4', '#1 C "next" @5']);
  });

  test('a segment far outside the window restarts the direction there after a gap', () => {
    const { feeder, protocol, skips } = setup();
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('a')], 0);
    c.clientNext = (c.clientNext + 0x50000000) >>> 0;
    feeder.feed(c.client('far'), 10 * kMs);
    feeder.feed(c.client('on'), 11 * kMs);
    assert.deepEqual(protocol.events, [
      '#1 C "a" @4',
      `#1 C gap ${0x50000000} @5`,
      '#1 C "far" @5',
      '#1 C "on" @6',
    ]);
    assert.equal(skips.get(skip('tcp.seq_jump')), 1);
  });

  test('RST gives up holes before closing', () => {
    const { feeder, protocol } = setup();
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('a')], 0);
    c.client('LOST');
    feeder.feed(c.client('kept'), 10 * kMs);
    feeder.feed(c.rst(true), 11 * kMs);
    assert.deepEqual(protocol.events, [
      '#1 C "a" @4',
      '#1 C gap 4 @5',
      '#1 C "kept" @5',
      '#1 C rst @6',
      '#1 S rst @6',
    ]);
  });
});

describe('TcpReassembly: claims', () => {
  test('an unclaimed connection is offered up to the budget per direction, then ignored', () => {
    const protocol = new RecordingProtocol(() => false);
    const { feeder, reassembly } = setup({}, protocol);
    const c = new TcpConversation();
    const chunk = 'x'.repeat(1000);
    feeder.feedAll(c.handshake(), 0);
    for (let i = 0; i < 6; i++) feeder.feed(c.client(chunk), (10 + i) * kMs);
    for (let i = 0; i < 6; i++) feeder.feed(c.server(chunk), (20 + i) * kMs);
    const perDirection = Math.ceil(kClaimBudgetBytes / 1000);
    assert.equal(protocol.offers.length, 2 * perDirection);
    assert.equal(reassembly.connectionCount(), 1);
    // Ignored, but a new SYN on the tuple starts over.
    const next = new TcpConversation({ clientIsn: 77_777_777 });
    feeder.feedAll([...next.handshake(), next.client('fresh')], 40 * kMs);
    assert.equal(protocol.offers.at(-1), 'C:fresh');
  });

  test('a claim owns the connection from the claimed bytes on; protocols are asked in order', () => {
    const first = new RecordingProtocol((_, text) => text === 'B');
    const second = new RecordingProtocol((_, text) => text === 'A');
    const skips = new SkipCounters();
    const reassembly = new TcpReassembly(
      [first, second],
      { ...defaultTcpReassemblyOptions(), maxConnections: 10, idleTimeoutNanos: kSecond },
      skips,
    );
    const feeder = new Feeder(reassembly);
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('A'), c.client('B')], 0);
    assert.deepEqual(first.offers, ['C:A']);
    assert.deepEqual(second.offers, ['C:A']);
    assert.deepEqual(first.events, []);
    assert.deepEqual(second.events, ['#1 C "A" @4', '#1 C "B" @5']);
  });
});

describe('TcpReassembly: bounds and expiry', () => {
  test('idle connections expire by capture time; held bytes are given up first', () => {
    const { feeder, protocol, reassembly, skips } = setup({ idleTimeoutNanos: 10 * kSecond });
    const c = new TcpConversation();
    feeder.feedAll(c.handshake(), 0);
    feeder.feed(c.client('a'), kMs);
    c.client('LOST');
    feeder.feed(c.client('b'), 2 * kMs);
    reassembly.expire(...captureTime(10 * kSecond + 2 * kMs));
    assert.equal(reassembly.connectionCount(), 1);
    reassembly.expire(...captureTime(10 * kSecond + 2 * kMs + 1));
    assert.equal(reassembly.connectionCount(), 0);
    assert.equal(reassembly.idleDrops, 1);
    assert.equal(skips.get(skip('tcp.connection_idle')), 1);
    assert.deepEqual(protocol.events, ['#1 C "a" @4', '#1 C gap 4 @5', '#1 C "b" @5']);
  });

  test('at the cap the least recently seen connection is evicted', () => {
    const { feeder, protocol, reassembly, skips } = setup({ maxConnections: 2 });
    const a = new TcpConversation({ clientPort: 1001 });
    const b = new TcpConversation({ clientPort: 1002 });
    const c = new TcpConversation({ clientPort: 1003 });
    feeder.feedAll([...a.handshake(), ...b.handshake(), a.client('a1')], 0);
    // b is now the least recently seen.
    feeder.feedAll([...c.handshake()], 10 * kMs);
    assert.equal(reassembly.connectionCount(), 2);
    assert.equal(reassembly.evictions, 1);
    assert.equal(skips.get(skip('tcp.connection_evicted')), 1);
    feeder.feed(a.client('a2'), 20 * kMs);
    feeder.feed(b.client('b1'), 21 * kMs); // b starts over, mid-stream
    assert.deepEqual(protocol.events, ['#1 C "a1" @7', '#1 C "a2" @11', '#2 C "b1" @12']);
    assert.equal(reassembly.evictions, 2);
  });

  test('flush gives up holes and forgets every connection without closing them', () => {
    const { feeder, protocol, reassembly } = setup();
    const c = new TcpConversation();
    feeder.feedAll([...c.handshake(), c.client('q')], 0);
    c.server('LOST');
    feeder.feed(c.server('tail'), 10 * kMs);
    reassembly.flush();
    assert.deepEqual(protocol.events, ['#1 C "q" @4', '#1 S gap 4 @5', '#1 S "tail" @5']);
    assert.equal(reassembly.connectionCount(), 0);
  });
});
