import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { httpMatcher } from '../../../agent/correlate/http/index.ts';
import { kMaxQueuedRequests } from '../../../agent/correlate/http/matcher.ts';
import {
  kMaxHostBytes,
  kMaxTargetBytes,
  kMaxTraceparentBytes,
  kMaxUserAgentBytes,
  kTruncatedMarker,
} from '../../../agent/correlate/http/parse.ts';
import { Outcome, UnansweredReason, UnansweredReasonNames } from '../../../agent/correlate/pair.ts';
import { bytes, ipv4, kMs, kSecond, TcpConversation } from '../tcp-stream/builder.ts';
import { get, HttpHarness, httpTime, ok, summary, timeToFirstByte } from './harness.ts';

/** A connection after its handshake, and a 3,000-byte PUT cut into head, part1 and part2 (not yet fed). */
function putInThreeSegments() {
  const h = new HttpHarness();
  const c = new TcpConversation();
  h.feedAll(c.handshake(), 0);
  const body = 'x'.repeat(3000);
  const [head, part1, part2] = c.cut(
    true,
    `PUT /blob HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    40,
    1500,
  );
  return { h, c, head: head!, part1: part1!, part2: part2! };
}

describe('httpMatcher descriptor', () => {
  test('is named http, always enabled, and reads streams only', () => {
    const h = new HttpHarness();
    assert.equal(httpMatcher.name, 'http');
    assert.equal(httpMatcher.enabled(h.options), true);
    assert.ok(h.matcher.stream);
    assert.equal(h.matcher.stream.name, 'http');
    assert.equal(h.matcher.pendingCount(), 0);
  });
});

describe('HTTP: one exchange', () => {
  test('pairs a GET with its response: four edges, endpoints and detail', () => {
    const h = new HttpHarness();
    const c = new TcpConversation({ clientPort: 51_000, serverPort: 80 });
    h.feedAll(c.handshake(), 0);
    const request = get('/index.html?user=alice', 'User-Agent: curl/8.0\r\n');
    const response = ok('hello');
    assert.equal(h.feed(c.client(request), 10 * kMs), 4);
    assert.equal(h.feed(c.server(response), 25 * kMs + 123), 5);
    assert.equal(h.pairs.length, 1);
    const pair = h.pairs[0]!;
    assert.equal(pair.outcome, Outcome.Matched);
    assert.equal(pair.protocol, 'http');
    assert.equal(pair.transport, 6);
    assert.equal(pair.ipVersion, 4);
    assert.equal(pair.client0, ipv4(10, 0, 0, 1));
    assert.equal(pair.clientPort, 51_000);
    assert.equal(pair.server0, ipv4(10, 0, 0, 2));
    assert.equal(pair.serverPort, 80);
    assert.deepEqual(pair.detail, {
      method: 'GET',
      target: '/index.html?REDACTED',
      version: '1.1',
      status: 200,
      host: 'example.test',
      user_agent: 'curl/8.0',
      response_content_length: 5,
    });
    assert.deepEqual(
      [pair.request.packet, pair.request.lastPacket, pair.request.packets, pair.request.bytes],
      [4, 4, 1, request.length],
    );
    assert.deepEqual(
      [pair.response!.packet, pair.response!.lastPacket, pair.response!.packets, pair.response!.bytes],
      [5, 5, 1, response.length],
    );
    assert.equal(httpTime(pair), 15 * kMs + 123);
    assert.equal(pair.request.firstSeconds, 1_700_000_000);
    assert.equal(pair.request.firstNanos, 10 * kMs);
    assert.equal(h.protocol.pendingCount(), 0);
  });

  test('keeps the query string when httpKeepQuery is set', () => {
    const h = new HttpHarness((options) => {
      options.httpKeepQuery = true;
    });
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(get('/search?q=secret&page=2')), c.server(ok(''))], 0);
    assert.equal(h.pairs[0]!.detail!.target, '/search?q=secret&page=2');
  });

  test('records traceparent raw, and request Content-Length', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const body = '{"a":1}';
    const request = `POST /api HTTP/1.0\r\ntraceparent: ${traceparent}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    h.feedAll([...c.handshake(), c.client(request), c.server(ok('done', '201 Created'))], 0);
    assert.deepEqual(h.pairs[0]!.detail, {
      method: 'POST',
      target: '/api',
      version: '1.0',
      status: 201,
      host: null,
      traceparent,
      request_content_length: 7,
      response_content_length: 4,
    });
  });

  test('a request body across segments: the request ends with its last body byte', () => {
    const { h, c, head, part1, part2 } = putInThreeSegments();
    h.feed(head, 10 * kMs);
    h.feed(part1, 11 * kMs);
    h.feed(part2, 12 * kMs);
    h.feed(c.server(ok('stored')), 20 * kMs);
    const pair = h.pairs[0]!;
    assert.deepEqual(summary(pair), {
      outcome: 'matched',
      method: 'PUT',
      target: '/blob',
      status: 200,
      request: [4, 6],
      response: [7, 7],
    });
    assert.equal(pair.request.packets, 3);
    assert.equal(httpTime(pair), 8 * kMs);
  });

  test('a chunked request body', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    const request = 'POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
    h.feedAll([...c.handshake(), ...c.cut(true, request, 50, 5), c.server(ok('k'))], 0);
    assert.deepEqual(summary(h.pairs[0]!), {
      outcome: 'matched',
      method: 'POST',
      target: '/up',
      status: 200,
      request: [4, 6],
      response: [7, 7],
    });
  });

  test('header names are case-insensitive and bare LF line ends are accepted', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    const request = 'GET /lf HTTP/1.1\nHOST: shout.test\n\n';
    const response = 'HTTP/1.1 200 OK\ncontent-LENGTH: 3\n\nabcGARBAGE-NOT-PARSED';
    h.feedAll([...c.handshake(), c.client(request), c.server(response)], 0);
    assert.equal(h.pairs.length, 1);
    assert.equal(h.pairs[0]!.detail!.host, 'shout.test');
    assert.equal(h.pairs[0]!.response!.bytes, response.indexOf('GARBAGE'));
  });
});

