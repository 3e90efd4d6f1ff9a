/** api-enums.ts's constants are the OpenTelemetry API's enum values, name for name. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as api from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, TraceFlags } from '../../agent/export/otel/api-enums.ts';

/** A numeric TypeScript enum's names and values (without its reverse mapping). */
const members = (enumObject: object) =>
  Object.fromEntries(Object.entries(enumObject).filter(([, value]) => typeof value === 'number'));

test('SpanKind, SpanStatusCode and TraceFlags equal the API enums', () => {
  assert.deepEqual(SpanKind, members(api.SpanKind));
  assert.deepEqual(SpanStatusCode, members(api.SpanStatusCode));
  assert.deepEqual(TraceFlags, members(api.TraceFlags));
});
