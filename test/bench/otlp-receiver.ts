/**
 * A minimal local OTLP trace receiver for the `--spans` measurement, on two ports:
 *   - OTLP/HTTP: POST /v1/traces (application/x-protobuf or application/json, optionally
 *     gzip) answered 200 with an empty ExportTraceServiceResponse; other paths
 *     (/v1/metrics, /v1/logs) are accepted and ignored;
 *   - OTLP/gRPC (cleartext HTTP/2): TraceService/Export counted, other services
 *     (metrics, logs) accepted and ignored.
 * It decodes no more of the protobuf than the nesting needed to count spans:
 *   ExportTraceServiceRequest.resource_spans (1) → ResourceSpans.scope_spans (2)
 *   → ScopeSpans.spans (2),
 * and, to count the pairs the spans stand for, each span's attributes (9): an `unanswered
 * flood` span (span-flood.ts) stands for its `wirespan.flood.count` (int) pairs, any other for one.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

function readVarint(buf: Uint8Array, state: { pos: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (state.pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[state.pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
}

const kFloodCountKey = new TextEncoder().encode('wirespan.flood.count');

const kFloodName = new TextEncoder().encode('unanswered flood');

function bytesEqual(buf: Uint8Array, at: number, length: number, wanted: Uint8Array): boolean {
  if (length !== wanted.length) return false;
  for (let i = 0; i < length; i++) if (buf[at + i] !== wanted[i]) return false;
  return true;
}

/**
 * Calls `visit(field, at, length)` for each length-delimited field of the message in
 * buf[start, end), skipping the scalars; stops early when `visit` returns false.
 */
function forEachLenField(
  buf: Uint8Array,
  start: number,
  end: number,
  visit: (field: number, at: number, length: number) => boolean,
): void {
  const state = { pos: start };
  while (state.pos < end) {
    const tag = readVarint(buf, state);
    const wire = tag & 7;
    if (wire !== 2) {
      skipScalar(buf, state, wire);
      continue;
    }
    const length = readVarint(buf, state);
    const at = state.pos;
    state.pos += length;
    if (state.pos > end) throw new Error('truncated field');
    if (!visit(Math.floor(tag / 8), at, length)) return;
  }
}

/**
 * The pairs a protobuf Span in buf[start, end) stands for: an `unanswered flood` span its
 * `wirespan.flood.count` int attribute, any other 1. The name (field 5) comes before the
 * attributes (9) in field order, so ordinary spans are left after a few fields (the receiver
 * shares the cores with the agent it measures).
 */
function pairsOfSpan(buf: Uint8Array, start: number, end: number): number {
  let pairs = 1;
  forEachLenField(buf, start, end, (field, at, length) => {
    if (field === 5) return bytesEqual(buf, at, length, kFloodName);
    if (field !== 9) return true;
    // KeyValue: key (1, string), value (2, AnyValue: int_value = 3).
    let isCount = false;
    let value = -1;
    forEachLenField(buf, at, at + length, (kvField, kvAt, kvLength) => {
      if (kvField === 1) isCount = bytesEqual(buf, kvAt, kvLength, kFloodCountKey);
      else if (kvField === 2 && kvLength > 0 && buf[kvAt] === 3 << 3)
        value = readVarint(buf, { pos: kvAt + 1 });
      return true;
    });
    if (isCount && value >= 0) pairs = value;
    return !(isCount && value >= 0);
  });
  return pairs;
}

function skipScalar(buf: Uint8Array, state: { pos: number }, wire: number): void {
  if (wire === 0) readVarint(buf, state);
  else if (wire === 1) state.pos += 8;
  else if (wire === 5) state.pos += 4;
  else throw new Error(`unsupported protobuf wire type ${wire}`);
}

/** Spans in a protobuf ExportTraceServiceRequest, and the pairs they stand for. */
export function countProtobufTraces(buf: Uint8Array): { spans: number; pairs: number } {
  const counts = { spans: 0, pairs: 0 };
  // depth 0: request, 1: ResourceSpans, 2: ScopeSpans; the wanted LEN field per depth.
  const wanted = [1, 2, 2];
  const walk = (start: number, end: number, depth: number): void =>
    forEachLenField(buf, start, end, (field, at, length) => {
      if (field !== wanted[depth]) return true;
      if (depth < 2) walk(at, at + length, depth + 1);
      else {
        counts.spans++;
        counts.pairs += pairsOfSpan(buf, at, at + length);
      }
      return true;
    });
  walk(0, buf.length, 0);
  return counts;
}

