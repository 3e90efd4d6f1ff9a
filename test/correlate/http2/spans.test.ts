/**
 * HTTP/2 and gRPC pairs through the real span mapper (registry-driven): HTTP/2 streams are HTTP
 * spans with network.protocol.version "2", gRPC calls RPC spans (http2/grpc-span.ts).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { SpanMapper } from '../../../agent/export/otel/span-mapper.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const fixtures = path.join(import.meta.dirname, '../../fixtures/protocols/http2');

function spans(name: string, localNetworks: string[]) {
  const file = path.join(fixtures, `${name}.pcap`);
  const mapper = new SpanMapper({ localNetworks, serviceMap: [], httpRoutes: [], sourceFiles: () => file });
  return replayPairs([file])
    .pairs.filter((pair) => pair.protocol === 'http' || pair.protocol === 'grpc')
    .map((pair) => mapper.map(pair));
}

test('HTTP/2 streams: HTTP client spans, version 2, 404 an error, the cancelled stream an error', () => {
  const all = spans('h2c', []);
  assert.equal(all.length, 29);
  for (const span of all) {
    assert.equal(span.attributes['network.protocol.version'], '2');
    assert.equal(span.attributes['wirespan.protocol'], 'http');
  }
  const missing = all.find((span) => span.attributes['url.path'] === '/missing/1')!;
  assert.equal(missing.name, 'GET /missing/{id}', 'heuristic route');
  assert.equal(missing.attributes['url.template'], '/missing/{id}');
  assert.equal(missing.attributes['http.response.status_code'], 404);
  assert.equal(missing.statusCode, SpanStatusCode.ERROR);
  assert.equal(missing.metric?.name, 'http.client.request.duration');
  const cancelled = all.find((span) => span.attributes['url.path'] === '/never')!;
  assert.equal(cancelled.statusCode, SpanStatusCode.ERROR);
  assert.equal(cancelled.metric, null);
});

test('gRPC calls: RPC spans named {rpc.method} with rpc.system.name and rpc.status_code; server spans err only on server failures', () => {
  const client = spans('grpc', []);
  assert.equal(client.length, 9);
  const fail = client.find((span) => span.attributes['rpc.status_code'] === 'NOT_FOUND')!;
  assert.equal(fail.name, 'demo.Echo/Fail');
  assert.equal(fail.attributes['rpc.system.name'], 'grpc');
  assert.equal(fail.attributes['wirespan.protocol'], 'grpc');
  assert.equal(fail.statusCode, SpanStatusCode.ERROR);
  assert.equal(fail.metric?.name, 'rpc.client.call.duration');
  const server = spans('grpc', ['127.0.0.0/8']);
  const serverFail = server.find((span) => span.attributes['rpc.status_code'] === 'NOT_FOUND')!;
  assert.equal(serverFail.statusCode, SpanStatusCode.UNSET);
  assert.equal(serverFail.metric?.name, 'rpc.server.call.duration');
  const unimplemented = server.find((span) => span.attributes['rpc.status_code'] === 'UNIMPLEMENTED')!;
  assert.equal(unimplemented.statusCode, SpanStatusCode.ERROR);
});
