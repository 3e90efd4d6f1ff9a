/**
 * Redis on a real capture (test/fixtures/protocols/redis/, made by
 * test/tools/make-redis-captures.sh: Debian's redis-server 7.0 and redis-cli, tcpdump on lo).
 * Oracles: the client's own list of commands (Wireshark 4.0 has no RESP dissector) and
 * tshark's list of data frames (frames.tsv) for the first/last-frame times, to the nanosecond.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Pair } from '../../../agent/correlate/pair.ts';
import type { RedisDetail } from '../../../agent/correlate/redis/matcher.ts';
import { SpanMapper } from '../../../agent/export/otel/span-mapper.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs, secondsTextToNanos } from '../../helpers/replay-pairs.ts';

const dir = path.join(import.meta.dirname, '../../fixtures/protocols/redis');
const capture = path.join(dir, 'redis.pcap');
const kPort = 16379;
const withRedisPort = (options: { redisPorts: number[] }) => {
  options.redisPorts = [kPort];
};

/** What each redis-cli session sent, in connection order (MANIFEST.md), with redis-cli's own commands. */
const kSessions: string[][] = [
  // -n 2: redis-cli sends SELECT 2 and COMMAND DOCS itself.
  [
    'SELECT 2',
    'COMMAND DOCS',
    'SET user:1 ?',
    'GET user:1',
    'HSET session:9 token ? ttl ?',
    'HGET session:9 token',
  ]
    .concat([
      'INCR counter',
      'LPUSH queue ? ? ?',
      'GET nosuchkey',
      'INCR user:1',
      'HGET user:1 x',
      'AUTH ? ?',
    ])
    .concat(['MULTI', 'SET k1 ?', 'INCR k2', 'EXEC', 'MGET user:1 k1 k2', 'EVAL ? 1 user:1', 'DEL k1 k2']),
  // -3: HELLO 3 first.
  ['HELLO ?', 'COMMAND DOCS', 'HSET h f1 ? f2 ?', 'HGETALL h', 'ZADD z ? ?', 'ZSCORE z ?', 'LPOP h'],
  ['SUBSCRIBE news sport'],
  ['HELLO ?', 'SUBSCRIBE news'],
  ['PUBLISH news ?'],
  ['PUBLISH sport ?'],
  // --pipe: the 20 commands in one write, then its own ECHO.
  [...Array.from({ length: 20 }, (_, i) => `SET pipe:${i + 1} ?`), 'ECHO ?'],
  ['SET big ?'],
  ['GET big'],
  // A TLS ClientHello: not RESP, no Redis pairs (the TLS matcher takes the connection).
  [],
];

/** tshark's data frames: per TCP stream, the client's and the server's frame times (ns). */
function frames(): { client: number[]; server: number[]; clientPort: number }[] {
  const streams: { client: number[]; server: number[]; clientPort: number }[] = [];
  for (const line of fs.readFileSync(path.join(dir, 'frames.tsv'), 'utf8').trim().split('\n')) {
    const [stream, port, time] = line.split('\t');
    streams[Number(stream)] ??= { client: [], server: [], clientPort: 0 };
    const s = streams[Number(stream)]!;
    if (Number(port) === kPort) s.server.push(secondsTextToNanos(time!));
    else {
      s.client.push(secondsTextToNanos(time!));
      s.clientPort = Number(port);
    }
  }
  return streams;
}

const ns = (seconds: number, nanos: number) => seconds * 1e9 + nanos;
const detail = (pair: Pair) => pair.detail as RedisDetail;
const byRequestTime = (a: Pair, b: Pair) =>
  ns(a.request.firstSeconds, a.request.firstNanos) - ns(b.request.firstSeconds, b.request.firstNanos) ||
  a.request.bytes - b.request.bytes;

