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
import { Client, type ClientOptions, connectivityState } from '@grpc/grpc-js';
import { getStringFromEnv } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import {
  convertLegacyOtlpGrpcOptions,
  createOtlpGrpcExportDelegate,
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

/** A gRPC delegate whose connection is opened before its first request (createConnectedGrpcDelegate). */
export interface ConnectedGrpcDelegate<Internal> {
  delegate: IOtlpExportDelegate<Internal>;
  /** Closes the client that opened the connection: once the delegate has made a request, or is shut down. */
  release(): void;
}

/**
 * createOtlpDelegate's gRPC delegate, with its connection opened now. grpc-js connects a channel
 * on its first call, so the agent's first request waited for the TCP and HTTP/2 handshakes,
 * whose steps ran between record chunks (~150-250 ms before the first span reached the
 * collector). A client with the channel arguments and credentials of the SDK's transport
 * (grpc-exporter-transport.ts) gets the same subchannel from grpc-js's process-wide pool, and
 * `getConnectivityState(true)` connects it: the delegate's first call finds it connected (the
 * collector sees one connection). The credentials object is made once for both (secure
 * credentials are equal only to themselves). `onFailure` runs when that connection attempt
 * fails: the shared subchannel then waits out grpc-js's reconnect backoff, and would fail the
 * first request at once (fresh-channel.ts: the first request then goes through a new channel).
 */
export function createConnectedGrpcDelegate<Internal, Response>(
  signal: OtlpSignal,
  config: OtlpTransportConfig,
  serializer: ISerializer<Internal, Response>,
  metricsHelper: IExporterMetricsHelper<Internal>,
  onFailure: () => void,
): ConnectedGrpcDelegate<Internal> {
  const options = convertLegacyOtlpGrpcOptions(config, signal);
  const credentials = options.credentials();
  const delegate = grpcDelegate(
    signal,
    { ...options, credentials: () => credentials },
    serializer,
    metricsHelper,
  );
  let client: Client | null;
  try {
    client = new Client(options.url, credentials, grpcChannelOptions(options.compression, options.userAgent));
  } catch {
    // The delegate's first request makes the same client and reports the error.
    return { delegate, release: () => {} };
  }
  const channel = client.getChannel();
  const release = (): void => {
    client?.close();
    client = null;
  };
  const watch = (): void => {
    if (client === null) return;
    const state = channel.getConnectivityState(true);
    if (state === connectivityState.TRANSIENT_FAILURE) {
      release();
      onFailure();
    } else if (state !== connectivityState.READY) {
      channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, watch);
    }
  };
  watch();
  return { delegate, release };
}

/** gRPC compression algorithm numbers, as the SDK's transport passes them. */
const kGrpcCompressionNone = 0;
const kGrpcCompressionGzip = 2;

/** The channel arguments the SDK's gRPC transport (0.301.0) gives its client: equal ones share its subchannel. */
function grpcChannelOptions(compression: string | undefined, userAgent: string | undefined): ClientOptions {
  const sdkAgent = `OTel-OTLP-Exporter-JavaScript/${pinnedDependencyVersion('@opentelemetry/otlp-grpc-exporter-base')}`;
  return {
    'grpc.default_compression_algorithm':
      compression === 'gzip' ? kGrpcCompressionGzip : kGrpcCompressionNone,
    'grpc.primary_user_agent': userAgent ? `${userAgent} ${sdkAgent}` : sdkAgent,
  };
}
