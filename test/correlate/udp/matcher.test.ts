import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import { Outcome, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { udpMatcher } from '../../../agent/correlate/udp/index.ts';
import { type Configure, firstToFirstNs, Harness, lastToFirstNs, type PacketSpec, words } from './harness.ts';

const kSecond = 1_000_000_000;

// NTP client on an ephemeral port and its server.
const toServer = { src: '10.0.0.1', sport: 50000, dst: '10.0.0.9', dport: 123 };
const toClient = { src: '10.0.0.9', sport: 123, dst: '10.0.0.1', dport: 50000 };

function request(at: number, extra: Partial<PacketSpec> = {}): PacketSpec {
  return { ...toServer, at, payload: 'ntp request', ...extra };
}

function reply(at: number, extra: Partial<PacketSpec> = {}): PacketSpec {
  return { ...toClient, at, payload: 'ntp reply!', ...extra };
}

function harness(configure?: Configure): Harness {
  return new Harness(udpMatcher, configure);
}

test('descriptor: name udp, enabled while udpPorts is not empty', () => {
  const options = defaultCorrelateOptions();
  assert.equal(udpMatcher.name, 'udp');
  assert.equal(udpMatcher.enabled(options), true);
  options.udpPorts = [];
  assert.equal(udpMatcher.enabled(options), false);
});

test('request then reply on a server port: one matched pair, exact latency, endpoints client → server', () => {
  const h = harness();
  h.udp(request(999_999_990, { wireLength: 48, payload: new Uint8Array(48) }));
  h.udp(reply(1_000_250_017, { payload: new Uint8Array(48) }));
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(pair.outcome, Outcome.Matched);
  assert.equal(pair.protocol, 'udp');
  assert.equal(pair.transport, 17);
  assert.deepEqual(
    [pair.client0, pair.clientPort, pair.server0, pair.serverPort],
    [words('10.0.0.1')[0], 50000, words('10.0.0.9')[0], 123],
  );
  assert.equal(firstToFirstNs(pair), 250_027);
  assert.deepEqual([pair.request.packet, pair.request.packets, pair.request.bytes], [1, 1, 48]);
  assert.deepEqual([pair.response!.packet, pair.response!.packets, pair.response!.bytes], [2, 1, 48]);
  assert.equal(pair.detail, null);
  assert.equal(h.matcher.pendingCount(), 0);
});

test('every default port pairs (SNMP 161, RADIUS 1812, memcached 11211 ...)', () => {
  const h = harness();
  const ports = defaultCorrelateOptions().udpPorts;
  ports.forEach((port, i) => {
    h.udp({ src: '10.0.0.1', sport: 40000 + i, dst: '10.0.0.9', dport: port, at: i * 100 });
    h.udp({ src: '10.0.0.9', sport: port, dst: '10.0.0.1', dport: 40000 + i, at: i * 100 + 7 });
  });
  assert.equal(h.pairs.length, ports.length);
  assert.ok(h.pairs.every((p) => p.outcome === Outcome.Matched && firstToFirstNs(p) === 7));
});

test('ports outside udpPorts are ignored', () => {
  const h = harness();
  h.udp({ src: '10.0.0.1', sport: 50000, dst: '10.0.0.9', dport: 9000, at: 0 });
  h.udp({ src: '10.0.0.9', sport: 9000, dst: '10.0.0.1', dport: 50000, at: 5 });
  h.flush();
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skips.total(), 0);
});

test('configured ports replace the defaults', () => {
  const h = harness((o) => {
    o.udpPorts = [9000];
  });
  h.udp({ src: '10.0.0.1', sport: 50000, dst: '10.0.0.9', dport: 9000, at: 0 });
  h.udp({ src: '10.0.0.9', sport: 9000, dst: '10.0.0.1', dport: 50000, at: 5 });
  h.udp(request(10));
  h.flush();
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.serverPort, 9000);
});

test('DNS ports are left to the DNS matcher even when listed in udpPorts', () => {
  const h = harness((o) => {
    o.udpPorts = [53, 123, 5353];
    o.dnsPorts = [53, 5353];
  });
  h.udp({ src: '10.0.0.1', sport: 50000, dst: '10.0.0.53', dport: 53, at: 0 });
  h.udp({ src: '10.0.0.53', sport: 53, dst: '10.0.0.1', dport: 50000, at: 5 });
  h.udp({ src: '10.0.0.1', sport: 50001, dst: '224.0.0.251', dport: 5353, at: 6 });
  h.flush();
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skips.total(), 0);
});

test('a bad port in the configuration throws a clear error', () => {
  assert.throws(
    () =>
      harness((o) => {
        o.udpPorts = [123, 70000];
      }),
    /udpPorts: 70000 is not a port number/,
  );
  assert.throws(
    () =>
      harness((o) => {
        o.dnsPorts = [1.5];
      }),
    /dnsPorts: 1.5 is not a port number/,
  );
});

