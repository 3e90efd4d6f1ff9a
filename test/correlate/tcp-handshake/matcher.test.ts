import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Outcome, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { tcpHandshakeMatcher } from '../../../agent/correlate/tcp-handshake/index.ts';
import { TcpFlag } from '../../../agent/decode/packet.ts';
import {
  type Configure,
  firstToFirstNs,
  Harness,
  lastToFirstNs,
  type PacketSpec,
  words,
} from '../udp/harness.ts';

const SYN = TcpFlag.Syn;
const SYN_ACK = TcpFlag.Syn | TcpFlag.Ack;
const RST_ACK = TcpFlag.Rst | TcpFlag.Ack;
const kSecond = 1_000_000_000;

const client = { src: '10.0.0.1', sport: 40000, dst: '10.0.0.2', dport: 80 };
const server = { src: '10.0.0.2', sport: 80, dst: '10.0.0.1', dport: 40000 };

function syn(at: number, seq = 1000, extra: Partial<PacketSpec> = {}): PacketSpec {
  return { ...client, at, flags: SYN, seq, ...extra };
}

function synAck(at: number, ack = 1001, extra: Partial<PacketSpec> = {}): PacketSpec {
  return { ...server, at, flags: SYN_ACK, seq: 777, ack, ...extra };
}

function harness(configure?: Configure): Harness {
  return new Harness(tcpHandshakeMatcher, configure);
}

test('descriptor: name tcp, always enabled', () => {
  const h = harness();
  assert.equal(tcpHandshakeMatcher.name, 'tcp');
  assert.equal(tcpHandshakeMatcher.enabled(h.options), true);
});

test('SYN then SYN-ACK acking ISN + 1: one matched pair with the exact capture-time latency', () => {
  // tcpdump tests/tcp-handshake-nano.pcap frames 1-2 (oracle: 0.127521774 s).
  const h = harness();
  h.tcp({
    time: [1418145369, 924505488],
    src: '131.155.215.69',
    sport: 46656,
    dst: '137.116.81.94',
    dport: 80,
    flags: SYN,
    seq: 797190859,
  });
  assert.equal(h.matcher.pendingCount(), 1);
  h.tcp({
    time: [1418145370, 52027262],
    src: '137.116.81.94',
    sport: 80,
    dst: '131.155.215.69',
    dport: 46656,
    flags: SYN_ACK,
    seq: 3078856592,
    ack: 797190860,
  });
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(pair.outcome, Outcome.Matched);
  assert.equal(pair.protocol, 'tcp');
  assert.equal(pair.transport, 6);
  assert.equal(pair.ipVersion, 4);
  assert.deepEqual(
    [pair.client0, pair.client1, pair.client2, pair.client3, pair.clientPort],
    [...words('131.155.215.69'), 46656],
  );
  assert.deepEqual(
    [pair.server0, pair.server1, pair.server2, pair.server3, pair.serverPort],
    [...words('137.116.81.94'), 80],
  );
  assert.equal(firstToFirstNs(pair), 127_521_774);
  assert.equal(lastToFirstNs(pair), 127_521_774);
  assert.deepEqual(
    [pair.request.firstSeconds, pair.request.firstNanos, pair.request.lastSeconds, pair.request.lastNanos],
    [1418145369, 924505488, 1418145369, 924505488],
  );
  assert.deepEqual([pair.request.packet, pair.request.lastPacket, pair.request.packets], [1, 1, 1]);
  const response = pair.response!;
  assert.deepEqual(
    [response.firstSeconds, response.firstNanos, response.lastSeconds, response.lastNanos],
    [1418145370, 52027262, 1418145370, 52027262],
  );
  assert.deepEqual([response.packet, response.lastPacket, response.packets], [2, 2, 1]);
  assert.equal(pair.detail, null);
  assert.equal(h.matcher.pendingCount(), 0);
});

test('latency across a second boundary is exact to the nanosecond', () => {
  const h = harness();
  h.tcp(syn(kSecond - 1));
  h.tcp(synAck(kSecond + 1));
  assert.equal(firstToFirstNs(h.pairs[0]!), 2);
});

test('the response may come from the next capture file (rotation): file id and packet number are kept', () => {
  const h = harness();
  h.tcp(syn(0));
  h.tcp(synAck(1000, 1001, { fileId: 3 }));
  const pair = h.pairs[0]!;
  assert.deepEqual([pair.request.fileId, pair.request.packet], [0, 1]);
  assert.deepEqual([pair.response!.fileId, pair.response!.packet, pair.response!.lastFileId], [3, 1, 3]);
});

