/**
 * HTTP/2 and gRPC pairing on real captures (test/tools/make-http2-captures.sh): Node's http2
 * client and @grpc/grpc-js against their servers on loopback. Checked against tshark's frames
 * (first request byte and END_STREAM times to the nanosecond) and against each client's own list
 * of the calls it made (counts, statuses, gRPC message counts and sizes).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Outcome, type Pair, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { skipReason } from '../../../agent/shared/skips.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const fixtures = path.join(import.meta.dirname, '../../fixtures/protocols/http2');

interface OracleStream {
  /** Capture time of the packet with the client's first HEADERS frame ("seconds.nanos"). */
  requestFirst: string;
  /** Capture time of the packet with the server's END_STREAM frame, if any. */
  responseEnd: string | null;
  /** RST_STREAM seen before the response ended. */
  reset: boolean;
}

/** tshark's frames per (client port, stream id). */
function oracle(name: string, serverPort: number): Map<string, OracleStream> {
  const streams = new Map<string, OracleStream>();
  for (const line of fs.readFileSync(path.join(fixtures, `${name}.tshark.tsv`), 'utf8').split('\n')) {
    if (!line) continue;
    const [, time, src, dst, ids, types, flags] = line.split('\t') as string[];
    const fromServer = Number(src) === serverPort;
    const clientPort = fromServer ? dst : src;
    const idList = ids!.split(',');
    const typeList = types!.split(',').map(Number);
    const flagList = flags!.split(',').map((f) => Number.parseInt(f, 16));
    for (let i = 0; i < idList.length; i++) {
      const key = `${clientPort}/${idList[i]}`;
      const type = typeList[i]!;
      let stream = streams.get(key);
      if (!fromServer && type === 1 && stream === undefined) {
        stream = { requestFirst: time!, responseEnd: null, reset: false };
        streams.set(key, stream);
      }
      if (stream === undefined) continue;
      if (
        fromServer &&
        (type === 0 || type === 1) &&
        flagList[i]! & 1 &&
        stream.responseEnd === null &&
        !stream.reset
      )
        stream.responseEnd = time!;
      if (type === 3 && stream.responseEnd === null) stream.reset = true;
    }
  }
  return streams;
}

function epoch(seconds: number, nanos: number): string {
  return `${seconds}.${String(nanos).padStart(9, '0')}`;
}

function byStream(pairs: Pair[]): Map<string, Pair> {
  const out = new Map<string, Pair>();
  for (const pair of pairs) {
    if (pair.protocol !== 'http' && pair.protocol !== 'grpc') continue;
    out.set(`${pair.clientPort}/${(pair.detail as { stream_id: number }).stream_id}`, pair);
  }
  return out;
}

function readCalls<T>(name: string): { port: number; calls: T[] } {
  return JSON.parse(fs.readFileSync(path.join(fixtures, `${name}.calls.json`), 'utf8'));
}

for (const name of ['h2c', 'grpc']) {
  test(`${name}: every stream pairs at tshark's times, to the nanosecond`, () => {
    const { port } = readCalls(name);
    const expected = oracle(name, port);
    const pairs = byStream(replayPairs([path.join(fixtures, `${name}.pcap`)]).pairs);
    assert.equal(pairs.size, expected.size, 'one pair per request stream');
    for (const [key, stream] of expected) {
      const pair = pairs.get(key);
      assert.ok(pair, `pair for ${key}`);
      assert.equal(
        epoch(pair.request.firstSeconds, pair.request.firstNanos),
        stream.requestFirst,
        `${key} request first`,
      );
      if (stream.responseEnd === null) {
        assert.equal(pair.outcome, Outcome.Unanswered, `${key} unanswered`);
        continue;
      }
      assert.equal(pair.outcome, Outcome.Matched, `${key} matched`);
      assert.equal(
        epoch(pair.response!.lastSeconds, pair.response!.lastNanos),
        stream.responseEnd,
        `${key} response end`,
      );
    }
  });
}

test('h2c: the pairs are the calls the client made (method, target, status; the cancelled one unanswered)', () => {
  const { calls } = readCalls<{ method: string; path: string; status: number | null }>('h2c');
  const { pairs, correlator } = replayPairs([path.join(fixtures, 'h2c.pcap')]);
  const http = pairs.filter((pair) => pair.protocol === 'http');
  assert.equal(http.length, calls.length);
  const byTarget = new Map(http.map((pair) => [(pair.detail as { target: string }).target, pair]));
  for (const call of calls) {
    const pair = byTarget.get(call.path);
    assert.ok(pair, call.path);
    const detail = pair.detail as Record<string, unknown>;
    assert.equal(detail.method, call.method);
    assert.equal(detail.version, '2');
    assert.equal(detail.host, `127.0.0.1:${readCalls('h2c').port}`);
    assert.equal(detail.status, call.status, call.path);
    if (call.status === null) {
      assert.equal(pair.outcome, Outcome.Unanswered);
      assert.equal(pair.unansweredReason, UnansweredReason.ConnectionClosed);
      assert.equal(detail.reset, 'CANCEL');
      assert.equal(detail.reset_by, 'client');
    }
  }
  // Bodies over one frame, a header block over one frame (CONTINUATION), padded frames: all read.
  const echo = byTarget.get('/echo/1')!;
  assert.ok(echo.request.bytes > 17_000 && echo.response!.bytes > 17_000);
  assert.equal(correlator.skips.get(skipReason('http2.header_undecodable')), 0);
  assert.equal(correlator.skips.get(skipReason('http2.framing_lost')), 0);
});

