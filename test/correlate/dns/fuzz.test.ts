import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DnsHeader,
  DnsQuestion,
  readExtendedRcode,
  readHeader,
  readQuestion,
} from '../../../agent/correlate/dns/parse.ts';
import { client, concat, dnsMessage, framed, harness, openTcp, server } from './helpers.ts';

/** Everything the parser reports about the message at data[offset, offset + length). */
function parseAll(data: Uint8Array, offset: number, length: number): unknown {
  const header = new DnsHeader();
  if (!readHeader(data, offset, length, header)) return null;
  const question = new DnsQuestion();
  const status = readQuestion(data, offset, length, header, question);
  return {
    header: { ...header },
    status,
    question: { ...question },
    rcode: readExtendedRcode(data, offset, length, header),
  };
}

// Messages that look like DNS often enough to reach the name and record walkers: a header with
// small counts, then random bytes rich in pointers (0xc0..) and short labels.
const messageBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 2, 0xc0, 0xc0, 12, 41)), {
        maxLength: 200,
      }),
    )
    .map(([idFlags, counts, rest]) =>
      Uint8Array.from([...idFlags, ...counts.flatMap((c) => [0, c]), ...rest]),
    ),
);

describe('fuzz: the parser', () => {
  it('never throws and never reads outside [offset, offset + length)', () => {
    fc.assert(
      fc.property(
        messageBytes,
        fc.nat(40),
        fc.uint8Array({ minLength: 1, maxLength: 1 }),
        (bytes, offset, [fill]) => {
          // The same message alone and inside other bytes must parse the same: nothing outside counts.
          const alone = parseAll(bytes, 0, bytes.length);
          const padded = new Uint8Array(offset + bytes.length + 64).fill(fill ?? 0);
          padded.set(bytes, offset);
          assert.deepEqual(parseAll(padded, offset, bytes.length), alone);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('fuzz: the matcher', () => {
  it('never throws on random UDP payloads and random TCP chunks, and stays bounded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.boolean(), messageBytes), { maxLength: 40 }),
        (packets) => {
          const h = harness((o) => {
            o.maxPending.dns = 8;
          });
          const tcp = openTcp(h, client, server);
          let nanos = 0;
          for (const [udp, fromClient, bytes] of packets) {
            nanos += 1_000;
            if (udp) h.wire.udp(fromClient ? client : server, fromClient ? server : client, bytes, 1, nanos);
            else h.wire.tcpData(tcp, fromClient, bytes, 1, nanos);
          }
          assert.ok(h.matcher.pendingCount() <= 8);
          h.matcher.flush();
          assert.equal(h.matcher.pendingCount(), 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('frames TCP messages identically however the stream is cut into segments', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z]{1,12}(\.[a-z]{1,12}){0,3}$/), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (names, cuts) => {
          const h = harness();
          const tcp = openTcp(h, client, server);
          const queries = concat(...names.map((name, id) => framed(dnsMessage({ id, question: { name } }))));
          const points = [...new Set(cuts.map((c) => c % queries.length))].sort((a, b) => a - b);
          let from = 0;
          for (const to of [...points, queries.length]) {
            if (to > from) h.wire.tcpData(tcp, true, queries.slice(from, to), 1, to);
            from = to;
          }
          assert.equal(h.matcher.pendingCount(), names.length);
          const responses = names.map((name, id) =>
            framed(dnsMessage({ id, response: true, question: { name } })),
          );
          h.wire.tcpData(tcp, false, concat(...responses), 2, 0);
          assert.deepEqual(
            h.pairs.map((p) => [p.detail?.id, p.detail?.name, p.request.bytes]),
            names.map((name, id) => [id, name, framed(dnsMessage({ id, question: { name } })).length]),
          );
          assert.deepEqual(h.skips.toObject(), {});
        },
      ),
      { numRuns: 300 },
    );
  });
});
