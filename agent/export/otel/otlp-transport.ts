/**
 * The OTLP transports, one place for the protocol choice: the SDK's own export delegates (gRPC
 * from otlp-grpc-exporter-base, HTTP from otlp-exporter-base/node-http), built as the SDK's
 * OTLP exporters build themselves (0.301.0), so every `OTEL_EXPORTER_OTLP_*` variable (headers,
 * TLS certificates, compression, timeouts) applies to both and retries behave the same. Only
 * the serializer is wirespan's (spans: otlp-encode.ts or pre-encoded bytes; metrics:
 * service-metrics.ts).
 *
 * `http/protobuf` POSTs the same protobuf bytes as `application/x-protobuf` to `{base}/v1/traces`
 * and `{base}/v1/metrics` (a per-signal endpoint variable is used as it is, as the spec says).
 */
import { Client, type ClientOptions, connectivityState, type Metadata } from '@grpc/grpc-js';
import { getStringFromEnv } from '@opentelemetry/core';
import {
  createOtlpNetworkExportDelegate,
  type ExportResponse,
  type IExporterTransport,
  type IOtlpExportDelegate,
} from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import {
  convertLegacyOtlpGrpcOptions,
  createOtlpGrpcExportDelegate,
  createOtlpGrpcExporterMetrics,
} from '@opentelemetry/otlp-grpc-exporter-base';
import type { IExporterMetricsHelper, ISerializer } from '@opentelemetry/otlp-transformer';
import { pinnedDependencyVersion } from '../../shared/package-info.ts';

type OtlpGrpcConfiguration = ReturnType<typeof convertLegacyOtlpGrpcOptions>;

export type OtlpProtocol = 'grpc' | 'http/protobuf';
export type OtlpSignal = 'TRACES' | 'METRICS';

export const kOtlpProtocols: readonly OtlpProtocol[] = ['grpc', 'http/protobuf'];

/** What wirespan sets on a transport; everything else comes from the OTEL_EXPORTER_OTLP_* variables. */
export interface OtlpTransportConfig {
  /** Base URL (`http://collector:4317`; for HTTP the signal's path is appended). Default: the variables. */
  url?: string;
  timeoutMillis?: number;
  concurrencyLimit?: number;
  userAgent?: string;
}

const kSignals = {
  TRACES: {
    httpPath: 'v1/traces',
    grpcName: 'TraceExportService',
    grpcPath: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    component: { grpc: 'otlp_grpc_span_exporter', 'http/protobuf': 'otlp_http_span_exporter' },
  },
  METRICS: {
    httpPath: 'v1/metrics',
    grpcName: 'MetricsExportService',
    grpcPath: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
    component: { grpc: 'otlp_grpc_metric_exporter', 'http/protobuf': 'otlp_http_metric_exporter' },
  },
} as const;

const kDefaultBase: Record<OtlpProtocol, string> = {
  grpc: 'http://localhost:4317',
  'http/protobuf': 'http://localhost:4318',
};

export class OtlpConfigError extends Error {}

/**
 * OTEL_EXPORTER_OTLP_{signal}_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else `grpc` (wirespan's
 * default: its chart and collector config use 4317). Throws OtlpConfigError on other values.
 */
