/**
 * HTTP/2 framing on hostile input, driven straight into the stream protocol: truncated and
 * random frames, a million streams opened without responses, header blocks over the limit or the
 * shared parser budget. Bounded state, counted skips, no crash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Http2StreamProtocol,
  kMaxHeaderBlockBytes,
  kMaxOpenStreams,
} from '../../../agent/correlate/http2/matcher.ts';
import { PacketView } from '../../../agent/correlate/matcher.ts';
import { defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import { Outcome, type Pair, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { type StreamConsumer, TcpConnectionInfo } from '../../../agent/correlate/tcp-stream/consumer.ts';
import { ParserBufferBudget } from '../../../agent/correlate/tcp-stream/parser-buffers.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';

const kPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** GET / with :authority localhost, static-table and literal-without-indexing fields only. */
const kRequestBlock = Buffer.from('828684010' + '96c6f63616c686f7374', 'hex');
/** :status 200 (static index 8). */
const kResponseBlock = Buffer.from('88', 'hex');
const kEndStream = 0x1;
const kEndHeaders = 0x4;

class Harness {
  readonly options = defaultCorrelateOptions();
  readonly pairs: Pair[] = [];
  readonly skips = new SkipCounters();
  readonly budget: ParserBufferBudget;
  protocol: Http2StreamProtocol;
  readonly view = new PacketView();
  consumer!: StreamConsumer;

  constructor(budgetBytes = 32 << 20, maxPending = 100_000) {
    this.options.maxPending.http = maxPending;
    this.budget = new ParserBufferBudget(budgetBytes);
    this.protocol = new Http2StreamProtocol({
      options: this.options,
      sink: { emit: (pair) => this.pairs.push(pair) },
      skips: this.skips,
      parserBuffers: this.budget,
    });
    this.view.seconds = 1_000;
  }

  connect(): this {
    const info = new TcpConnectionInfo();
    info.clientPort = 40_000;
    info.serverPort = 8080;
    const consumer = this.protocol.claim(info, true, kPreface, 0, kPreface.length);
    assert.ok(consumer, 'the preface is claimed');
    this.consumer = consumer;
    // As the reassembly does: the claimed bytes are the consumer's first data.
    this.send(true, kPreface);
    return this;
  }

  /** Sends bytes in chunks of `chunk` bytes, one packet each. */
  send(fromClient: boolean, bytes: Uint8Array, chunk = bytes.length): void {
    for (let at = 0; at < bytes.length; at += chunk) {
      this.view.packetNumber++;
      const n = Math.min(chunk, bytes.length - at);
      this.consumer.onData(fromClient, bytes, at, n, this.view);
    }
  }

  count(name: string): number {
    return this.skips.get(skipReason(name));
  }
}

function exchange(streams: number): { client: Buffer; server: Buffer } {
  const client: Buffer[] = [frame(4, 0, 0)];
  const server: Buffer[] = [frame(4, 0, 0)];
  for (let id = 1; id < 2 * streams; id += 2) {
    client.push(frame(1, kEndHeaders | kEndStream, id, kRequestBlock));
    server.push(frame(1, kEndHeaders, id, kResponseBlock), frame(0, kEndStream, id, Buffer.from('hello')));
  }
  return { client: Buffer.concat(client), server: Buffer.concat(server) };
}

test('the exchange pairs; truncated at every byte, it never throws and emits each stream once at most', () => {
  const whole = new Harness().connect();
  const { client, server } = exchange(3);
  whole.send(true, client);
  whole.send(false, server);
  assert.equal(whole.pairs.length, 3);
  assert.ok(whole.pairs.every((pair) => pair.outcome === Outcome.Matched));
  assert.equal(whole.count('http2.framing_lost'), 0);
  for (let cut = 0; cut <= server.length; cut++) {
    const h = new Harness().connect();
    h.send(true, client, 7);
    h.send(false, server.subarray(0, cut), 5);
    h.consumer.onClose(false, true, h.view);
    h.protocol.flush();
    assert.equal(h.pairs.length, 3, `cut at ${cut}`);
    assert.equal(h.protocol.pendingCount(), 0);
  }
});

test('random bytes after the preface: no crash, every reserved byte given back', () => {
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 24;
  };
  for (let round = 0; round < 300; round++) {
    const h = new Harness().connect();
    const noise = new Uint8Array(2000);
    for (let i = 0; i < noise.length; i++) noise[i] = random();
    // Mostly plausible frame headers with random payloads, so the parser goes deep.
    const frames: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const length = random() % 64;
      frames.push(frame(random() % 10, random(), random() % 8, noise.subarray(i * 64, i * 64 + length)));
    }
    frames.push(Buffer.from(noise));
    const bytes = Buffer.concat(frames);
    h.send(true, bytes, 1 + (round % 97));
    h.send(false, bytes, 1 + (round % 89));
    h.consumer.onForget?.();
    h.protocol.flush();
    assert.equal(h.budget.bytes, 0, `round ${round}`);
  }
});