describe('HTTP: pipelining', () => {
  const requests = [get('/1'), get('/2'), get('/3')];
  const responses = [ok('one'), ok('', '404 Not Found'), ok('three!', '500 Internal Server Error')];

  test('three requests in one segment, three responses in one segment: FIFO', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(requests.join('')), c.server(responses.join(''))], 0);
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'GET', target: '/1', status: 200, request: [4, 4], response: [5, 5] },
      { outcome: 'matched', method: 'GET', target: '/2', status: 404, request: [4, 4], response: [5, 5] },
      { outcome: 'matched', method: 'GET', target: '/3', status: 500, request: [4, 4], response: [5, 5] },
    ]);
    assert.deepEqual(
      h.pairs.map((pair) => pair.response!.bytes),
      responses.map((r) => r.length),
    );
  });

  test('spread over segments cut at odd places: each message keeps its own packets', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    const all = requests.join('');
    assert.equal(requests[0]!.length, 39);
    // Packets 4..6 carry bytes [0,30) [30,50) [50,117): request 1 in 4-5, request 2 in 5-6, request 3 in 6.
    const client = c.cut(true, all, 30, 20);
    // Responses of 41, 45 and 63 bytes in packets 7..9 carrying [0,10) [10,50) [50,149).
    const server = c.cut(false, responses.join(''), 10, 40);
    h.feedAll(client, 10 * kMs);
    h.feedAll(server, 20 * kMs);
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'GET', target: '/1', status: 200, request: [4, 5], response: [7, 8] },
      { outcome: 'matched', method: 'GET', target: '/2', status: 404, request: [5, 6], response: [8, 9] },
      { outcome: 'matched', method: 'GET', target: '/3', status: 500, request: [6, 6], response: [9, 9] },
    ]);
  });
});

