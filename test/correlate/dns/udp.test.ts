import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outcome, type Pair, UnansweredReason } from '../../../agent/correlate/pair.ts';
import {
  aRecord,
  client,
  dnsMessage,
  fromHex,
  harness,
  latencyNanos,
  optRecord,
  server,
  Type,
  v4,
  v6,
} from './helpers.ts';

const query = (id: number, name = 'www.example.test', type: number = Type.A) =>
  dnsMessage({ id, question: { name, type } });
const response = (id: number, name = 'www.example.test', answers = 1, rcode = 0) =>
  dnsMessage({
    id,
    response: true,
    rcode,
    question: { name },
    answers: Array.from({ length: answers }, (_, i) => aRecord(192, 0, 2, i)),
  });

function edges(pair: Pair): unknown {
  const e = (x: Pair['request']) => [
    x.firstSeconds,
    x.firstNanos,
    x.lastSeconds,
    x.lastNanos,
    x.packet,
    x.lastPacket,
  ];
  return { request: e(pair.request), response: pair.response === null ? null : e(pair.response) };
}

describe('DNS over UDP: pairing', () => {
  it('pairs a query with its response: endpoints, edges, bytes, exact latency and detail', () => {
    const h = harness();
    h.wire.fileId = 3;
    const q = query(0x8185, 'www.google.com');
    const r = response(0x8185, 'www.google.com', 2);
    h.wire.udp(client, server, q, 1413055000, 100_000_001);
    h.wire.udp(server, client, r, 1413055000, 117_600_001);
    assert.equal(h.pairs.length, 1);
    const pair = h.pairs[0]!;
    assert.equal(pair.outcome, Outcome.Matched);
    assert.equal(pair.protocol, 'dns');
    assert.equal(pair.transport, 17);
    assert.deepEqual(
      [pair.ipVersion, pair.client0, pair.clientPort, pair.server0, pair.serverPort],
      [4, 0x0a000001, 63688, 0x0a00008a, 53],
    );
    assert.equal(latencyNanos(pair), 17_600_000);
    assert.deepEqual(edges(pair), {
      request: [1413055000, 100_000_001, 1413055000, 100_000_001, 1, 1],
      response: [1413055000, 117_600_001, 1413055000, 117_600_001, 2, 2],
    });
    assert.deepEqual(
      [
        pair.request.packets,
        pair.request.bytes,
        pair.request.fileId,
        pair.response!.bytes,
        pair.response!.lastFileId,
      ],
      [1, q.length, 3, r.length, 3],
    );
    assert.deepEqual(pair.detail, {
      id: 0x8185,
      name: 'www.google.com',
      type: 'A',
      class: 'IN',
      rcode: 'NOERROR',
      answers: 2,
    });
    assert.equal(h.matcher.pendingCount(), 0);
    assert.deepEqual(h.skips.toObject(), {});
  });

  it('keeps several queries in flight and pairs each response with its own query', () => {
    const h = harness();
    const other = v4('10.0.0.1', 52234);
    h.wire.udp(client, server, query(1, 'one.test'), 100, 0);
    h.wire.udp(client, server, query(2, 'two.test', Type.AAAA), 100, 1_000);
    h.wire.udp(other, server, query(1, 'three.test'), 100, 2_000);
    assert.equal(h.matcher.pendingCount(), 3);
    h.wire.udp(server, other, response(1, 'three.test'), 100, 50_000);
    h.wire.udp(server, client, response(2, 'two.test'), 100, 60_000);
    h.wire.udp(server, client, response(1, 'one.test'), 100, 70_000);
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.name, p.detail?.type, p.clientPort, latencyNanos(p)]),
      [
        ['three.test', 'A', 52234, 48_000],
        ['two.test', 'AAAA', 63688, 59_000],
        ['one.test', 'A', 63688, 70_000],
      ],
    );
    assert.equal(h.matcher.pendingCount(), 0);
  });

  it('pairs over IPv6 and keeps IPv4 and IPv6 twins with the same words apart', () => {
    const h = harness();
    const client6 = v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 40000);
    const server6 = v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53], 53);
    const twin = { ...client6, ipVersion: 4 as const };
    const twinServer = { ...server6, ipVersion: 4 as const };
    h.wire.udp(client6, server6, query(9), 5, 0);
    h.wire.udp(twinServer, twin, response(9), 5, 10);
    assert.equal(h.pairs.length, 0);
    h.wire.udp(server6, client6, response(9), 5, 20);
    assert.equal(h.pairs.length, 1);
    assert.deepEqual(
      [h.pairs[0]!.ipVersion, h.pairs[0]!.client0, h.pairs[0]!.client3, h.pairs[0]!.server3],
      [6, 0x20010db8, 1, 0x53],
    );
    assert.deepEqual(h.skips.toObject(), { 'dns.unsolicited_response': 1 });
  });

  it('reports rcode mnemonics, including the EDNS extended BADVERS', () => {
    const h = harness();
    h.wire.udp(client, server, query(1), 1, 0);
    h.wire.udp(server, client, response(1, 'www.example.test', 0, 3), 1, 5);
    h.wire.udp(client, server, query(2, '', Type.TXT), 1, 10);
    h.wire.udp(
      server,
      client,
      dnsMessage({ id: 2, response: true, question: { name: '' }, additional: [optRecord(1)] }),
      1,
      15,
    );
    assert.deepEqual(
      h.pairs.map((p) => p.detail),
      [
        { id: 1, name: 'www.example.test', type: 'A', class: 'IN', rcode: 'NXDOMAIN', answers: 0 },
        { id: 2, name: '<Root>', type: 'TXT', class: 'IN', rcode: 'BADVERS', answers: 0 },
      ],
    );
  });

  it('pairs real packets as tshark does (tcpdump tests/dns-badvers.pcap frames 1-2: dns.time 0.024335)', () => {
    const h = harness();
    const resolver = v4('172.30.42.67', 64888);
    const root = v4('192.5.5.241', 53);
    h.wire.udp(
      resolver,
      root,
      fromHex('8fb3012000010000000000010000100001000029100000ff0000000c000a0008e0fb2d7f2c7ec622'),
      1550021162,
      59_301_000,
    );
    h.wire.udp(
      root,
      resolver,
      fromHex('8fb38100000100000000000100001000010000290200010000000000'),
      1550021162,
      83_636_000,
    );
    assert.equal(h.pairs.length, 1);
    assert.equal(latencyNanos(h.pairs[0]!), 24_335_000);
    // tshark's oracle column dns.flags.rcode is 0 (header only); the OPT record makes it BADVERS.
    assert.deepEqual(h.pairs[0]!.detail, {
      id: 0x8fb3,
      name: '<Root>',
      type: 'TXT',
      class: 'IN',
      rcode: 'BADVERS',
      answers: 0,
    });
  });

  it('uses the response question when the query question is unreadable (counted)', () => {
    const h = harness();
    h.wire.udp(client, server, dnsMessage({ id: 4, questionBytes: [3, 0x61, 0x62] }), 1, 0);
    h.wire.udp(server, client, response(4, 'fixed.test'), 1, 9);
    assert.deepEqual(h.pairs[0]!.detail, {
      id: 4,
      name: 'fixed.test',
      type: 'A',
      class: 'IN',
      rcode: 'NOERROR',
      answers: 1,
    });
    assert.deepEqual(h.skips.toObject(), { 'dns.bad_question': 1 });
  });

  it('pairs a query without question (QDCOUNT 0) with null name, type and class', () => {
    const h = harness();
    h.wire.udp(client, server, dnsMessage({ id: 6, question: null }), 1, 0);
    h.wire.udp(server, client, dnsMessage({ id: 6, response: true, question: null, rcode: 1 }), 1, 9);
    assert.deepEqual(h.pairs[0]!.detail, {
      id: 6,
      name: null,
      type: null,
      class: null,
      rcode: 'FORMERR',
      answers: 0,
    });
    assert.deepEqual(h.skips.toObject(), {});
  });

  it('still pairs when the response records are cut, with the header rcode (counted)', () => {
    const h = harness();
    h.wire.udp(client, server, query(5), 1, 0);
    const whole = dnsMessage({
      id: 5,
      response: true,
      rcode: 2,
      question: { name: 'www.example.test' },
      additional: [optRecord(1)],
    });
    h.wire.udp(server, client, whole.subarray(0, whole.length - 5), 1, 9);
    assert.equal(h.pairs[0]!.detail?.rcode, 'SERVFAIL');
    assert.deepEqual(h.skips.toObject(), { 'dns.bad_records': 1 });
  });
});