/** Client frames opening `streams` request streams (ids 1, 3, ...) with no response, in 64 KiB packets. */
function openStreams(h: Harness, streams: number, check: () => void): void {
  const one = frame(1, kEndHeaders | kEndStream, 1, kRequestBlock);
  const batch = 10_000;
  const bytes = Buffer.alloc(one.length * batch);
  for (let sent = 0; sent < streams; sent += batch) {
    for (let i = 0; i < batch; i++) {
      one.writeUInt32BE(2 * (sent + i) + 1, 5);
      one.copy(bytes, i * one.length);
    }
    h.send(true, bytes, 65_536);
    check();
  }
}

test('a million streams opened without responses on one connection: kMaxOpenStreams followed, the rest counted', () => {
  const h = new Harness().connect();
  const streams = 1_000_000;
  openStreams(h, streams, () => assert.ok(h.protocol.pendingCount() <= kMaxOpenStreams));
  assert.equal(h.count('http2.stream_limit'), streams - kMaxOpenStreams);
  h.protocol.flush();
  assert.equal(h.pairs.length, kMaxOpenStreams, 'the followed ones reported unanswered at the end');
});

test('streams beyond the pending cap evict the oldest (reported, counted)', () => {
  const h = new Harness(32 << 20, 100).connect();
  openStreams(h, 20_000, () => assert.ok(h.protocol.pendingCount() <= 100));
  assert.equal(h.count('http2.evicted'), 20_000 - 100);
  assert.equal(h.pairs.length, 20_000 - 100);
  assert.equal(h.count('http2.stream_limit'), 0, 'evicted streams leave their connection');
});

test('a header block over the limit is not decoded (counted); the stream still pairs', () => {
  const h = new Harness().connect();
  const big = Buffer.alloc(kMaxHeaderBlockBytes + 10_000, 0x82); // indexed :method GET, over and over
  const client: Buffer[] = [frame(1, kEndStream, 1, big.subarray(0, 16_000))];
  for (let at = 16_000; at < big.length; at += 16_000) {
    const last = at + 16_000 >= big.length;
    client.push(frame(9, last ? kEndHeaders : 0, 1, big.subarray(at, Math.min(big.length, at + 16_000))));
  }
  h.send(true, Buffer.concat(client), 1_000);
  assert.equal(h.count('http2.header_block_too_large'), 1);
  assert.equal(h.budget.bytes, 0, 'the copied block was given back');
  h.send(false, Buffer.concat([frame(1, kEndHeaders | kEndStream, 1, kResponseBlock)]));
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.outcome, Outcome.Matched);
  assert.equal((h.pairs[0]!.detail as { undecoded_headers: number }).undecoded_headers, 1);
});

test('a split header block beyond the shared parser budget is given up (counted), not buffered', () => {
  const h = new Harness(2_000).connect();
  const block = Buffer.concat([kRequestBlock, Buffer.alloc(5_000, 0x82)]);
  h.send(true, frame(1, kEndHeaders | kEndStream, 1, block), 500);
  assert.equal(h.count('http2.parser_budget'), 1);
  assert.ok(h.budget.bytes <= 2_000);
  h.send(false, frame(1, kEndHeaders | kEndStream, 1, kResponseBlock));
  assert.equal(h.pairs.length, 1);
});

test('GOAWAY: streams above the last one processed are unanswered, named; RST_STREAM from the server too', () => {
  const h = new Harness().connect();
  const requests = [1, 3, 5].map((id) => frame(1, kEndHeaders | kEndStream, id, kRequestBlock));
  h.send(true, Buffer.concat(requests));
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(7); // REFUSED_STREAM
  const goaway = Buffer.alloc(8);
  goaway.writeUInt32BE(1, 0);
  goaway.writeUInt32BE(0, 4);
  h.send(false, Buffer.concat([frame(3, 0, 3, rst), frame(7, 0, 0, goaway)]));
  const reasons = h.pairs.map((pair) => (pair.detail as { stream_id: number; reset: string }).reset).sort();
  assert.deepEqual(reasons, ['GOAWAY NO_ERROR', 'REFUSED_STREAM']);
  assert.equal(h.protocol.pendingCount(), 1, 'stream 1 may still be answered');
});

