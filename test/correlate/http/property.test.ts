import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Outcome, type Pair } from '../../../agent/correlate/pair.ts';
import { bytes, kMs, kSecond, type Segment, TcpConversation } from '../tcp-stream/builder.ts';
import { HttpHarness } from './harness.ts';

interface Exchange {
  request: string;
  response: string;
}

const bodyArb = fc.string({ maxLength: 120 });

function chunked(body: string, size: number): string {
  let out = '';
  for (let at = 0; at < body.length; at += size) {
    const chunk = body.slice(at, at + size);
    out += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  }
  return `${out}0\r\nX-Trailer: t\r\n\r\n`;
}

const exchangeArb: fc.Arbitrary<Exchange> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PROPFIND'),
    path: fc.stringMatching(/^\/[a-z0-9]{0,8}(\?[a-z]=[0-9]{1,3})?$/),
    requestBody: fc.option(bodyArb),
    requestChunked: fc.boolean(),
    status: fc.constantFrom(200, 201, 204, 304, 404, 500),
    interim: fc.boolean(),
    responseBody: bodyArb,
    responseChunked: fc.boolean(),
    chunkSize: fc.integer({ min: 1, max: 50 }),
  })
  .map((e) => {
    let request = `${e.method} ${e.path} HTTP/1.1\r\nHost: h.test\r\n`;
    if (e.requestBody === null) request += '\r\n';
    else if (e.requestChunked)
      request += `Transfer-Encoding: chunked\r\n\r\n${chunked(e.requestBody, e.chunkSize)}`;
    else request += `Content-Length: ${e.requestBody.length}\r\n\r\n${e.requestBody}`;
    let response = e.interim ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
    response += `HTTP/1.1 ${e.status} Status\r\n`;
    if (e.method === 'HEAD' || e.status === 204 || e.status === 304) {
      response += `Content-Length: ${e.responseBody.length}\r\n\r\n`;
    } else if (e.responseChunked) {
      response += `Transfer-Encoding: chunked\r\n\r\n${chunked(e.responseBody, e.chunkSize)}`;
    } else {
      response += `Content-Length: ${e.responseBody.length}\r\n\r\n${e.responseBody}`;
    }
    return { request, response };
  });

/** How one message is sent: cut lengths, adjacent swaps (reordering), copies (retransmissions). */
const deliveryArb = fc.record({
  cuts: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }),
  swaps: fc.array(fc.nat(), { maxLength: 6 }),
  copies: fc.array(fc.nat(), { maxLength: 2 }),
});
type Delivery = { cuts: number[]; swaps: number[]; copies: number[] };

function send(
  c: TcpConversation,
  fromClient: boolean,
  message: string,
  delivery: Delivery | null,
): Segment[] {
  const all = bytes(message);
  if (delivery === null) return [c.data(fromClient, all)];
  const segments: Segment[] = [];
  let at = 0;
  for (const cut of delivery.cuts) {
    if (at >= all.length) break;
    segments.push(c.data(fromClient, all.slice(at, Math.min(all.length, at + cut))));
    at += cut;
  }
  if (at < all.length) segments.push(c.data(fromClient, all.slice(at)));
  for (const swap of delivery.swaps) {
    if (segments.length < 2) break;
    const i = swap % (segments.length - 1);
    [segments[i], segments[i + 1]] = [segments[i + 1]!, segments[i]!];
  }
  for (const copy of delivery.copies) segments.push(segments[copy % segments.length]!.copy());
  return segments;
}

/** Runs the conversation (one message after the other, 1 ms apart) and returns the pairs. */
function run(exchanges: Exchange[], deliveries: Delivery[] | null): { pairs: Pair[]; h: HttpHarness } {
  const h = new HttpHarness();
  const c = new TcpConversation({ clientIsn: 0xffffff00 });
  let at = h.feedAll(c.handshake(), 0) * kMs;
  let d = 0;
  for (const exchange of exchanges) {
    for (const [fromClient, message] of [
      [true, exchange.request],
      [false, exchange.response],
    ] as const) {
      const delivery = deliveries === null ? null : deliveries[d++ % deliveries.length]!;
      for (const segment of send(c, fromClient, message, delivery)) {
        at += kMs;
        h.feed(segment, at);
      }
    }
  }
  h.feedAll([c.fin(true), c.fin(false)], at + kMs);
  h.finish();
  return { pairs: h.pairs, h };
}