export function otlpProtocolFromEnv(signal: OtlpSignal): OtlpProtocol {
  for (const name of [`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`, 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const value = getStringFromEnv(name);
    if (value === undefined) continue;
    if ((kOtlpProtocols as readonly string[]).includes(value)) return value as OtlpProtocol;
    throw new OtlpConfigError(`${name}=${value} is not supported (supported: ${kOtlpProtocols.join(', ')})`);
  }
  return 'grpc';
}

/** The URL a signal is sent to (for messages; the delegates apply the same precedence). */
export function otlpEndpoint(signal: OtlpSignal, protocol: OtlpProtocol, base: string | undefined): string {
  const perSignal =
    base === undefined ? getStringFromEnv(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`) : undefined;
  if (perSignal !== undefined) return perSignal;
  const root = base ?? getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT') ?? kDefaultBase[protocol];
  return protocol === 'grpc' ? root : signalUrl(root, signal);
}

function signalUrl(base: string, signal: OtlpSignal): string {
  return `${base.replace(/\/+$/, '')}/${kSignals[signal].httpPath}`;
}

/**
 * What a serializer hands the transport for `bytes`: over gRPC, bytes that own their whole
 * ArrayBuffer go as that ArrayBuffer. The SDK's gRPC transport begins with `Buffer.from(data)`,
 * which copies a Uint8Array into a new zero-filled buffer but only wraps an ArrayBuffer
 * (measured in the agent row: ~5 % of the main thread, on the bytes of every span).
 * ISerializer's type says Uint8Array, hence the cast. The HTTP transport writes the data to its
 * request as it is: it gets the Uint8Array.
 */
export function transportPayload(protocol: OtlpProtocol, bytes: Uint8Array): Uint8Array {
  const buffer = bytes.buffer;
  if (protocol !== 'grpc' || !(buffer instanceof ArrayBuffer) || bytes.byteLength !== buffer.byteLength) {
    return bytes;
  }
  return buffer as unknown as Uint8Array;
}

/** The SDK's export delegate for `signal` over `protocol`, with `serializer`. */
export function createOtlpDelegate<Internal, Response>(
  signal: OtlpSignal,
  protocol: OtlpProtocol,
  config: OtlpTransportConfig,
  serializer: ISerializer<Internal, Response>,
  metricsHelper: IExporterMetricsHelper<Internal>,
): IOtlpExportDelegate<Internal> {
  if (protocol === 'grpc') {
    return grpcDelegate(signal, convertLegacyOtlpGrpcOptions(config, signal), serializer, metricsHelper);
  }
  const { url, ...rest } = config;
  const s = kSignals[signal];
  return createOtlpHttpExportDelegate(
    convertLegacyHttpOptions(
      url === undefined ? rest : { ...rest, url: signalUrl(url, signal) },
      signal,
      s.httpPath,
      { 'Content-Type': 'application/x-protobuf' },
    ),
    serializer,
    s.component['http/protobuf'],
    metricsHelper,
    undefined,
  );
}

function grpcDelegate<Internal, Response>(
  signal: OtlpSignal,
  options: OtlpGrpcConfiguration,
  serializer: ISerializer<Internal, Response>,
  metricsHelper: IExporterMetricsHelper<Internal>,
): IOtlpExportDelegate<Internal> {
  const s = kSignals[signal];
  return createOtlpGrpcExportDelegate(
    options,
    serializer,
    s.component.grpc,
    metricsHelper,
    undefined,
    s.grpcName,
    s.grpcPath,
  );
}

/**
 * createOtlpDelegate's gRPC delegate, with its connection opened now. grpc-js connects a channel
 * at its first call, and the SDK's transport (grpc-exporter-transport.ts) makes its channel only
 * at its first request: the agent's first request then waited for the channel's name resolution
 * (a DNS lookup, or an IP literal handed back on a later event-loop turn), the TCP and HTTP/2
 * handshakes and the subchannel pick, steps that ran between record chunks (~150-250 ms before
 * the first span reached the collector). Here the delegate is the SDK's network delegate
 * (retries, concurrency limit, responses and metrics as for the SDK's own exporter) over
 * ConnectedGrpcTransport, whose channel exists and connects from now on: the first request finds
 * it resolved and connected. `onFailure` runs when that connection attempt fails: the subchannel
 * then waits out grpc-js's reconnect backoff, and would fail the first request at once
 * (fresh-channel.ts: the first request then goes through a new channel).
 */
export function createConnectedGrpcDelegate<Internal, Response>(
  signal: OtlpSignal,
  config: OtlpTransportConfig,
  serializer: ISerializer<Internal, Response>,
  metricsHelper: IExporterMetricsHelper<Internal>,
  onFailure: () => void,
): IOtlpExportDelegate<Internal> {
  const options = convertLegacyOtlpGrpcOptions(config, signal);
  const s = kSignals[signal];
  return createOtlpNetworkExportDelegate(
    options,
    serializer,
    createOtlpGrpcExporterMetrics(s.component.grpc, metricsHelper, options.url, undefined),
    new ConnectedGrpcTransport(options, s.grpcPath, onFailure),
  );
}

/** Requests in a row that ran out of time before the SDK's transport drops its client (a new one next). */
const kMaxDeadlineExceeded = 5;
const kGrpcDeadlineExceeded = 4;

const passBytes = (bytes: Buffer): Buffer => bytes;

/**
 * The SDK's gRPC transport (0.301.0: the same client, channel arguments, metadata, deadline and
 * answers), except that its client is made, and connects, when the transport is: the SDK's makes
 * it at the first request. Only the first client connects ahead; one made again (after
 * kMaxDeadlineExceeded timeouts, as the SDK's does) connects with its request.
 */
class ConnectedGrpcTransport implements IExporterTransport {
  readonly #options: OtlpGrpcConfiguration;
  readonly #path: string;
  #client: Client | null = null;
  #metadata: Metadata | null = null;
  #deadlineExceeded = 0;

  constructor(options: OtlpGrpcConfiguration, path: string, onFailure: () => void) {
    this.#options = options;
    this.#path = path;
    let client: Client;
    try {
      client = this.#connectedClient();
    } catch {
      // The first request makes the client again and reports the error.
      return;
    }
    const channel = client.getChannel();
    const watch = (): void => {
      if (this.#client !== client) return;
      const state = channel.getConnectivityState(true);
      if (state === connectivityState.TRANSIENT_FAILURE) onFailure();
      else if (state !== connectivityState.READY) {
        channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, watch);
      }
    };
    watch();
  }

  #connectedClient(): Client {
    if (this.#client !== null) return this.#client;
    const options = this.#options;
    this.#metadata = options.metadata();
    this.#client = new Client(
      options.url,
      options.credentials(),
      grpcChannelOptions(options.compression, options.userAgent),
    );
    this.#deadlineExceeded = 0;
    return this.#client;
  }

  send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    // As the SDK's: an ArrayBuffer (transportPayload) is wrapped, not copied.
    const buffer = Buffer.from(data);
    let client: Client;
    try {
      client = this.#connectedClient();
    } catch (error) {
      return Promise.resolve({ status: 'failure', error: error as Error });
    }
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        this.#path,
        passBytes,
        passBytes,
        buffer,
        this.#metadata!,
        { deadline: Date.now() + timeoutMillis },
        (error, response) => {
          if (error) {
            resolve({ status: 'failure', error });
            if (error.code === kGrpcDeadlineExceeded && ++this.#deadlineExceeded > kMaxDeadlineExceeded) {
              this.shutdown();
            }
          } else {
            resolve({ status: 'success', data: response });
            this.#deadlineExceeded = 0;
          }
        },
      );
    });
  }

  shutdown(): void {
    this.#client?.close();
    this.#client = null;
  }
}

/** gRPC compression algorithm numbers, as the SDK's transport passes them. */
const kGrpcCompressionNone = 0;
const kGrpcCompressionGzip = 2;

/** The channel arguments the SDK's gRPC transport (0.301.0) gives its client (compression, user agent). */
function grpcChannelOptions(compression: string | undefined, userAgent: string | undefined): ClientOptions {
  const sdkAgent = `OTel-OTLP-Exporter-JavaScript/${pinnedDependencyVersion('@opentelemetry/otlp-grpc-exporter-base')}`;
  return {
    'grpc.default_compression_algorithm':
      compression === 'gzip' ? kGrpcCompressionGzip : kGrpcCompressionNone,
    'grpc.primary_user_agent': userAgent ? `${userAgent} ${sdkAgent}` : sdkAgent,
  };
}