describe('HTTP: message framing', () => {
  test('100 Continue is interim: the final response answers the request', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client('POST /u HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n'), 10 * kMs);
    h.feed(c.server('HTTP/1.1 100 Continue\r\n\r\n'), 11 * kMs);
    h.feed(c.client('abc'), 12 * kMs);
    h.feed(c.server(ok('ok')), 14 * kMs);
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'POST', target: '/u', status: 200, request: [4, 6], response: [7, 7] },
    ]);
    assert.equal(httpTime(h.pairs[0]!), 2 * kMs);
    assert.equal(h.protocol.interimResponses, 1);
  });

  test('a chunked response across segments (cut inside sizes, CRLFs and trailers) ends after its trailers', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/chunked') + get('/next')), 10 * kMs);
    const chunked =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' +
      '4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n';
    const head = chunked.indexOf('4\r\n');
    // Cuts: after "4\r", inside "5;na", between "\r" and "\n" after "pedia", inside the trailer CRLF, before the last LF.
    const cuts = [
      head + 2,
      chunked.indexOf('5;') + 4,
      chunked.indexOf('pedia') + 6,
      chunked.indexOf('Expires: never') + 15,
      chunked.length - 1,
    ];
    const lengths = cuts.map((cut, i) => cut - (i === 0 ? 0 : cuts[i - 1]!));
    const segments = c.cut(false, chunked + ok('second'), ...lengths);
    assert.equal(segments.length, 6);
    const last = h.feedAll(segments, 20 * kMs);
    assert.equal(last, 10);
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'matched',
        method: 'GET',
        target: '/chunked',
        status: 200,
        request: [4, 4],
        response: [5, 10],
      },
      {
        outcome: 'matched',
        method: 'GET',
        target: '/next',
        status: 200,
        request: [4, 4],
        response: [10, 10],
      },
    ]);
    assert.equal(h.pairs[0]!.response!.bytes, chunked.length);
    assert.equal(h.pairs[0]!.response!.packets, 6);
    assert.deepEqual(h.counts(), {});
  });

  test('a HEAD response has no body even with Content-Length', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(`HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n${get('/small')}`), 10 * kMs);
    h.feed(c.server('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n'), 11 * kMs);
    h.feed(c.server(ok('tiny')), 12 * kMs);
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'HEAD', target: '/big', status: 200, request: [4, 4], response: [5, 5] },
      { outcome: 'matched', method: 'GET', target: '/small', status: 200, request: [4, 4], response: [6, 6] },
    ]);
    assert.equal(h.pairs[0]!.detail!.response_content_length, 100000);
  });

  test('204 and 304 have no body', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/a') + get('/b') + get('/c')), 10 * kMs);
    h.feed(c.server('HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n'), 11 * kMs);
    h.feed(c.server('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n'), 12 * kMs);
    h.feed(c.server(ok('body')), 13 * kMs);
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, pair.detail!.status, pair.response!.packet]),
      [
        ['/a', 204, 5],
        ['/b', 304, 6],
        ['/c', 200, 7],
      ],
    );
  });

  test('a response without length ends at the FIN, whose packet is its last (as tshark reports it)', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/stream')), 10 * kMs);
    h.feed(c.server('HTTP/1.0 200 OK\r\n\r\npart one,'), 20 * kMs);
    h.feed(c.server(' part two'), 30 * kMs);
    assert.equal(h.pairs.length, 0);
    h.feed(c.fin(false), 40 * kMs);
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'matched',
        method: 'GET',
        target: '/stream',
        status: 200,
        request: [4, 4],
        response: [5, 7],
      },
    ]);
    assert.equal(httpTime(h.pairs[0]!), 30 * kMs);
    assert.equal(timeToFirstByte(h.pairs[0]!), 10 * kMs);
    assert.equal(h.pairs[0]!.response!.bytes, 'HTTP/1.0 200 OK\r\n\r\npart one, part two'.length);
  });

  test('a FIN on the last data segment ends the response there', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(
      [...c.handshake(), c.client(get('/x')), c.server('HTTP/1.1 200 OK\r\n\r\nab'), c.fin(false, 'cd')],
      0,
    );
    assert.deepEqual(summary(h.pairs[0]!).response, [5, 6]);
    assert.equal(h.pairs[0]!.response!.packets, 2);
  });

  test('a response without length cut by RST is incomplete: the request is unanswered (connection closed)', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(
      [...c.handshake(), c.client(get('/x')), c.server('HTTP/1.1 200 OK\r\n\r\nab'), c.rst(false)],
      0,
    );
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'unanswered',
        method: 'GET',
        target: '/x',
        status: null,
        request: [4, 4],
        response: null,
        reason: 'connection_closed',
      },
    ]);
    assert.equal(h.count('http.truncated_at_close'), 1);
  });

  test('RST in the middle of a response with Content-Length: unanswered, connection closed', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/big')), 10 * kMs);
    h.feed(c.server('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b'), 20 * kMs);
    h.feed(c.rst(true), 30 * kMs);
    assert.equal(h.pairs.length, 1);
    assert.equal(h.pairs[0]!.outcome, Outcome.Unanswered);
    assert.equal(h.pairs[0]!.unansweredReason, UnansweredReason.ConnectionClosed);
    assert.equal(h.count('http.truncated_at_close'), 1);
    assert.equal(h.protocol.pendingCount(), 0);
  });

  test('headers split across segments inside CRLF', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feedAll(c.cut(true, 'GET /split HTTP/1.1\r\nHost: a\r\n\r\n', 20, 10, 1), 10 * kMs);
    h.feedAll(c.cut(false, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 16, 21, 1), 20 * kMs);
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'matched',
        method: 'GET',
        target: '/split',
        status: 200,
        request: [4, 7],
        response: [8, 11],
      },
    ]);
    assert.equal(h.pairs[0]!.detail!.host, 'a');
  });

  test('a client half-close does not stop the response', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.fin(true, get('/bye')), c.server(ok('ciao')), c.fin(false)], 0);
    assert.deepEqual(summary(h.pairs[0]!).outcome, 'matched');
    assert.equal(h.pairs.length, 1);
  });
});