describe('Redis on a real redis-server capture', () => {
  const { pairs, json, correlator } = replayPairs([capture], withRedisPort);
  const redis = pairs.filter((pair) => pair.protocol === 'redis');
  const streams = frames();

  test('one pair per command the clients sent, in order, per connection; pushes and junk pair nothing', () => {
    assert.equal(streams.length, kSessions.length);
    streams.forEach((stream, i) => {
      const got = redis.filter((pair) => pair.clientPort === stream.clientPort).sort(byRequestTime);
      assert.deepEqual(
        got.map((pair) => detail(pair).query),
        kSessions[i],
        `connection ${i} (client port ${stream.clientPort})`,
      );
      for (const pair of got) assert.equal(pair.outcome, 0, `${detail(pair).query} answered`);
    });
    const skips = correlator.skips.toObject();
    // The registry offers connections to the TLS matcher first: the ClientHello on the Redis port
    // is a TLS handshake pair, never Redis (framing junk is covered by framing.test.ts).
    assert.equal(skips['redis.unframed'] ?? 0, 0);
    assert.equal(pairs.filter((pair) => pair.protocol === 'tls').length, 1, 'the TLS ClientHello');
    assert.equal(skips['redis.response_without_request'] ?? 0, 0);
  });

  test('first and last frames agree with tshark to the nanosecond', () => {
    streams.forEach((stream, i) => {
      const got = redis.filter((pair) => pair.clientPort === stream.clientPort).sort(byRequestTime);
      got.forEach((pair, k) => {
        const query = detail(pair).query!;
        // One write per command, except --pipe's 20 in one write (its ECHO in the next) and the big SET.
        const first = i === 6 ? (k < 20 ? 0 : 1) : k;
        const last = i === 7 ? stream.client.length - 1 : first;
        assert.equal(ns(pair.request.firstSeconds, pair.request.firstNanos), stream.client[first], query);
        assert.equal(ns(pair.request.lastSeconds, pair.request.lastNanos), stream.client[last], query);
        const requestEnd = stream.client[last]!;
        const response = stream.server.find((time) => time >= requestEnd);
        assert.equal(ns(pair.response!.firstSeconds, pair.response!.firstNanos), response, `${query} reply`);
      });
    });
    const getBig = redis.find((pair) => detail(pair).query === 'GET big')!;
    const bigStream = streams[8]!;
    assert.ok(bigStream.server.length > 3, 'the 256 KiB reply spans many segments');
    assert.equal(ns(getBig.response!.lastSeconds, getBig.response!.lastNanos), bigStream.server.at(-1));
    assert.ok(getBig.response!.bytes > 262_144);
  });

  test('errors, transactions, databases and scripts', () => {
    const find = (query: string) => detail(redis.find((pair) => detail(pair).query === query)!);
    assert.deepEqual([find('INCR user:1').error, find('HGET user:1 x').error], ['ERR', 'WRONGTYPE']);
    assert.equal(find('AUTH ? ?').error, 'WRONGPASS');
    assert.equal(find('LPOP h').error, 'WRONGTYPE', 'RESP3 error');
    assert.equal(find('EXEC').batch_size, 2);
    assert.equal(find('SET k1 ?').reply, 'status', 'QUEUED');
    assert.equal(find('SELECT 2').db, null, 'before its +OK the index is unknown');
    assert.equal(find('GET user:1').db, '2');
    assert.equal(find('HGETALL h').reply, 'map');
    assert.equal(find('ZSCORE z ?').reply, 'double');
    assert.equal(find('SUBSCRIBE news').reply, 'push', 'RESP3: the confirmation push is the reply');
  });

  test('no value ever reaches the output: keys kept, values replaced', () => {
    const text = JSON.stringify(json);
    for (const value of [
      'alice',
      'secret',
      'abc123',
      'badpass',
      'nouser',
      'hello',
      'goal',
      'xxxx',
      'one',
      'two',
    ])
      assert.ok(!text.includes(value), value);
    assert.ok(text.includes('session:9'), 'keys are kept');
  });

  test('spans: database conventions, error status, the operation duration metric', () => {
    const mapper = new SpanMapper({ localNetworks: [], serviceMap: [], httpRoutes: [], sourceFiles: null });
    const span = (query: string) => mapper.map(redis.find((pair) => detail(pair).query === query)!);
    const get = span('GET user:1');
    assert.equal(get.name, `GET 127.0.0.1:${kPort}`);
    assert.equal(get.attributes['db.system.name'], 'redis');
    assert.equal(get.attributes['db.operation.name'], 'GET');
    assert.equal(get.attributes['db.namespace'], '2');
    assert.equal(get.attributes['db.query.text'], 'GET user:1');
    assert.equal(get.statusCode, SpanStatusCode.UNSET);
    assert.equal(get.metric?.name, 'db.client.operation.duration');
    assert.equal(get.metric?.attributes['db.operation.name'], 'GET');
    const wrongType = span('HGET user:1 x');
    assert.equal(wrongType.statusCode, SpanStatusCode.ERROR);
    assert.equal(wrongType.attributes['error.type'], 'WRONGTYPE');
    assert.equal(wrongType.attributes['db.response.status_code'], 'WRONGTYPE');
    assert.equal(span('EXEC').attributes['db.operation.batch.size'], 2);
    assert.equal(span('HELLO ?').attributes['db.namespace'], undefined, 'no SELECT seen');
  });

  test('capture starting mid-connection: later commands pair, the orphan reply is counted', () => {
    const records = readAllRecords(capture);
    const stream0 = streams[0]!;
    // Cut just after INCR counter's request (connection 0, command 7): its reply has no request.
    const cutAfter = stream0.client[6]!;
    const kept = records.filter((r) => ns(r.seconds, r.nanos) > cutAfter);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-redis-'));
    const file = path.join(tmp, 'mid.pcap');
    writePcap(file, kept);
    const cut = replayPairs([file], withRedisPort);
    fs.rmSync(tmp, { recursive: true, force: true });
    const got = cut.pairs
      .filter((pair) => pair.protocol === 'redis' && pair.clientPort === stream0.clientPort)
      .sort(byRequestTime)
      .map((pair) => detail(pair).query);
    assert.deepEqual(got, kSessions[0]!.slice(7));
    assert.equal(cut.correlator.skips.toObject()['redis.response_without_request'], 1);
    const getUser = cut.pairs.find(
      (pair) => pair.protocol === 'redis' && detail(pair).query === 'GET user:1',
    );
    assert.equal(getUser, undefined, 'GET user:1 was before the cut');
    const mget = cut.pairs.find(
      (pair) => pair.protocol === 'redis' && detail(pair).query === 'MGET user:1 k1 k2',
    )!;
    assert.equal(detail(mget).db, null, 'SELECT was before the capture: no namespace');
  });

  test('rotation: cutting the capture into many files keeps every pair', () => {
    const withoutSource = (pair: Record<string, unknown>) => {
      const { source: _source, ...rest } = pair;
      return JSON.stringify(rest);
    };
    const whole = json.map(withoutSource).sort();
    const records = readAllRecords(capture);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-redis-rotation-'));
    for (const stride of [1, 7]) {
      const files: string[] = [];
      for (let start = 0, index = 0; start < records.length; start += stride, index++) {
        const file = path.join(tmp, `cap-${stride}-${String(index).padStart(5, '0')}.pcap`);
        writePcap(file, records.slice(start, start + stride));
        files.push(file);
      }
      assert.deepEqual(
        replayPairs(files, withRedisPort).json.map(withoutSource).sort(),
        whole,
        `stride ${stride}`,
      );
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
