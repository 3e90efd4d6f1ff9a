/**
 * The OTLP/gRPC trace exporter for requests that are already encoded (by the workers, see
 * request-batcher.ts): the SDK's own gRPC export delegate, built as otlp-trace-exporter.ts
 * builds it (same options, `OTEL_EXPORTER_OTLP_*` configuration, headers, TLS, compression,
 * timeouts, concurrency limit, partial-success logging), with a pass-through serializer: the
 * bytes go on the wire as they are. Responses are decoded by the SDK's deserializer.
 *
 * FreshChannelRequestExporter puts it behind a FreshChannel (`run`: a new gRPC channel after
 * UNAVAILABLE, see fresh-channel.ts).
 */
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import {
  convertLegacyOtlpGrpcOptions,
  createOtlpGrpcExportDelegate,
  type OTLPGRPCExporterConfigNode,
} from '@opentelemetry/otlp-grpc-exporter-base';
import {
  type IExporterMetricsHelper,
  type IExportTraceServiceResponse,
  type ISerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import type { FreshChannel } from './fresh-channel.ts';
import type { EncodedRequest, RequestExporter } from './request-batcher.ts';

const kComponentType = 'otlp_grpc_span_exporter';
const kGrpcName = 'TraceExportService';
const kGrpcPath = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
/** The SDK's self-observability metrics count spans, as for the SDK's exporter (not requests or bytes). */
const kMetricsHelper: IExporterMetricsHelper<EncodedRequest> = {
  name: 'span',
  countItems: (request) => request.spans,
};

/** An encoded ExportTraceServiceRequest in, its bytes out as they are. */
export const passThroughTraceSerializer: ISerializer<EncodedRequest, IExportTraceServiceResponse> = {
  serializeRequest: (request) => request.bytes,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

export class OtlpBytesExporter implements RequestExporter {
  readonly #delegate: ReturnType<
    typeof createOtlpGrpcExportDelegate<EncodedRequest, IExportTraceServiceResponse>
  >;

  constructor(config: OTLPGRPCExporterConfigNode = {}) {
    this.#delegate = createOtlpGrpcExportDelegate(
      convertLegacyOtlpGrpcOptions(config, 'TRACES'),
      passThroughTraceSerializer,
      kComponentType,
      kMetricsHelper,
      undefined,
      kGrpcName,
      kGrpcPath,
    );
  }

  export(request: EncodedRequest, resultCallback: (result: ExportResult) => void): void {
    this.#delegate.export(request, resultCallback);
  }

  forceFlush(): Promise<void> {
    return this.#delegate.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#delegate.shutdown();
  }
}

/** The bytes exporter behind a FreshChannel (retryUntilExported). */
export class FreshChannelRequestExporter implements RequestExporter {
  readonly #channel: FreshChannel<OtlpBytesExporter>;

  constructor(channel: FreshChannel<OtlpBytesExporter>) {
    this.#channel = channel;
  }

  export(request: EncodedRequest, resultCallback: (result: ExportResult) => void): void {
    this.#channel.current().export(request, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#channel.failed(result.error);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#channel.shutdown();
  }
}
