/**
 * MySQL/MariaDB on a real capture (test/fixtures/protocols/mysql: Debian's MariaDB server, the
 * mariadb client, mariadb-admin and DBD::MariaDB, tcpdump; MANIFEST.md), checked against
 * Wireshark's mysql dissector (the committed .mysql.tsv) to the nanosecond and against what the
 * clients sent; spans; CLIENT_DEPRECATE_EOF, multi-result and 16 MB multi-packet framing on a
 * crafted capture; mid-connection, a foreign stream, rotation and hostile input.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import type { MysqlDetail } from '../../../agent/correlate/mysql/index.ts';
import type { Pair } from '../../../agent/correlate/pair.ts';
import { matcherRegistry } from '../../../agent/correlate/registry.ts';
import { SpanMapper } from '../../../agent/export/otel/span-mapper.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs, secondsTextToNanos } from '../../helpers/replay-pairs.ts';
import { PcapStreamWriter } from '../../hostile/crafted-tcp.ts';
import { kTcpFlags } from '../../hostile/pcap-stream-writer.ts';

const dir = path.join(import.meta.dirname, '../../fixtures/protocols/mysql');
const capture = path.join(dir, 'mysql.pcap');
const kPort = 53306;

const replay = (files: string[], mode?: 'sanitized' | 'raw' | 'off') =>
  replayPairs(files, (options) => {
    options.mysqlPorts = [kPort];
    if (mode !== undefined) options.dbQueryText = mode;
  });
const mysqlPairs = (pairs: Pair[]) =>
  pairs
    .filter((pair) => pair.protocol === 'mysql')
    .sort(
      (a, b) =>
        nanosOf(a.request.firstSeconds, a.request.firstNanos) -
        nanosOf(b.request.firstSeconds, b.request.firstNanos),
    );
const detailOf = (pair: Pair) => pair.detail as MysqlDetail;
const nanosOf = (seconds: number, nanos: number) => seconds * 1e9 + nanos;
const skip = (result: ReturnType<typeof replay>, reason: string) =>
  result.correlator.skips.toObject()[reason] ?? 0;

/**
 * The oracle's pairs from the dissector's frames: a request is a client frame with packet number 0
 * (a command other than QUIT 1, STMT_SEND_LONG_DATA 24, STMT_CLOSE 25) or the login (packet number
 * 1 after the greeting); its response ends with the last server frame before the next request.
 * A login no server frame answers (the SSLRequest) is not a pair. [first request ns, last response ns].
 */
function oraclePairs(): [number, number][] {
  const pairs: [number, number][] = [];
  const open = new Map<string, [number, number]>();
  const close = (stream: string) => {
    const pair = open.get(stream);
    if (pair !== undefined && pair[1] > 0) pairs.push(pair);
    open.delete(stream);
  };
  for (const line of fs.readFileSync(path.join(dir, 'mysql.mysql.tsv'), 'utf8').trim().split('\n')) {
    const [time, stream, sourcePort, number, command] = line.split('\t') as [
      string,
      string,
      string,
      string,
      string,
    ];
    const at = secondsTextToNanos(time);
    if (Number(sourcePort) === kPort) {
      const pair = open.get(stream);
      if (pair !== undefined) pair[1] = at;
      continue;
    }
    const login = number === '1' && command === '';
    const request = number === '0' && !['1', '24', '25'].includes(command);
    if (!login && !request) continue;
    close(stream);
    open.set(stream, [at, 0]);
  }
  for (const stream of [...open.keys()]) close(stream);
  return pairs.sort((a, b) => a[0] - b[0]);
}

