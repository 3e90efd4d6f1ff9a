import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outcome, type Pair, UnansweredReason } from '../../../agent/correlate/pair.ts';
import {
  aRecord,
  client,
  concat,
  connectionInfo,
  dnsMessage,
  framed,
  fromHex,
  harness,
  latencyNanos,
  openTcp,
  server,
  v4,
} from './helpers.ts';

const query = (id: number, name = 'www.example.test') => dnsMessage({ id, question: { name } });
const response = (id: number, name = 'www.example.test') =>
  dnsMessage({ id, response: true, question: { name }, answers: [aRecord(192, 0, 2, 1)] });

function edgeSummary(edges: Pair['request']): number[] {
  return [edges.firstNanos, edges.lastNanos, edges.packet, edges.lastPacket, edges.packets, edges.bytes];
}

describe('DNS over TCP: claiming connections', () => {
  it('claims a connection with a DNS port on either side, and only those', () => {
    const h = harness();
    const view = h.wire.view;
    const claim = (a: ReturnType<typeof v4>, b: ReturnType<typeof v4>) =>
      h.matcher.stream.claim(connectionInfo(a, b), true, h.wire.buffer, 0, 0, view) !== null;
    assert.equal(claim(client, server), true);
    // Without a SYN the reassembly may guess the client wrong: port 53 on the "client" side.
    assert.equal(claim(server, client), true);
    assert.equal(claim(client, v4('10.0.0.138', 80)), false);
    assert.equal(h.matcher.stream.name, 'dns');
  });
});

