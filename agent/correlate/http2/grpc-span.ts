/**
 * gRPC pairs as spans, per the RPC semantic conventions as shipped (stable) in
 * @opentelemetry/semantic-conventions 1.45.0 (semantic-conventions after #3921, 2026-07):
 * name `{rpc.method}`, rpc.system.name "grpc", rpc.method "package.Service/Method" (rpc.service
 * folded into it), rpc.status_code as the status name ("OK", "NOT_FOUND"); errors per the gRPC
 * conventions: every non-OK status on CLIENT spans, on SERVER spans only the codes that mean the
 * server failed; rpc.client.call.duration / rpc.server.call.duration.
 *
 * Written against the span draft of the protocol seam (correlate/protocol.ts SpanDraft) by shape,
 * so it needs nothing of it but these fields.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVICE_NAME,
  METRIC_RPC_CLIENT_CALL_DURATION,
  METRIC_RPC_SERVER_CALL_DURATION,
  RPC_SYSTEM_NAME_VALUE_GRPC,
} from '../../export/otel/semconv-stable.ts';
import { kGrpcStatusNames } from './grpc.ts';
import type { GrpcDetail } from './matcher.ts';

/** The fields of the seam's SpanDraft this mapping reads and writes. */
export interface GrpcSpanDraft {
  readonly matched: boolean;
  readonly serverSide: boolean;
  readonly serviceName: string;
  readonly seconds: number;
  readonly attributes: Attributes;
  name: string;
  errorType: string | null;
  metric: { name: string; value: number; attributes: Attributes } | null;
}

export const kGrpcHistograms = [METRIC_RPC_CLIENT_CALL_DURATION, METRIC_RPC_SERVER_CALL_DURATION] as const;

/** Codes that mean the server failed (gRPC semantic conventions, server spans): 2, 4, 12, 13, 14, 15. */
const kServerErrorCodes = new Set([2, 4, 12, 13, 14, 15]);

export function grpcStatusName(code: number): string {
  return kGrpcStatusNames[code] ?? String(code);
}

/** A call whose status says it failed, from the client's view (the summary's and report's rule). */
export function grpcIsError(detail: GrpcDetail): boolean {
  return typeof detail.status_code === 'number' && detail.status_code !== 0;
}

/** Slowest-pairs text: "demo.Echo/Fail → NOT_FOUND". */
export function grpcWhat(detail: GrpcDetail | null): string {
  const method =
    detail?.service != null && detail.method != null ? `${detail.service}/${detail.method}` : '?';
  const status = typeof detail?.status_code === 'number' ? grpcStatusName(detail.status_code) : '-';
  return `${method} → ${status}`;
}

export function mapGrpcSpan(detail: GrpcDetail | null, span: GrpcSpanDraft): void {
  const attributes = span.attributes;
  attributes[ATTR_RPC_SYSTEM_NAME] = RPC_SYSTEM_NAME_VALUE_GRPC;
  const method =
    detail?.service != null && detail.method != null ? `${detail.service}/${detail.method}` : null;
  if (method !== null) attributes[ATTR_RPC_METHOD] = method;
  // Without a method (headers not decodable) the span is named after the system.
  span.name = method ?? RPC_SYSTEM_NAME_VALUE_GRPC;
  const authority = detail?.authority ?? null;
  if (authority !== null) attributes[ATTR_SERVER_ADDRESS] = hostOf(authority);
  const code = typeof detail?.status_code === 'number' ? detail.status_code : null;
  if (code !== null) {
    const status = grpcStatusName(code);
    attributes[ATTR_RPC_STATUS_CODE] = status;
    if (code !== 0 && (!span.serverSide || kServerErrorCodes.has(code))) span.errorType = status;
  } else if (span.matched) {
    // The stream ended without a grpc-status: the call did not complete as gRPC.
    span.errorType = '_OTHER';
  }
  if (!span.matched) return;
  const metricAttributes: Attributes = {
    [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC,
    [ATTR_SERVICE_NAME]: span.serviceName,
  };
  if (method !== null) metricAttributes[ATTR_RPC_METHOD] = method;
  if (code !== null) metricAttributes[ATTR_RPC_STATUS_CODE] = grpcStatusName(code);
  if (span.errorType !== null) metricAttributes[ATTR_ERROR_TYPE] = span.errorType;
  span.metric = {
    name: span.serverSide ? METRIC_RPC_SERVER_CALL_DURATION : METRIC_RPC_CLIENT_CALL_DURATION,
    value: span.seconds,
    attributes: metricAttributes,
  };
}

/** ":authority" without its port ("api:50051" → "api", "[::1]:50051" → "::1"). */
function hostOf(authority: string): string {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close > 0 ? authority.slice(1, close) : authority;
  }
  const colon = authority.lastIndexOf(':');
  return colon > 0 && authority.indexOf(':') === colon ? authority.slice(0, colon) : authority;
}