test('grpc: one pair per call with its service, method, status and message counts and sizes', () => {
  const { calls } = readCalls<{
    path: string;
    statusCode: number;
    requestMessages: number[];
    responseMessages: number[];
  }>('grpc');
  const pairs = replayPairs([path.join(fixtures, 'grpc.pcap')]).pairs.filter(
    (pair) => pair.protocol === 'grpc',
  );
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const fromCalls = calls
    .map(
      (call) =>
        `${call.path} ${call.statusCode} ${call.requestMessages.length}/${sum(call.requestMessages)} ${call.responseMessages.length}/${sum(call.responseMessages)}`,
    )
    .sort();
  const fromPairs = pairs
    .map((pair) => {
      assert.equal(pair.outcome, Outcome.Matched);
      const d = pair.detail as Record<string, number | string>;
      return `/${d.service}/${d.method} ${d.status_code} ${d.request_messages}/${d.request_message_bytes} ${d.response_messages}/${d.response_message_bytes}`;
    })
    .sort();
  assert.deepEqual(fromPairs, fromCalls);
  const failed = pairs.find((pair) => (pair.detail as { status_code: number }).status_code === 5)!;
  assert.equal(
    (failed.detail as { message: string }).message,
    'no such thing',
    'grpc-message percent-decoded',
  );
});

/** A pair without where it came from (file names and packet numbers change when cut). */
function withoutSource(pair: Record<string, unknown>): string {
  const { source: _source, ...rest } = pair;
  return JSON.stringify(rest);
}

for (const name of ['h2c', 'grpc']) {
  test(`${name}: cut after every packet into rotated files, the same pairs`, () => {
    const original = path.join(fixtures, `${name}.pcap`);
    const whole = replayPairs([original]).json.map(withoutSource).sort();
    const records = readAllRecords(original);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-h2-rotation-'));
    const files = records.map((record, index) => {
      const file = path.join(dir, `cap-${String(index).padStart(5, '0')}.pcap`);
      writePcap(file, [record]);
      return file;
    });
    assert.deepEqual(replayPairs(files).json.map(withoutSource).sort(), whole);
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('h2c: a capture that starts mid-connection still pairs; fields in unknown HPACK entries are null and counted', () => {
  const records = readAllRecords(path.join(fixtures, 'h2c.pcap'));
  // Packet 13 holds the first connection's /big-headers request: preface, SETTINGS and the first
  // 25 requests (which filled the HPACK tables) are not in the cut capture.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-h2-midstream-'));
  const file = path.join(dir, 'late.pcap');
  writePcap(file, records.slice(12));
  const { pairs, correlator } = replayPairs([file]);
  const late = pairs.find(
    (pair) => pair.protocol === 'http' && (pair.detail as { stream_id: number }).stream_id === 51,
  );
  assert.ok(late, 'the request whose HEADERS were captured is paired');
  assert.equal(late.outcome, Outcome.Matched);
  const detail = late.detail as Record<string, unknown>;
  assert.equal(detail.method, 'GET', 'static-table fields decode');
  assert.equal(detail.status, 200);
  assert.ok((detail.undecoded_headers as number) > 0, 'dynamic-table references are marked');
  assert.ok(correlator.skips.get(skipReason('http2.header_undecodable')) > 0, 'and counted');
  const cancelled = pairs.find((pair) => (pair.detail as { stream_id?: number } | null)?.stream_id === 53);
  assert.equal(cancelled?.outcome, Outcome.Unanswered);
  // The second connection is whole: its two requests pair with every field.
  const padded = pairs.filter((pair) =>
    ((pair.detail as { target?: string } | null)?.target ?? '').endsWith('/padded'),
  );
  assert.equal(padded.length, 2);
  fs.rmSync(dir, { recursive: true, force: true });
});

for (const name of ['h2c', 'grpc']) {
  test(`${name}: a capture starting at any packet pairs only what it saw, never more streams than the whole`, () => {
    const records = readAllRecords(path.join(fixtures, `${name}.pcap`));
    const whole = byStream(replayPairs([path.join(fixtures, `${name}.pcap`)]).pairs);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-h2-late-'));
    for (let start = 1; start < records.length; start++) {
      const file = path.join(dir, `from-${start}.pcap`);
      writePcap(file, records.slice(start));
      const first = records[start]!;
      for (const [key, pair] of byStream(replayPairs([file]).pairs)) {
        assert.ok(whole.has(key), `from ${start}: ${key} is a real stream`);
        const request = pair.request;
        assert.ok(
          request.firstSeconds > first.seconds ||
            (request.firstSeconds === first.seconds && request.firstNanos >= first.nanos),
          `from ${start}: ${key} starts inside the capture`,
        );
        if (pair.outcome === Outcome.Matched) {
          const real = whole.get(key)!;
          assert.equal(
            pair.response!.lastNanos,
            real.response!.lastNanos,
            `from ${start}: ${key} ends where it really ends`,
          );
        }
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('grpc: caught after the first calls, the connection is claimed from the server side and later calls pair', () => {
  const records = readAllRecords(path.join(fixtures, 'grpc.pcap'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-h2-late-grpc-'));
  const file = path.join(dir, 'late.pcap');
  // From packet 13 on: the concurrent calls' HEADERS (all from the dynamic table: they say nothing
  // about which side sent them) are followed by the server's responses (:status 200, static).
  writePcap(file, records.slice(12));
  const { pairs, correlator } = replayPairs([file]);
  const last = pairs.find((pair) => (pair.detail as { stream_id?: number } | null)?.stream_id === 17);
  assert.ok(last, 'the call made after the claim pairs');
  assert.equal(last.outcome, Outcome.Matched);
  assert.equal(last.serverPort, 18081, 'roles from the frames: the server is the side that sent :status');
  assert.ok(correlator.skips.get(skipReason('http2.response_without_request')) > 0, 'earlier calls counted');
  fs.rmSync(dir, { recursive: true, force: true });
});