/** What must not depend on segmentation: outcome, detail, and each message's byte count. */
function essence(pair: Pair): unknown {
  return [pair.outcome, pair.detail, pair.request.bytes, pair.response?.bytes];
}

test('property: any segmentation, reordering and duplication of a valid conversation gives the in-order pairs', () => {
  fc.assert(
    fc.property(
      fc.array(exchangeArb, { minLength: 1, maxLength: 5 }),
      fc.array(deliveryArb, { minLength: 1, maxLength: 10 }),
      (exchanges, deliveries) => {
        const reference = run(exchanges, null);
        assert.equal(reference.pairs.length, exchanges.length);
        assert.ok(reference.pairs.every((pair) => pair.outcome === Outcome.Matched));
        assert.deepEqual(reference.h.counts(), {});
        const shuffled = run(exchanges, deliveries);
        assert.deepEqual(shuffled.pairs.map(essence), reference.pairs.map(essence));
        assert.deepEqual(shuffled.h.counts(), {});
      },
    ),
    { numRuns: 300 },
  );
});

test('property: random bytes, gaps and closes never throw and leave nothing pending', () => {
  const eventArb = fc.oneof(
    fc.record({
      kind: fc.constant('data' as const),
      fromClient: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 200 }),
    }),
    fc.record({
      kind: fc.constant('text' as const),
      fromClient: fc.boolean(),
      text: fc.constantFrom(
        'GET / HTTP/1.1\r\n\r\n',
        'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n',
        'HTTP/1.1 100 Continue\r\n\r\n',
        'HTTP/1.1 101 Switching\r\n\r\n',
        'POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
        '5\r\nabcde\r\n',
        '0\r\n\r\n',
        'HTTP/1.1 204 No\r\n\r\n',
        '\r\n',
      ),
    }),
    fc.record({
      kind: fc.constant('lost' as const),
      fromClient: fc.boolean(),
      size: fc.integer({ min: 1, max: 100 }),
    }),
    fc.record({ kind: fc.constant('fin' as const), fromClient: fc.boolean() }),
    fc.record({ kind: fc.constant('rst' as const), fromClient: fc.boolean() }),
    fc.record({ kind: fc.constant('wait' as const), nanos: fc.integer({ min: 0, max: 40 * kSecond }) }),
  );
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 40 }), (events) => {
      const h = new HttpHarness((options) => {
        options.maxPending.http = 3;
      });
      const c = new TcpConversation();
      let at = h.feedAll([...c.handshake(), c.client('GET /start HTTP/1.1\r\n\r\n')], 0) * kMs;
      for (const event of events) {
        at += kMs;
        switch (event.kind) {
          case 'data':
            h.feed(c.data(event.fromClient, event.payload), at);
            break;
          case 'text':
            h.feed(c.data(event.fromClient, event.text), at);
            break;
          case 'lost':
            c.data(event.fromClient, 'x'.repeat(event.size));
            h.feed(c.ack(!event.fromClient), at);
            break;
          case 'fin':
            h.feed(c.fin(event.fromClient), at);
            break;
          case 'rst':
            h.feed(c.rst(event.fromClient), at);
            break;
          case 'wait':
            at += event.nanos;
            h.expire(at);
            break;
        }
      }
      h.finish();
      assert.equal(h.matcher.pendingCount(), 0);
      for (const pair of h.pairs) {
        assert.ok(pair.outcome === Outcome.Matched || pair.outcome === Outcome.Unanswered);
        assert.ok(pair.request.packet >= 4);
      }
      // Every request is reported exactly once.
      assert.equal(new Set(h.pairs).size, h.pairs.length);
    }),
    { numRuns: 500 },
  );
});