/** Counts spans in a protobuf ExportTraceServiceRequest. */
export function countProtobufSpans(buf: Uint8Array): number {
  return countProtobufTraces(buf).spans;
}

interface JsonTraces {
  resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[];
}

export function countJsonSpans(text: string): number {
  let spans = 0;
  for (const resource of (JSON.parse(text) as JsonTraces).resourceSpans ?? [])
    for (const scope of resource.scopeSpans ?? []) spans += scope.spans?.length ?? 0;
  return spans;
}

export interface Receiver {
  /** OTLP/HTTP base URL (POST /v1/traces). */
  httpUrl: string;
  /** OTLP/gRPC URL (h2c, TraceService/Export). */
  grpcUrl: string;
  /** Spans received over either transport since the last reset. */
  spans: number;
  /** Pairs those spans stand for (OTLP/gRPC and protobuf OTLP/HTTP: an `unanswered flood` span counts its pairs). */
  pairs: number;
  requests: number;
  errors: number;
  reset(): void;
  close(): Promise<void>;
}

const traceExportPath = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** Starts an OTLP/HTTP and an OTLP/gRPC receiver on 127.0.0.1, ephemeral ports. */
export async function startReceiver(): Promise<Receiver> {
  const state = { spans: 0, pairs: 0, requests: 0, errors: 0 };

  const httpServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const json = (req.headers['content-type'] ?? '').includes('json');
      try {
        if (req.method === 'POST' && req.url?.startsWith('/v1/traces')) {
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
          if (json) {
            const spans = countJsonSpans(body.toString('utf8'));
            state.spans += spans;
            state.pairs += spans;
          } else {
            const counts = countProtobufTraces(body);
            state.spans += counts.spans;
            state.pairs += counts.pairs;
          }
          state.requests++;
        }
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
        res.end(json ? '{}' : '');
      } catch (error) {
        state.errors++;
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(String(error));
      }
    });
  });

  // gRPC over cleartext HTTP/2: each request body is a series of length-prefixed messages
  // (1 byte compressed flag, 4 bytes big-endian length); the answer is one empty message
  // and the trailer grpc-status 0. Flow control as the collector's: grpc-go (the OTel
  // collector's OTLP receiver) sizes its HTTP/2 windows by bandwidth-delay estimation, up to
  // 16 MiB, where node's default 64 KiB windows made the agent wait for WINDOW_UPDATEs from this
  // receiver's event loop: idle ~18 % of a `replay --otlp --workers 0` run, none of it the agent's.
  const sessions = new Set<http2.ServerHttp2Session>();
  const grpcServer = http2.createServer({ settings: { initialWindowSize: 4 << 20 } });
  grpcServer.on('session', (session) => {
    sessions.add(session);
    session.setLocalWindowSize(16 << 20);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  grpcServer.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      let status = '0';
      try {
        if (headers[':path'] === traceExportPath) {
          const body = Buffer.concat(chunks);
          for (let pos = 0; pos + 5 <= body.length; ) {
            const length = body.readUInt32BE(pos + 1);
            let message: Uint8Array = body.subarray(pos + 5, pos + 5 + length);
            if (body[pos] === 1) message = zlib.gunzipSync(message);
            const counts = countProtobufTraces(message);
            state.spans += counts.spans;
            state.pairs += counts.pairs;
            pos += 5 + length;
          }
          state.requests++;
        }
      } catch {
        state.errors++;
        status = '13'; // INTERNAL
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': status }));
      stream.end(Buffer.alloc(5));
    });
  });

  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => grpcServer.listen(0, '127.0.0.1', resolve));
  const httpPort = (httpServer.address() as AddressInfo).port;
  const grpcPort = (grpcServer.address() as AddressInfo).port;
  return {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    get spans() {
      return state.spans;
    },
    get pairs() {
      return state.pairs;
    },
    get requests() {
      return state.requests;
    },
    get errors() {
      return state.errors;
    },
    reset() {
      state.spans = 0;
      state.pairs = 0;
      state.requests = 0;
      state.errors = 0;
    },
    close: async () => {
      for (const session of sessions) session.destroy();
      httpServer.closeAllConnections();
      await Promise.all([
        new Promise<void>((resolve) => httpServer.close(() => resolve())),
        new Promise<void>((resolve) => grpcServer.close(() => resolve())),
      ]);
    },
  };
}
