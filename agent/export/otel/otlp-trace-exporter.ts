/**
 * The OTLP span exporter: the SDK's own export delegate (gRPC or HTTP, otlp-transport.ts: transport, `OTEL_EXPORTER_OTLP_*`
 * configuration, headers/metadata, TLS credentials, compression, timeouts, concurrency limit,
 * partial-success logging, self-observability metrics), with wirespan's span encoder
 * (otlp-encode.ts) as its serializer instead of otlp-transformer's ProtobufTraceSerializer.
 *
 * It is built exactly as the SDK's OTLPTraceExporter builds itself (0.301.0, gRPC:
 * `createOtlpGrpcExportDelegate(convertLegacyOtlpGrpcOptions(config, 'TRACES'), serializer, ...)`;
 * http/protobuf: the same with createOtlpHttpExportDelegate, see otlp-transport.ts), so it takes
 * the same options and behaves the same on the wire; only the bytes are made faster. Responses
 * are decoded by the SDK's deserializer.
 */
import type { ExportResult } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import {
  type IExportTraceServiceResponse,
  type ISerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { OtlpTraceEncoder } from './otlp-encode.ts';
import {
  createOtlpDelegate,
  type OtlpProtocol,
  type OtlpTransportConfig,
  transportPayload,
} from './otlp-transport.ts';

/**
 * Span → protobuf with OtlpTraceEncoder (a fresh buffer per request, handed over without a copy:
 * transportPayload); responses with the SDK's deserializer.
 */
export function wirespanTraceSerializer(
  protocol: OtlpProtocol,
): ISerializer<ReadableSpan[], IExportTraceServiceResponse> {
  const encoder = new OtlpTraceEncoder();
  return {
    serializeRequest: (spans) => transportPayload(protocol, encoder.encode(spans)),
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
}

export class OtlpTraceExporter implements SpanExporter {
  readonly #delegate: IOtlpExportDelegate<ReadableSpan[]>;

  constructor(config: OtlpTransportConfig = {}, protocol: OtlpProtocol = 'grpc') {
    this.#delegate = createOtlpDelegate(
      'TRACES',
      protocol,
      config,
      wirespanTraceSerializer(protocol),
      TraceExporterMetricsHelper,
    );
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#delegate.export(spans, resultCallback);
  }

  forceFlush(): Promise<void> {
    return this.#delegate.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#delegate.shutdown();
  }
}
