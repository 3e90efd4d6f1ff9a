/** Public API of the OpenTelemetry export (docs/output.md "OpenTelemetry spans"). */

export { kDefaultLatencyBoundaries } from './metrics.ts';
export {
  createOtelExporter,
  type OtelExporter,
  type OtelExporterCounters,
  type OtelExporterOptions,
  type OtelShutdownResult,
} from './sdk.ts';
export type { ServiceMapEntry } from './service-map.ts';
export type { ExportState, ExportStateDetail, SpanBatcherOptions } from './span-batcher.ts';
export { kDefaultLocalNetworks, type PairData } from './span-mapper.ts';
export type { EncodedSpans, SpanEncoderConfig } from './span-request-encoder.ts';
