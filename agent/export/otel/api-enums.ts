/**
 * The OpenTelemetry API enums the span path uses, as constants of the API's own types. Importing
 * a value from `@opentelemetry/api` loads its whole index (~50 modules: the global API objects,
 * no-op providers, propagation), ~20-25 ms of every worker's start for three enums.
 * test/export/api-enums.test.ts checks the values against the API.
 */
import type {
  SpanKind as ApiSpanKind,
  SpanStatusCode as ApiSpanStatusCode,
  TraceFlags as ApiTraceFlags,
} from '@opentelemetry/api';

export type SpanKind = ApiSpanKind;
export const SpanKind = {
  INTERNAL: 0 as ApiSpanKind.INTERNAL,
  SERVER: 1 as ApiSpanKind.SERVER,
  CLIENT: 2 as ApiSpanKind.CLIENT,
  PRODUCER: 3 as ApiSpanKind.PRODUCER,
  CONSUMER: 4 as ApiSpanKind.CONSUMER,
} as const;

export type SpanStatusCode = ApiSpanStatusCode;
export const SpanStatusCode = {
  UNSET: 0 as ApiSpanStatusCode.UNSET,
  OK: 1 as ApiSpanStatusCode.OK,
  ERROR: 2 as ApiSpanStatusCode.ERROR,
} as const;

export const TraceFlags = {
  NONE: 0 as ApiTraceFlags.NONE,
  SAMPLED: 1 as ApiTraceFlags.SAMPLED,
} as const;