describe('DNS over TCP: framing', () => {
  it('pairs a query and a response of one segment each; bytes include the length prefix', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    const q = framed(query(0x4319));
    const r = framed(response(0x4319));
    h.wire.tcpData(tcp, true, q, 50, 1_000);
    h.wire.tcpData(tcp, false, r, 50, 126_000);
    assert.equal(h.pairs.length, 1);
    const pair = h.pairs[0]!;
    assert.deepEqual(
      [pair.transport, pair.clientPort, pair.serverPort, pair.outcome],
      [6, 63688, 53, Outcome.Matched],
    );
    assert.deepEqual(edgeSummary(pair.request), [1_000, 1_000, 1, 1, 1, q.length]);
    assert.deepEqual(edgeSummary(pair.response!), [126_000, 126_000, 2, 2, 1, r.length]);
    assert.equal(latencyNanos(pair), 125_000);
    assert.deepEqual(pair.detail, {
      id: 0x4319,
      name: 'www.example.test',
      type: 'A',
      class: 'IN',
      rcode: 'NOERROR',
      answers: 1,
    });
  });

  it('pairs real packets as tshark does (tcpdump tests/dns_tcp.pcap frames 4 and 6: dns.time 0.125857)', () => {
    const h = harness();
    const tcp = openTcp(h, v4('192.168.1.11', 33779), v4('209.87.249.18', 53));
    const q4 = fromHex(
      '0038431901200001000000000001037777770774637064756d70036f72670000010001000029100000000000000c000a00088f06be7d691442f0',
    );
    const r6 = fromHex(
      '00e0431985000001000200020005037777770774637064756d70036f72670000010001c00c000100010000003c0004c08b2e42c00c000100010000003c0004c6c75868c01000020001000151800012036e69630973616e64656c6d616e02636100c0100002000100015180001203736e7308636f6f7065726978036e657400c04d000100010000012c0004d157f912c04d001c00010000012c00102607f0b0000f000000000000babef00dc06b0001000100001c200004616b850fc06b001c000100001c20001026003c0300000000f03c91fffe96e8ef0000291000000000000000',
    );
    h.wire.tcpData(tcp, true, q4, 1591780863, 847_323_000);
    h.wire.tcpData(tcp, false, r6, 1591780863, 973_180_000);
    assert.equal(h.pairs.length, 1);
    assert.equal(latencyNanos(h.pairs[0]!), 125_857_000);
    assert.deepEqual(h.pairs[0]!.detail, {
      id: 0x4319,
      name: 'www.tcpdump.org',
      type: 'A',
      class: 'IN',
      rcode: 'NOERROR',
      answers: 2,
    });
  });

  it('reads two messages from one segment, with that segment as both edges of each', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, concat(framed(query(1, 'a.test')), framed(query(2, 'b.test'))), 1, 100);
    assert.equal(h.matcher.pendingCount(), 2);
    h.wire.tcpData(tcp, false, concat(framed(response(2, 'b.test')), framed(response(1, 'a.test'))), 1, 900);
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.name, p.request.packet, p.response!.packet, latencyNanos(p)]),
      [
        ['b.test', 1, 2, 800],
        ['a.test', 1, 2, 800],
      ],
    );
  });

  it('assembles one message over three segments: first and last packets, packet count, bytes', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, framed(query(3)), 2, 0);
    const r = framed(response(3));
    h.wire.tcpData(tcp, false, r.slice(0, 10), 2, 1_000);
    h.wire.tcpData(tcp, false, r.slice(10, 20), 2, 2_000);
    assert.equal(h.pairs.length, 0);
    h.wire.tcpData(tcp, false, r.slice(20), 2, 3_000);
    assert.equal(h.pairs.length, 1);
    assert.deepEqual(edgeSummary(h.pairs[0]!.response!), [1_000, 3_000, 2, 4, 3, r.length]);
    assert.equal(latencyNanos(h.pairs[0]!), 3_000);
    assert.equal(h.pairs[0]!.detail?.name, 'www.example.test');
  });

  it('handles a length prefix split 1 + 1 bytes: the first prefix byte is the first edge', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    const q = framed(query(4));
    h.wire.tcpData(tcp, true, q.slice(0, 1), 3, 10);
    h.wire.tcpData(tcp, true, q.slice(1, 2), 3, 20);
    h.wire.tcpData(tcp, true, q.slice(2), 3, 30);
    assert.equal(h.matcher.pendingCount(), 1);
    h.wire.tcpData(tcp, false, framed(response(4)), 3, 100);
    const pair = h.pairs[0]!;
    assert.deepEqual(edgeSummary(pair.request), [10, 30, 1, 3, 3, q.length]);
    assert.equal(latencyNanos(pair), 90);
  });

  it('handles a split prefix whose second byte comes with the body and the next message', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    const stream = concat(framed(query(5, 'five.test')), framed(query(6, 'six.test')));
    const firstEnd = framed(query(5, 'five.test')).length;
    h.wire.tcpData(tcp, true, stream.slice(0, 1), 4, 1);
    h.wire.tcpData(tcp, true, stream.slice(1, firstEnd + 1), 4, 2);
    h.wire.tcpData(tcp, true, stream.slice(firstEnd + 1), 4, 3);
    h.wire.tcpData(
      tcp,
      false,
      concat(framed(response(5, 'five.test')), framed(response(6, 'six.test'))),
      4,
      10,
    );
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.name, edgeSummary(p.request)]),
      [
        ['five.test', [1, 2, 1, 2, 2, firstEnd]],
        ['six.test', [2, 3, 2, 3, 2, stream.length - firstEnd]],
      ],
    );
  });

  it('counts a message shorter than a DNS header (including length 0) as malformed and goes on', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, Uint8Array.from([0, 0]), 1, 0);
    h.wire.tcpData(tcp, true, concat(Uint8Array.from([0, 3, 1, 2, 3]), framed(query(7))), 1, 1);
    assert.equal(h.matcher.pendingCount(), 1);
    assert.deepEqual(h.skips.toObject(), { 'dns.malformed': 2 });
  });

  it('completes a zero-length message when its split prefix ends the delivery', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, Uint8Array.from([0]), 1, 0);
    h.wire.tcpData(tcp, true, Uint8Array.from([0]), 1, 1);
    tcp.onClose(true, false, h.wire.at(1, 2));
    assert.deepEqual(h.skips.toObject(), { 'dns.malformed': 1 });
  });

  it('keys TCP apart from UDP: a TCP response does not close a UDP query', () => {
    const h = harness();
    h.wire.udp(client, server, query(8), 1, 0);
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, false, framed(response(8)), 1, 5);
    assert.equal(h.pairs.length, 0);
    assert.deepEqual(h.skips.toObject(), { 'dns.unsolicited_response': 1 });
  });

  it('counts TCP requests in both pendingCount()s: the matcher (all) and the stream (TCP only)', () => {
    const h = harness();
    h.wire.udp(client, server, query(9), 1, 0);
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, framed(query(9)), 1, 1);
    assert.deepEqual([h.matcher.pendingCount(), h.matcher.stream.pendingCount()], [2, 1]);
    h.matcher.stream.flush();
    assert.deepEqual([h.matcher.pendingCount(), h.matcher.stream.pendingCount(), h.pairs.length], [0, 0, 2]);
    h.matcher.flush();
    assert.equal(h.pairs.length, 2);
  });
});