describe('DNS over UDP: which packets are DNS', () => {
  it('ignores UDP without a DNS port (5353 is not DNS by default) and TCP segments', () => {
    const h = harness();
    const mdns = v4('224.0.0.251', 5353);
    h.wire.udp(v4('10.0.0.2', 5353), mdns, query(0), 1, 0);
    h.wire.udp(client, v4('10.0.0.138', 54), query(1), 1, 0);
    h.wire.tcpSegment(client, server, query(2), 1, 0);
    assert.equal(h.matcher.pendingCount(), 0);
    assert.deepEqual(h.skips.toObject(), {});
  });

  it('uses options.dnsPorts (e.g. 8053) instead of 53', () => {
    const h = harness((o) => {
      o.dnsPorts = [8053];
    });
    const alt = v4('209.87.249.18', 8053);
    h.wire.udp(client, server, query(1), 1, 0);
    h.wire.udp(client, alt, query(2), 1, 0);
    h.wire.udp(alt, client, response(2), 1, 148_718_000);
    assert.equal(h.matcher.pendingCount(), 0);
    assert.deepEqual(
      [h.pairs.length, h.pairs[0]!.serverPort, latencyNanos(h.pairs[0]!)],
      [1, 8053, 148_718_000],
    );
  });

  it('lets the QR bit decide direction when both ports are DNS ports (53 -> 53)', () => {
    const h = harness();
    const resolver = v4('127.0.0.1', 53);
    const upstream = v4('127.0.0.2', 53);
    h.wire.udp(upstream, resolver, query(7), 1, 0);
    h.wire.udp(resolver, upstream, response(7), 1, 1_000);
    assert.equal(h.pairs.length, 1);
    assert.deepEqual([h.pairs[0]!.client0, h.pairs[0]!.server0], [0x7f000002, 0x7f000001]);
  });

  it('counts messages shorter than the 12-byte header as malformed', () => {
    const h = harness();
    h.wire.udp(client, server, Uint8Array.from([0x12, 0x34, 1, 0, 0]), 1, 0);
    h.wire.udp(client, server, new Uint8Array(0), 1, 0);
    assert.equal(h.matcher.pendingCount(), 0);
    assert.deepEqual(h.skips.toObject(), { 'dns.malformed': 2 });
  });

  it('pairs on the first IP fragment (it has the header) and counts it', () => {
    const h = harness();
    h.wire.udp(client, server, query(3), 1, 0);
    h.wire.udp(server, client, response(3), 1, 7, true);
    assert.equal(h.pairs.length, 1);
    assert.deepEqual(h.skips.toObject(), { 'dns.ip_fragment': 1 });
  });
});