test('client retransmissions before the reply belong to the same request; latency counts from the first copy', () => {
  const h = harness();
  h.udp(request(0, { payload: 'abcd' }));
  h.udp(request(1 * kSecond, { payload: 'abcd' }));
  h.udp(request(2 * kSecond, { payload: 'abcde' }));
  assert.equal(h.matcher.pendingCount(), 1);
  h.udp(reply(2 * kSecond + 400));
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(firstToFirstNs(pair), 2 * kSecond + 400);
  assert.equal(lastToFirstNs(pair), 400);
  assert.deepEqual(
    [pair.request.packets, pair.request.bytes, pair.request.packet, pair.request.lastPacket],
    [3, 13, 1, 3],
  );
  assert.equal(pair.detail, null);
});

test('after the reply, the next client datagram opens a new request; a second reply is counted', () => {
  const h = harness();
  h.udp(request(0));
  h.udp(reply(10));
  h.udp(reply(12)); // duplicate reply: its request is already answered
  assert.equal(h.skip('udp.reply_without_request'), 1);
  h.udp(request(100));
  h.udp(reply(130));
  assert.equal(h.pairs.length, 2);
  assert.deepEqual(
    h.pairs.map((p) => [p.request.packet, p.response!.packet, firstToFirstNs(p)]),
    [
      [1, 2, 10],
      [4, 5, 30],
    ],
  );
});

test('reply without a request is counted and emits nothing', () => {
  const h = harness();
  h.udp(reply(0));
  h.udp({ ...toClient, sport: 161, at: 1 });
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skip('udp.reply_without_request'), 2);
  assert.equal(h.matcher.pendingCount(), 0);
});

test('two clients of one server pair independently, even with interleaved replies', () => {
  const h = harness();
  h.udp(request(0));
  h.udp({ src: '10.0.0.2', sport: 50000, dst: '10.0.0.9', dport: 123, at: 5 });
  h.udp({ ...toServer, sport: 50001, at: 6 }); // same client host, another socket
  h.udp({ src: '10.0.0.9', sport: 123, dst: '10.0.0.2', dport: 50000, at: 20 });
  h.udp({ ...toClient, dport: 50001, at: 21 });
  h.udp(reply(30));
  assert.deepEqual(
    h.pairs.map((p) => [p.client0, p.clientPort, firstToFirstNs(p)]),
    [
      [words('10.0.0.2')[0], 50000, 15],
      [words('10.0.0.1')[0], 50001, 15],
      [words('10.0.0.1')[0], 50000, 30],
    ],
  );
});

test('a reply from another server address, or to another client port, does not match', () => {
  const h = harness();
  h.udp(request(0));
  h.udp({ ...toClient, src: '10.0.0.8', at: 1 });
  h.udp({ ...toClient, dport: 50002, at: 2 });
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skip('udp.reply_without_request'), 2);
  assert.equal(h.matcher.pendingCount(), 1);
});

test('both ports are server ports (NTP symmetric 123 → 123): the first datagram is the request', () => {
  const h = harness();
  h.udp({ src: '10.0.0.1', sport: 123, dst: '10.0.0.9', dport: 123, at: 0 });
  h.udp({ src: '10.0.0.9', sport: 123, dst: '10.0.0.1', dport: 123, at: 70 });
  h.udp({ src: '10.0.0.9', sport: 123, dst: '10.0.0.1', dport: 123, at: 100 });
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.client0, words('10.0.0.1')[0]);
  assert.equal(firstToFirstNs(h.pairs[0]!), 70);
  // The third datagram found no request to answer, so it opened one (10.0.0.9 as client).
  assert.equal(h.matcher.pendingCount(), 1);
  assert.equal(h.skips.total(), 0);
});

test('IPv6 request/reply', () => {
  const h = harness();
  const c = 'fd00::1:2';
  const s = 'fd00:0:0:9::123';
  h.udp({ src: c, sport: 40000, dst: s, dport: 161, at: 0 });
  h.udp({ src: s, sport: 161, dst: c, dport: 40000, at: 1234 });
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(pair.ipVersion, 6);
  assert.deepEqual([pair.client0, pair.client1, pair.client2, pair.client3], words(c));
  assert.deepEqual([pair.server0, pair.server1, pair.server2, pair.server3], words(s));
  assert.equal(firstToFirstNs(pair), 1234);
});