describe('DNS over TCP: gaps and closes', () => {
  it('drops a message a gap falls into and resumes at the next length prefix', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    const lost = framed(query(10));
    h.wire.tcpData(tcp, true, lost.slice(0, 8), 1, 0);
    tcp.onGap(true, lost.length - 8, h.wire.at(1, 1));
    h.wire.tcpData(tcp, true, framed(query(11)), 1, 2);
    h.wire.tcpData(tcp, false, framed(response(11)), 1, 3);
    assert.deepEqual(
      h.pairs.map((p) => p.detail?.id),
      [11],
    );
    assert.equal(h.matcher.pendingCount(), 0);
    assert.deepEqual(h.skips.toObject(), { 'dns.tcp_gap': 1 });
  });

  it('stops reading a direction whose framing a gap lost', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, framed(query(12)), 1, 0);
    tcp.onGap(true, 40, h.wire.at(1, 1));
    h.wire.tcpData(tcp, true, framed(query(13)), 1, 2);
    tcp.onGap(true, 5, h.wire.at(1, 3));
    assert.equal(h.matcher.pendingCount(), 1);
    // The other direction still frames: the answer to the query before the gap pairs.
    h.wire.tcpData(tcp, false, framed(response(12)), 1, 4);
    assert.deepEqual(
      h.pairs.map((p) => p.detail?.id),
      [12],
    );
    assert.deepEqual(h.skips.toObject(), { 'dns.tcp_gap': 1, 'dns.tcp_desync': 1 });
  });

  it("ends the queries a closing side had to answer (FIN) as ConnectionClosed, not the other side's", () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, framed(query(14)), 1, 0);
    // The client's FIN (half-close) leaves its query answerable.
    tcp.onClose(true, false, h.wire.at(1, 5));
    assert.deepEqual([h.pairs.length, h.matcher.pendingCount()], [0, 1]);
    tcp.onClose(false, false, h.wire.at(1, 9));
    assert.equal(h.pairs.length, 1);
    const pair = h.pairs[0]!;
    assert.deepEqual(
      [pair.outcome, pair.unansweredReason, pair.detail?.id],
      [Outcome.Unanswered, UnansweredReason.ConnectionClosed, 14],
    );
    assert.deepEqual([h.matcher.pendingCount(), h.matcher.stream.pendingCount()], [0, 0]);
  });

  it('answers a query after the client half-closed', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, framed(query(15)), 1, 0);
    tcp.onClose(true, false, h.wire.at(1, 5));
    h.wire.tcpData(tcp, false, framed(response(15)), 1, 9);
    assert.deepEqual([h.pairs.length, h.pairs[0]!.outcome], [1, Outcome.Matched]);
  });

  it('ends every query of the connection on a reset, and counts a message cut by it', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, concat(framed(query(16)), framed(query(17))), 1, 0);
    h.wire.tcpData(tcp, false, framed(response(16)).slice(0, 5), 1, 1);
    tcp.onClose(true, true, h.wire.at(1, 2));
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.id, p.outcome, p.unansweredReason]),
      [
        [16, Outcome.Unanswered, UnansweredReason.ConnectionClosed],
        [17, Outcome.Unanswered, UnansweredReason.ConnectionClosed],
      ],
    );
    assert.deepEqual(h.skips.toObject(), { 'dns.tcp_incomplete_message': 1 });
  });

  it('does not end a TCP query twice when it expired before the connection closed', () => {
    const h = harness();
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, framed(query(18)), 1, 0);
    h.matcher.expire(100, 0);
    tcp.onClose(false, true, h.wire.at(100, 1));
    assert.deepEqual(
      h.pairs.map((p) => p.unansweredReason),
      [UnansweredReason.Expired],
    );
    assert.equal(h.matcher.stream.pendingCount(), 0);
  });
});

describe('DNS over TCP: same rules as UDP', () => {
  it('marks retransmissions on the connection and measures per dnsLatencyFrom', () => {
    const h = harness((o) => {
      o.dnsLatencyFrom = 'first';
    });
    const tcp = openTcp(h, client, server);
    h.wire.tcpData(tcp, true, framed(query(19)), 1, 0);
    h.wire.tcpData(tcp, true, framed(query(19)), 2, 0);
    h.wire.tcpData(tcp, false, framed(response(19)), 2, 500);
    assert.deepEqual([latencyNanos(h.pairs[0]!), h.pairs[0]!.detail?.retransmissions], [1_000_000_500, 1]);
  });

  it('uses the QR bit for direction: a query from the connection server side is paired too', () => {
    const h = harness();
    const tcp = openTcp(h, server, client); // reassembly guessed the DNS server as client
    h.wire.tcpData(tcp, false, framed(query(20)), 1, 0);
    h.wire.tcpData(tcp, true, framed(response(20)), 1, 7);
    assert.equal(h.pairs.length, 1);
    assert.deepEqual([h.pairs[0]!.clientPort, h.pairs[0]!.serverPort], [63688, 53]);
  });
});
