/**
 * Redis pairing rules and hostile input on hand-built segments: RESP3 attributes and blob errors,
 * pushes, inline commands, empty requests, framing lost and found, declared lengths of 2^31,
 * deep nesting and a million pipelined commands (bounded, counted, no crash).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kMaxQueuedRequests } from '../../../agent/correlate/redis/matcher.ts';
import { kMaxDepth } from '../../../agent/correlate/redis/resp.ts';
import { RedisHarness, resp } from './harness.ts';

const handshake = (h: RedisHarness) => h.feed(...h.conversation.handshake());

test('pipelined commands pair in order, and replies split anywhere still pair', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client(resp('SET', 'a', 'secret-value') + resp('GET', 'a') + resp('INCR', 'a'));
  const replies = '+OK\r\n$12\r\nsecret-value\r\n-ERR value is not an integer or out of range\r\n';
  // Every split point: one byte at a time.
  for (const ch of replies) h.server(ch);
  h.finish();
  assert.deepEqual(
    h.details().map((d) => [d.query, d.reply, d.error]),
    [
      ['SET a ?', 'status', null],
      ['GET a', 'bulk', null],
      ['INCR a', 'error', 'ERR'],
    ],
  );
  assert.ok(!JSON.stringify(h.details()).includes('secret'), 'values never exported');
});

test('RESP3: attributes belong to the reply they precede, blob errors are errors, pushes answer nothing', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client(resp('GET', 'k') + resp('EVALSHA', 'abc123', '1', 'k', 'v') + resp('PING'));
  h.server('|1\r\n+ttl\r\n:3600\r\n$1\r\nx\r\n'); // attribute, then the bulk
  h.server('>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n'); // a tracking push between replies
  h.server('!20\r\nNOSCRIPT No matching\r\n');
  h.server('+PONG\r\n');
  h.finish();
  assert.deepEqual(
    h.details().map((d) => [d.command, d.reply, d.error, d.query, d.script ?? null]),
    [
      ['GET', 'bulk', null, 'GET k', null],
      ['EVALSHA', 'error', 'NOSCRIPT', 'EVALSHA abc123 1 k ?', 'abc123'],
      ['PING', 'status', null, 'PING', null],
    ],
  );
  assert.equal(h.count('redis.response_without_request'), 0);
});

test('inline commands pair; empty requests get no reply and are no request', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client('PING\r\n*0\r\n\r\nSET key value\r\n');
  h.server('+PONG\r\n+OK\r\n');
  h.finish();
  assert.deepEqual(
    h.details().map((d) => [d.query, d.reply]),
    [
      ['PING', 'status'],
      ['SET key ?', 'status'],
    ],
  );
});

test('RESP2 pub/sub: a confirmation per channel, the first answers, messages are pushes; MONITOR feeds are pushes', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client(resp('SUBSCRIBE', 'a', 'b'));
  const confirm = (channel: string, n: number) => `*3\r\n$9\r\nsubscribe\r\n$1\r\n${channel}\r\n:${n}\r\n`;
  h.server(confirm('a', 1) + confirm('b', 2));
  h.server('*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n');
  h.client(resp('PING'));
  h.server('*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nyo\r\n'); // before PING's reply
  h.server('*2\r\n$4\r\npong\r\n$0\r\n\r\n');
  h.finish();
  assert.deepEqual(
    h.details().map((d) => [d.command, d.reply]),
    [
      ['SUBSCRIBE', 'array'],
      ['PING', 'array'],
    ],
  );
  const monitor = new RedisHarness();
  handshake(monitor);
  monitor.client(resp('MONITOR'));
  monitor.server('+OK\r\n');
  monitor.server(
    '+1700000000.1 [0 127.0.0.1:5000] "GET" "k"\r\n+1700000000.2 [0 127.0.0.1:5000] "SET" "k" "v"\r\n',
  );
  monitor.finish();
  assert.deepEqual(
    monitor.details().map((d) => [d.command, d.reply]),
    [['MONITOR', 'status']],
  );
  assert.equal(monitor.count('redis.response_without_request'), 0, 'the feed is pushes');
  assert.equal(h.count('redis.response_without_request'), 0);
});

test('not RESP on the port: skipped and counted once per loss of framing, never paired', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00]));
  h.server(new Uint8Array([0x16, 0x03, 0x03, 0x00, 0x5a]));
  h.client(new Uint8Array([0x17, 0x03, 0x03, 0x00, 0x20]));
  h.finish();
  assert.equal(h.pairs.length, 0);
  assert.equal(h.count('redis.unframed'), 2, 'once per direction');
});

test('framing lost mid-stream resumes at the next segment that starts a message', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client(resp('GET', 'a'));
  h.server('$3\r\nab\x00\x00garbage'); // declared 3, more bytes: bad terminator
  h.client(resp('GET', 'b'));
  h.server('$1\r\nb\r\n');
  h.finish();
  const details = h.details();
  assert.equal(h.count('redis.unframed'), 1);
  assert.deepEqual(
    details.map((d) => [d.query, d.reply]),
    [
      ['GET b', 'bulk'],
      ['GET a', null],
    ],
    "GET b's reply is matched by time; GET a, answered in lost bytes, is reported unanswered at the end",
  );
});

test('a declared length of 2^31 is a counter, not a buffer: the request stays one pending request', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${2 ** 31}\r\n`);
  const chunk = 'x'.repeat(60_000);
  for (let i = 0; i < 200; i++) h.client(chunk); // 12 MB of the value, skipped by counting
  assert.equal(h.matcher.pendingCount(), 1);
  assert.equal(h.count('redis.unframed'), 0);
  h.finish();
  assert.deepEqual(
    h.details().map((d) => [d.query, d.reply]),
    [['SET k', null]],
    'still being sent at the end: unanswered',
  );
});

test('nesting deeper than kMaxDepth loses framing (counted); the next message frames again', () => {
  const h = new RedisHarness();
  handshake(h);
  h.client(resp('GET', 'deep'));
  h.server('*1\r\n'.repeat(10_000));
  h.client(resp('GET', 'next'));
  h.server('+OK\r\n');
  h.finish();
  assert.equal(h.count('redis.unframed'), 1);
  assert.ok(kMaxDepth < 10_000);
  assert.deepEqual(
    h.details().map((d) => [d.query, d.reply]),
    [
      ['GET next', 'status'],
      ['GET deep', null],
    ],
  );
});

test('a million pipelined commands: the queue stays within its cap, every command is accounted for', () => {
  const h = new RedisHarness(undefined, false);
  handshake(h);
  const perSegment = 4096;
  const segments = 245; // 1,003,520 commands
  const total = perSegment * segments;
  const segment = resp('PING').repeat(perSegment);
  for (let i = 0; i < segments; i++) h.client(segment);
  const cap = Math.min(kMaxQueuedRequests, h.options.maxPending.redis!);
  assert.ok(h.matcher.pendingCount() <= cap, 'the queue cap and the pending table cap both hold');
  const pong = '+PONG\r\n'.repeat(perSegment);
  const replies = 4 * perSegment;
  for (let i = 0; i < 4; i++) h.server(pong);
  h.finish();
  const [matched, unanswered] = h.outcomes;
  assert.equal(matched! + unanswered!, total, 'one pair per command');
  assert.ok(h.count('redis.queue_evicted') + h.count('redis.evicted') >= total - cap);
  // Each reply answers a queued command, the tombstone of an evicted one (late), or nothing left (counted).
  assert.equal(
    matched! + h.count('redis.late_response') + h.count('redis.response_without_request'),
    replies,
  );
  assert.ok(matched! >= cap - 64, 'the newest commands, still queued, are answered');
});