test('gRPC messages across padded DATA frames, delivered in packets of every size: counted exactly', () => {
  // POST /demo.Echo/Unary, content-type application/grpc (literal fields without indexing).
  const literal = (name: string, value: string) =>
    Buffer.concat([
      Buffer.from([0x00, name.length]),
      Buffer.from(name),
      Buffer.from([value.length]),
      Buffer.from(value),
    ]);
  const block = Buffer.concat([
    Buffer.from([0x83, 0x86]),
    literal(':path', '/demo.Echo/Unary'),
    literal('content-type', 'application/grpc'),
  ]);
  const message = (length: number) => {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(length, 1);
    return Buffer.concat([prefix, Buffer.alloc(length, 0x41)]);
  };
  const body = Buffer.concat([message(3), message(300), message(0), message(70)]);
  const padded = (payload: Buffer, pad: number, flags: number) =>
    frame(0, flags | 0x8, 1, Buffer.concat([Buffer.from([pad]), payload, Buffer.alloc(pad, 0xee)]));
  // The body split at odd places into three padded DATA frames (padding bytes look like prefixes: they must not count).
  const client = Buffer.concat([
    frame(1, kEndHeaders, 1, block),
    padded(body.subarray(0, 2), 9, 0),
    padded(body.subarray(2, 200), 0, 0),
    padded(body.subarray(200), 31, kEndStream),
  ]);
  const trailers = Buffer.concat([literal('grpc-status', '0')]);
  const server = Buffer.concat([
    frame(1, kEndHeaders, 1, Buffer.concat([kResponseBlock, literal('content-type', 'application/grpc')])),
    padded(message(5), 200, 0),
    frame(1, kEndHeaders | kEndStream, 1, trailers),
  ]);
  for (const chunk of [1_000, 1, 2, 3, 5, 8, 13, 64]) {
    const h = new Harness().connect();
    h.send(true, client, chunk);
    h.send(false, server, chunk);
    assert.equal(h.pairs.length, 1, `chunk ${chunk}`);
    const pair = h.pairs[0]!;
    assert.equal(pair.protocol, 'grpc');
    assert.deepEqual(
      pair.detail,
      {
        service: 'demo.Echo',
        method: 'Unary',
        status_code: 0,
        http_status: 200,
        authority: null,
        request_messages: 4,
        request_message_bytes: 373,
        response_messages: 1,
        response_message_bytes: 5,
        stream_id: 1,
      },
      `chunk ${chunk}`,
    );
    assert.equal(pair.request.bytes, client.length, 'every frame byte of the stream counted');
    assert.equal(h.count('http2.framing_lost'), 0);
  }
});

test('a 1xx response is interim: the pair gets the final status, its response starting at the final HEADERS', () => {
  const h = new Harness().connect();
  h.send(true, frame(1, kEndHeaders | kEndStream, 1, kRequestBlock));
  // :status 100 as a literal without indexing (static name 8), in its own packet.
  h.send(false, frame(1, kEndHeaders, 1, Buffer.from([0x08, 0x03, 0x31, 0x30, 0x30])));
  const finalPacket = h.view.packetNumber + 1;
  h.send(false, frame(1, kEndHeaders | kEndStream, 1, kResponseBlock));
  assert.equal(h.pairs.length, 1);
  const pair = h.pairs[0]!;
  assert.equal((pair.detail as { status: number }).status, 200);
  assert.equal(pair.response!.packet, finalPacket);
  assert.equal(pair.response!.packets, 1);
});

test('a stream past its timeout ends expired; its late response is counted, not paired', () => {
  const h = new Harness().connect();
  h.send(true, frame(1, kEndHeaders | kEndStream, 1, kRequestBlock));
  h.protocol.expire(h.view.seconds + 29, 0);
  assert.equal(h.pairs.length, 0, 'still within the timeout');
  h.protocol.expire(h.view.seconds + 31, 0);
  assert.equal(h.pairs.length, 1);
  assert.equal(h.pairs[0]!.outcome, Outcome.Unanswered);
  assert.equal(h.pairs[0]!.unansweredReason, UnansweredReason.Expired);
  h.send(false, frame(1, kEndHeaders | kEndStream, 1, kResponseBlock));
  assert.equal(h.pairs.length, 1);
  assert.equal(h.count('http2.response_without_request'), 1);
});

test('gRPC calls wait --grpc-timeout, plain HTTP/2 streams --http-timeout', () => {
  const h = new Harness();
  h.options.timeoutNanos.grpc = 5_000_000_000;
  h.options.timeoutNanos.http = 60_000_000_000;
  const protocol = new Http2StreamProtocol({
    options: h.options,
    sink: { emit: (pair) => h.pairs.push(pair) },
    skips: h.skips,
    parserBuffers: h.budget,
  });
  h.protocol = protocol;
  h.connect();
  const grpcBlock = Buffer.concat([
    Buffer.from([0x83, 0x86, 0x04, 0x06]),
    Buffer.from('/a.B/C'),
    Buffer.from([0x0f, 0x10, 0x10]), // content-type (static 31, 4-bit prefix: 15 + 16), 16 bytes
    Buffer.from('application/grpc'),
  ]);
  h.send(true, frame(1, kEndHeaders | kEndStream, 1, kRequestBlock));
  h.send(true, frame(1, kEndHeaders | kEndStream, 3, grpcBlock));
  h.protocol.expire(h.view.seconds + 6, 0);
  assert.deepEqual(
    h.pairs.map((pair) => pair.protocol),
    ['grpc'],
  );
  h.protocol.expire(h.view.seconds + 61, 0);
  assert.deepEqual(
    h.pairs.map((pair) => pair.protocol),
    ['grpc', 'http'],
  );
});
