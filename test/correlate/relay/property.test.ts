import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Outcome } from '../../../agent/correlate/pair.ts';
import { relayMatcher } from '../../../agent/correlate/relay/index.ts';
import { formatIp } from '../../../agent/decode/format.ts';
import { Harness, words } from '../udp/harness.ts';

const outsiders = ['203.0.113.1', '203.0.113.2', '198.51.100.7'];
const gateway = '192.168.1.10';
const payloads = ['', 'a', 'b', 'ab', 'heartbeat'];

const event = fc.record({
  gap: fc.integer({ min: 0, max: 2_000_000_000 }),
  entering: fc.boolean(),
  outsider: fc.integer({ min: 0, max: outsiders.length - 1 }),
  port: fc.constantFrom(1000, 2000),
  payload: fc.integer({ min: 0, max: payloads.length - 1 }),
  tcp: fc.boolean(),
  incomplete: fc.constantFrom(false, false, false, true),
  expire: fc.boolean(),
});

test('property: random relay traffic never throws; every entering payload is reported exactly once; pairs obey the options', () => {
  fc.assert(
    fc.property(
      fc.array(event, { maxLength: 80 }),
      fc.record({
        maxPending: fc.integer({ min: 1, max: 4 }),
        timeout: fc.integer({ min: 1, max: 10_000_000_000 }),
        matchEcho: fc.boolean(),
        crossTransport: fc.boolean(),
      }),
      (events, config) => {
        const h = new Harness(relayMatcher, (o) => {
          o.relay.enabled = true;
          o.relay.matchEcho = config.matchEcho;
          o.relay.crossTransport = config.crossTransport;
          o.maxPending.relay = config.maxPending;
          o.timeoutNanos.relay = config.timeout;
        });
        const payloadOf = new Map<number, string>();
        let at = 0;
        let requests = 0;
        for (const e of events) {
          at += e.gap;
          const outsider = outsiders[e.outsider]!;
          const payload = payloads[e.payload]!;
          const spec = e.entering
            ? { src: outsider, sport: e.port, dst: gateway, dport: 5000, at, payload, fragment: e.incomplete }
            : {
                src: gateway,
                sport: 6000,
                dst: outsider,
                dport: e.port,
                at,
                payload,
                fragment: e.incomplete,
              };
          if (e.entering && payload !== '' && !e.incomplete) requests++;
          payloadOf.set(e.tcp ? h.tcp(spec) : h.udp(spec), payload);
          if (e.expire) h.expire(at);
        }
        h.flush();
        assert.equal(h.matcher.pendingCount(), 0);
        assert.equal(new Set(h.pairs).size, h.pairs.length, 'a pair was emitted twice');
        assert.equal(
          h.pairs.reduce((n, p) => n + p.request.packets, 0),
          requests,
          'every entering payload belongs to exactly one reported request',
        );
        for (const p of h.pairs) {
          assert.equal(p.outcome === Outcome.Matched, p.response !== null);
          if (p.response === null) continue;
          assert.equal(payloadOf.get(p.response.packet), payloadOf.get(p.request.packet));
          const out = (p.detail as { out: { address: string; transport: string } }).out;
          if (!config.crossTransport) assert.equal(out.transport, p.transport === 6 ? 'tcp' : 'udp');
          if (!config.matchEcho) assert.notEqual(out.address, formatIp(4, p.client0, 0, 0, 0));
          assert.equal(p.server0, words(gateway)[0]);
        }
      },
    ),
    { numRuns: 300 },
  );
});
