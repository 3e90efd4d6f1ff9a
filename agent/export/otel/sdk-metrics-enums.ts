/**
 * The sdk-metrics enum values the latency histograms use (latency-histograms.ts), as constants of
 * the SDK's own types: importing a value from `@opentelemetry/sdk-metrics` loads the whole
 * package, which the exporter now loads only when its metric stack is built (meter-provider.ts).
 * test/export/api-enums.test.ts checks the values against the SDK.
 */
import type {
  AggregationTemporality as SdkAggregationTemporality,
  DataPointType as SdkDataPointType,
  InstrumentType as SdkInstrumentType,
} from '@opentelemetry/sdk-metrics';

export type AggregationTemporality = SdkAggregationTemporality;
export const AggregationTemporality = {
  DELTA: 0 as SdkAggregationTemporality.DELTA,
  CUMULATIVE: 1 as SdkAggregationTemporality.CUMULATIVE,
} as const;

export const DataPointType = { HISTOGRAM: 0 as SdkDataPointType.HISTOGRAM } as const;

export const InstrumentType = { HISTOGRAM: 'HISTOGRAM' as SdkInstrumentType.HISTOGRAM } as const;