// Frames from PcapPlusPlus Tests/Pcap++Test/PcapExamples/DnsPackets.pcap (client 10.0.0.1, server 10.0.0.138).
const ika = {
  port: 63688,
  q164: fromHex('3f7201000001000000000000037777770c696b6163686f636f6c61746503636f6d0000010001'),
  r183: fromHex(
    '3f7281800001000100000000037777770c696b6163686f636f6c61746503636f6d0000010001c00c0001000100003840000451dae59e',
  ),
};
const hugo = {
  port: 53511,
  q168: fromHex('224d01000001000000000000037777770a6875676f766963746f7203636f6d0000010001'),
  r210: fromHex(
    '224d81800001000200000000037777770a6875676f766963746f7203636f6d0000010001c00c00050001000151800002c010c01000010001000151800004d5ba2128',
  ),
};

describe('DNS over UDP: retransmitted queries (tshark: dns.retransmission)', () => {
  function feedIka(h: ReturnType<typeof harness>): void {
    const c = v4('10.0.0.1', ika.port);
    h.wire.udp(c, server, ika.q164, 1413055767, 199_882_000); // frame 164
    h.wire.udp(c, server, ika.q164, 1413055768, 199_309_000); // frame 179: retransmission
    h.wire.udp(server, c, ika.r183, 1413055768, 216_234_000); // frame 183
  }

  it("measures from the first copy with 'first': tshark's dns.time (1.016352 s for frame 183)", () => {
    const h = harness((o) => {
      o.dnsLatencyFrom = 'first';
    });
    feedIka(h);
    const pair = h.pairs[0]!;
    assert.equal(latencyNanos(pair), 1_016_352_000);
    assert.deepEqual([pair.request.packet, pair.response!.packet], [1, 3]);
    assert.deepEqual(pair.detail, {
      id: 0x3f72,
      name: 'www.ikachocolate.com',
      type: 'A',
      class: 'IN',
      rcode: 'NOERROR',
      answers: 1,
      retransmissions: 1,
    });
    assert.deepEqual(h.skips.toObject(), { 'dns.retransmitted_query': 1 });
  });

  it("measures from the last copy before the answer with 'last'", () => {
    const h = harness((o) => {
      o.dnsLatencyFrom = 'last';
    });
    feedIka(h);
    const pair = h.pairs[0]!;
    assert.equal(latencyNanos(pair), 16_925_000);
    assert.deepEqual([pair.request.packet, pair.request.packets], [2, 1]);
    assert.equal(pair.detail?.retransmissions, 1);
  });

  it('counts every copy (frames 168, 180, 209 -> 210: dns.time 2.017569 s)', () => {
    for (const [from, latency] of [
      ['first', 2_017_569_000],
      ['last', 18_287_000],
    ] as const) {
      const h = harness((o) => {
        o.dnsLatencyFrom = from;
      });
      const c = v4('10.0.0.1', hugo.port);
      h.wire.udp(c, server, hugo.q168, 1413055767, 204_096_000);
      h.wire.udp(c, server, hugo.q168, 1413055768, 203_284_000);
      h.wire.udp(c, server, hugo.q168, 1413055769, 203_378_000);
      h.wire.udp(server, c, hugo.r210, 1413055769, 221_665_000);
      assert.equal(h.pairs.length, 1);
      assert.equal(latencyNanos(h.pairs[0]!), latency, from);
      assert.equal(h.pairs[0]!.detail?.retransmissions, 2);
      assert.equal(h.pairs[0]!.detail?.answers, 2);
    }
  });

  it('opens a new request for a copy 5 s or more after the first; the old one ends Expired', () => {
    const h = harness();
    h.wire.udp(client, server, query(8), 100, 0);
    h.wire.udp(client, server, query(8), 104, 999_999_999); // 4.999999999 s: retransmission
    h.wire.udp(client, server, query(8), 105, 0); // 5 s after the first copy: new request
    assert.equal(h.pairs.length, 1);
    const old = h.pairs[0]!;
    assert.deepEqual(
      [old.outcome, old.unansweredReason, old.detail?.retransmissions],
      [Outcome.Unanswered, UnansweredReason.Expired, 1],
    );
    h.wire.udp(server, client, response(8), 105, 30_000_000);
    assert.deepEqual(
      [h.pairs.length, latencyNanos(h.pairs[1]!), h.pairs[1]!.detail?.retransmissions],
      [2, 30_000_000, undefined],
    );
    assert.deepEqual(h.skips.toObject(), { 'dns.retransmitted_query': 1, 'dns.superseded_query': 1 });
  });
});

