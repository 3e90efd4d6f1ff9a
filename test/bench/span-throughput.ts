/**
 * Span export throughput (a measurement, not a test):
 *
 *   npm run bench -- --span-throughput [pairs=200000] [sample-ratio=1] [raw,decoding] [emit|encoded]
 *
 * `encoded`: the worker span path. The pairs are first mapped and encoded with
 * SpanRequestEncoder (what each worker does; timed separately: `encodeOnlyPairsPerSecond` is one
 * thread's rate), then the end-to-end time covers only the main thread's share:
 * offerEncoded() (counts, latency points) and the byte batcher into the gRPC transport.
 *
 * Pairs replayed from the corpus (DNS, HTTP, TCP handshakes, the demo's UDP and unanswered
 * ones) are emitted round-robin with fresh client ports up to the requested count, emitted to the
 * OTel exporter, and exported over OTLP/gRPC to a real receiver (@elastic/mockotlpserver) in a
 * CHILD process, so the receiver's protobuf decoding does not share our event loop (it still
 * shares the machine's cores). Prints spans/s end to end (first emit to shutdown resolved, every
 * span acknowledged) and the emit() cost alone (mapping + histogram + queueing).
 *
 * The pipeline is paced with whenRoom() so nothing is dropped: the number is what the exporter
 * sustains, not how fast a queue fills.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { createOtelExporter, type PairData } from '../../agent/export/otel/index.ts';
import {
  type EncodedSpans,
  kDefaultMaxRequestBytes,
  kDefaultSpansPerRequest,
  SpanRequestEncoder,
} from '../../agent/export/otel/span-request-encoder.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

if (process.argv[2] === '--raw-receiver') {
  // Child: a minimal OTLP/gRPC trace receiver on node:http2 that acknowledges each Export
  // without decoding it (what a collector's network side costs, not its protobuf decoding).
  // Counts requests and bytes; the span count is the exporter's acknowledged count.
  const http2 = await import('node:http2');
  let requests = 0;
  let bytes = 0;
  const server = http2.createServer({ settings: { initialWindowSize: 16 * 1024 * 1024 } });
  server.on('session', (session) => session.setLocalWindowSize(64 * 1024 * 1024));
  server.on('stream', (stream, headers) => {
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      requests++;
      const ok = headers[':path'] === '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers(
          ok ? { 'grpc-status': '0' } : { 'grpc-status': '12', 'grpc-message': 'unimplemented' },
        ),
      );
      // An empty ExportTraceServiceResponse: uncompressed flag + zero length.
      stream.end(Buffer.alloc(5));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send?.({ port: (server.address() as import('node:net').AddressInfo).port });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'count') process.send?.({ spans: -1, requests, bytes });
    if (message.type === 'close') {
      server.close();
      process.disconnect();
    }
  });
} else if (process.argv[2] === '--receiver') {
  // Child: the receiver. Reports its port, then the number of spans received when asked.
  const { default: mock } = await import('@elastic/mockotlpserver');
  let spans = 0;
  const server = new mock.MockOtlpServer({
    services: ['grpc'],
    grpcHostname: '127.0.0.1',
    grpcPort: 0,
    logLevel: 'warn',
    onTrace: (request: Record<string, unknown>) => {
      for (const rs of request.resourceSpans as { scopeSpans: { spans: unknown[] }[] }[]) {
        for (const ss of rs.scopeSpans) spans += ss.spans.length;
      }
    },
  });
  await server.start();
  process.send?.({ port: Number((server.grpcUrl as URL).port) });
  process.on('message', async (message: { type: string }) => {
    if (message.type === 'count') process.send?.({ spans });
    if (message.type === 'close') {
      await server.close();
      process.disconnect();
    }
  });
} else {
  const total = Number(process.argv[2] ?? 200_000);
  const sampleRatio = Number(process.argv[3] ?? 1);
  const receivers = (process.argv[4] ?? 'raw,decoding').split(',');
  const mode = process.argv[5] ?? 'emit';
  const files = [
    path.join(corpusDir, 'dns/pcapplusplus--DnsPackets.pcap'),
    path.join(corpusDir, 'http/pcapplusplus--http-packets2.pcap'),
    path.resolve(import.meta.dirname, '../fixtures/demo.pcap'),
  ];
  // Structured clones, as worker threads will post them. The exporter keeps nothing of a pair
  // after emit() returns, so each template is reused with a new client port (no retained heap).
  const templates = files.flatMap((file) => replayPairs([file]).pairs.map((pair) => structuredClone(pair)));
  const pairAt = (i: number): PairData => {
    const pair = templates[i % templates.length]!;
    pair.clientPort = 1024 + (i % 60000);
    return pair;
  };

  for (const receiver of receivers) {
    const child = fork(
      new URL(import.meta.url).pathname,
      [receiver === 'raw' ? '--raw-receiver' : '--receiver'],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const ask = <T>(message: object | null): Promise<T> =>
      new Promise((resolve) => {
        child.once('message', (reply) => resolve(reply as T));
        if (message !== null) child.send(message);
      });
    const { port } = await ask<{ port: number }>(null);

    const exporter = await createOtelExporter({
      endpoint: `http://127.0.0.1:${port}`,
      sampleRatio,
      metricExportIntervalMillis: 60_000,
      metrics: receiver !== 'raw', // the raw receiver only implements the trace service
    });
    const chunk = 4096;
    let emitNanos = 0n;
    let encodeNanos = 0n;
    const batches: EncodedSpans[] = [];
    if (mode === 'encoded') {
      const encoder = new SpanRequestEncoder(
        {
          ...exporter.spanConfig!,
          maxSpansPerRequest: kDefaultSpansPerRequest,
          maxRequestBytes: kDefaultMaxRequestBytes,
        },
        null,
        (batch) => batches.push(batch),
      );
      const t = process.hrtime.bigint();
      for (let i = 0; i < total; i++) encoder.emit(pairAt(i));
      encoder.finish();
      encodeNanos = process.hrtime.bigint() - t;
    }
    const started = process.hrtime.bigint();
    if (mode === 'encoded') {
      for (const batch of batches) {
        await exporter.whenRoom();
        const t = process.hrtime.bigint();
        exporter.offerEncoded(batch);
        emitNanos += process.hrtime.bigint() - t;
      }
      batches.length = 0;
    } else {
      for (let at = 0; at < total; at += chunk) {
        await exporter.whenRoom();
        const t = process.hrtime.bigint();
        const end = Math.min(total, at + chunk);
        for (let i = at; i < end; i++) exporter.emit(pairAt(i));
        emitNanos += process.hrtime.bigint() - t;
      }
    }
    const result = await exporter.shutdown();
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    const received = await ask<{ spans: number; requests?: number; bytes?: number }>({ type: 'count' });
    child.send({ type: 'close' });

    const spansPerSecond = Math.round(result.exported / elapsed);
    const emitRate = Math.round(total / (Number(emitNanos) / 1e9));
    console.log(
      JSON.stringify({
        receiver,
        mode,
        pairs: total,
        sampleRatio,
        exported: result.exported,
        received: received.spans >= 0 ? received.spans : undefined,
        requests: received.requests,
        bytesPerSpan: received.bytes === undefined ? undefined : Math.round(received.bytes / result.exported),
        dropped: result.dropped,
        failed: result.failed,
        sampledOut: exporter.counters.sampledOut,
        seconds: Number(elapsed.toFixed(3)),
        spansPerSecond,
        pairsPerSecond: Math.round(total / elapsed),
        emitOnlyPairsPerSecond: emitRate,
        encodeOnlyPairsPerSecond:
          mode === 'encoded' ? Math.round(total / (Number(encodeNanos) / 1e9)) : undefined,
        error: result.error,
      }),
    );
    console.log(
      `span export (${receiver === 'raw' ? 'receiver acknowledging without decoding' : 'mockotlpserver decoding every span'}): ` +
        `${spansPerSecond} spans/s end to end (${result.exported} spans in ${elapsed.toFixed(2)} s, ` +
        `${Math.round(total / elapsed)} pairs/s); emit() alone: ${emitRate} pairs/s`,
    );
    if ((received.spans >= 0 && received.spans !== result.exported) || result.error !== null)
      process.exitCode = 1;
  }
}
