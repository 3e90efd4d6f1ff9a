import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type FramerOwner,
  Framing,
  HttpFramer,
  kMaxMethodLength,
  MessageHead,
  parseHead,
  redactQuery,
  startsRequest,
} from '../../../agent/correlate/http/parse.ts';
import { PacketView } from '../../../agent/correlate/matcher.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';
import { bytes } from '../tcp-stream/builder.ts';

function starts(text: string): boolean {
  const data = bytes(`xx${text}yy`);
  return startsRequest(data, 2, data.length - 4);
}

function head(text: string, isRequest: boolean, keepQuery = false): MessageHead {
  const result = new MessageHead();
  const data = bytes(text);
  parseHead(data, data.length, isRequest, keepQuery, result);
  return result;
}

describe('startsRequest (the claim test)', () => {
  test('accepts a complete request line with any token method', () => {
    assert.equal(starts('GET / HTTP/1.1\r\n'), true);
    assert.equal(starts('PROPFIND /dav HTTP/1.1\r\nDepth: 1\r\n'), true);
    assert.equal(starts('M-SEARCH * HTTP/1.1\r\n'), true);
    assert.equal(starts('GET / HTTP/1.0\n'), true);
  });

  test('accepts a cut line that is a valid prefix of a request line', () => {
    assert.equal(starts('G'), true);
    assert.equal(starts('PROPF'), true);
    assert.equal(starts('GET /pa'), true);
    assert.equal(starts('PROPFIND /dav HTTP/1'), true);
    assert.equal(starts('GET /path HTTP/1.1\r'), true);
    assert.equal(starts('GET /path HTTP/2'), false);
    assert.equal(starts('GET /path HTTP/1.1 x'), false);
    assert.equal(starts('\r'), false);
  });

  test('rejects what is not a request line', () => {
    assert.equal(starts('HTTP/1.1 200 OK\r\n'), false);
    assert.equal(starts('GET / HTTP/2.0\r\n'), false);
    assert.equal(starts('GET  / HTTP/1.1\r\n'), false);
    assert.equal(starts('GET / HTTP/1.1 \r\n'), false);
    assert.equal(starts(' GET / HTTP/1.1\r\n'), false);
    assert.equal(starts('G(T / HTTP/1.1\r\n'), false);
    assert.equal(starts('SSH-2.0-OpenSSH\r\n'), false);
    assert.equal(starts(`${'A'.repeat(kMaxMethodLength + 1)} / HTTP/1.1\r\n`), false);
    assert.equal(starts(`${'A'.repeat(kMaxMethodLength)} / HTTP/1.1\r\n`), true);
    assert.equal(starts(''), false);
  });
});

describe('parseHead', () => {
  test('request line, version and the fields kept', () => {
    const h = head(
      'GET /a/b?x=1 HTTP/1.0\r\nhost: h.test\r\nUSER-AGENT: ua\r\nTraceParent: 00-x\r\nX-Other: 1\r\n\r\n',
      true,
    );
    assert.deepEqual(
      [h.method, h.target, h.version, h.host, h.userAgent, h.traceparent, h.framing],
      ['GET', '/a/b?REDACTED', '1.0', 'h.test', 'ua', '00-x', Framing.None],
    );
    assert.equal(head('GET /a/b?x=1 HTTP/1.1\r\n\r\n', true, true).target, '/a/b?x=1');
  });

  test('status line', () => {
    const h = head('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n', false);
    assert.deepEqual([h.status, h.version, h.contentLength, h.framing], [404, '1.1', 9, Framing.Length]);
    assert.equal(head('HTTP/1.0 200\r\n\r\n', false).status, 200);
  });

  test('a response without length runs until close; a request without length has no body', () => {
    assert.equal(head('HTTP/1.1 200 OK\r\n\r\n', false).framing, Framing.UntilClose);
    assert.equal(head('POST / HTTP/1.1\r\n\r\n', true).framing, Framing.None);
  });

  test('Content-Length: lists of equal values, repeated equal fields, and the invalid ones', () => {
    assert.equal(head('HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n', false).contentLength, 7);
    assert.equal(
      head('HTTP/1.1 200 OK\r\nContent-Length: 7\r\ncontent-length:7\r\n\r\n', false).framing,
      Framing.Length,
    );
    for (const bad of ['7, 8', 'abc', '', '-1', '99999999999999999999', '7,']) {
      assert.equal(
        head(`HTTP/1.1 200 OK\r\nContent-Length: ${bad}\r\n\r\n`, false).framing,
        Framing.Invalid,
        `Content-Length: ${bad}`,
      );
    }
    assert.equal(
      head('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n', false).framing,
      Framing.Invalid,
    );
  });

  test('Transfer-Encoding: the final coding decides and it overrides Content-Length', () => {
    assert.equal(
      head('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n', false).framing,
      Framing.Chunked,
    );
    assert.equal(
      head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', false).framing,
      Framing.UntilClose,
    );
    assert.equal(head('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', true).framing, Framing.Invalid);
    assert.equal(
      head('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n', true).framing,
      Framing.Chunked,
    );
  });

  test('lines that are not fields (and obs-fold continuations) are ignored', () => {
    const h = head(
      'GET / HTTP/1.1\r\nno colon here\r\n continued: value\r\n: empty name\r\nHost: ok\r\n\r\n',
      true,
    );
    assert.equal(h.host, 'ok');
  });

  test('a name cut by CR, LF, a space or the end of its line makes no field', () => {
    const lines = ['Ho\rst: bad1', 'Host\r', 'Host', 'Host : bad2', 'Host\t: bad3', 'Host: ok'];
    for (const eol of ['\r\n', '\n']) {
      const h = head(`GET / HTTP/1.1${eol}${lines.join(eol)}${eol}${eol}`, true);
      assert.equal(h.host, 'ok', JSON.stringify(eol));
    }
  });
});