describe('DNS over UDP: responses that close nothing', () => {
  it('counts a duplicate response and emits no second pair (tshark: dns.retransmit_response_in)', () => {
    const h = harness();
    h.wire.udp(client, server, query(1), 10, 0);
    h.wire.udp(server, client, response(1), 10, 1_000);
    h.wire.udp(server, client, response(1), 10, 2_000);
    assert.equal(h.pairs.length, 1);
    assert.deepEqual(h.skips.toObject(), { 'dns.duplicate_response': 1 });
  });

  it('forgets answered queries 5 s after the answer: a later copy is unsolicited', () => {
    const h = harness();
    h.wire.udp(client, server, query(1), 10, 0);
    h.wire.udp(server, client, response(1), 10, 1_000);
    h.matcher.expire(15, 1_000);
    h.wire.udp(server, client, response(1), 15, 1_000);
    h.matcher.expire(15, 1_001);
    h.wire.udp(server, client, response(1), 15, 1_001);
    assert.deepEqual(h.skips.toObject(), { 'dns.duplicate_response': 1, 'dns.unsolicited_response': 1 });
  });

  it('counts a response with no query as unsolicited: no pair', () => {
    const h = harness();
    h.wire.udp(client, server, query(1), 10, 0);
    h.wire.udp(server, client, response(2), 10, 1_000);
    h.wire.udp(server, v4('10.0.0.1', 1), response(1), 10, 1_000);
    assert.equal(h.pairs.length, 0);
    assert.equal(h.matcher.pendingCount(), 1);
    assert.deepEqual(h.skips.toObject(), { 'dns.unsolicited_response': 2 });
  });

  it('treats a query reusing an answered id as a new request (tshark: new transaction)', () => {
    const h = harness();
    h.wire.udp(client, server, query(1, 'first.test'), 10, 0);
    h.wire.udp(server, client, response(1, 'first.test'), 10, 1_000);
    h.wire.udp(client, server, query(1, 'second.test'), 11, 0);
    h.wire.udp(server, client, response(1, 'second.test'), 11, 3_000);
    assert.deepEqual(
      h.pairs.map((p) => [p.outcome, p.detail?.name, latencyNanos(p)]),
      [
        [Outcome.Matched, 'first.test', 1_000],
        [Outcome.Matched, 'second.test', 3_000],
      ],
    );
    assert.deepEqual(h.skips.toObject(), {});
  });

  it('forgets the answered exchange when its id is reused: a late response then is unsolicited', () => {
    const h = harness((o) => {
      o.maxPending.dns = 1;
    });
    h.wire.udp(client, server, query(1), 10, 0);
    h.wire.udp(server, client, response(1), 10, 1_000);
    h.wire.udp(client, server, query(1), 10, 2_000); // new request with the answered key
    h.wire.udp(client, server, query(2), 10, 3_000); // evicts it
    h.wire.udp(server, client, response(1), 10, 4_000);
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.id, p.outcome === Outcome.Matched ? 'matched' : p.unansweredReason]),
      [
        [1, 'matched'],
        [1, UnansweredReason.Evicted],
      ],
    );
    assert.deepEqual(h.skips.toObject(), { 'dns.pending_evicted': 1, 'dns.unsolicited_response': 1 });
  });
});

