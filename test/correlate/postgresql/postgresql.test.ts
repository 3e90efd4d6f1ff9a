/**
 * PostgreSQL on a real capture (test/fixtures/protocols/postgresql: Debian's server, psql and
 * pgbench, tcpdump; MANIFEST.md), checked against Wireshark's pgsql dissector (the committed
 * .pgsql.tsv) to the nanosecond and against what the clients sent; spans per the database
 * conventions; query text sanitized by default; a capture starting mid-connection, a stream on
 * the port that is not PostgreSQL, rotation and hostile lengths.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import yargs from 'yargs';
import { correlationArgs, correlationOptions } from '../../../agent/cli/correlation-flags.ts';
import { correlateOptionsFrom } from '../../../agent/cli/replay-command.ts';
import type { Pair } from '../../../agent/correlate/pair.ts';
import type { PostgresqlDetail } from '../../../agent/correlate/postgresql/index.ts';
import { matcherRegistry } from '../../../agent/correlate/registry.ts';
import { SpanMapper } from '../../../agent/export/otel/span-mapper.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs, secondsTextToNanos } from '../../helpers/replay-pairs.ts';
import { PcapStreamWriter } from '../../hostile/crafted-tcp.ts';
import { kTcpFlags } from '../../hostile/pcap-stream-writer.ts';

const dir = path.join(import.meta.dirname, '../../fixtures/protocols/postgresql');
const capture = path.join(dir, 'postgresql.pcap');
const kPort = 55432;

const replay = (files: string[], mode?: 'sanitized' | 'raw' | 'off') =>
  replayPairs(files, (options) => {
    options.postgresqlPorts = [kPort];
    if (mode !== undefined) options.dbQueryText = mode;
  });
const pgPairs = (pairs: Pair[]) => pairs.filter((pair) => pair.protocol === 'postgresql');
const detailOf = (pair: Pair) => pair.detail as PostgresqlDetail;
const nanosOf = (seconds: number, nanos: number) => seconds * 1e9 + nanos;
const skip = (result: ReturnType<typeof replay>, reason: string) =>
  result.correlator.skips.toObject()[reason] ?? 0;

/**
 * The oracle's pairs from the dissector's message list: a request starts at a StartupMessage, a
 * Query, or the first extended message after a Sync, and ends at its Sync; its response ends at
 * the next ReadyForQuery (or the Error that ends a failed startup). [first request ns, last response ns].
 */
function oraclePairs(): [number, number][] {
  const pairs: [number, number][] = [];
  const streams = new Map<string, { open: number[]; batch: number | null; startup: boolean }>();
  for (const line of fs.readFileSync(path.join(dir, 'postgresql.pgsql.tsv'), 'utf8').trim().split('\n')) {
    const [time, stream, sourcePort, types] = line.split('\t') as [string, string, string, string];
    const at = secondsTextToNanos(time);
    let state = streams.get(stream);
    if (state === undefined) {
      state = { open: [], batch: null, startup: false };
      streams.set(stream, state);
    }
    for (const type of types.split(',')) {
      if (Number(sourcePort) !== kPort) {
        if (type === 'Startup message') {
          state.open.push(at);
          state.startup = true;
        } else if (type === 'Simple query') state.open.push(at);
        else if (['Parse', 'Bind', 'Describe', 'Execute', 'Sync'].includes(type)) {
          state.batch ??= at;
          if (type === 'Sync') {
            state.open.push(state.batch);
            state.batch = null;
          }
        }
      } else if (type === 'Ready for query' || (type === 'Error' && state.startup)) {
        state.startup = false;
        pairs.push([state.open.shift()!, at]);
      }
    }
  }
  return pairs.sort((a, b) => a[0] - b[0]);
}

