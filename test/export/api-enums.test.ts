/** api-enums.ts's constants are the OpenTelemetry API's enum values, name for name; sdk-metrics-enums.ts's the SDK's. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as api from '@opentelemetry/api';
import * as sdkMetrics from '@opentelemetry/sdk-metrics';
import { SpanKind, SpanStatusCode, TraceFlags } from '../../agent/export/otel/api-enums.ts';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
} from '../../agent/export/otel/sdk-metrics-enums.ts';

/** A numeric TypeScript enum's names and values (without its reverse mapping). */
const members = (enumObject: object) =>
  Object.fromEntries(Object.entries(enumObject).filter(([, value]) => typeof value === 'number'));

test('SpanKind, SpanStatusCode and TraceFlags equal the API enums', () => {
  assert.deepEqual(SpanKind, members(api.SpanKind));
  assert.deepEqual(SpanStatusCode, members(api.SpanStatusCode));
  assert.deepEqual(TraceFlags, members(api.TraceFlags));
});

test("AggregationTemporality, DataPointType and InstrumentType's members have the SDK's values", () => {
  assert.deepEqual(AggregationTemporality, members(sdkMetrics.AggregationTemporality));
  assert.equal(DataPointType.HISTOGRAM, sdkMetrics.DataPointType.HISTOGRAM);
  assert.equal(InstrumentType.HISTOGRAM, sdkMetrics.InstrumentType.HISTOGRAM);
});