describe('DNS over UDP: bounded by capture time and by size', () => {
  it('expires a request exactly after timeoutNanos.dns of capture time, not wall time', () => {
    const h = harness();
    h.wire.udp(client, server, query(1), 1_000_000_000, 500);
    h.matcher.expire(1_000_000_030, 500); // exactly 30 s: still pending
    assert.deepEqual([h.pairs.length, h.matcher.pendingCount()], [0, 1]);
    h.matcher.expire(1_000_000_030, 501);
    assert.equal(h.matcher.pendingCount(), 0);
    const pair = h.pairs[0]!;
    assert.deepEqual(
      [pair.outcome, pair.unansweredReason, pair.response],
      [Outcome.Unanswered, UnansweredReason.Expired, null],
    );
    assert.deepEqual(pair.detail, {
      id: 1,
      name: 'www.example.test',
      type: 'A',
      class: 'IN',
      rcode: null,
      answers: null,
    });
    h.wire.udp(server, client, response(1), 1_000_000_031, 0);
    assert.deepEqual(h.skips.toObject(), { 'dns.unsolicited_response': 1 });
  });

  it('uses options.timeoutNanos.dns', () => {
    const h = harness((o) => {
      o.timeoutNanos.dns = 2_000_000;
    });
    h.wire.udp(client, server, query(1), 7, 0);
    h.wire.udp(client, server, query(2), 7, 1_000_000);
    h.matcher.expire(7, 2_500_000);
    assert.deepEqual(
      h.pairs.map((p) => p.detail?.id),
      [1],
    );
    assert.equal(h.matcher.pendingCount(), 1);
  });

  it('evicts the oldest request at maxPending.dns and reports it Evicted', () => {
    const h = harness((o) => {
      o.maxPending.dns = 2;
    });
    h.wire.udp(client, server, query(1), 1, 0);
    h.wire.udp(client, server, query(2), 1, 1);
    assert.equal(h.pairs.length, 0);
    h.wire.udp(client, server, query(3), 1, 2);
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.id, p.outcome, p.unansweredReason]),
      [[1, Outcome.Unanswered, UnansweredReason.Evicted]],
    );
    assert.equal(h.matcher.pendingCount(), 2);
    assert.deepEqual(h.skips.toObject(), { 'dns.pending_evicted': 1 });
  });

  it('reports everything pending at flush() as EndOfInput, oldest first', () => {
    const h = harness();
    h.wire.udp(client, server, query(5), 1, 0);
    h.wire.udp(client, server, query(4), 2, 0);
    h.matcher.flush();
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.id, p.unansweredReason]),
      [
        [5, UnansweredReason.EndOfInput],
        [4, UnansweredReason.EndOfInput],
      ],
    );
    assert.equal(h.matcher.pendingCount(), 0);
  });
});

