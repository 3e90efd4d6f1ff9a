/**
 * memcached on a real capture (test/fixtures/protocols/memcached/, made by
 * test/tools/make-memcached-captures.sh: Debian's memcached, Python socket clients, tcpdump on lo).
 * Oracles: tshark's memcache dissector (oracle.tsv) where it follows the conversation (one
 * command per write), the client's own list and tshark's data frames (frames.tsv) where it does
 * not (pipelined and large values). Times to the nanosecond.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import type { MemcachedDetail } from '../../../agent/correlate/memcached/matcher.ts';
import type { Pair } from '../../../agent/correlate/pair.ts';
import { SpanMapper } from '../../../agent/export/otel/span-mapper.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs, secondsTextToNanos } from '../../helpers/replay-pairs.ts';

const dir = path.join(import.meta.dirname, '../../fixtures/protocols/memcached');
const capture = path.join(dir, 'memcached.pcap');
const kPort = 11311;
const withPort = (options: { memcachedPorts: number[] }) => {
  options.memcachedPorts = [kPort];
};

const kSessions: string[][] = [
  ['set user:1 ? ? ?', 'add user:1 ? ? ?', 'get user:1', 'set user:2 ? ? ?', 'get user:1 user:2 nosuchkey']
    .concat(['gets user:2', 'cas user:2 ? ? ? ?', 'set counter ? ? ?', 'incr counter ?', 'incr user:1 ?'])
    .concat(['touch user:2 ?', 'delete user:2', 'delete user:2', 'bogus ?', 'get user:1', 'version']),
  Array.from({ length: 20 }, (_, i) => `set pipe:${i + 1} ? ? ?`),
  ['set big ? ? ?', 'get big', 'stats'],
];

const ns = (seconds: number, nanos: number) => seconds * 1e9 + nanos;
const detail = (pair: Pair) => pair.detail as MemcachedDetail;
const byRequestTime = (a: Pair, b: Pair) =>
  ns(a.request.firstSeconds, a.request.firstNanos) - ns(b.request.firstSeconds, b.request.firstNanos) ||
  a.request.bytes - b.request.bytes;

function rows(file: string): string[][] {
  return fs
    .readFileSync(path.join(dir, file), 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'));
}

describe('memcached on a real memcached capture', () => {
  const { pairs, json, correlator } = replayPairs([capture], withPort);
  const memcached = pairs.filter((pair) => pair.protocol === 'memcached');
  const frames = rows('frames.tsv');
  const clientPorts = [...new Set(frames.filter((r) => Number(r[1]) !== kPort).map((r) => Number(r[1])))];
  const session = (i: number) =>
    memcached.filter((pair) => pair.clientPort === clientPorts[i]).sort(byRequestTime);

  test('one pair per command that expects a reply; noreply is counted, not paired', () => {
    assert.equal(clientPorts.length, kSessions.length);
    kSessions.forEach((queries, i) => {
      assert.deepEqual(
        session(i).map((pair) => detail(pair).query),
        queries,
        `connection ${i}`,
      );
      for (const pair of session(i)) assert.equal(pair.outcome, 0, detail(pair).query);
    });
    const skips = correlator.skips.toObject();
    assert.equal(skips['memcached.noreply'], 1);
    assert.equal(skips['memcached.response_without_request'] ?? 0, 0);
  });

  test("agrees with tshark's memcache dissector: commands, keys and times to the nanosecond", () => {
    const oracle = rows('oracle.tsv').filter((r) => r[0] === '0');
    const requests = oracle.filter((r) => Number(r[1]) !== kPort && !(r[3] === 'set' && r[5] === 'quiet'));
    const replies = oracle.filter((r) => Number(r[1]) === kPort);
    const got = session(0);
    assert.equal(requests.length, got.length);
    assert.equal(replies.length, got.length);
    got.forEach((pair, k) => {
      const [, , time, command, , keys] = requests[k]!;
      const d = detail(pair);
      assert.equal(
        ns(pair.request.firstSeconds, pair.request.firstNanos),
        secondsTextToNanos(time!),
        d.query,
      );
      assert.equal(
        ns(pair.response!.firstSeconds, pair.response!.firstNanos),
        secondsTextToNanos(replies[k]![2]!),
        `${d.query} reply`,
      );
      if (command !== '') assert.equal(d.command, command);
      if (keys !== '') assert.equal(d.keys, keys!.split(',').length, d.query);
    });
  });

  test('pipelined and large values: the data frames', () => {
    const framesOf = (port: number, fromClient: boolean) => {
      const stream = frames.find((r) => Number(r[1]) === port)![0];
      return frames
        .filter((r) => r[0] === stream && (Number(r[1]) !== kPort) === fromClient)
        .map((r) => secondsTextToNanos(r[2]!));
    };
    const pipelined = session(1);
    const [sent] = framesOf(clientPorts[1]!, true);
    const [answered] = framesOf(clientPorts[1]!, false);
    for (const pair of pipelined) {
      assert.equal(ns(pair.request.firstSeconds, pair.request.firstNanos), sent, 'one write');
      assert.equal(ns(pair.response!.firstSeconds, pair.response!.firstNanos), answered, 'one reply segment');
    }
    const [setBig, getBig, stats] = session(2);
    const client = framesOf(clientPorts[2]!, true);
    const server = framesOf(clientPorts[2]!, false);
    assert.ok(client.length > 4 && server.length > 4, 'the 200 KiB value spans many segments each way');
    assert.equal(ns(setBig!.request.lastSeconds, setBig!.request.lastNanos), client.at(-3));
    assert.equal(detail(getBig!).hits, 1);
    assert.ok(getBig!.response!.bytes > 204_800);
    assert.equal(ns(getBig!.response!.lastSeconds, getBig!.response!.lastNanos), server.at(-2));
    assert.equal(detail(stats!).status, 'STAT');
  });

  test('replies: errors, misses, hits, numbers', () => {
    const find = (query: string) => detail(memcached.find((pair) => detail(pair).query === query)!);
    assert.equal(find('get user:1 user:2 nosuchkey').hits, 2);
    assert.deepEqual([find('incr user:1 ?').error, find('bogus ?').error], ['CLIENT_ERROR', 'ERROR']);
    assert.equal(find('incr counter ?').status, 'number');
    assert.equal(find('add user:1 ? ? ?').status, 'NOT_STORED');
    assert.equal(find('add user:1 ? ? ?').error, null, 'NOT_STORED is an answer, not an error');
    const text = JSON.stringify(json);
    for (const value of ['alice', 'secret', 'bob', 'eve', '999999', 'vvvv'])
      assert.ok(!text.includes(value), value);
  });

  test('spans: database conventions, error status, the operation duration metric', () => {
    const mapper = new SpanMapper({ localNetworks: [], serviceMap: [], httpRoutes: [], sourceFiles: null });
    const span = (query: string) => mapper.map(memcached.find((pair) => detail(pair).query === query)!);
    const get = span('get user:1 user:2 nosuchkey');
    assert.equal(get.name, `get 127.0.0.1:${kPort}`);
    assert.equal(get.attributes['db.system.name'], 'memcached');
    assert.equal(get.attributes['db.operation.name'], 'get');
    assert.equal(get.attributes['db.query.text'], 'get user:1 user:2 nosuchkey');
    assert.equal(get.statusCode, SpanStatusCode.UNSET);
    assert.equal(get.metric?.name, 'db.client.operation.duration');
    const bogus = span('bogus ?');
    assert.equal(bogus.statusCode, SpanStatusCode.ERROR);
    assert.equal(bogus.attributes['error.type'], 'ERROR');
    assert.equal(bogus.metric?.attributes['db.operation.name'], '_OTHER');
  });

  test('capture starting mid-connection: later commands pair, the orphan reply is counted', () => {
    const requests = rows('oracle.tsv').filter((r) => r[0] === '0' && Number(r[1]) !== kPort);
    // Cut right after the request `incr counter` (command 9): its reply has no request.
    const cutAfter = secondsTextToNanos(requests[8]![2]!);
    const kept = readAllRecords(capture).filter((r) => ns(r.seconds, r.nanos) > cutAfter);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-memcached-'));
    const file = path.join(tmp, 'mid.pcap');
    writePcap(file, kept);
    const cut = replayPairs([file], withPort);
    fs.rmSync(tmp, { recursive: true, force: true });
    const got = cut.pairs
      .filter((pair) => pair.protocol === 'memcached' && pair.clientPort === clientPorts[0])
      .sort(byRequestTime)
      .map((pair) => detail(pair).query);
    assert.deepEqual(got, kSessions[0]!.slice(9));
    assert.equal(cut.correlator.skips.toObject()['memcached.response_without_request'], 1);
  });

  test('rotation: cutting the capture into many files keeps every pair', () => {
    const withoutSource = (pair: Record<string, unknown>) => {
      const { source: _source, ...rest } = pair;
      return JSON.stringify(rest);
    };
    const whole = json.map(withoutSource).sort();
    const records = readAllRecords(capture);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-memcached-rotation-'));
    for (const stride of [1, 7]) {
      const files: string[] = [];
      for (let start = 0, index = 0; start < records.length; start += stride, index++) {
        const file = path.join(tmp, `cap-${stride}-${String(index).padStart(5, '0')}.pcap`);
        writePcap(file, records.slice(start, start + stride));
        files.push(file);
      }
      assert.deepEqual(
        replayPairs(files, withPort).json.map(withoutSource).sort(),
        whole,
        `stride ${stride}`,
      );
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