describe('redactQuery', () => {
  test('replaces everything after the first "?"', () => {
    assert.equal(redactQuery('/p?a=1&b=2'), '/p?REDACTED');
    assert.equal(redactQuery('/p?'), '/p?REDACTED');
    assert.equal(redactQuery('/p'), '/p');
    assert.equal(redactQuery('http://h/p?q'), 'http://h/p?REDACTED');
  });
});

/** Records framer events; frames every message by its own fields. */
class RecordingOwner implements FramerOwner {
  readonly events: string[] = [];
  onHead(framer: HttpFramer): Framing {
    const h = framer.head;
    this.events.push(framer.isRequest ? `head ${h.method} ${h.target}` : `head ${h.status}`);
    return h.framing;
  }
  onMessageEnd(framer: HttpFramer): void {
    this.events.push(`end ${framer.edges.bytes}B @${framer.edges.packet}-${framer.edges.lastPacket}`);
  }
  onMessageLost(): void {
    this.events.push('lost');
  }
  onHeadTooLarge(): void {
    this.events.push('too large');
  }
  onResync(): void {
    this.events.push('resync');
  }
}

function framer(isRequest = false): {
  framer: HttpFramer;
  owner: RecordingOwner;
  skips: SkipCounters;
  feed(text: string): void;
} {
  const owner = new RecordingOwner();
  const skips = new SkipCounters();
  const f = new HttpFramer(isRequest, owner, skips, false);
  const view = new PacketView();
  return {
    framer: f,
    owner,
    skips,
    feed(text: string) {
      view.packetNumber++;
      const data = bytes(text);
      f.feed(data, 0, data.length, view);
    },
  };
}

describe('HttpFramer', () => {
  test('empty lines between messages are skipped; edges follow each message', () => {
    const t = framer();
    t.feed('\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\nHTTP/1.1 202 Acc');
    t.feed('epted\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(t.owner.events, ['head 200', 'end 40B @1-1', 'head 202', 'end 44B @1-2']);
  });

  test('chunk framing errors are malformed: the message is lost and the framer resyncs', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n');
    t.feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(t.owner.events, ['head 200', 'lost', 'resync', 'head 200', 'end 38B @2-2']);
    assert.equal(t.skips.get(skipReason('http.malformed')), 1);
  });

  test('chunk data must be followed by CRLF', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX');
    assert.deepEqual(t.owner.events, ['head 200', 'lost', 'resync']);
  });

  test('an oversized chunk size is malformed', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abc\r\n');
    assert.deepEqual(t.owner.events, ['head 200', 'lost', 'resync']);
  });

  test('a malformed start line is counted once; resync candidates are not', () => {
    const t = framer(true);
    t.feed('BLAH\r\nmore garbage\r\nstill not\r\nGET /x HTTP/1.1\r\n\r\n');
    assert.deepEqual(t.owner.events, ['resync', 'head GET /x', 'end 19B @1-1']);
    assert.equal(t.skips.get(skipReason('http.malformed')), 1);
  });

  test('a gap at a message boundary resyncs at the very next byte', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    t.framer.gap(100, new PacketView());
    t.feed('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(t.owner.events, ['head 200', 'end 39B @1-1', 'resync', 'head 201', 'end 43B @2-2']);
    assert.equal(t.skips.get(skipReason('http.gap_resync')), 1);
  });

  test('a gap inside chunk data keeps framing', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01');
    t.framer.gap(6, new PacketView());
    t.feed('89\r\n0\r\n\r\n');
    assert.deepEqual(t.owner.events, ['head 200', 'end 61B @1-2']);
    assert.equal(t.skips.get(skipReason('http.gap_in_body')), 1);
  });

  test('a gap reaching past a body end loses the message', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab');
    t.framer.gap(10, new PacketView());
    assert.deepEqual(t.owner.events, ['head 200', 'lost', 'resync']);
  });

  test('a gap ending exactly at the body end completes the message', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab');
    t.framer.gap(3, new PacketView());
    assert.deepEqual(t.owner.events, ['head 200', 'end 40B @1-1']);
  });

  test('trailers are bounded', () => {
    const t = framer();
    t.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n');
    t.feed(`X: ${'y'.repeat(70_000)}`);
    assert.deepEqual(t.owner.events, ['head 200', 'lost', 'resync']);
  });
});

test('field values shared through the intern cache are always the bytes of their own head', () => {
  // 3,000 distinct values over a 512-slot cache: collisions, same-length neighbours, UTF-8 and
  // values at and beyond the intern limit, each parsed twice in a shuffled order.
  const values: string[] = [];
  for (let i = 0; i < 3000; i++) values.push(`h${i}.example.test`);
  values.push(
    'h\u00e9llo.example',
    'caf\u00e9',
    'x'.repeat(127),
    'x'.repeat(128),
    'y'.repeat(129),
    'ab',
    'ba',
  );
  const order = [...values.keys(), ...values.keys()];
  let seed = 5;
  for (let i = order.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const encoder = new TextEncoder();
  for (const index of order) {
    const value = values[index]!;
    const data = encoder.encode(
      `GET /p/${value} HTTP/1.1\r\nHost: ${value}\r\nUser-Agent: ua ${value}\r\n\r\n`,
    );
    const head = new MessageHead();
    parseHead(data, data.length, true, true, head);
    assert.equal(head.host, value);
    assert.equal(head.userAgent, `ua ${value}`);
    assert.equal(head.target, `/p/${value}`);
  }
});