test('an IPv4 request and its IPv6 twin share a key: told apart, the displaced one reported', () => {
  const h = harness();
  h.udp(request(0));
  h.udp({ src: 'a00:1::', sport: 50000, dst: 'a00:9::', dport: 123, at: 10 });
  assert.equal(h.skip('udp.key_collision'), 1);
  assert.equal(h.pairs.length, 1);
  assert.deepEqual([h.pairs[0]!.ipVersion, h.pairs[0]!.unansweredReason], [4, UnansweredReason.Evicted]);
  h.udp(reply(20)); // the IPv4 reply: its request was displaced
  assert.equal(h.skip('udp.reply_without_request'), 1);
  h.udp({ src: 'a00:9::', sport: 123, dst: 'a00:1::', dport: 50000, at: 30 });
  assert.equal(h.pairs.length, 2);
  assert.deepEqual([h.pairs[1]!.ipVersion, firstToFirstNs(h.pairs[1]!)], [6, 20]);
});

test('requests expire after timeoutNanos.udp, counted from the latest copy', () => {
  const h = harness((o) => {
    o.timeoutNanos.udp = 5 * kSecond;
  });
  h.udp(request(0));
  h.udp(request(2 * kSecond));
  h.udp({ ...toServer, sport: 50001, at: 3 * kSecond });
  h.expire(7 * kSecond);
  assert.equal(h.pairs.length, 0);
  h.expire(7 * kSecond + 1);
  assert.equal(h.pairs.length, 1);
  assert.deepEqual(
    [h.pairs[0]!.outcome, h.pairs[0]!.unansweredReason, h.pairs[0]!.request.packets, h.pairs[0]!.response],
    [Outcome.Unanswered, UnansweredReason.Expired, 2, null],
  );
  assert.equal(h.matcher.pendingCount(), 1);
  h.udp(reply(7 * kSecond + 2)); // too late
  assert.equal(h.skip('udp.reply_without_request'), 1);
  h.expire(8 * kSecond + 1);
  assert.equal(h.pairs.length, 2);
  assert.equal(h.pairs[1]!.clientPort, 50001);
});

test('table full: the oldest request is evicted as unanswered and counted', () => {
  const h = harness((o) => {
    o.maxPending.udp = 2;
  });
  h.udp({ ...toServer, sport: 1, at: 0 });
  h.udp({ ...toServer, sport: 2, at: 1 });
  h.udp({ ...toServer, sport: 1, at: 2 }); // retransmission: moves port 1 to the back
  h.udp({ ...toServer, sport: 3, at: 3 });
  assert.equal(h.pairs.length, 1);
  assert.deepEqual([h.pairs[0]!.clientPort, h.pairs[0]!.unansweredReason], [2, UnansweredReason.Evicted]);
  assert.equal(h.skip('udp.pending_evicted'), 1);
  assert.equal(h.matcher.pendingCount(), 2);
});

test('flush reports every pending request as end_of_input', () => {
  const h = harness();
  h.udp({ ...toServer, sport: 1, at: 0 });
  h.udp({ ...toServer, sport: 2, at: 1 });
  h.flush();
  assert.deepEqual(
    h.pairs.map((p) => [p.clientPort, p.outcome, p.unansweredReason]),
    [
      [1, Outcome.Unanswered, UnansweredReason.EndOfInput],
      [2, Outcome.Unanswered, UnansweredReason.EndOfInput],
    ],
  );
  assert.equal(h.matcher.pendingCount(), 0);
});

test('TCP segments on a UDP server port are not UDP requests', () => {
  const h = harness();
  h.tcp({ ...toServer, at: 0, payload: 'x' });
  h.flush();
  assert.equal(h.pairs.length, 0);
});

test('ended requests are reused for new ones, but every pair a sink holds stays as it was emitted', () => {
  const h = harness();
  const emitted: string[] = [];
  const snapshot = () => {
    while (emitted.length < h.pairs.length) emitted.push(JSON.stringify(h.pairs[emitted.length]));
  };
  h.udp(request(0, { payload: 'ab' }));
  h.udp(request(5, { payload: 'ab' }));
  h.udp(reply(10));
  snapshot();
  h.udp(request(100, { payload: 'abcdef' }));
  h.udp(reply(130));
  snapshot();
  h.udp(request(200));
  h.flush();
  snapshot();
  h.udp(request(300, { payload: 'a' }));
  h.udp(reply(345));
  snapshot();
  assert.equal(new Set(h.pairs).size, 4);
  assert.deepEqual(
    h.pairs.map((p) => JSON.stringify(p)),
    emitted,
  );
  assert.deepEqual(
    h.pairs.map((p) => [p.request.packets, p.request.bytes, p.outcome, p.response?.packet]),
    [
      [2, 4, Outcome.Matched, 3],
      [1, 6, Outcome.Matched, 5],
      [1, 11, Outcome.Unanswered, undefined],
      [1, 1, Outcome.Matched, 8],
    ],
  );
});