describe('HTTP over imperfect TCP', () => {
  test('a retransmitted request segment makes no second request', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    const request = c.client(get('/once'));
    h.feedAll([...c.handshake(), request, request.copy(), c.server(ok('1'))], 0);
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'GET', target: '/once', status: 200, request: [4, 4], response: [6, 6] },
    ]);
  });

  test('a duplicated response segment is ignored', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/a') + get('/b')), 10 * kMs);
    const first = c.server(ok('A'));
    h.feed(first, 11 * kMs);
    h.feed(first.copy(), 12 * kMs);
    h.feed(c.server(ok('B')), 13 * kMs);
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, pair.response!.packet]),
      [
        ['/a', 5],
        ['/b', 7],
      ],
    );
    assert.deepEqual(h.counts(), {});
  });

  test('out of order: the request is complete when its first segment finally arrives', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    const [first, second] = c.cut(true, get('/ooo'), 10);
    h.feed(second!, 10 * kMs);
    h.feed(first!, 15 * kMs);
    h.feed(c.server(ok('')), 20 * kMs);
    assert.deepEqual(summary(h.pairs[0]!), {
      outcome: 'matched',
      method: 'GET',
      target: '/ooo',
      status: 200,
      request: [5, 5],
      response: [6, 6],
    });
    assert.equal(httpTime(h.pairs[0]!), 5 * kMs);
  });

  test('an overlapping retransmission with new data delivers only the new bytes', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/overlap')), 10 * kMs);
    const response = ok('0123456789');
    const [head] = c.cut(false, response, 30);
    h.feed(head!, 11 * kMs);
    // The retransmission repeats bytes 20..30 and carries the rest.
    const resend = head!.split(20)[1];
    resend.payload = bytes(response.slice(20));
    c.serverNext = (head!.seq + response.length) >>> 0;
    h.feed(resend, 12 * kMs);
    assert.deepEqual(summary(h.pairs[0]!).response, [5, 6]);
    assert.equal(h.pairs[0]!.response!.bytes, response.length);
  });

  test('sequence numbers wrapping inside a message', () => {
    const h = new HttpHarness();
    const c = new TcpConversation({ clientIsn: 0xfffffff0, serverIsn: 0xffffffe0 });
    h.feedAll(c.handshake(), 0);
    h.feedAll(c.cut(true, get('/wrap'), 12), 10 * kMs);
    h.feedAll(c.cut(false, ok('wrapped body'), 25), 20 * kMs);
    assert.deepEqual(summary(h.pairs[0]!), {
      outcome: 'matched',
      method: 'GET',
      target: '/wrap',
      status: 200,
      request: [4, 5],
      response: [6, 7],
    });
  });

  test('a gap inside a body of known length keeps framing', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/a') + get('/b')), 10 * kMs);
    const [head, , tail] = c.cut(false, ok('x'.repeat(100)), 60, 20);
    h.feed(head!, 11 * kMs);
    h.feed(tail!, 12 * kMs); // the 20 bytes before it were lost
    h.feed(c.ack(true), 13 * kMs); // the client acknowledges them: the hole is given up
    h.feed(c.server(ok('B')), 14 * kMs);
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, pair.response!.packet, pair.response!.lastPacket]),
      [
        ['/a', 5, 6],
        ['/b', 8, 8],
      ],
    );
    assert.equal(h.pairs[0]!.response!.bytes, ok('x'.repeat(100)).length - 20);
    assert.equal(h.count('http.gap_in_body'), 1);
  });

  test('a gap in a response head loses that response only: later requests pair correctly', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/lost')), 10 * kMs);
    c.server(ok('lost response')); // not captured
    h.feed(c.ack(true), 30 * kMs); // ACKs it: no retransmission will come
    h.feed(c.client(get('/later')), 40 * kMs);
    h.feed(c.server(ok('later response')), 50 * kMs);
    h.finish();
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'GET', target: '/later', status: 200, request: [6, 6], response: [7, 7] },
      {
        outcome: 'unanswered',
        method: 'GET',
        target: '/lost',
        status: null,
        request: [4, 4],
        response: null,
        reason: 'end_of_input',
      },
    ]);
    assert.equal(h.count('http.gap_resync'), 1);
  });

  test('a response cannot answer a request sent after it started (lost request)', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(get('/first'))], 0);
    c.client(get('/lost')); // not captured
    h.feed(c.server(ok('first') + ok('lost')), 20 * kMs); // acks the lost request: its hole is given up
    h.feed(c.client(get('/third')), 30 * kMs);
    h.feed(c.server(ok('third')), 40 * kMs);
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, pair.response!.packet]),
      [
        ['/first', 5],
        ['/third', 7],
      ],
    );
    assert.equal(h.count('http.response_without_request'), 1);
  });

  test('a gap in a request head loses that request; the next one pairs with its own response', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    const [kept] = c.cut(true, get('/a'), 20);
    h.feed(kept!, 10 * kMs); // the rest of /a's head is lost
    h.feed(c.server(ok('for a')), 20 * kMs); // answers /a, which never became a request
    h.feed(c.client(get('/b')), 30 * kMs); // after the hole: held
    h.feed(c.server(ok('for b')), 40 * kMs); // its ACK gives the hole up
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'GET', target: '/b', status: 200, request: [6, 6], response: [7, 7] },
    ]);
    assert.deepEqual(h.counts(), {
      'http.gap_resync': 1,
      'http.response_without_request': 1,
      'tcp.gap': 1,
    });
  });

  test('HTTP on a non-standard port, capture started mid-connection with the server on the higher port', () => {
    const h = new HttpHarness();
    const c = new TcpConversation({ clientPort: 8868, serverPort: 31_600 });
    h.feedAll([c.client(get('/portal')), c.server(ok('x'))], 0);
    assert.equal(h.pairs.length, 1);
    assert.equal(h.pairs[0]!.clientPort, 8868);
    assert.equal(h.pairs[0]!.serverPort, 31_600);
    assert.equal(h.pairs[0]!.outcome, Outcome.Matched);
  });

  test('port reuse with a new SYN: the old connection closes its pending request', () => {
    const h = new HttpHarness();
    const first = new TcpConversation({ clientIsn: 10 });
    h.feedAll([...first.handshake(), first.client(get('/old'))], 0);
    const second = new TcpConversation({ clientIsn: 3_000_000_000 });
    h.feedAll([...second.handshake(), second.client(get('/new')), second.server(ok('n'))], 10 * kMs);
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'unanswered',
        method: 'GET',
        target: '/old',
        status: null,
        request: [4, 4],
        response: null,
        reason: 'connection_closed',
      },
      { outcome: 'matched', method: 'GET', target: '/new', status: 200, request: [8, 8], response: [9, 9] },
    ]);
  });
});