test('IPv6 handshake pairs with all four address words', () => {
  // PcapPlusPlus raw_ip.pcap frames 1-2 (oracle: 0.031862000 s).
  const h = harness();
  const c = '2001:618:400::5199:cc70';
  const s = '2001:618:1:8000::5';
  h.tcp({
    time: [1147551795, 526632000],
    src: c,
    sport: 35995,
    dst: s,
    dport: 80,
    flags: SYN,
    seq: 1793525558,
  });
  h.tcp({
    time: [1147551795, 558494000],
    src: s,
    sport: 80,
    dst: c,
    dport: 35995,
    flags: SYN_ACK,
    seq: 3102676802,
    ack: 1793525559,
  });
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(pair.ipVersion, 6);
  assert.deepEqual([pair.client0, pair.client1, pair.client2, pair.client3], words(c));
  assert.deepEqual([pair.server0, pair.server1, pair.server2, pair.server3], words(s));
  assert.deepEqual(words(c), [0x20010618, 0x04000000, 0x00000000, 0x5199cc70]);
  assert.equal(firstToFirstNs(pair), 31_862_000);
});

test('retransmitted SYN (same ISN): the latest copy wins for ack_rtt, the first is kept, detail counts the copies', () => {
  const h = harness();
  h.tcp(syn(0));
  h.tcp(syn(1 * kSecond));
  h.tcp(syn(3 * kSecond + 5));
  assert.equal(h.matcher.pendingCount(), 1);
  h.tcp(synAck(3 * kSecond + 300_005));
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  // tshark's tcp.analysis.ack_rtt and the oracle's delta: latest SYN → SYN-ACK.
  assert.equal(lastToFirstNs(pair), 300_000);
  // The client's wait from its first SYN.
  assert.equal(firstToFirstNs(pair), 3 * kSecond + 300_005);
  assert.deepEqual([pair.request.packets, pair.request.packet, pair.request.lastPacket], [3, 1, 3]);
  assert.deepEqual(pair.detail, { syns: 3 });
});

test('retransmitted SYN-ACK: the first one pairs, the copy is counted and emits nothing (tshark ack_rtt semantics)', () => {
  // tcpdump tests/pptp.pcap frames 1-3: tshark gives ack_rtt 0.000130000 on frame 2 only and
  // flags frame 3 as a retransmission; the oracle prints a second line (frame 3) we do not.
  const h = harness();
  const c = { src: '10.1.1.11', sport: 3025, dst: '10.1.1.10', dport: 1723 };
  const s = { src: '10.1.1.10', sport: 1723, dst: '10.1.1.11', dport: 3025 };
  h.tcp({ ...c, time: [954147395, 148077000], flags: SYN, seq: 3648253419 });
  h.tcp({ ...s, time: [954147395, 148207000], flags: SYN_ACK, seq: 2339250119, ack: 3648253420 });
  h.tcp({ ...s, time: [954147395, 148313000], flags: SYN_ACK, seq: 2339250119, ack: 3648253420 });
  assert.equal(h.pairs.length, 1);
  assert.equal(firstToFirstNs(h.pairs[0]!), 130_000);
  assert.equal(h.pairs[0]!.response!.packet, 2);
  assert.equal(h.skip('tcp.synack_unmatched'), 1);
  h.flush();
  assert.equal(h.pairs.length, 1);
});

test('SYN-ACK with the wrong ack number, or from another port, does not match; the right one still does', () => {
  const h = harness();
  h.tcp(syn(0, 1000));
  h.tcp(synAck(10, 1000)); // acks the ISN itself, not ISN + 1
  h.tcp(synAck(20, 1002));
  h.tcp(synAck(30, 1001, { sport: 81 }));
  h.tcp({ ...client, at: 40, flags: SYN_ACK, ack: 1001 }); // same direction as the SYN
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skip('tcp.synack_unmatched'), 4);
  assert.equal(h.matcher.pendingCount(), 1);
  h.tcp(synAck(50, 1001));
  assert.equal(h.pairs.length, 1);
  assert.equal(firstToFirstNs(h.pairs[0]!), 50);
});

test('SYN-ACK whose SYN is not in the capture is counted, not paired', () => {
  const h = harness();
  h.tcp(synAck(0));
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skip('tcp.synack_unmatched'), 1);
});

test('ISN 0xffffffff: the SYN-ACK acks 0 (sequence numbers wrap)', () => {
  const h = harness();
  h.tcp(syn(0, 0xffffffff));
  h.tcp(synAck(7, 0));
  assert.equal(h.pairs.length, 1);
  assert.equal(firstToFirstNs(h.pairs[0]!), 7);
});