describe('PostgreSQL on a real capture', () => {
  const whole = replay([capture]);
  const pairs = whole.pairs;
  const pg = pgPairs(pairs).sort(
    (a, b) =>
      nanosOf(a.request.firstSeconds, a.request.firstNanos) -
      nanosOf(b.request.firstSeconds, b.request.firstNanos),
  );

  test('pairs agree with the pgsql dissector to the nanosecond, and with what the clients sent', () => {
    assert.deepEqual(
      pg.map((pair) => [
        nanosOf(pair.request.firstSeconds, pair.request.firstNanos),
        nanosOf(pair.response!.lastSeconds, pair.response!.lastNanos),
      ]),
      oraclePairs(),
    );
    assert.ok(pg.every((pair) => pair.outcome === 0 && pair.serverPort === kPort));
    const count = (message: string) => pg.filter((pair) => detailOf(pair).message === message).length;
    // psql: 3 connections, one of them TLS; pgbench: 2 connections per run, 3 runs.
    assert.equal(count('startup'), 8);
    assert.equal(count('query'), 8, 'the psql script sends 8 Queries');
    // -M extended -t 2: 2; -M prepared -t 2: the Parse's Sync + 2; the pipeline: 1.
    assert.equal(count('sync'), 6);
    assert.equal(skip(whole, 'postgresql.tls_stream'), 1, 'the sslmode=require connection');
  });

  test('details: operations, SQLSTATEs, namespace, batch, and no literal in the query text', () => {
    const queries = pg.filter((pair) => detailOf(pair).message === 'query').map(detailOf);
    assert.deepEqual(
      queries.map((d) => [d.operation, d.sqlstate]),
      [
        ['CREATE', null],
        ['INSERT', null],
        ['SELECT', null],
        ['SELECT', '22012'],
        ['INSERT', '23505'],
        ['COPY', null],
        ['COPY', null],
        ['BEGIN', null],
      ],
    );
    assert.equal(queries[2]!.query, 'SELECT name, price FROM items WHERE name = ? AND price > ?;');
    assert.equal(queries[1]!.query, 'INSERT INTO items VALUES (?, ?, ?), (?, ?, ?);');
    const everything = JSON.stringify(pg.map(detailOf));
    for (const literal of ['apple', 'pear', '0.5', '1.25', 'duplicate'])
      assert.ok(!everything.includes(literal), literal);
    assert.ok(pg.every((pair) => detailOf(pair).namespace === 'shop'));
    const login = pg
      .filter((pair) => detailOf(pair).message === 'startup')
      .map((pair) => detailOf(pair).sqlstate);
    assert.deepEqual(
      login.filter((state) => state !== null),
      ['28P01'],
      'the wrong password',
    );
    const batch = pg.find((pair) => detailOf(pair).batch_size !== undefined)!;
    assert.deepEqual(
      [detailOf(batch).batch_size, detailOf(batch).operation, detailOf(batch).query],
      [3, 'BATCH', 'SELECT count(*) FROM items;'],
    );
    const prepared = pg.filter((pair) => detailOf(pair).message === 'sync').map(detailOf);
    assert.ok(
      prepared
        .slice(0, 5)
        .every((d) => d.query === 'SELECT name FROM items WHERE id = $1;' && d.operation === 'SELECT'),
      'a Bind of a statement prepared earlier names its query',
    );
  });

  test('--db-query-text raw keeps the literals, off leaves the text out; the flag defaults to sanitized', async () => {
    const raw = pgPairs(replay([capture], 'raw').pairs).map(detailOf);
    assert.ok(
      raw.some((d) => d.query === "SELECT name, price FROM items WHERE name = 'apple' AND price > 0.1;"),
    );
    const off = pgPairs(replay([capture], 'off').pairs).map(detailOf);
    assert.ok(off.every((d) => d.query === undefined) && off.some((d) => d.operation === 'SELECT'));
    const argv = await correlationOptions(yargs([]))
      .strict()
      .parseAsync(['--db-query-text', 'off', '--postgresql-ports', '6432']);
    const options = correlateOptionsFrom(correlationArgs(argv));
    assert.deepEqual([options.dbQueryText, options.postgresqlPorts], ['off', [6432]]);
    const defaults = correlateOptionsFrom(
      correlationArgs(await correlationOptions(yargs([])).parseAsync([])),
    );
    assert.deepEqual([defaults.dbQueryText, defaults.postgresqlPorts], ['sanitized', [5432]]);
    await assert.rejects(async () =>
      correlationOptions(yargs([]))
        .strict()
        .exitProcess(false)
        .fail((message) => {
          throw new Error(message);
        })
        .parseAsync(['--db-query-text', 'everything']),
    );
  });

  test('spans: database conventions, SQLSTATE as the error, db.client.operation.duration', () => {
    const mapper = new SpanMapper({
      localNetworks: [],
      serviceMap: [],
      httpRoutes: [],
      sourceFiles: null,
      registry: matcherRegistry,
    });
    const select = mapper.map(
      pg.find((pair) => detailOf(pair).query?.startsWith('SELECT name, price') === true)!,
    );
    assert.equal(select.name, 'SELECT shop');
    assert.equal(select.statusCode, SpanStatusCode.UNSET);
    assert.deepEqual(
      [
        select.attributes['db.system.name'],
        select.attributes['db.operation.name'],
        select.attributes['db.namespace'],
        select.attributes['db.query.text'],
        select.attributes['db.response.status_code'],
      ],
      [
        'postgresql',
        'SELECT',
        'shop',
        'SELECT name, price FROM items WHERE name = ? AND price > ?;',
        undefined,
      ],
    );
    assert.equal(select.metric?.name, 'db.client.operation.duration');
    assert.equal(select.metric?.attributes['db.operation.name'], 'SELECT');
    const failed = mapper.map(pg.find((pair) => detailOf(pair).sqlstate === '22012')!);
    assert.equal(failed.statusCode, SpanStatusCode.ERROR);
    assert.equal(failed.attributes['error.type'], '22012');
    assert.equal(failed.attributes['db.response.status_code'], '22012');
    assert.equal(failed.metric?.attributes['error.type'], '22012');
    const batch = mapper.map(pg.find((pair) => detailOf(pair).batch_size === 3)!);
    assert.deepEqual([batch.name, batch.attributes['db.operation.batch.size']], ['BATCH shop', 3]);
    const login = mapper.map(pg.find((pair) => detailOf(pair).sqlstate === '28P01')!);
    assert.deepEqual(
      [login.name, login.attributes['error.type'], login.attributes['db.operation.name']],
      ['startup shop', '28P01', undefined],
    );
    assert.equal(login.metric?.name, 'wirespan.pair.duration', 'a login is no database operation');
  });
});