describe('HTTP: unanswered requests', () => {
  test('expiry by capture time, and a late response consumes its tombstone', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/slow')), kSecond);
    h.feed(c.client(get('/next')), 20 * kSecond);
    h.expire(31 * kSecond);
    assert.equal(h.pairs.length, 0);
    h.expire(31 * kSecond + 1);
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'unanswered',
        method: 'GET',
        target: '/slow',
        status: null,
        request: [4, 4],
        response: null,
        reason: 'expired',
      },
    ]);
    assert.equal(h.protocol.pendingCount(), 1);
    h.feed(c.server(ok('late')), 35 * kSecond);
    h.feed(c.server(ok('next', '202 Accepted')), 36 * kSecond);
    assert.equal(h.pairs.length, 2);
    assert.deepEqual([h.pairs[1]!.detail!.target, h.pairs[1]!.detail!.status], ['/next', 202]);
    assert.equal(h.count('http.late_response'), 1);
    assert.equal(h.protocol.pendingCount(), 0);
  });

  test('the timeout is options.timeoutNanos.http', () => {
    const h = new HttpHarness((options) => {
      options.timeoutNanos.http = 2 * kSecond;
    });
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(get('/t'))], 0);
    h.expire(3 * kMs + 2 * kSecond);
    assert.equal(h.pairs.length, 0);
    h.expire(3 * kMs + 2 * kSecond + 1);
    assert.equal(h.pairs[0]!.unansweredReason, UnansweredReason.Expired);
  });

  test('tombstones are capped per connection (a server that never answers)', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(Array.from({ length: 70 }, (_, i) => get(`/${i}`)).join('')), kMs);
    h.expire(40 * kSecond);
    assert.equal(h.pairs.length, 70);
    h.feed(c.server(Array.from({ length: 70 }, () => ok('')).join('')), 41 * kSecond);
    assert.equal(h.pairs.length, 70);
    assert.equal(h.count('http.late_response'), 64);
    assert.equal(h.count('http.response_without_request'), 6);
  });

  test('pipelined requests beyond kMaxQueuedRequests on one connection: the oldest are evicted (counted)', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    const extra = 10;
    const total = kMaxQueuedRequests + extra;
    for (let i = 0; i < total; i += 100) {
      const batch = Array.from({ length: Math.min(100, total - i) }, (_, k) => get(`/${i + k}`));
      h.feed(c.client(batch.join('')), kMs + i);
    }
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, UnansweredReasonNames[pair.unansweredReason]]),
      Array.from({ length: extra }, (_, i) => [`/${i}`, 'evicted']),
    );
    assert.equal(h.count('http.queue_evicted'), extra);
    assert.equal(h.protocol.pendingCount(), kMaxQueuedRequests);
    // The next response answers the oldest request still queued.
    h.feed(c.server(ok('')), kSecond);
    assert.deepEqual(
      [h.pairs[extra]!.detail!.target, h.pairs[extra]!.outcome],
      [`/${extra}`, Outcome.Matched],
    );
  });

  test('tombstones and answers keep FIFO order across queue compaction', () => {
    // 300 requests; the first 200 expire (64 tombstones kept), then responses arrive: 64 late
    // ones consume the tombstones, and the rest answer /200.. in order.
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(Array.from({ length: 200 }, (_, i) => get(`/${i}`)).join('')), kMs);
    h.feed(c.client(Array.from({ length: 100 }, (_, i) => get(`/${200 + i}`)).join('')), 20 * kSecond);
    h.expire(40 * kSecond);
    assert.equal(h.pairs.length, 200);
    h.feed(c.server(Array.from({ length: 64 + 100 }, () => ok('')).join('')), 41 * kSecond);
    assert.equal(h.count('http.late_response'), 64);
    const matched = h.pairs.slice(200).map((pair) => pair.detail!.target);
    assert.deepEqual(
      matched,
      Array.from({ length: 100 }, (_, i) => `/${200 + i}`),
    );
    assert.equal(h.protocol.pendingCount(), 0);
  });

  test('a response still arriving keeps restarting the timeout', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(get('/download'))], 0);
    h.feed(c.server('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab'), kSecond);
    h.feed(c.server('cd'), 25 * kSecond);
    h.expire(50 * kSecond);
    h.feed(c.server('ef'), 50 * kSecond);
    h.expire(60 * kSecond);
    assert.deepEqual(summary(h.pairs[0]!).outcome, 'matched');
    assert.equal(h.pairs.length, 1);
  });

  test('the pending cap evicts the oldest request (counted)', () => {
    const h = new HttpHarness((options) => {
      options.maxPending.http = 2;
    });
    const conversations = [1, 2, 3].map((i) => new TcpConversation({ clientPort: 40_000 + i }));
    let at = 0;
    for (const c of conversations) {
      h.feedAll([...c.handshake(), c.client(get(`/${c.clientPort}`))], at);
      at += 10 * kMs;
    }
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'unanswered',
        method: 'GET',
        target: '/40001',
        status: null,
        request: [4, 4],
        response: null,
        reason: 'evicted',
      },
    ]);
    assert.equal(h.count('http.evicted'), 1);
    assert.equal(h.protocol.pendingCount(), 2);
    for (const c of conversations.slice(1)) h.feed(c.server(ok('')), at);
    assert.deepEqual(
      h.pairs.slice(1).map((pair) => [pair.detail!.target, pair.outcome]),
      [
        ['/40002', Outcome.Matched],
        ['/40003', Outcome.Matched],
      ],
    );
  });

  test('flush reports what is pending as end of input', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(get('/never'))], 0);
    assert.equal(h.matcher.pendingCount(), 1);
    h.finish();
    assert.equal(h.pairs[0]!.unansweredReason, UnansweredReason.EndOfInput);
    assert.equal(h.matcher.pendingCount(), 0);
  });

  test('a server close reports every queued request as connection closed', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(get('/1') + get('/2')), c.server(ok('1')), c.fin(false)], 0);
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, pair.outcome, pair.unansweredReason]),
      [
        ['/1', Outcome.Matched, UnansweredReason.Expired],
        ['/2', Outcome.Unanswered, UnansweredReason.ConnectionClosed],
      ],
    );
  });
});

