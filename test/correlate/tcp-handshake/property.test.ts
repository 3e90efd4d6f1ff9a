import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { diffNanos, Outcome } from '../../../agent/correlate/pair.ts';
import { tcpHandshakeMatcher } from '../../../agent/correlate/tcp-handshake/index.ts';
import { TcpFlag } from '../../../agent/decode/packet.ts';
import { Harness } from '../udp/harness.ts';

// Small pools so that retransmissions, port reuse, wrong acks and the IPv4/IPv6 twin collide often.
const clients = ['10.0.0.1', '10.0.0.3', 'a00:1::'];
const servers = ['10.0.0.2', 'a00:2::'];
const isns = [1000, 2000, 0xffffffff];
const flagChoices = [
  TcpFlag.Syn,
  TcpFlag.Syn,
  TcpFlag.Syn | TcpFlag.Ack,
  TcpFlag.Syn | TcpFlag.Ack,
  TcpFlag.Rst | TcpFlag.Ack,
  TcpFlag.Ack,
  TcpFlag.Syn | TcpFlag.Rst,
];

const event = fc.record({
  gap: fc.integer({ min: 0, max: 3_000_000_000 }),
  client: fc.integer({ min: 0, max: clients.length - 1 }),
  server: fc.integer({ min: 0, max: servers.length - 1 }),
  clientPort: fc.constantFrom(40000, 40001),
  isn: fc.integer({ min: 0, max: isns.length - 1 }),
  flags: fc.oneof(fc.constantFrom(...flagChoices), fc.integer({ min: 0, max: 255 })),
  ackOff: fc.constantFrom(1, 1, 1, 0, 2),
  expire: fc.boolean(),
});

test('property: random handshake traffic never throws and every SYN is reported exactly once after flush', () => {
  fc.assert(
    fc.property(
      fc.array(event, { maxLength: 80 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 10_000_000_000 }),
      (events, maxPending, timeout) => {
        const h = new Harness(tcpHandshakeMatcher, (o) => {
          o.maxPending.tcp = maxPending;
          o.timeoutNanos.tcp = timeout;
        });
        let at = 0;
        let syns = 0;
        for (const e of events) {
          at += e.gap;
          const client = clients[e.client]!;
          // Keep the IP version consistent within a packet: the IPv6 client talks to the IPv6 server.
          const server = client.includes(':') ? servers[1]! : servers[0]!;
          const fromClient =
            (e.flags & (TcpFlag.Syn | TcpFlag.Ack)) === TcpFlag.Syn || e.flags === TcpFlag.Ack;
          const isn = isns[e.isn]!;
          if ((e.flags & (TcpFlag.Syn | TcpFlag.Ack | TcpFlag.Rst)) === TcpFlag.Syn) syns++;
          h.tcp(
            fromClient
              ? { src: client, sport: e.clientPort, dst: server, dport: 80, at, flags: e.flags, seq: isn }
              : {
                  src: server,
                  sport: 80,
                  dst: client,
                  dport: e.clientPort,
                  at,
                  flags: e.flags,
                  seq: 5,
                  ack: (isn + e.ackOff) >>> 0,
                },
          );
          if (e.expire) h.expire(at);
        }
        h.flush();
        assert.equal(h.matcher.pendingCount(), 0);
        assert.equal(new Set(h.pairs).size, h.pairs.length, 'a pair was emitted twice');
        const firstPackets = new Set(h.pairs.map((p) => p.request.packet));
        assert.equal(firstPackets.size, h.pairs.length, 'two pairs claim the same SYN');
        assert.equal(
          h.pairs.reduce((n, p) => n + p.request.packets, 0),
          syns,
          'every SYN belongs to exactly one reported attempt',
        );
        for (const p of h.pairs) {
          assert.equal(p.outcome === Outcome.Matched, p.response !== null);
          if (p.response !== null) {
            const r = p.response;
            assert.ok(
              diffNanos(p.request.lastSeconds, p.request.lastNanos, r.firstSeconds, r.firstNanos) >= 0,
            );
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
