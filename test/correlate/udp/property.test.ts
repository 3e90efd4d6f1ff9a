import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Outcome } from '../../../agent/correlate/pair.ts';
import { udpMatcher } from '../../../agent/correlate/udp/index.ts';
import { Harness } from './harness.ts';

const clients = ['10.0.0.1', '10.0.0.2', 'a00:1::'];
const event = fc.record({
  gap: fc.integer({ min: 0, max: 2_000_000_000 }),
  client: fc.integer({ min: 0, max: clients.length - 1 }),
  clientPort: fc.constantFrom(40000, 40001),
  serverPort: fc.constantFrom(123, 161, 53),
  toServer: fc.boolean(),
  bytes: fc.integer({ min: 0, max: 64 }),
  expire: fc.boolean(),
});

test('property: random request/reply traffic never throws and every request datagram is reported exactly once', () => {
  fc.assert(
    fc.property(
      fc.array(event, { maxLength: 80 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 10_000_000_000 }),
      (events, maxPending, timeout) => {
        const h = new Harness(udpMatcher, (o) => {
          o.maxPending.udp = maxPending;
          o.timeoutNanos.udp = timeout;
        });
        let at = 0;
        let requests = 0;
        for (const e of events) {
          at += e.gap;
          const client = clients[e.client]!;
          const server = client.includes(':') ? 'a00:9::' : '10.0.0.9';
          const payload = new Uint8Array(e.bytes);
          if (e.toServer && e.serverPort !== 53) requests++;
          h.udp(
            e.toServer
              ? { src: client, sport: e.clientPort, dst: server, dport: e.serverPort, at, payload }
              : { src: server, sport: e.serverPort, dst: client, dport: e.clientPort, at, payload },
          );
          if (e.expire) h.expire(at);
        }
        h.flush();
        assert.equal(h.matcher.pendingCount(), 0);
        assert.equal(new Set(h.pairs).size, h.pairs.length, 'a pair was emitted twice');
        assert.equal(
          h.pairs.reduce((n, p) => n + p.request.packets, 0),
          requests,
          'every request datagram belongs to exactly one reported request',
        );
        for (const p of h.pairs) {
          assert.equal(p.outcome === Outcome.Matched, p.response !== null);
          assert.notEqual(p.serverPort, 53);
        }
      },
    ),
    { numRuns: 300 },
  );
});