test('port reuse: a SYN with another ISN on the same tuple is a new attempt, each pairs by its ack number', () => {
  const h = harness();
  h.tcp(syn(0, 1000));
  h.tcp(syn(100, 9000));
  assert.equal(h.matcher.pendingCount(), 2);
  h.tcp(synAck(150, 9001));
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.request.firstNanos, 100);
  assert.equal(h.pairs[0]!.request.packets, 1);
  assert.equal(h.pairs[0]!.detail, null);
  assert.equal(firstToFirstNs(h.pairs[0]!), 50);
  h.tcp(synAck(170, 1001)); // the older attempt's late SYN-ACK (the oracle would pair it with the newer SYN)
  assert.equal(h.pairs.length, 2);
  assert.equal(firstToFirstNs(h.pairs[1]!), 170);
});

test('port reuse: an older attempt never answered is reported at flush, not lost', () => {
  const h = harness();
  h.tcp(syn(0, 1000));
  h.tcp(syn(100, 9000));
  h.tcp(synAck(150, 9001));
  h.flush();
  assert.equal(h.pairs.length, 2);
  const older = h.pairs[1]!;
  assert.equal(older.outcome, Outcome.Unanswered);
  assert.equal(older.unansweredReason, UnansweredReason.EndOfInput);
  assert.equal(older.request.firstNanos, 0);
  assert.equal(older.response, null);
});

test('a SYN after its attempt was answered opens a new attempt (syns restarts at 1)', () => {
  const h = harness();
  h.tcp(syn(0));
  h.tcp(synAck(10));
  h.tcp(syn(1000));
  h.tcp(synAck(1010));
  assert.equal(h.pairs.length, 2);
  assert.deepEqual(
    h.pairs.map((p) => [p.outcome, firstToFirstNs(p), p.detail]),
    [
      [Outcome.Matched, 10, null],
      [Outcome.Matched, 10, null],
    ],
  );
});

test('RST+ACK acking ISN + 1 (connection refused) ends the attempt as unanswered, connection_closed', () => {
  const h = harness();
  h.tcp(syn(0));
  h.tcp(syn(kSecond));
  h.tcp({ ...server, at: kSecond + 40, flags: RST_ACK, seq: 0, ack: 1001 });
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(pair.outcome, Outcome.Unanswered);
  assert.equal(pair.unansweredReason, UnansweredReason.ConnectionClosed);
  assert.equal(pair.response, null);
  assert.deepEqual(pair.detail, { syns: 2 });
  assert.equal(h.matcher.pendingCount(), 0);
});

test('RST without a pending SYN, or acking another number, is ignored without a count', () => {
  const h = harness();
  h.tcp(syn(0));
  h.tcp({ ...server, at: 10, flags: RST_ACK, ack: 5000 });
  h.tcp({ ...server, at: 20, flags: TcpFlag.Rst, seq: 1001 });
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skips.total(), 0);
  assert.equal(h.matcher.pendingCount(), 1);
});

test('data, ACK, FIN and SYN+RST segments are not handshake packets', () => {
  const h = harness();
  h.tcp(syn(0));
  h.tcp({ ...server, at: 1, flags: TcpFlag.Ack, ack: 1001 });
  h.tcp({ ...client, at: 2, flags: TcpFlag.Psh | TcpFlag.Ack, seq: 1001, payload: 'GET / HTTP/1.1\r\n\r\n' });
  h.tcp({ ...server, at: 3, flags: TcpFlag.Fin | TcpFlag.Ack, ack: 1001 });
  h.tcp({ ...server, at: 4, flags: TcpFlag.Syn | TcpFlag.Ack | TcpFlag.Rst, ack: 1001 });
  h.tcp({ ...client, at: 5, flags: TcpFlag.Syn | TcpFlag.Rst, seq: 1000 });
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skips.total(), 0);
  assert.equal(h.matcher.pendingCount(), 1);
});

test('SYN with data (TCP Fast Open) and ECN flags still opens; bytes are the payload bytes on the wire', () => {
  const h = harness();
  h.tcp(syn(0, 1000, { flags: SYN | TcpFlag.Ece | TcpFlag.Cwr, payload: 'hello', wireLength: 9 }));
  h.tcp(synAck(10, 1001, { flags: SYN_ACK | TcpFlag.Ece }));
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.request.bytes, 9);
  assert.equal(h.pairs[0]!.response!.bytes, 0);
});

test('unanswered SYN expires once older than timeoutNanos.tcp, counted from its latest copy', () => {
  const h = harness((o) => {
    o.timeoutNanos.tcp = 30 * kSecond;
  });
  h.tcp(syn(0));
  h.tcp(syn(10 * kSecond));
  h.expire(40 * kSecond); // exactly the timeout after the latest copy: still pending
  assert.equal(h.pairs.length, 0);
  h.expire(40 * kSecond + 1);
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(pair.outcome, Outcome.Unanswered);
  assert.equal(pair.unansweredReason, UnansweredReason.Expired);
  assert.deepEqual(pair.detail, { syns: 2 });
  assert.equal(pair.request.firstNanos, 0);
  assert.equal(h.matcher.pendingCount(), 0);
  h.tcp(synAck(41 * kSecond)); // too late: its attempt is gone
  assert.equal(h.pairs.length, 1);
  assert.equal(h.skip('tcp.synack_unmatched'), 1);
});

