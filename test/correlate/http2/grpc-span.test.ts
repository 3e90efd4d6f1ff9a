/** gRPC span mapping (RPC semantic conventions) on the pairs of the real gRPC capture. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Attributes } from '@opentelemetry/api';
import {
  type GrpcSpanDraft,
  grpcIsError,
  grpcWhat,
  kGrpcHistograms,
  mapGrpcSpan,
} from '../../../agent/correlate/http2/grpc-span.ts';
import type { GrpcDetail } from '../../../agent/correlate/http2/matcher.ts';
import { Outcome } from '../../../agent/correlate/pair.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const capture = path.join(import.meta.dirname, '../../fixtures/protocols/http2/grpc.pcap');

function draft(matched: boolean, serverSide: boolean): GrpcSpanDraft {
  return {
    matched,
    serverSide,
    serviceName: 'svc',
    seconds: 0.25,
    attributes: {} as Attributes,
    name: 'TCP 18081',
    errorType: matched ? null : 'timeout',
    metric: null,
  };
}

function details(): GrpcDetail[] {
  return replayPairs([capture])
    .pairs.filter((pair) => pair.protocol === 'grpc' && pair.outcome === Outcome.Matched)
    .map((pair) => pair.detail as GrpcDetail);
}

test('client spans: named {rpc.method}, rpc.* attributes, every non-OK status an error, client call duration', () => {
  const byMethodStatus = new Map<string, GrpcSpanDraft>();
  for (const detail of details()) {
    const span = draft(true, false);
    mapGrpcSpan(detail, span);
    byMethodStatus.set(`${span.name} ${span.attributes['rpc.status_code']}`, span);
    assert.equal(span.attributes['rpc.system.name'], 'grpc');
    assert.equal(span.attributes['rpc.method'], span.name);
    assert.equal(span.attributes['server.address'], '127.0.0.1');
    assert.equal(span.metric?.name, 'rpc.client.call.duration');
    assert.equal(span.metric?.value, 0.25);
    assert.equal(span.errorType, detail.status_code === 0 ? null : span.attributes['rpc.status_code']);
    assert.equal(grpcIsError(detail), detail.status_code !== 0);
  }
  assert.deepEqual([...byMethodStatus.keys()].sort(), [
    'demo.Echo/Chat OK',
    'demo.Echo/Fail INVALID_ARGUMENT',
    'demo.Echo/Fail NOT_FOUND',
    'demo.Echo/List OK',
    'demo.Echo/List UNAVAILABLE',
    'demo.Echo/Unary OK',
    'demo.Echo/Upload OK',
    'demo.Nope/Missing UNIMPLEMENTED',
  ]);
  assert.equal(byMethodStatus.get('demo.Echo/Fail NOT_FOUND')?.metric?.attributes['error.type'], 'NOT_FOUND');
});

test("server spans: only the server's own failures are errors", () => {
  const errors = new Map<string, string | null>();
  for (const detail of details()) {
    const span = draft(true, true);
    mapGrpcSpan(detail, span);
    errors.set(String(span.attributes['rpc.status_code']), span.errorType);
    assert.equal(span.metric?.name, 'rpc.server.call.duration');
    assert.ok(kGrpcHistograms.includes(span.metric.name), 'a histogram the descriptor declares');
  }
  assert.equal(errors.get('NOT_FOUND'), null);
  assert.equal(errors.get('INVALID_ARGUMENT'), null);
  assert.equal(errors.get('UNIMPLEMENTED'), 'UNIMPLEMENTED');
  assert.equal(errors.get('UNAVAILABLE'), 'UNAVAILABLE');
  assert.equal(errors.get('OK'), null);
});

test('an unanswered call keeps the preset error and gets no metric; the report text names method and status', () => {
  const detail = details()[0]!;
  const span = draft(false, false);
  mapGrpcSpan({ ...detail, status_code: null }, span);
  assert.equal(span.errorType, 'timeout');
  assert.equal(span.metric, null);
  assert.equal(
    grpcWhat({ ...detail, service: 'demo.Echo', method: 'Fail', status_code: 5 }),
    'demo.Echo/Fail → NOT_FOUND',
  );
  assert.equal(grpcWhat(null), '? → -');
});