describe('HTTP: what is not HTTP', () => {
  test('non-HTTP connections never produce pairs or HTTP skips', () => {
    const h = new HttpHarness();
    const ssh = new TcpConversation({ clientPort: 50_001, serverPort: 22 });
    h.feedAll(
      [...ssh.handshake(), ssh.server('SSH-2.0-OpenSSH_9.6\r\n'), ssh.client('SSH-2.0-client\r\n')],
      0,
    );
    const tls = new TcpConversation({ clientPort: 50_002, serverPort: 443 });
    h.feedAll(
      [...tls.handshake(), tls.client(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))],
      10 * kMs,
    );
    const smtp = new TcpConversation({ clientPort: 50_003, serverPort: 25 });
    h.feedAll([...smtp.handshake(), smtp.server('220 mail ESMTP\r\n'), smtp.client('EHLO me\r\n')], 20 * kMs);
    const lookalike = new TcpConversation({ clientPort: 50_004, serverPort: 80 });
    h.feedAll([...lookalike.handshake(), lookalike.client('GET / HTTP/2.0\r\n\r\n')], 30 * kMs);
    const responseFirst = new TcpConversation({ clientPort: 50_005, serverPort: 80 });
    h.feedAll([...responseFirst.handshake(), responseFirst.client(ok('not a request'))], 40 * kMs);
    h.finish();
    assert.deepEqual(h.pairs, []);
    assert.deepEqual(h.counts(), {});
  });

  test('101 Switching Protocols pairs, then the connection is no longer parsed', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/ws', 'Upgrade: websocket\r\nConnection: Upgrade\r\n')), 10 * kMs);
    h.feed(c.server('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello'), 20 * kMs);
    h.feed(c.client('\x81\x85masked!'), 30 * kMs);
    h.feed(c.server('GET / HTTP/1.1\r\n\r\n'), 40 * kMs);
    h.finish();
    assert.deepEqual(h.pairs.map(summary), [
      { outcome: 'matched', method: 'GET', target: '/ws', status: 101, request: [4, 4], response: [5, 5] },
    ]);
    assert.deepEqual(h.counts(), {});
  });

  test('a 2xx to CONNECT turns the connection into a tunnel', () => {
    const h = new HttpHarness();
    const c = new TcpConversation({ serverPort: 3128 });
    h.feedAll(c.handshake(), 0);
    h.feed(c.client('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n'), 10 * kMs);
    h.feed(c.server('HTTP/1.1 200 Connection established\r\n\r\n'), 20 * kMs);
    h.feed(c.client(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])), 30 * kMs);
    h.feed(c.server(new Uint8Array([0x16, 0x03, 0x03, 0x00, 0x01, 9])), 40 * kMs);
    h.finish();
    assert.equal(h.pairs.length, 1);
    assert.equal(h.pairs[0]!.detail!.method, 'CONNECT');
    assert.equal(h.pairs[0]!.detail!.target, 'example.test:443');
    assert.deepEqual(h.counts(), {});
  });

  test('a second response to one request is counted, not paired', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll([...c.handshake(), c.client(get('/')), c.server(ok('1') + ok('2'))], 0);
    assert.equal(h.pairs.length, 1);
    assert.equal(h.count('http.response_without_request'), 1);
  });

  test('an unparsable Content-Length makes the response unframeable: counted, resync', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    h.feed(c.client(get('/bad')), 10 * kMs);
    h.feed(c.server('HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nwhatever'), 20 * kMs);
    h.feed(c.client(get('/good')), 30 * kMs);
    h.feed(c.server(ok('fine')), 40 * kMs);
    h.finish();
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, pair.outcome]),
      [
        ['/good', Outcome.Matched],
        ['/bad', Outcome.Unanswered],
      ],
    );
    assert.equal(h.count('http.malformed'), 1);
  });

  test('a header block over 64 KiB gives up the connection', () => {
    const h = new HttpHarness();
    const c = new TcpConversation();
    h.feedAll(c.handshake(), 0);
    const huge = `GET /huge HTTP/1.1\r\nCookie: ${'c'.repeat(70_000)}\r\n\r\n`;
    h.feedAll(c.cut(true, huge, 30_000, 30_000), 10 * kMs);
    h.feed(c.server(ok('x')), 20 * kMs);
    h.feed(c.client(get('/after')), 30 * kMs);
    h.feed(c.server(ok('y')), 40 * kMs);
    h.finish();
    assert.deepEqual(h.pairs, []);
    assert.equal(h.count('http.header_too_large'), 1);
  });

  test('long target, Host, User-Agent and traceparent are cut at their caps, marked and counted', () => {
    const h = new HttpHarness((options) => {
      options.httpKeepQuery = true;
    });
    const c = new TcpConversation();
    const target = `/${'t'.repeat(5000)}`;
    const extra = `User-Agent: ${'u'.repeat(3000)}\r\ntraceparent: ${'0'.repeat(200)}\r\n`;
    const request = `GET ${target} HTTP/1.1\r\nHost: ${'h'.repeat(1000)}\r\n${extra}\r\n`;
    h.feedAll([...c.handshake(), c.client(request), c.server(ok(''))], 0);
    const detail = h.pairs[0]!.detail!;
    assert.equal(detail.target, `${target.slice(0, kMaxTargetBytes)}${kTruncatedMarker}`);
    assert.equal(detail.host, `${'h'.repeat(kMaxHostBytes)}${kTruncatedMarker}`);
    assert.equal(detail.user_agent, `${'u'.repeat(kMaxUserAgentBytes)}${kTruncatedMarker}`);
    assert.equal(detail.traceparent, `${'0'.repeat(kMaxTraceparentBytes)}${kTruncatedMarker}`);
    assert.equal(h.count('http.field_truncated'), 4);
    // At the cap exactly: kept whole, not counted.
    const d = new TcpConversation({ clientPort: 40_123 });
    h.feedAll(
      [...d.handshake(), d.client(get(`/${'a'.repeat(kMaxTargetBytes - 1)}`)), d.server(ok(''))],
      kSecond,
    );
    assert.equal((h.pairs[1]!.detail!.target as string).length, kMaxTargetBytes);
    assert.equal(h.count('http.field_truncated'), 4);
  });

  test('a response first, before any request, is never claimed (content decides)', () => {
    const h = new HttpHarness();
    const c = new TcpConversation({ clientPort: 8080, serverPort: 60_000 });
    // Mid-connection: the server (higher port, so guessed as client) sends a response first.
    h.feedAll([c.server(ok('orphan')), c.client(get('/x')), c.server(ok('y'))], 0);
    assert.deepEqual(
      h.pairs.map((pair) => [pair.detail!.target, pair.clientPort]),
      [['/x', 8080]],
    );
  });
});