describe('MySQL/MariaDB on a real capture', () => {
  const whole = replay([capture]);
  const pairs = mysqlPairs(whole.pairs);

  test('pairs agree with the mysql dissector to the nanosecond, and with what the clients sent', () => {
    assert.deepEqual(
      pairs.map((pair) => [
        nanosOf(pair.request.firstSeconds, pair.request.firstNanos),
        nanosOf(pair.response!.lastSeconds, pair.response!.lastNanos),
      ]),
      oraclePairs(),
    );
    assert.ok(pairs.every((pair) => pair.outcome === 0));
    const count = (command: string) => pairs.filter((pair) => detailOf(pair).command === command).length;
    assert.deepEqual(
      [count('login'), count('query'), count('stmt_prepare'), count('stmt_execute'), count('ping')],
      [4, 5 + 4, 2, 3, 2],
    );
    assert.equal(skip(whole, 'mysql.tls_stream'), 1, 'the --ssl connection');
    assert.equal(skip(whole, 'mysql.response_without_request'), 0);
  });

  test('details: MariaDB, operations, error codes, namespace, prepared text on execute, no literal', () => {
    const details = pairs.map(detailOf);
    assert.ok(details.every((d) => d.system === 'mariadb'));
    assert.deepEqual(
      details.filter((d) => d.error_code !== null).map((d) => [d.command, d.error_code]),
      [
        ['query', 1146],
        ['query', 1062],
        ['login', 1045],
      ],
    );
    assert.ok(details.some((d) => d.query === 'SELECT name, price FROM items WHERE name = ? AND price > ?'));
    const executes = details.filter((d) => d.command === 'stmt_execute');
    assert.deepEqual(
      executes.map((d) => [d.operation, d.query]),
      [
        ['SELECT', 'SELECT name FROM items WHERE id = ?'],
        ['SELECT', 'SELECT name FROM items WHERE id = ?'],
        ['UPDATE', 'UPDATE items SET price = ? WHERE id = ?'],
      ],
    );
    assert.ok(
      details
        .filter((d) => d.command !== 'login' && d.command !== 'ping')
        .every((d) => d.namespace === 'shop'),
    );
    const everything = JSON.stringify(details);
    for (const literal of ['apple', 'pear', '0.5', '1.25', 'duplicate'])
      assert.ok(!everything.includes(literal), literal);
    const raw = mysqlPairs(replay([capture], 'raw').pairs).map(detailOf);
    assert.ok(
      raw.some((d) => d.query === "SELECT name, price FROM items WHERE name = 'apple' AND price > 0.1"),
    );
    assert.ok(mysqlPairs(replay([capture], 'off').pairs).every((pair) => detailOf(pair).query === undefined));
  });

  test('spans: mariadb, the error code as error.type, db.client.operation.duration; a login is no operation', () => {
    const mapper = new SpanMapper({
      localNetworks: [],
      serviceMap: [],
      httpRoutes: [],
      sourceFiles: null,
      registry: matcherRegistry,
    });
    const missing = mapper.map(pairs.find((pair) => detailOf(pair).error_code === 1146)!);
    assert.equal(missing.name, 'SELECT shop');
    assert.equal(missing.statusCode, SpanStatusCode.ERROR);
    assert.deepEqual(
      [
        missing.attributes['db.system.name'],
        missing.attributes['db.response.status_code'],
        missing.attributes['error.type'],
      ],
      ['mariadb', '1146', '1146'],
    );
    assert.equal(missing.metric?.name, 'db.client.operation.duration');
    const ping = mapper.map(pairs.find((pair) => detailOf(pair).command === 'ping')!);
    assert.equal(ping.name, `PING 127.0.0.1:${kPort}`, 'no database named: the server is the target');
    const login = mapper.map(pairs.find((pair) => detailOf(pair).error_code === 1045)!);
    assert.deepEqual([login.name.startsWith('login '), login.attributes['error.type']], [true, '1045']);
    assert.equal(login.metric?.name, 'wirespan.pair.duration');
  });

  test('a capture starting mid-connection pairs the later commands', () => {
    const records = readAllRecords(capture);
    const oracle = oraclePairs();
    const divide = oracle[2]!; // the login and the INSERT before the capture
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-mysql-'));
    const file = path.join(work, 'mid.pcap');
    writePcap(
      file,
      records.filter((record) => record.seconds * 1e9 + record.nanos >= divide[0]),
    );
    const later = mysqlPairs(replay([file]).pairs);
    const key = (pair: Pair) =>
      `${pair.clientPort} ${nanosOf(pair.request.firstSeconds, pair.request.firstNanos)}`;
    assert.deepEqual(
      later.map(key),
      pairs
        .filter((pair) => nanosOf(pair.request.firstSeconds, pair.request.firstNanos) >= divide[0])
        .map(key),
    );
    assert.equal(
      later.find((pair) => pair.clientPort === pairs[0]!.clientPort)?.detail?.namespace,
      undefined,
    );

    // Rotation: cut after every packet and every 7, the same pairs.
    const json = (files: string[]) =>
      replay(files)
        .json.map(({ source: _source, ...rest }) => JSON.stringify(rest))
        .sort();
    const expected = json([capture]);
    for (const stride of [1, 7]) {
      const files: string[] = [];
      for (let start = 0; start < records.length; start += stride) {
        const cut = path.join(work, `cut-${stride}-${String(start).padStart(5, '0')}.pcap`);
        writePcap(cut, records.slice(start, start + stride));
        files.push(cut);
      }
      assert.deepEqual(json(files), expected, `stride ${stride}`);
    }
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('with the parser buffer budget spent, commands still pair (without their text)', () => {
    const starved = mysqlPairs(
      replayPairs([capture], (options) => {
        options.mysqlPorts = [kPort];
        options.reassembly.maxParserBufferBytesTotal = 0;
      }).pairs,
    );
    assert.deepEqual(
      starved.map((pair) => [
        pair.request.firstNanos,
        pair.response?.lastNanos,
        detailOf(pair).command,
        detailOf(pair).error_code,
      ]),
      pairs.map((pair) => [
        pair.request.firstNanos,
        pair.response?.lastNanos,
        detailOf(pair).command,
        detailOf(pair).error_code,
      ]),
    );
    assert.ok(starved.every((pair) => detailOf(pair).query === undefined));
  });

  test('a stream on the port that is not MySQL is counted, never paired', () => {
    // Redis commands (RESP) on the port: no other protocol claims them there.
    const redis = path.join(import.meta.dirname, '../../fixtures/protocols/redis/redis.pcap');
    const result = replayPairs([redis], (options) => {
      options.mysqlPorts = [16379];
    });
    assert.equal(mysqlPairs(result.pairs).length, 0);
    assert.ok(skip(result, 'mysql.not_mysql') >= 1);
  });

  test('a TLS connection on the port is a TLS handshake pair, not MySQL', () => {
    const tls = path.join(import.meta.dirname, '../../fixtures/corpus/tcp/pcapplusplus--tls.pcap');
    const result = replayPairs([tls], (options) => {
      options.mysqlPorts = [443];
    });
    assert.equal(mysqlPairs(result.pairs).length, 0);
    assert.ok(result.pairs.some((pair) => pair.protocol === 'tls'));
  });
});

// Crafted conversations (framing no Debian client produces) -------------------------------------

const kClient = 0x0a000001;
const kServer = 0x0a000002;

/** A TCP conversation written packet by packet (one segment per call, split at 64,000 bytes). */
class Conversation {
  readonly #w: PcapStreamWriter;
  readonly #port: number;
  #clientSeq = 101;
  #serverSeq = 501;

  constructor(w: PcapStreamWriter, port: number) {
    this.#w = w;
    this.#port = port;
    w.tcp(kClient, port, kServer, kPort, 100, 0, kTcpFlags.syn);
    w.tcp(kServer, kPort, kClient, port, 500, 101, kTcpFlags.syn | kTcpFlags.ack);
  }

  client(bytes: Buffer): void {
    this.#clientSeq = this.#send(true, bytes, this.#clientSeq);
  }

  server(bytes: Buffer): void {
    this.#serverSeq = this.#send(false, bytes, this.#serverSeq);
  }

  #send(fromClient: boolean, bytes: Buffer, seq: number): number {
    const flags = kTcpFlags.ack | kTcpFlags.psh;
    for (let at = 0; at < bytes.length; at += 64_000) {
      const segment = bytes.subarray(at, at + 64_000);
      if (fromClient)
        this.#w.tcp(kClient, this.#port, kServer, kPort, seq + at, this.#serverSeq, flags, segment);
      else this.#w.tcp(kServer, kPort, kClient, this.#port, seq + at, this.#clientSeq, flags, segment);
    }
    return seq + bytes.length;
  }
}

/** MySQL packets of `payload` from sequence id `seq` (split at 0xFFFFFF, with the empty tail packet when exact). */
function packets(seq: number, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const size = Math.min(0xffffff, payload.length - at);
    const header = Buffer.from([size & 0xff, (size >> 8) & 0xff, size >> 16, seq++ & 0xff]);
    parts.push(header, payload.subarray(at, at + size));
    at += size;
    if (size < 0xffffff) return Buffer.concat(parts);
  }
}

