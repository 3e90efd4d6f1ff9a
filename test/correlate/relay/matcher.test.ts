import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import { Outcome, type Pair, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { relayMatcher } from '../../../agent/correlate/relay/index.ts';
import { TcpFlag } from '../../../agent/decode/packet.ts';
import { type Configure, firstToFirstNs, Harness, type PacketSpec, words } from '../udp/harness.ts';

const kSecond = 1_000_000_000;

// A gateway 192.168.1.10 (inside the default 192.168.0.0/16) relays between outside hosts.
const sender = { src: '203.0.113.5', sport: 40000, dst: '192.168.1.10', dport: 5000 };
const onward = { src: '192.168.1.10', sport: 6000, dst: '198.51.100.7', dport: 7000 };

function enter(at: number, payload: string, extra: Partial<PacketSpec> = {}): PacketSpec {
  return { ...sender, at, payload, ...extra };
}

function leave(at: number, payload: string, extra: Partial<PacketSpec> = {}): PacketSpec {
  return { ...onward, at, payload, ...extra };
}

function harness(configure?: Configure): Harness {
  return new Harness(relayMatcher, (o) => {
    o.relay.enabled = true;
    configure?.(o);
  });
}

function summary(pairs: Pair[]): unknown[] {
  return pairs.map((p) =>
    p.outcome === Outcome.Matched
      ? ['matched', p.request.packet, p.response!.packet, firstToFirstNs(p)]
      : ['unanswered', p.request.packet, p.unansweredReason],
  );
}

test('descriptor: name relay, enabled only by options.relay.enabled', () => {
  const options = defaultCorrelateOptions();
  assert.equal(relayMatcher.name, 'relay');
  assert.equal(relayMatcher.enabled(options), false);
  options.relay.enabled = true;
  assert.equal(relayMatcher.enabled(options), true);
});

test('a payload entering then leaving the internal networks pairs: endpoints, edges, exact latency, detail.out', () => {
  const h = harness();
  h.udp(enter(kSecond - 5, 'hello relay'));
  assert.equal(h.matcher.pendingCount(), 1);
  h.udp(leave(kSecond + 120, 'hello relay'));
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal(pair.outcome, Outcome.Matched);
  assert.equal(pair.protocol, 'relay');
  assert.equal(pair.transport, 17);
  assert.equal(pair.ipVersion, 4);
  // client = the original sender, server = the internal address and port it entered through
  assert.deepEqual([pair.client0, pair.clientPort], [words('203.0.113.5')[0], 40000]);
  assert.deepEqual([pair.server0, pair.serverPort], [words('192.168.1.10')[0], 5000]);
  assert.equal(firstToFirstNs(pair), 125);
  assert.deepEqual([pair.request.packet, pair.request.packets, pair.request.bytes], [1, 1, 11]);
  assert.deepEqual([pair.response!.packet, pair.response!.packets, pair.response!.bytes], [2, 1, 11]);
  assert.deepEqual(pair.detail, {
    out: { address: '198.51.100.7', port: 7000, transport: 'udp' },
  });
  assert.equal(h.matcher.pendingCount(), 0);
});

test('TCP in, TCP out pairs (same transport)', () => {
  const h = harness();
  h.tcp(enter(0, 'segment payload', { flags: TcpFlag.Psh | TcpFlag.Ack }));
  h.tcp(leave(40, 'segment payload', { flags: TcpFlag.Psh | TcpFlag.Ack }));
  assert.deepEqual(summary(h.pairs), [['matched', 1, 2, 40]]);
  assert.equal(h.pairs[0]!.transport, 6);
  assert.equal((h.pairs[0]!.detail as { out: { transport: string } }).out.transport, 'tcp');
});

test('non-matching payloads do not pair: other bytes, a longer payload, a prefix', () => {
  const h = harness();
  h.udp(enter(0, 'payload-A'));
  h.udp(leave(10, 'payload-B'));
  h.udp(leave(20, 'payload-A!'));
  h.udp(leave(30, 'payload-'));
  assert.equal(h.pairs.length, 0);
  assert.equal(h.matcher.pendingCount(), 1);
  h.udp(leave(40, 'payload-A'));
  assert.deepEqual(summary(h.pairs), [['matched', 1, 5, 40]]);
});

test('packets that do not cross the boundary, and empty payloads, are ignored', () => {
  const h = harness();
  h.udp({ src: '192.168.1.2', sport: 1, dst: '192.168.1.10', dport: 2, at: 0, payload: 'internal' });
  h.udp({ src: '203.0.113.5', sport: 1, dst: '198.51.100.7', dport: 2, at: 1, payload: 'transit' });
  h.tcp(enter(2, '', { flags: TcpFlag.Ack }));
  assert.equal(h.matcher.pendingCount(), 0);
  h.udp({ src: '192.168.1.10', sport: 2, dst: '192.168.1.3', dport: 1, at: 3, payload: 'internal' });
  h.flush();
  assert.equal(h.pairs.length, 0);
  assert.equal(h.skips.total(), 0);
});

test('cross-transport off (default): UDP in does not pair with TCP out, nor TCP in with UDP out', () => {
  const h = harness();
  h.udp(enter(0, 'datagram'));
  h.tcp(leave(10, 'datagram', { flags: TcpFlag.Ack }));
  h.tcp(enter(20, 'segment', { flags: TcpFlag.Ack }));
  h.udp(leave(30, 'segment'));
  assert.equal(h.pairs.length, 0);
  h.flush();
  assert.deepEqual(summary(h.pairs), [
    ['unanswered', 1, UnansweredReason.EndOfInput],
    ['unanswered', 3, UnansweredReason.EndOfInput],
  ]);
});

test('cross-transport on: UDP in pairs with TCP out and TCP in with UDP out; same transport still pairs', () => {
  const h = harness((o) => {
    o.relay.crossTransport = true;
  });
  h.udp(enter(0, 'datagram'));
  h.tcp(leave(10, 'datagram', { flags: TcpFlag.Ack }));
  h.tcp(enter(20, 'segment', { flags: TcpFlag.Ack }));
  h.udp(leave(35, 'segment'));
  h.udp(enter(40, 'plain'));
  h.udp(leave(41, 'plain'));
  assert.deepEqual(summary(h.pairs), [
    ['matched', 1, 2, 10],
    ['matched', 3, 4, 15],
    ['matched', 5, 6, 1],
  ]);
  assert.deepEqual(
    h.pairs.map((p) => [
      p.transport,
      (p.detail as { out: { transport: string } }).out.transport === 'tcp' ? 6 : 17,
    ]),
    [
      [17, 6],
      [6, 17],
      [17, 17],
    ],
  );
});

test('echo off (default): the payload going back to its sender (any port) is not its response', () => {
  const h = harness();
  h.udp(enter(0, 'ping'));
  h.udp({ src: '192.168.1.10', sport: 5000, dst: '203.0.113.5', dport: 40000, at: 5, payload: 'ping' });
  h.udp({ src: '192.168.1.10', sport: 6000, dst: '203.0.113.5', dport: 41000, at: 6, payload: 'ping' });
  assert.equal(h.pairs.length, 0);
  assert.equal(h.matcher.pendingCount(), 1);
  h.udp(leave(9, 'ping')); // onward to another host: the relay
  assert.deepEqual(summary(h.pairs), [['matched', 1, 4, 9]]);
});

test('echo on: the payload going back to its sender pairs, endpoints reversed in detail.out', () => {
  const h = harness((o) => {
    o.relay.matchEcho = true;
  });
  h.udp(enter(0, 'ping'));
  h.udp({ src: '192.168.1.10', sport: 5000, dst: '203.0.113.5', dport: 40000, at: 5, payload: 'ping' });
  assert.deepEqual(summary(h.pairs), [['matched', 1, 2, 5]]);
  assert.deepEqual(h.pairs[0]!.detail, {
    out: { address: '203.0.113.5', port: 40000, transport: 'udp' },
  });
});

test('IPv6 internal networks: in and out pair, addresses as four words', () => {
  const h = harness((o) => {
    o.relay.internalNetworks = ['10.0.0.0/8', 'fd00::/8'];
  });
  const outside = '2001:db8::1';
  const gateway = 'fd12:3456::5';
  const target = '2001:db8:ffff::99';
  h.udp({ src: outside, sport: 1000, dst: gateway, dport: 2000, at: 0, payload: 'v6 payload' });
  h.udp({ src: gateway, sport: 3000, dst: target, dport: 4000, at: 77, payload: 'v6 payload' });
  assert.deepEqual(summary(h.pairs), [['matched', 1, 2, 77]]);
  const pair = h.pairs[0]!;
  assert.equal(pair.ipVersion, 6);
  assert.deepEqual([pair.client0, pair.client1, pair.client2, pair.client3], words(outside));
  assert.deepEqual([pair.server0, pair.server1, pair.server2, pair.server3], words(gateway));
  assert.deepEqual(pair.detail, { out: { address: target, port: 4000, transport: 'udp' } });
});

test('IPv4 in, IPv6 out (a translating gateway) pairs on the payload', () => {
  const h = harness((o) => {
    o.relay.internalNetworks = ['192.168.0.0/16', 'fd00::/8'];
  });
  h.udp(enter(0, 'translated'));
  h.udp({ src: 'fd00::10', sport: 1, dst: '2001:db8::7', dport: 2, at: 3, payload: 'translated' });
  assert.deepEqual(summary(h.pairs), [['matched', 1, 2, 3]]);
  assert.equal((h.pairs[0]!.detail as { out: { address: string } }).out.address, '2001:db8::7');
});

test('a bad internal network is a configuration error thrown at construction', () => {
  assert.throws(
    () =>
      harness((o) => {
        o.relay.internalNetworks = ['10.0.0.0/33'];
      }),
    /relay\.internalNetworks: "10\.0\.0\.0\/33" is not a CIDR: the prefix length must be an integer 0\.\.32 for IPv4/,
  );
  assert.throws(
    () =>
      harness((o) => {
        o.relay.internalNetworks = ['fd00::/8', 'gateway.local'];
      }),
    /relay\.internalNetworks: "gateway\.local" is not a CIDR/,
  );
  assert.throws(
    () =>
      harness((o) => {
        o.relay.internalNetworks = [];
      }),
    /relay\.internalNetworks is empty/,
  );
});

test('identical payloads from two senders pair first in, first out', () => {
  const h = harness();
  h.udp(enter(0, 'heartbeat'));
  h.udp(enter(10, 'heartbeat', { src: '203.0.113.6' }));
  assert.equal(h.matcher.pendingCount(), 2);
  h.udp(leave(15, 'heartbeat'));
  h.udp(leave(40, 'heartbeat'));
  assert.deepEqual(summary(h.pairs), [
    ['matched', 1, 3, 15],
    ['matched', 2, 4, 30],
  ]);
  assert.equal(h.pairs[1]!.client0, words('203.0.113.6')[0]);
  assert.equal(h.matcher.pendingCount(), 0);
});

test('after the head of a chain is answered, the next one heads it and newer requests still append at its end', () => {
  const h = harness();
  h.udp(enter(0, 'same', { src: '203.0.113.1' })); // 1
  h.udp(enter(1, 'same', { src: '203.0.113.2' })); // 2
  h.udp(enter(2, 'same', { src: '203.0.113.3' })); // 3
  h.udp(leave(10, 'same')); // 4 → 1
  h.udp(enter(11, 'same', { src: '203.0.113.4' })); // 5
  h.udp(leave(20, 'same')); // 6 → 2
  h.udp(leave(30, 'same')); // 7 → 3
  h.udp(leave(40, 'same')); // 8 → 5
  assert.deepEqual(summary(h.pairs), [
    ['matched', 1, 4, 10],
    ['matched', 2, 6, 19],
    ['matched', 3, 7, 28],
    ['matched', 5, 8, 29],
  ]);
});

test('the same payload entering again between the same endpoints is a retransmission of the pending request', () => {
  const h = harness();
  h.tcp(enter(0, 'segment', { flags: TcpFlag.Ack }));
  h.tcp(enter(200, 'segment', { flags: TcpFlag.Ack }));
  assert.equal(h.matcher.pendingCount(), 1);
  h.tcp(leave(250, 'segment', { flags: TcpFlag.Ack }));
  assert.deepEqual(summary(h.pairs), [['matched', 1, 3, 250]]);
  assert.deepEqual(
    [h.pairs[0]!.request.packets, h.pairs[0]!.request.lastPacket, h.pairs[0]!.request.bytes],
    [2, 2, 14],
  );
  h.tcp(leave(260, 'segment', { flags: TcpFlag.Ack })); // the relay's own retransmission: nothing left to answer
  h.flush();
  assert.equal(h.pairs.length, 1);
});

test('the oldest eligible request pairs: an echo skips the head, the chain stays intact for later requests', () => {
  const h = harness();
  const a = { src: '203.0.113.1' };
  const b = { src: '203.0.113.2' };
  const d = { src: '203.0.113.4' };
  h.udp(enter(0, 'same', a)); // 1
  h.udp(enter(1, 'same', b)); // 2
  h.udp(enter(2, 'same', { src: '203.0.113.3' })); // 3
  // Going back to A is an echo for A (skipped) but answers B, the oldest eligible.
  h.udp(leave(10, 'same', { dst: '203.0.113.1' })); // 4
  h.udp(enter(11, 'same', d)); // 5: appended after the unlinked middle
  h.udp(leave(20, 'same', { dst: '203.0.113.1' })); // 6 → the third request (A is still skipped)
  h.udp(leave(30, 'same')); // 7 → A
  h.udp(leave(40, 'same')); // 8 → D
  assert.deepEqual(summary(h.pairs), [
    ['matched', 2, 4, 9],
    ['matched', 3, 6, 18],
    ['matched', 1, 7, 30],
    ['matched', 5, 8, 29],
  ]);
  assert.equal(h.matcher.pendingCount(), 0);
});

test('fragments and snaplen-cut payloads cannot be compared: counted and ignored', () => {
  const h = harness();
  h.udp(enter(0, 'first fragment', { fragment: true }));
  h.udp(enter(1, 'cut payload', { wireLength: 1400 }));
  assert.equal(h.skip('relay.payload_incomplete'), 2);
  assert.equal(h.matcher.pendingCount(), 0);
  h.udp(leave(2, 'cut payload', { wireLength: 1400 })); // nothing pending: not even looked at
  assert.equal(h.skip('relay.payload_incomplete'), 2);
  h.udp(enter(3, 'whole'));
  h.udp(leave(4, 'whole!', { wireLength: 1400 }));
  assert.equal(h.skip('relay.payload_incomplete'), 3);
  h.flush();
  assert.deepEqual(summary(h.pairs), [['unanswered', 4, UnansweredReason.EndOfInput]]);
});

test('requests expire after timeoutNanos.relay; chained requests expire with their own times', () => {
  const h = harness((o) => {
    o.timeoutNanos.relay = 100;
  });
  h.udp(enter(0, 'x')); // 1
  h.udp(enter(10, 'x', { src: '203.0.113.2' })); // 2, chained behind 1
  h.udp(enter(50, 'x', { src: '203.0.113.3' })); // 3, chained behind 2
  h.udp(enter(60, 'y')); // 4
  h.expire(100);
  assert.equal(h.pairs.length, 0);
  h.expire(115); // 1 and 2 are older than 100 ns; 3 is not
  assert.deepEqual(summary(h.pairs), [
    ['unanswered', 1, UnansweredReason.Expired],
    ['unanswered', 2, UnansweredReason.Expired],
  ]);
  assert.equal(h.matcher.pendingCount(), 2);
  h.udp(leave(120, 'x')); // the surviving chained request is now the head
  assert.deepEqual(summary(h.pairs).at(-1), ['matched', 3, 5, 70]);
  h.expire(160);
  assert.equal(h.pairs.length, 3);
  h.expire(161);
  assert.deepEqual(summary(h.pairs).at(-1), ['unanswered', 4, UnansweredReason.Expired]);
  assert.equal(h.matcher.pendingCount(), 0);
});

test('a retransmission restarts the timeout and moves the request behind younger ones', () => {
  const h = harness((o) => {
    o.timeoutNanos.relay = 100;
  });
  h.udp(enter(0, 'x')); // 1
  h.udp(enter(50, 'y')); // 2
  h.udp(enter(90, 'x')); // 3: copy of 1
  h.expire(150);
  assert.equal(h.pairs.length, 0);
  h.expire(151);
  assert.deepEqual(summary(h.pairs), [['unanswered', 2, UnansweredReason.Expired]]);
  h.expire(191);
  assert.deepEqual(summary(h.pairs).at(-1), ['unanswered', 1, UnansweredReason.Expired]);
  assert.equal(h.pairs[1]!.request.packets, 2);
});

test('the newest chained request answered (echo skipping the head): later requests still join the chain', () => {
  const h = harness();
  h.udp(enter(0, 'same', { src: '203.0.113.1' })); // 1
  h.udp(enter(1, 'same', { src: '203.0.113.2' })); // 2, the chain's newest
  h.udp(leave(5, 'same', { dst: '203.0.113.1' })); // 3 → 2 (going back to 1 is an echo for it)
  h.udp(enter(6, 'same', { src: '203.0.113.3' })); // 4
  h.udp(leave(8, 'same')); // 5 → 1
  h.udp(leave(9, 'same')); // 6 → 4
  assert.deepEqual(summary(h.pairs), [
    ['matched', 2, 3, 4],
    ['matched', 1, 5, 8],
    ['matched', 4, 6, 3],
  ]);
  assert.equal(h.matcher.pendingCount(), 0);
});

test('over maxPending.relay the oldest request is evicted (chained ones count too) and counted', () => {
  const h = harness((o) => {
    o.maxPending.relay = 2;
  });
  h.udp(enter(0, 'same')); // 1
  h.udp(enter(1, 'same', { src: '203.0.113.2' })); // 2, chained
  h.udp(enter(2, 'other')); // 3: evicts 1, 2 becomes its key's head
  assert.deepEqual(summary(h.pairs), [['unanswered', 1, UnansweredReason.Evicted]]);
  assert.equal(h.skip('relay.pending_evicted'), 1);
  assert.equal(h.matcher.pendingCount(), 2);
  h.udp(leave(5, 'same'));
  assert.deepEqual(summary(h.pairs).at(-1), ['matched', 2, 4, 4]);
  h.udp(enter(6, 'third')); // 5: room again, nothing evicted
  assert.equal(h.pairs.length, 2);
  h.udp(enter(7, 'fourth')); // 6: evicts 3
  assert.deepEqual(summary(h.pairs).at(-1), ['unanswered', 3, UnansweredReason.Evicted]);
});

test('eviction can empty the chain the new request belongs to', () => {
  const h = harness((o) => {
    o.maxPending.relay = 1;
  });
  h.udp(enter(0, 'same'));
  h.udp(enter(1, 'same', { src: '203.0.113.2' })); // evicts the first: the chain is gone, a new one starts
  h.udp(leave(4, 'same'));
  assert.deepEqual(summary(h.pairs), [
    ['unanswered', 1, UnansweredReason.Evicted],
    ['matched', 2, 3, 3],
  ]);
});

test('flush reports every pending request, chained ones too, as end_of_input', () => {
  const h = harness();
  h.udp(enter(0, 'same'));
  h.udp(enter(1, 'other'));
  h.udp(enter(2, 'same', { src: '203.0.113.2' }));
  h.flush();
  assert.deepEqual(summary(h.pairs), [
    ['unanswered', 1, UnansweredReason.EndOfInput],
    ['unanswered', 3, UnansweredReason.EndOfInput],
    ['unanswered', 2, UnansweredReason.EndOfInput],
  ]);
  assert.equal(h.matcher.pendingCount(), 0);
});