describe('HTTP: connection state reused', () => {
  test('an early response (before the request body ends) emits the pair as it is then; later request bytes leave it alone', () => {
    const { h, c, head, part1, part2 } = putInThreeSegments();
    h.feed(head, 10 * kMs);
    h.feed(part1, 11 * kMs);
    // The server refuses before the upload ends; sinks may keep the pair they were given.
    h.feed(c.server('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n'), 12 * kMs);
    assert.equal(h.pairs.length, 1);
    const emitted = JSON.stringify(h.pairs[0]);
    assert.equal(h.pairs[0]!.request.packets, 2);
    h.feed(part2, 13 * kMs);
    h.finish();
    assert.equal(h.pairs.length, 1);
    assert.equal(JSON.stringify(h.pairs[0]), emitted);
  });

  test('a connection forgotten mid-request keeps its request edges; the next one reuses its parsers afresh', () => {
    // One tracked connection: the second one's SYN evicts the first, whose upload is in progress.
    const h = new HttpHarness(undefined, { maxConnections: 1 });
    const first = new TcpConversation({ clientPort: 40_000 });
    h.feedAll(
      [
        ...first.handshake(),
        first.client('POST /up HTTP/1.1\r\nHost: example.test\r\nContent-Length: 10\r\n\r\nabcd'),
        first.client('ef'),
      ],
      0,
    );
    const second = new TcpConversation({ clientPort: 40_001 });
    h.feedAll([...second.handshake(), second.client(get('/next')), second.server(ok('hi'))], 10 * kMs);
    assert.equal(h.count('tcp.connection_evicted'), 1);
    h.finish();
    assert.deepEqual(h.pairs.map(summary), [
      {
        outcome: 'matched',
        method: 'GET',
        target: '/next',
        status: 200,
        request: [9, 9],
        response: [10, 10],
      },
      {
        outcome: 'unanswered',
        method: 'POST',
        target: '/up',
        status: null,
        request: [4, 5],
        response: null,
        reason: 'end_of_input',
      },
    ]);
    assert.deepEqual(
      h.pairs.map((pair) => pair.clientPort),
      [40_001, 40_000],
    );
  });
});