const bytes = (...values: (number | string)[]) =>
  Buffer.concat(values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from([v]))));
const u16 = (n: number) => bytes(n & 0xff, n >> 8);
const u32 = (n: number) => bytes(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
/** An OK packet's payload (header 0x00, or 0xFE as DEPRECATE_EOF's terminator) with status flags. */
const ok = (header: number, status = 0x0002) => bytes(header, 0, 0, ...u16(status), 0, 0);
const columnDefinition = bytes(
  3,
  'def',
  0,
  0,
  1,
  't',
  1,
  'a',
  0x0c,
  ...u16(33),
  ...u32(10),
  0xfd,
  0,
  0,
  0,
  0,
  0,
);

describe('MySQL framing on crafted conversations', () => {
  test('CLIENT_DEPRECATE_EOF result sets and prepares, a chained multi-result, a 16 MB query', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-mysql-'));
    const file = path.join(work, 'crafted.pcap');
    const w = new PcapStreamWriter(file);
    const c = new Conversation(w, 42_000);
    const deprecateEof = 0x1000000;
    const capabilities = 0x200 | 0x8 | 0x8000 | deprecateEof;
    c.server(
      packets(
        0,
        bytes(
          0x0a,
          '8.0.36',
          0,
          ...u32(7),
          'abcdefgh',
          0,
          ...u16(capabilities & 0xffff),
          33,
          ...u16(2),
          ...u16(capabilities >>> 16),
          21,
          ...Array(10).fill(0),
          'ijklmnopqrst',
          0,
        ),
      ),
    );
    c.client(
      packets(
        1,
        bytes(...u32(capabilities), ...u32(1 << 24), 33, ...Array(23).fill(0), 'app', 0, 0, 'crafted', 0),
      ),
    );
    c.server(packets(2, ok(0x00)));
    // SELECT: column count, one definition, one row, the 0xFE OK terminator (no EOF packets).
    c.client(packets(0, bytes(0x03, 'SELECT a FROM t')));
    c.server(
      Buffer.concat([
        packets(1, bytes(1)),
        packets(2, columnDefinition),
        packets(3, bytes(1, 'x')),
        packets(4, ok(0xfe)),
      ]),
    );
    // PREPARE with one parameter and one column: definitions without EOFs.
    c.client(packets(0, bytes(0x16, 'SELECT a FROM t WHERE b = ?')));
    c.server(
      Buffer.concat([
        packets(1, bytes(0, ...u32(1), ...u16(1), ...u16(1), 0, ...u16(0))),
        packets(2, columnDefinition),
        packets(3, columnDefinition),
      ]),
    );
    // CALL: a result set whose terminator says more results exist, then the final OK.
    c.client(packets(0, bytes(0x03, 'CALL p()')));
    c.server(
      Buffer.concat([
        packets(1, bytes(1)),
        packets(2, columnDefinition),
        packets(3, bytes(1, 'y')),
        packets(4, ok(0xfe, 0x000a)),
        packets(5, ok(0x00)),
      ]),
    );
    // A 16 MB + 10 bytes query: two packets of 0xFFFFFF and 11 bytes.
    const big = Buffer.alloc(0xffffff + 10, 0x20);
    big[0] = 0x03;
    big.write("INSERT INTO t VALUES ('", 1, 'latin1');
    c.client(packets(0, big));
    c.server(packets(1, ok(0x00)));
    c.client(packets(0, bytes(0x0e)));
    c.server(packets(1, ok(0x00)));
    w.close();

    const result = replay([file]);
    const pairs = mysqlPairs(result.pairs);
    assert.deepEqual(
      pairs.map((pair) => [
        detailOf(pair).command,
        detailOf(pair).operation,
        pair.outcome,
        pair.response?.packets,
      ]),
      [
        ['login', null, 0, 1],
        ['query', 'SELECT', 0, 1],
        ['stmt_prepare', 'STMT_PREPARE', 0, 1],
        ['query', 'CALL', 0, 1],
        ['query', 'INSERT', 0, 1],
        ['ping', 'PING', 0, 1],
      ],
    );
    assert.deepEqual(
      pairs.map((pair) => detailOf(pair).system),
      Array(6).fill('mysql'),
    );
    assert.equal(pairs[0]!.detail!.namespace, 'crafted');
    const insert = pairs[4]!;
    assert.equal(insert.request.bytes, 0xffffff + 10 + 8, 'both packets (and their headers) are the request');
    assert.equal(
      detailOf(insert).query,
      'INSERT INTO t VALUES (?',
      'cut at the cap, the open literal replaced',
    );
    assert.equal(skip(result, 'mysql.response_without_request'), 0);
    assert.equal(skip(result, 'mysql.framing_lost'), 0);
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('hostile: garbage on the port, 20,000 pipelined pings with no answer: counted and bounded', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-mysql-'));
    const file = path.join(work, 'hostile.pcap');
    const w = new PcapStreamWriter(file);
    new Conversation(w, 43_000).client(Buffer.from([0xff, 0xff, 0xff, 0x07, 0x99, 1, 2, 3]));
    const flood = new Conversation(w, 43_001);
    const ping = packets(0, bytes(0x0e));
    flood.client(Buffer.concat(Array.from({ length: 20_000 }, () => ping)));
    w.close();
    const result = replay([file]);
    assert.equal(skip(result, 'mysql.not_mysql'), 1);
    const pairs = mysqlPairs(result.pairs);
    assert.equal(pairs.length, 20_000, 'each ping reported once, unanswered');
    assert.ok(pairs.every((pair) => pair.outcome === 1));
    assert.ok(skip(result, 'mysql.queue_evicted') > 0, 'beyond the per-connection queue cap');
    fs.rmSync(work, { recursive: true, force: true });
  });
});