describe('PostgreSQL: partial and foreign streams', () => {
  const records = readAllRecords(capture);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-pg-'));
  const whole = pgPairs(replay([capture]).pairs);
  const key = (pair: Pair) =>
    `${pair.clientPort} ${nanosOf(pair.request.firstSeconds, pair.request.firstNanos)} ${nanosOf(pair.response?.lastSeconds ?? 0, pair.response?.lastNanos ?? 0)}`;

  test('a capture starting mid-connection (inside a response): later queries pair, the cut response is counted', () => {
    // Start at the first packet of the SELECT 1/0 response: its Query was before the capture.
    const oracle = oraclePairs();
    const divide = oracle[4]!; // startup, CREATE, INSERT, SELECT, SELECT 1/0
    const from = records.findIndex((record) => record.seconds * 1e9 + record.nanos > divide[0]);
    const file = path.join(work, 'mid.pcap');
    writePcap(file, records.slice(from));
    const mid = replay([file]);
    const later = pgPairs(mid.pairs);
    assert.deepEqual(
      later.map(key).sort(),
      whole
        .filter((pair) => nanosOf(pair.request.firstSeconds, pair.request.firstNanos) > divide[0])
        .map(key)
        .sort(),
    );
    assert.equal(skip(mid, 'postgresql.response_without_request'), 1);
    assert.ok(
      later
        .filter((pair) => pair.clientPort === whole[0]!.clientPort)
        .every((pair) => detailOf(pair).namespace === undefined),
    );
  });

  test('with the parser buffer budget spent, every exchange still pairs (without text or SQLSTATE)', () => {
    const starved = pgPairs(
      replayPairs([capture], (options) => {
        options.postgresqlPorts = [kPort];
        options.reassembly.maxParserBufferBytesTotal = 0;
      }).pairs,
    );
    assert.deepEqual(starved.map(key).sort(), whole.map(key).sort());
    assert.ok(
      starved.every((pair) => detailOf(pair).query === undefined && detailOf(pair).sqlstate === null),
    );
  });

  test('a stream on the port that is not PostgreSQL is counted, never paired', () => {
    // Redis commands (RESP) on the port: no other protocol claims them there.
    const redis = path.join(import.meta.dirname, '../../fixtures/protocols/redis/redis.pcap');
    const result = replayPairs([redis], (options) => {
      options.postgresqlPorts = [16379];
    });
    assert.equal(pgPairs(result.pairs).length, 0);
    assert.ok(skip(result, 'postgresql.not_postgresql') >= 1);
  });

  test('a TLS connection on the port is a TLS handshake pair, not PostgreSQL', () => {
    const tls = path.join(import.meta.dirname, '../../fixtures/corpus/tcp/pcapplusplus--tls.pcap');
    const result = replayPairs([tls], (options) => {
      options.postgresqlPorts = [443];
    });
    assert.equal(pgPairs(result.pairs).length, 0);
    assert.ok(result.pairs.some((pair) => pair.protocol === 'tls'));
  });

  test('cut into rotated files after every packet and every 7, the pairs are the same', () => {
    const wholeJson = replay([capture])
      .json.map(({ source: _source, ...rest }) => JSON.stringify(rest))
      .sort();
    for (const stride of [1, 7]) {
      const files: string[] = [];
      for (let start = 0; start < records.length; start += stride) {
        const file = path.join(work, `cut-${stride}-${String(start).padStart(5, '0')}.pcap`);
        writePcap(file, records.slice(start, start + stride));
        files.push(file);
      }
      const cut = replay(files)
        .json.map(({ source: _source, ...rest }) => JSON.stringify(rest))
        .sort();
      assert.deepEqual(cut, wholeJson, `stride ${stride}`);
    }
  });

  test('hostile: a declared length of 2^31, a Query of 1 GiB - 1 declared, bad types: counted, bounded, no crash', () => {
    const file = path.join(work, 'hostile.pcap');
    const w = new PcapStreamWriter(file);
    const client = 0x0a000001;
    const server = 0x0a000002;
    const { syn, ack, psh } = kTcpFlags;
    let port = 41000;
    const connection = (clientBytes: Buffer[], serverBytes: Buffer[] = []) => {
      port++;
      w.tcp(client, port, server, kPort, 100, 0, syn);
      w.tcp(server, kPort, client, port, 500, 101, syn | ack);
      let seq = 101;
      for (const bytes of clientBytes) {
        w.tcp(client, port, server, kPort, seq, 501, ack | psh, bytes);
        seq += bytes.length;
      }
      let serverSeq = 501;
      for (const bytes of serverBytes) {
        w.tcp(server, kPort, client, port, serverSeq, seq, ack | psh, bytes);
        serverSeq += bytes.length;
      }
    };
    const message = (type: string, length: number, body = Buffer.alloc(0)) => {
      const header = Buffer.alloc(5);
      header.write(type, 0, 'latin1');
      header.writeUInt32BE(length >>> 0, 1);
      return Buffer.concat([header, body]);
    };
    // 2^31: beyond any message the server accepts.
    connection([message('Q', 2 ** 31)]);
    // A Query declaring just under 1 GiB, then 64 KiB of it: framed, kept to the cap, never buffered whole.
    connection([message('Q', 0x3fffffff, Buffer.alloc(32_000, 0x61)), Buffer.alloc(32_000, 0x61)]);
    // Not a frontend type.
    connection([message('~', 8, Buffer.alloc(4))]);
    // 10,000 pipelined Syncs, unanswered: the queue cap holds.
    connection([Buffer.concat(Array.from({ length: 10_000 }, () => message('S', 4)))]);
    w.close();
    const result = replay([file]);
    assert.ok(skip(result, 'postgresql.not_postgresql') >= 2, 'the 2^31 length and the bad type');
    const pairs = pgPairs(result.pairs);
    const huge = pairs.find((pair) => detailOf(pair).message === 'query')!;
    assert.equal(huge.outcome, 1, 'unanswered');
    assert.ok(detailOf(huge).query === 'a'.repeat(2048), 'the first 2048 bytes kept');
    assert.equal(
      pairs.filter((pair) => detailOf(pair).message === 'sync').length,
      10_000,
      'each Sync reported once',
    );
    assert.ok(skip(result, 'postgresql.queue_evicted') > 0, 'beyond the per-connection queue cap');
  });
});