test('expiry emits oldest first and stops at the first attempt still in time', () => {
  const h = harness((o) => {
    o.timeoutNanos.tcp = 100;
  });
  h.tcp(syn(0, 1));
  h.tcp(syn(50, 2));
  h.tcp(syn(60, 3));
  h.tcp(syn(70, 1)); // retransmission of the first: it is now the newest
  h.expire(155);
  assert.deepEqual(
    h.pairs.map((p) => p.request.packet),
    [2],
  );
  h.expire(171);
  assert.deepEqual(
    h.pairs.map((p) => p.request.packet),
    [2, 3, 1],
  );
});

test('table full: the oldest attempt is evicted as unanswered and counted', () => {
  const h = harness((o) => {
    o.maxPending.tcp = 2;
  });
  h.tcp(syn(0, 1));
  h.tcp(syn(10, 2));
  h.tcp(syn(20, 2)); // a retransmission does not take a new slot
  assert.equal(h.pairs.length, 0);
  h.tcp(syn(30, 3));
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.unansweredReason, UnansweredReason.Evicted);
  assert.equal(h.pairs[0]!.request.firstNanos, 0);
  assert.equal(h.skip('tcp.pending_evicted'), 1);
  assert.equal(h.matcher.pendingCount(), 2);
});

test('flush reports every pending attempt as end_of_input, oldest first', () => {
  const h = harness();
  h.tcp(syn(0, 1));
  h.tcp(syn(10, 2));
  h.flush();
  assert.deepEqual(
    h.pairs.map((p) => [p.outcome, p.unansweredReason, p.request.firstNanos]),
    [
      [Outcome.Unanswered, UnansweredReason.EndOfInput, 0],
      [Outcome.Unanswered, UnansweredReason.EndOfInput, 10],
    ],
  );
  assert.equal(h.matcher.pendingCount(), 0);
});

test('an IPv4 attempt and its IPv6 twin share a key: told apart, the displaced one reported (key collision path)', () => {
  // a00:1:: and a00:2:: have the address words of 10.0.0.1 and 10.0.0.2.
  const h = harness();
  h.tcp(syn(0));
  h.tcp({ src: 'a00:1::', sport: 40000, dst: 'a00:2::', dport: 80, at: 10, flags: SYN, seq: 1000 });
  assert.equal(h.skip('tcp.key_collision'), 1);
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.ipVersion, 4);
  assert.equal(h.pairs[0]!.unansweredReason, UnansweredReason.Evicted);
  h.tcp(synAck(20)); // the IPv4 answer: its attempt was displaced
  assert.equal(h.pairs.length, 1);
  h.tcp({ src: 'a00:2::', sport: 80, dst: 'a00:1::', dport: 40000, at: 30, flags: SYN_ACK, ack: 1001 });
  assert.equal(h.pairs.length, 2);
  assert.equal(h.pairs[1]!.ipVersion, 6);
  assert.equal(firstToFirstNs(h.pairs[1]!), 20);
});

test('ended attempts are reused for new ones, but every pair a sink holds stays as it was emitted', () => {
  const h = harness();
  const emitted: string[] = [];
  const snapshot = () => {
    while (emitted.length < h.pairs.length) emitted.push(JSON.stringify(h.pairs[emitted.length]));
  };
  // A retransmitted SYN (detail {syns: 2}), then attempts that reuse its entry, ISNs on both
  // sides of 2^31.
  h.tcp(syn(0, 0x80000000));
  h.tcp(syn(5, 0x80000000));
  h.tcp(synAck(10, 0x80000001));
  snapshot();
  h.tcp(syn(100, 7));
  h.tcp({ ...server, at: 120, flags: RST_ACK, ack: 8 });
  snapshot();
  h.tcp(syn(200, 0xfffffffe));
  h.tcp(synAck(230, 0xffffffff));
  snapshot();
  assert.equal(new Set(h.pairs).size, 3);
  assert.deepEqual(
    h.pairs.map((p) => JSON.stringify(p)),
    emitted,
  );
  assert.deepEqual(
    h.pairs.map((p) => [p.request.packets, p.detail, p.outcome, p.unansweredReason]),
    [
      [2, { syns: 2 }, Outcome.Matched, UnansweredReason.Expired],
      [1, null, Outcome.Unanswered, UnansweredReason.ConnectionClosed],
      [1, null, Outcome.Matched, UnansweredReason.Expired],
    ],
  );
});
