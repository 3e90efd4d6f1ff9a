/**
 * The OTLP trace exporter, for requests that are already encoded (span-request-encoder.ts, see
 * request-batcher.ts): the SDK's own export delegate (gRPC or HTTP, otlp-transport.ts), built
 * exactly as the SDK's OTLPTraceExporter builds itself (0.301.0, gRPC:
 * `createOtlpGrpcExportDelegate(convertLegacyOtlpGrpcOptions(config, 'TRACES'), serializer, ...)`;
 * http/protobuf: the same with createOtlpHttpExportDelegate), so it takes the same options and
 * behaves the same on the wire (`OTEL_EXPORTER_OTLP_*` configuration, headers, TLS, compression,
 * timeouts, concurrency limit, partial-success logging), with a pass-through serializer: the
 * bytes go on the wire as they are. Responses are decoded as the SDK decodes them (trace-response.ts).
 * The agent's first gRPC exporter has wirespan's own gRPC transport under the same delegate: it
 * behaves as the SDK's and connects when it is made (otlp-transport.ts createConnectedGrpcDelegate).
 *
 * FreshChannelRequestExporter puts it behind a FreshChannel (`run`: a new gRPC channel after
 * UNAVAILABLE, see fresh-channel.ts).
 */
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import type {
  IExporterMetricsHelper,
  IExportTraceServiceResponse,
  ISerializer,
} from '@opentelemetry/otlp-transformer';
import type { FreshChannel } from './fresh-channel.ts';
import {
  createConnectedGrpcDelegate,
  createOtlpDelegate,
  type OtlpProtocol,
  type OtlpTransportConfig,
  transportPayload,
} from './otlp-transport.ts';
import type { EncodedRequest, RequestExporter } from './request-batcher.ts';
import { deserializeTraceResponse } from './trace-response.ts';

/** The SDK's self-observability metrics count spans, as for the SDK's exporter (not requests or bytes). */
const kMetricsHelper: IExporterMetricsHelper<EncodedRequest> = {
  name: 'span',
  countItems: (request) => request.spans,
};

/** An encoded ExportTraceServiceRequest in, its bytes out as they are (no copy: transportPayload). */
export function passThroughTraceSerializer(
  protocol: OtlpProtocol,
): ISerializer<EncodedRequest, IExportTraceServiceResponse> {
  return {
    serializeRequest: (request) => transportPayload(protocol, request.bytes),
    deserializeResponse: deserializeTraceResponse,
  };
}

export class OtlpBytesExporter implements RequestExporter {
  readonly #delegate: IOtlpExportDelegate<EncodedRequest>;

  /**
   * With `onConnectFailure` (gRPC only), the connection is opened now, not at the first request
   * (createConnectedGrpcDelegate); `onConnectFailure` runs if that attempt fails.
   */
  constructor(
    config: OtlpTransportConfig = {},
    protocol: OtlpProtocol = 'grpc',
    onConnectFailure: (() => void) | null = null,
  ) {
    const serializer = passThroughTraceSerializer(protocol);
    this.#delegate =
      protocol === 'grpc' && onConnectFailure !== null
        ? createConnectedGrpcDelegate('TRACES', config, serializer, kMetricsHelper, onConnectFailure)
        : createOtlpDelegate('TRACES', protocol, config, serializer, kMetricsHelper);
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