describe('DNS over UDP: ended entries are reused, emitted pairs are not', () => {
  it('leaves every pair a sink holds as it was emitted, and starts a reused entry afresh', () => {
    const h = harness();
    const emitted: string[] = [];
    const snapshot = () => {
      while (emitted.length < h.pairs.length) emitted.push(JSON.stringify(h.pairs[emitted.length]));
    };
    // A retransmitted query answered, then queries that reuse its entry: no retransmission
    // count, no connection and a new pair each.
    h.wire.udp(client, server, query(1, 'one.example.test'), 1, 0);
    h.wire.udp(client, server, query(1, 'one.example.test'), 1, 5);
    h.wire.udp(server, client, response(1, 'one.example.test'), 1, 10);
    snapshot();
    h.wire.udp(client, server, query(2, 'two.example.test', Type.AAAA), 2, 0);
    h.wire.udp(server, client, response(2, 'two.example.test', 3), 2, 20);
    snapshot();
    h.wire.udp(client, server, query(3, 'three.example.test'), 3, 0);
    h.matcher.flush();
    snapshot();
    h.wire.udp(client, server, query(4, 'four.example.test'), 4, 0);
    h.wire.udp(server, client, response(4, 'four.example.test', 0, 3), 4, 40);
    snapshot();
    assert.equal(new Set(h.pairs).size, 4);
    assert.deepEqual(
      h.pairs.map((p) => JSON.stringify(p)),
      emitted,
    );
    assert.deepEqual(
      h.pairs.map((p) => [p.detail?.id, p.detail?.name, p.detail?.retransmissions, p.outcome]),
      [
        [1, 'one.example.test', 1, Outcome.Matched],
        [2, 'two.example.test', undefined, Outcome.Matched],
        [3, 'three.example.test', undefined, Outcome.Unanswered],
        [4, 'four.example.test', undefined, Outcome.Matched],
      ],
    );
  });
});
