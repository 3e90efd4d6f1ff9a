/**
 * The OTel exporter of pairs: `createOtelExporter(options)` sets up the SDK as NodeSDK would for
 * these settings, without loading it (the MeterProvider with its metric readers and views,
 * built when metrics are first exported: meter-provider.ts; the diag logger from OTEL_LOG_LEVEL,
 * OTEL_SDK_DISABLED) and returns a PairSink whose emit() maps each pair to a
 * span and encodes it into the OTLP request being built, as the workers do (offerEncoded()).
 *
 * Exporters as the SDK environment variables choose them (exporter-env.ts): traces otlp,
 * console or none; metrics any of otlp, prometheus (prometheus-endpoint.ts), console; OTLP over
 * grpc or http/protobuf per signal (otlp-transport.ts). The latency histograms go out under each
 * observed service's resource (service-metrics.ts).
 *
 * Span path, one for every worker count: PairSpanBuilder builds ReadableSpan objects (not through
 * a Tracer and the BatchSpanProcessor) and each is encoded at once into the request being built
 * (span-request-encoder.ts CappedRequestEncoder: otlp-encode.ts, not the SDK's serializer: same
 * bytes, ~2.3x faster); the requests, this thread's and the workers', wait in one queue bounded
 * in spans (request-batcher.ts) for the SDK's own transport with a pass-through serializer
 * (otlp-bytes-exporter.ts). So the queue holds request bytes (~750 B a span), not span objects
 * (measured: `replay --otlp --workers 0`, 1 M packets, peak RSS 456 -> 316 MiB). Only
 * OTEL_TRACES_EXPORTER=console queues span objects (span-batcher.ts), as it prints them.
 * Measured on the 2-core dev machine (test/export/span-path.bench.ts): creating spans through
 * per-service TracerProviders cost 2.6-2.9x more than building the ReadableSpans directly
 * (~63-65k vs ~175k spans/s, same mapped corpus pairs). The direct path also gives per-service
 * Resource objects (NodeSDK's single TracerProvider has one Resource), counted drops and bounded
 * export concurrency.
 * Everything the Tracer would have checked (attribute types, value length limit) is produced
 * valid here.
 *
 * One exporter per process: the MeterProvider is registered globally and the API allows one;
 * shutdown() releases it so a later exporter
 * (a test, a restart) can register again.
 */
import type { MessagePort } from 'node:worker_threads';
import {
  type Attributes,
  context,
  DiagConsoleLogger,
  diag,
  logs,
  metrics,
  propagation,
  trace,
} from '@opentelemetry/api';
import {
  diagLogLevelFromString,
  getBooleanFromEnv,
  getNumberFromEnv,
  getStringFromEnv,
} from '@opentelemetry/core';
import type { PairSink } from '../../correlate/pair.ts';
import { matcherRegistry } from '../../correlate/registry.ts';
import type { KubernetesMetadata } from '../../enrich/kubernetes/metadata.ts';
import type { PipelineStatsSnapshot } from '../pipeline-stats.ts';
import {
  type MetricsExporterName,
  metricsExportersFromEnv,
  prometheusAddressFromEnv,
  sampleRatioFromEnv,
  type TracesExporterName,
  tracesExporterFromEnv,
} from './exporter-env.ts';
import { FreshChannel } from './fresh-channel.ts';
import { LatencyHistograms } from './latency-histograms.ts';
import type { MetricsStack } from './meter-provider.ts';
import { type ExporterCountsSource, latencyBoundaries, latencyHistogramDescriptions } from './metrics.ts';
import { FreshChannelRequestExporter, OtlpBytesExporter } from './otlp-bytes-exporter.ts';
import { otlpEndpoint, otlpProtocolFromEnv } from './otlp-transport.ts';
import { type IgnoreRules, kNoIgnoreRules, PairIgnore } from './pair-ignore.ts';
import { PairSpanBuilder, type PairSpanConfig, protocolFlags } from './pair-span-builder.ts';
import { RequestBatcher, type RequestExporter } from './request-batcher.ts';
import { RequestBufferPool } from './request-buffers.ts';
import { detectBaseResource, sharedAttributes } from './resource.ts';
import { PairSampler } from './sampler.ts';
import type { ServiceMapEntry } from './service-map.ts';
import {
  type ExportState,
  type ExportStateDetail,
  SpanBatcher,
  type SpanBatcherOptions,
} from './span-batcher.ts';
import { FloodCheckpointHold, kDefaultUnansweredSpansPerSecond } from './span-flood.ts';
import { kDefaultLocalNetworks, type PairData, SpanMapper } from './span-mapper.ts';
import {
  CappedRequestEncoder,
  type EncodedSpans,
  kDefaultMaxRequestBytes,
  mergeTally,
  type SpanEncoderConfig,
  tallyPair,
} from './span-request-encoder.ts';

export interface OtelExporterOptions {
  /**
   * OTLP endpoint for spans and metrics, e.g. `http://collector:4317` (`https://` for TLS); with
   * http/protobuf a base URL (`http://collector:4318`, `/v1/traces` and `/v1/metrics` appended).
   * Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / ..._METRICS_ENDPOINT, else
   * OTEL_EXPORTER_OTLP_ENDPOINT, else `http://localhost:4317` (4318 with http/protobuf).
   * The protocol: OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
   * else grpc.
   */
  endpoint?: string;
  /**
   * False: no OTLP at all (`otlp` left out of the trace and metric exporters; e.g. metrics only
   * on the Prometheus endpoint). Default true.
   */
  otlp?: boolean;
  /**
   * Serve the metrics for Prometheus on this port (`/metrics`), in addition to the exporters
   * OTEL_METRICS_EXPORTER names. OTEL_METRICS_EXPORTER=prometheus alone serves them on
   * OTEL_EXPORTER_PROMETHEUS_PORT (default 9464).
   */
  prometheusPort?: number;
  /** Interface of the Prometheus endpoint. Default OTEL_EXPORTER_PROMETHEUS_HOST, else all interfaces. */
  prometheusHost?: string;
  /** CIDRs of the observed node's own addresses and pods: decides SERVER vs CLIENT. Default kDefaultLocalNetworks. */
  localNetworks?: readonly string[];
  /** Observed server → service.name; first match wins. Default: none (`{protocol}://{address}:{port}`). */
  serviceMap?: readonly ServiceMapEntry[];
  /** Resource objects kept for observed services (least recently used dropped beyond). Default 10000. */
  maxServices?: number;
  /**
   * Fraction of ordinary spans exported, 0..1. Errors, timeouts, slow spans and spans joining a
   * sampled traceparent are always kept. Default: OTEL_TRACES_SAMPLER (always_on, always_off,
   * traceidratio with OTEL_TRACES_SAMPLER_ARG, and their parentbased_ forms), else 1.
   */
  sampleRatio?: number;
  /** Spans at least this many seconds long are always exported; null/undefined: no slow rule. */
  slowSpanSeconds?: number | null;
  /** Extra latency histogram boundaries in seconds (SLO thresholds), e.g. [0.1, 0.25]. */
  sloBoundaries?: readonly number[];
  /** Latency histogram aggregation. Default 'explicit' (works with classic Prometheus `le` buckets). */
  histogramAggregation?: 'explicit' | 'exponential';
  /** HTTP route templates (`/users/{id}`), see http-routes.ts. Default none. */
  httpRoutes?: readonly string[];
  /** Template identifier-like path segments when no route matches (http-route-heuristics.ts). Default true. */
  httpRouteHeuristics?: boolean;
  /** Pairs that make no span and no latency point (pair-ignore.ts). Default none. */
  ignore?: IgnoreRules;
  /** Protocols (registry names) whose pairs export no span; their latency is still recorded. Default none. */
  spansOff?: readonly string[];
  /** Pipeline health, read at every metric collection. Can also be set later with setStatsSource(). */
  statsSource?: (() => PipelineStatsSnapshot) | null;
  /** Capture file names by file id (the pair's fileId), for wirespan.source.file. */
  sourceFiles?: readonly string[] | ((fileId: number) => string | undefined) | null;
  /** Metric export interval. Default OTEL_METRIC_EXPORT_INTERVAL, else 60000 ms. */
  metricExportIntervalMillis?: number;
  /** Per-request OTLP timeout (retries included). Default OTEL_EXPORTER_OTLP_{TRACES,}_TIMEOUT, else 10000 ms. */
  exportTimeoutMillis?: number;
  /** Upper bound on shutdown(). Default 2 × export timeout + 1000 ms. */
  shutdownTimeoutMillis?: number;
  /**
   * Span queue (of encoded requests, bounded in spans; a request is dropped whole). Defaults:
   * OTEL_BSP_MAX_QUEUE_SIZE / _MAX_EXPORT_BATCH_SIZE (spans per request) / _SCHEDULE_DELAY, else
   * 65536 / 2048 / 500 ms; 4 concurrent exports; with retryUntilExported, retries after 1 s
   * doubling to 30 s and 8192 spans of overflow (see SpanBatcherOptions).
   */
  batch?: Partial<Omit<SpanBatcherOptions, 'retryUntilExported' | 'onStateChange'>>;
  /**
   * Agent mode (`wirespan run`): never give up on a span because the collector is unreachable.
   * A failed export request is kept and retried with exponential backoff until the collector
   * accepts it; meanwhile the queue fills, whenRoom() stays pending (the caller stops reading:
   * its input is the durable buffer) and emit() still accepts up to maxQueueSize +
   * maxQueueOverflow spans (drops beyond are counted). shutdown() retries until its deadline and
   * reports what was not exported. Default false (`replay`: a failed request's spans are counted
   * failed, and shutdown stops at the first failure).
   */
  retryUntilExported?: boolean;
  /**
   * Called once when span exports start failing ('failing', with the error) and once when the
   * collector accepts again ('ok', with the outage's duration and retries): for the caller's log.
   * The exporter itself never writes to stderr. Exceptions thrown here are ignored.
   */
  onExportStateChange?: ((state: ExportState, detail: ExportStateDetail) => void) | null;
  /** Export spans. Default true unless OTEL_TRACES_EXPORTER=none (otlp or console: that variable). */
  traces?: boolean;
  /** Export metrics. Default true unless OTEL_METRICS_EXPORTER=none (otlp, prometheus, console: that variable). */
  metrics?: boolean;
  /** Extra attributes for wirespan's own resource (e.g. k8s.node.name); OTEL_RESOURCE_ATTRIBUTES still wins. */
  resourceAttributes?: Attributes;
  /**
   * Unanswered spans per source (client address and protocol) and second of capture time
   * exported one by one; beyond, one `unanswered flood` span per source and second counts them
   * (span-flood.ts). 0 = no limit. Default 100.
   */
  unansweredSpansPerSecond?: number;
  /** Unanswered spans per protocol and second from all sources (span-flood.ts); default 10 x the above. */
  unansweredSpansTotalPerSecond?: number | undefined;
  /** How late unanswered pairs arrive: floodLateSeconds() of the timeouts (span-flood.ts); default: of the default timeouts. */
  unansweredLateSeconds?: number;
  /**
   * Kubernetes identities of addresses (`--kubernetes`): names observed services and clients.
   * The exporter stops its watches at shutdown (its spans are mapped by then).
   */
  kubernetes?: KubernetesMetadata | null;
}

export interface OtelExporterCounters {
  /** Pairs given to emit(). */
  pairs: number;
  /** Spans accepted for export: in the export queue, or in the request being built. */
  queued: number;
  /** Spans the collector acknowledged. */
  exported: number;
  /** Spans refused: queue full, emitted after shutdown, or a pair that could not be mapped. */
  dropped: number;
  /** Spans whose export failed (or that shutdown gave up on). */
  failed: number;
  /** Spans left out by head sampling (their latency is still recorded). */
  sampledOut: number;
  /** Pairs matching an ignore rule: no span, no latency point. */
  ignored: number;
  /** HTTP traceparent headers ignored as invalid. */
  invalidTraceparents: number;
  /** Failed OTLP export requests: traces. */
  traceExportErrors: number;
  /** Trace export requests that re-sent a failed batch (retryUntilExported). */
  traceExportRetries: number;
  /** Failed OTLP export requests: metrics. */
  metricExportErrors: number;
}

export interface OtelShutdownResult {
  exported: number;
  /** Queue full, after shutdown, or unmappable pairs. */
  dropped: number;
  /** Export failed or abandoned at shutdown. */
  failed: number;
  /** One line describing export failures (for the caller to print once), or null. */
  error: string | null;
}

export interface OtelExporter extends PairSink {
  /** Maps the pair to a span and queues it; records its latency. Synchronous; never throws. */
  emit(pair: PairData): void;
  /**
   * Takes a batch a worker made with SpanRequestEncoder from `spanConfig` (spans mapped,
   * sampled and encoded there): counts it, records its latency points, queues its requests.
   * Synchronous; never throws.
   */
  offerEncoded(batch: EncodedSpans): void;
  /**
   * What a worker needs to make this exporter's spans (plain data, for WorkerSinkConfig): null when
   * spans are not exported (disabled SDK or traces off: post pairs, or nothing).
   */
  readonly spanConfig: SpanEncoderConfig | null;
  /** With `kubernetes`: a new port feeding one worker's address identities (WorkerSinkConfig.kubernetesPort). */
  readonly kubernetesPort: (() => MessagePort) | null;
  /** Exports everything queued (spans and a metric collection). */
  forceFlush(): Promise<void>;
  /** Flushes, stops, releases the SDK; bounded by shutdownTimeoutMillis. Idempotent. */
  shutdown(): Promise<OtelShutdownResult>;
  /** Resolves when the span queue is at most half full: lets an async pipeline pause instead of dropping. */
  whenRoom(): Promise<void>;
  /**
   * Closes the request being built (this thread's spans, `--workers 0`) so that its spans leave
   * now instead of after OTEL_BSP_SCHEDULE_DELAY: `run` calls it when its readers have read all
   * there is, as the workers close theirs at the end of every chunk.
   */
  closeRequest(): void;
  /**
   * For `run`'s checkpoints: closes the request being built (its spans are then numbered in the
   * queue) and returns how many spans were accepted so far, + 0.5 while an `unanswered flood`
   * aggregate is pending (span-flood.ts FloodCheckpointHold). Once settledThrough reaches it,
   * every span of the pairs given before this call was exported or counted (failed, dropped),
   * the aggregates counting them included.
   */
  checkpointMark(): number;
  /**
   * Spans 1..settledThrough, in the order accepted, are all exported or counted failed
   * (span-batcher.ts), held back to the stamp of the oldest flood aggregate not yet settled.
   */
  readonly settledThrough: number;
  /** 'failing' from a failed span export request until one succeeds. */
  readonly exportState: ExportState;
  setStatsSource(source: (() => PipelineStatsSnapshot) | null): void;
  readonly counters: OtelExporterCounters;
  /** The effective trace endpoint (for messages). */
  readonly endpoint: string;
  /** The port of the Prometheus endpoint, null when there is none. */
  readonly prometheusPort: number | null;
  /** False when OTEL_SDK_DISABLED=true: emit() only counts. */
  readonly enabled: boolean;
}

const kDefaultExportTimeoutMillis = 10_000;
const kDefaultBatch: SpanBatcherOptions = {
  maxQueueSize: 65_536,
  // ~750 B per span on the corpus: 2048 spans stay well under the 4 MiB gRPC message limit
  // that collectors enforce by default (max_recv_msg_size_mib: 4), even with long URLs.
  maxExportBatchSize: 2048,
  scheduledDelayMillis: 500,
  maxConcurrentExports: 4,
};

function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - performance.now()));
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let activeExporter = false;

/** The service map's extra resource attributes by service name (the first entry naming it). */
function serviceMapAttributes(entries: readonly ServiceMapEntry[]): Map<string, Attributes> {
  const byName = new Map<string, Attributes>();
  for (const entry of entries) {
    if (entry.attributes !== undefined && !byName.has(entry.service))
      byName.set(entry.service, entry.attributes);
  }
  return byName;
}

/**
 * The exporters in use: OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER (exporter-env.ts), with the
 * options' overrides (`traces`/`metrics` false: none; `otlp` false: no otlp; a Prometheus port
 * adds prometheus). Throws OtlpConfigError on an unsupported variable value.
 */
function chooseExporters(options: OtelExporterOptions): {
  tracesExporter: TracesExporterName;
  metricsExporters: MetricsExporterName[];
} {
  const otlpOn = options.otlp ?? true;
  const fromEnv = tracesExporterFromEnv();
  let tracesExporter: TracesExporterName =
    options.traces === false ? 'none' : options.traces === true && fromEnv === 'none' ? 'otlp' : fromEnv;
  if (tracesExporter === 'otlp' && !otlpOn) tracesExporter = 'none';
  const metricsFromEnv = metricsExportersFromEnv();
  let metricsExporters: MetricsExporterName[] =
    options.metrics === false
      ? []
      : options.metrics === true && metricsFromEnv.length === 0
        ? ['otlp']
        : metricsFromEnv;
  if (!otlpOn) metricsExporters = metricsExporters.filter((name) => name !== 'otlp');
  if (options.prometheusPort !== undefined && !metricsExporters.includes('prometheus')) {
    metricsExporters = [...metricsExporters, 'prometheus'];
  }
  return { tracesExporter, metricsExporters };
}

/** Builds the exporter; rejects on invalid options (the message names the option). */
export async function createOtelExporter(options: OtelExporterOptions = {}): Promise<OtelExporter> {
  const files = options.sourceFiles ?? null;
  const sourceFiles =
    files === null ? null : typeof files === 'function' ? files : (fileId: number) => files[fileId];
  const sampleRatio = options.sampleRatio ?? sampleRatioFromEnv();
  // Built here to reject invalid options early (PairSpanBuilder builds the ones in use).
  new SpanMapper({
    localNetworks: options.localNetworks ?? kDefaultLocalNetworks,
    serviceMap: options.serviceMap ?? [],
    httpRoutes: options.httpRoutes ?? [],
    sourceFiles,
  });
  new PairIgnore(options.ignore ?? kNoIgnoreRules);
  protocolFlags(matcherRegistry, options.spansOff ?? [], 'spansOff');
  new PairSampler({ ratio: sampleRatio, slowSeconds: options.slowSpanSeconds ?? null });
  const boundaries = latencyBoundaries(options.sloBoundaries ?? []);
  const retryUntilExported = options.retryUntilExported ?? false;
  const batchOptions: SpanBatcherOptions = {
    maxQueueSize:
      options.batch?.maxQueueSize ??
      getNumberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE') ??
      kDefaultBatch.maxQueueSize,
    maxExportBatchSize:
      options.batch?.maxExportBatchSize ??
      getNumberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ??
      kDefaultBatch.maxExportBatchSize,
    scheduledDelayMillis:
      options.batch?.scheduledDelayMillis ??
      getNumberFromEnv('OTEL_BSP_SCHEDULE_DELAY') ??
      kDefaultBatch.scheduledDelayMillis,
    maxConcurrentExports: options.batch?.maxConcurrentExports ?? kDefaultBatch.maxConcurrentExports,
    retryUntilExported,
    ...(options.batch?.retryInitialMillis === undefined
      ? {}
      : { retryInitialMillis: options.batch.retryInitialMillis }),
    ...(options.batch?.retryMaxMillis === undefined ? {} : { retryMaxMillis: options.batch.retryMaxMillis }),
    ...(options.batch?.maxQueueOverflow === undefined
      ? {}
      : { maxQueueOverflow: options.batch.maxQueueOverflow }),
    // The one span queue reports each transition once.
    onStateChange: options.onExportStateChange ?? null,
  };
  const maxServices = options.maxServices ?? 10_000;
  const histogramAggregation = options.histogramAggregation ?? 'explicit';
  if (histogramAggregation !== 'explicit' && histogramAggregation !== 'exponential') {
    throw new Error(
      `histogramAggregation must be "explicit" or "exponential", got ${String(histogramAggregation)}`,
    );
  }

  const { tracesExporter, metricsExporters } = chooseExporters(options);
  const traceProtocol = tracesExporter === 'otlp' ? otlpProtocolFromEnv('TRACES') : 'grpc';
  const metricProtocol = metricsExporters.includes('otlp') ? otlpProtocolFromEnv('METRICS') : 'grpc';
  const traceEndpoint = otlpEndpoint('TRACES', traceProtocol, options.endpoint);
  const metricEndpoint = otlpEndpoint('METRICS', metricProtocol, options.endpoint);
  const otlpEndpoints = [
    ...(tracesExporter === 'otlp' ? [traceEndpoint] : []),
    ...(metricsExporters.includes('otlp') ? [metricEndpoint] : []),
  ];
  for (const endpoint of otlpEndpoints) {
    const url = URL.canParse(endpoint) ? new URL(endpoint) : null;
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      throw new Error(
        `OTLP endpoint "${endpoint}" is not an http:// or https:// URL (e.g. http://localhost:4317)`,
      );
    }
  }
  const exportTimeoutMillis =
    positive(options.exportTimeoutMillis) ??
    positive(getNumberFromEnv('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT')) ??
    positive(getNumberFromEnv('OTEL_EXPORTER_OTLP_TIMEOUT')) ??
    kDefaultExportTimeoutMillis;
  const shutdownTimeoutMillis = positive(options.shutdownTimeoutMillis) ?? 2 * exportTimeoutMillis + 1000;
  const metricExportIntervalMillis =
    positive(options.metricExportIntervalMillis) ??
    positive(getNumberFromEnv('OTEL_METRIC_EXPORT_INTERVAL')) ??
    60_000;
  const prometheusAddress = metricsExporters.includes('prometheus')
    ? prometheusAddressFromEnv()
    : { host: undefined, port: 0 };
  const prometheusPort = options.prometheusPort ?? prometheusAddress.port;
  const prometheusHost = options.prometheusHost ?? prometheusAddress.host;
  const sdkDisabled = getBooleanFromEnv('OTEL_SDK_DISABLED');
  // The SDK's span limit for string attribute values (the Tracer would apply it; we build spans ourselves).
  const valueLengthLimit =
    positive(getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT')) ??
    positive(getNumberFromEnv('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT')) ??
    Number.POSITIVE_INFINITY;

  // Checked last: a rejected configuration must not leave the process marked as exporting.
  if (activeExporter) {
    throw new Error('an OTel exporter is already active in this process; shut it down first');
  }

  const counts: ExporterCountsSource = {
    exported: 0,
    droppedQueueFull: 0,
    droppedAfterShutdown: 0,
    droppedMappingError: 0,
    exportFailed: 0,
    sampledOut: 0,
    ignored: 0,
    queued: 0,
    invalidTraceparents: 0,
    traceExportErrors: 0,
    metricExportErrors: 0,
    pairs: {},
  };
  let pairsSeen = 0;
  /** Pairs whose tally threw (not expected: a malformed pair object). */
  let tallyErrors = 0;
  /** Counts from the workers' batches (offerEncoded()). */
  const encoded = {
    sampledOut: 0,
    ignored: 0,
    invalidTraceparents: 0,
    droppedMappingError: 0,
    droppedAfterShutdown: 0,
  };
  let lastMappingError: string | null = null;
  let statsSource = options.statsSource ?? null;

  /** Counts a pair (its tally: the same rule as the workers'). */
  const countPair = (pair: PairData): void => {
    pairsSeen++;
    tallyPair(counts.pairs, pair);
  };

  if (sdkDisabled) {
    void options.kubernetes?.stop(); // no spans to name
    return disabledExporter(traceEndpoint, countPair, () => pairsSeen);
  }

  activeExporter = true;
  try {
    const base = await detectBaseResource(options.resourceAttributes ?? {});
    const shared = sharedAttributes(base);

    // OTEL_TRACES_EXPORTER=console prints span objects: its own queue of them (span-batcher.ts;
    // the workers then post pairs: spanConfig null).
    const consoleSpans =
      tracesExporter === 'console'
        ? new SpanBatcher(new (await import('@opentelemetry/sdk-trace')).ConsoleSpanExporter(), batchOptions)
        : null;
    // OTLP: encoded requests, this thread's (emit()) and the workers' (offerEncoded()), in one
    // queue (request-batcher.ts) through the SDK's transport with a pass-through serializer.
    const newBytesExporter = (
      userAgent: string | undefined,
      onConnectFailure: (() => void) | null,
    ): OtlpBytesExporter =>
      new OtlpBytesExporter(
        {
          ...(options.endpoint === undefined ? {} : { url: options.endpoint }),
          ...(options.exportTimeoutMillis === undefined ? {} : { timeoutMillis: exportTimeoutMillis }),
          concurrencyLimit: batchOptions.maxConcurrentExports + 1,
          ...(userAgent === undefined ? {} : { userAgent }),
        },
        traceProtocol,
        onConnectFailure,
      );
    // The agent's first exporter connects as it is made, so the first span does not wait for the
    // handshakes (otlp-transport.ts createConnectedGrpcDelegate). Not replay's: a failed attempt
    // leaves the connection in grpc-js's reconnect backoff, and only the agent's fresh channel
    // (fresh-channel.ts) starts over.
    const bytesExporter: RequestExporter | null =
      tracesExporter !== 'otlp'
        ? null
        : retryUntilExported
          ? new FreshChannelRequestExporter(new FreshChannel('traces', newBytesExporter, true))
          : newBytesExporter(undefined, null);
    // This thread's request buffers, reused once exported (the workers' are transferred here).
    const requestBuffers = bytesExporter === null ? null : new RequestBufferPool(kDefaultMaxRequestBytes);
    const requests =
      bytesExporter === null
        ? null
        : new RequestBatcher(bytesExporter, {
            onExported: (request) => requestBuffers!.give(request.bytes),
            maxQueueSize: batchOptions.maxQueueSize,
            maxConcurrentExports: batchOptions.maxConcurrentExports,
            retryUntilExported,
            ...(batchOptions.retryInitialMillis === undefined
              ? {}
              : { retryInitialMillis: batchOptions.retryInitialMillis }),
            ...(batchOptions.retryMaxMillis === undefined
              ? {}
              : { retryMaxMillis: batchOptions.retryMaxMillis }),
            ...(batchOptions.maxQueueOverflow === undefined
              ? {}
              : { maxQueueOverflow: batchOptions.maxQueueOverflow }),
            onStateChange: batchOptions.onStateChange ?? null,
          });

    // What NodeSDK did with these settings, without loading it (it loads the exporters of every
    // signal and protocol, the instrumentation hooks and the YAML configuration: ~0.1-0.2 s of
    // every start): the diagnostics logger from OTEL_LOG_LEVEL and the global MeterProvider (below).
    // Spans do not go through a TracerProvider (see the file comment); no logs, context or propagation.
    const logLevel = getStringFromEnv('OTEL_LOG_LEVEL');
    if (logLevel !== undefined) {
      diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(logLevel) });
    }
    // One of them at most: OTLP requests or console spans.
    const queue = requests ?? consoleSpans;

    const syncCounts = (): ExporterCountsSource => {
      if (queue !== null) {
        const c = queue.counters;
        counts.exported = c.exported;
        counts.droppedQueueFull = c.droppedQueueFull;
        counts.exportFailed = c.failed;
        counts.queued = (local?.open ?? 0) + queue.queued + queue.inFlight;
        counts.traceExportErrors = c.exportErrors;
      }
      const b = builder.counts;
      counts.sampledOut = b.sampledOut + encoded.sampledOut;
      counts.ignored = b.ignored + encoded.ignored;
      counts.invalidTraceparents = b.invalidTraceparents + encoded.invalidTraceparents;
      counts.droppedMappingError = b.droppedMappingError + encoded.droppedMappingError + tallyErrors;
      counts.metricExportErrors = metricsStack?.otlpExporter?.errors ?? 0;
      return counts;
    };

    // Metrics. The latency histograms record every pair from the first one; the SDK's metric
    // stack (meter-provider.ts: the MeterProvider, its readers and the OTLP metric exporter,
    // ~40-60 ms of modules) is built when first needed: at its first export, the export interval
    // from now (when the periodic readers' first export was: the same schedule, their own
    // interval runs from then), or at forceFlush() or shutdown(). At once for a Prometheus
    // endpoint (scraped at any time) and for exponential histograms (the SDK's instruments take
    // the points).
    const pushReaders = metricsExporters.filter((name) => name !== 'prometheus').length;
    const metricsOn = metricsExporters.length > 0;
    const latency =
      metricsOn && histogramAggregation === 'explicit'
        ? new LatencyHistograms(latencyHistogramDescriptions(), boundaries)
        : null;
    // Not narrowed to null here: startMetrics() sets it.
    let metricsStack = null as MetricsStack | null;
    let metricsStarting: Promise<MetricsStack> | null = null;
    const startMetrics = (): Promise<MetricsStack> => {
      metricsStarting ??= import('./meter-provider.ts').then(async ({ startMetricsStack }) => {
        metricsStack = await startMetricsStack({
          resource: base,
          exporters: metricsExporters,
          otlp: {
            endpoint: options.endpoint,
            timeoutMillis: options.exportTimeoutMillis === undefined ? undefined : exportTimeoutMillis,
            protocol: metricProtocol,
            retryUntilExported,
            sharedAttributes: shared,
            serviceAttributes: serviceMapAttributes(options.serviceMap ?? []),
            maxServices,
          },
          exportIntervalMillis: metricExportIntervalMillis,
          exportTimeoutMillis,
          prometheus: { port: prometheusPort, host: prometheusHost },
          latency,
          boundaries,
          counts: syncCounts,
          stats: () => (statsSource === null ? null : statsSource()),
          onStatsError: (error) => diag.warn(`wirespan: pipeline stats source failed: ${messageOf(error)}`),
          kubernetes: options.kubernetes ?? null,
        });
        return metricsStack;
      });
      return metricsStarting;
    };
    let metricsTimer: NodeJS.Timeout | null = null;
    if (metricsOn && (latency === null || metricsExporters.includes('prometheus'))) await startMetrics();
    else if (metricsOn) {
      metricsTimer = setTimeout(() => {
        metricsTimer = null;
        startMetrics()
          .then((stack) => stack.meterProvider.forceFlush())
          .catch((error: unknown) => diag.error(`wirespan: metric export failed: ${messageOf(error)}`));
      }, metricExportIntervalMillis);
      metricsTimer.unref();
    }
    /** Where latency points go: the explicit histograms, the SDK's exponential ones, or nowhere without metrics. */
    const latencyRecorder = latency ?? metricsStack?.instruments ?? null;

    // Pair -> span (flood guard, mapper, sampler, resources): the same code as in the workers.
    const spanConfig: PairSpanConfig = {
      localNetworks: [...(options.localNetworks ?? kDefaultLocalNetworks)],
      serviceMap: structuredClone([...(options.serviceMap ?? [])]),
      httpRoutes: [...(options.httpRoutes ?? [])],
      httpRouteHeuristics: options.httpRouteHeuristics ?? true,
      ignore: structuredClone(options.ignore ?? kNoIgnoreRules),
      spansOff: [...(options.spansOff ?? [])],
      sampleRatio,
      slowSpanSeconds: options.slowSpanSeconds ?? null,
      maxServices,
      valueLengthLimit,
      unansweredSpansPerSecond: options.unansweredSpansPerSecond ?? kDefaultUnansweredSpansPerSecond,
      unansweredSpansTotalPerSecond: options.unansweredSpansTotalPerSecond,
      unansweredLateSeconds: options.unansweredLateSeconds,
      sharedResourceAttributes: shared,
      traces: queue !== null,
    };
    const requestLimits = {
      // The span queue's batch size (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), capped in bytes.
      maxSpansPerRequest: batchOptions.maxExportBatchSize,
      maxRequestBytes: kDefaultMaxRequestBytes,
    };
    let closeTimer: NodeJS.Timeout | null = null;
    // This thread's spans (emit(), and the workers' unanswered pairs behind the one flood guard)
    // encoded as they are made, as in the workers: the queue holds request bytes, not spans.
    const local =
      requests === null
        ? null
        : new CappedRequestEncoder(
            requestLimits,
            (request) => {
              if (closeTimer !== null) {
                clearTimeout(closeTimer);
                closeTimer = null;
              }
              requests.offer(request.bytes, request.spans);
            },
            requestBuffers,
          );
    const builder = new PairSpanBuilder(
      spanConfig,
      sourceFiles,
      local === null ? (span) => consoleSpans?.offer(span) : (span) => local.add(span),
      latencyRecorder === null ? null : (metric) => latencyRecorder.recordPoint(metric),
      options.kubernetes?.table ?? null,
      queue === null ? null : () => queue.counters.accepted,
    );
    // The checkpoint waits for pending flood aggregates (their pairs are in no span yet).
    const floodHold = queue === null ? null : new FloodCheckpointHold(() => builder.oldestPendingFloodStamp);
    /** The request being built goes out scheduledDelayMillis after its first span at the latest (OTEL_BSP_SCHEDULE_DELAY). */
    const scheduleClose = (): void => {
      if (closeTimer !== null || local === null || local.open === 0) return;
      closeTimer = setTimeout(() => {
        closeTimer = null;
        local.close();
      }, batchOptions.scheduledDelayMillis);
      closeTimer.unref();
    };
    let closed = false;
    let shutdownPromise: Promise<OtelShutdownResult> | null = null;

    const emit = (pair: PairData): void => {
      if (closed) {
        counts.droppedAfterShutdown++;
        return;
      }
      try {
        countPair(pair);
      } catch (error) {
        tallyErrors++;
        lastMappingError ??= messageOf(error);
        return;
      }
      builder.emit(pair);
      lastMappingError ??= builder.counts.lastMappingError;
      scheduleClose();
    };

    /** A worker's batch (span-request-encoder.ts): its counts, latency points and requests. */
    const offerEncoded = (batch: EncodedSpans): void => {
      pairsSeen += batch.pairs;
      mergeTally(counts.pairs, batch.tally);
      encoded.sampledOut += batch.sampledOut;
      encoded.ignored += batch.ignored;
      encoded.invalidTraceparents += batch.invalidTraceparents;
      encoded.droppedMappingError += batch.droppedMappingError;
      lastMappingError ??= batch.mappingError;
      latencyRecorder?.recordPoints(batch.latency);
      // Behind this exporter's one flood guard (span-request-encoder.ts); already tallied.
      for (const pair of batch.unanswered) {
        if (closed) counts.droppedAfterShutdown++;
        else builder.emit(pair);
      }
      lastMappingError ??= builder.counts.lastMappingError;
      scheduleClose();
      if (requests === null) return;
      for (const request of batch.requests) {
        if (closed) encoded.droppedAfterShutdown += request.spans;
        else requests.offer(request.bytes, request.spans);
      }
    };

    const counters = (): OtelExporterCounters => {
      syncCounts();
      const q = queue?.counters;
      return {
        pairs: pairsSeen,
        // Spans in the request being built count as queued: a checkpoint waits for them too.
        queued: (local?.open ?? 0) + (q?.accepted ?? 0),
        exported: counts.exported,
        dropped:
          counts.droppedQueueFull +
          counts.droppedAfterShutdown +
          encoded.droppedAfterShutdown +
          (q?.droppedAfterShutdown ?? 0) +
          counts.droppedMappingError,
        failed: counts.exportFailed,
        sampledOut: counts.sampledOut,
        ignored: counts.ignored,
        invalidTraceparents: counts.invalidTraceparents,
        traceExportErrors: counts.traceExportErrors,
        traceExportRetries: q?.retries ?? 0,
        metricExportErrors: counts.metricExportErrors,
      };
    };

    const shutdown = async (): Promise<OtelShutdownResult> => {
      if (!closed) {
        builder.flush();
        local?.close();
      }
      closed = true;
      void options.kubernetes?.stop();
      const started = performance.now();
      const deadline = started + shutdownTimeoutMillis;
      // Spans first, so the final metric collection sees the final span counts; metrics keep
      // at least one export timeout (capped at half the budget) for their last export.
      const metricReserve = pushReaders === 0 ? 0 : Math.min(exportTimeoutMillis, shutdownTimeoutMillis / 2);
      const problems: string[] = [];
      if (queue !== null) {
        const drained = await queue.drain(deadline - metricReserve);
        // Closes the gRPC channel; bounded, as it first awaits requests shutdown gave up on.
        if (bytesExporter !== null) {
          await withDeadline(
            bytesExporter.shutdown().catch(() => undefined),
            Math.min(deadline - metricReserve, performance.now() + 1000),
          );
        }
        const { failed, exportErrors } = queue.counters;
        // Agent mode: failed requests were retried; only spans never exported are a problem.
        if (failed > 0 || (!retryUntilExported && exportErrors > 0)) {
          const reason = (retryUntilExported ? queue.outageError : null) ?? queue.lastError;
          const complete = drained.complete;
          problems.push(
            `OTLP trace export to ${traceEndpoint} failed: ${reason ?? 'gave up at shutdown'} (${failed} spans not exported${complete ? '' : `, gave up after ${Math.round(performance.now() - started)} ms`})`,
          );
        }
      }
      // Agent mode promises no drops short of its hard cap: say so if there were any (replay's
      // caller reports its own drops from the result).
      const droppedQueueFull = queue?.counters.droppedQueueFull ?? 0;
      if (retryUntilExported && droppedQueueFull > 0) {
        problems.push(
          `${droppedQueueFull} spans dropped: the export queue was full (${batchOptions.maxQueueSize} + overflow)`,
        );
      }
      if (lastMappingError !== null) {
        syncCounts();
        problems.push(
          `${counts.droppedMappingError} pairs could not be mapped to spans: ${lastMappingError}`,
        );
      }
      // The metric stack is built now if it was not yet (its final export: metrics of a short run).
      if (metricsTimer !== null) clearTimeout(metricsTimer);
      let metricsTimedOut = false;
      const stopped = await withDeadline(
        (metricsOn ? startMetrics().then((stack) => stack.meterProvider.shutdown()) : Promise.resolve()).then(
          () => null,
          (error: unknown) => messageOf(error),
        ),
        deadline,
      );
      if (stopped === 'timeout') metricsTimedOut = true;
      const metricExporter = metricsStack?.otlpExporter ?? null;
      // Metrics are cumulative: in agent mode a failed periodic export is made up for by a later
      // one, so only a failed final export counts.
      const metricsFailed =
        metricExporter !== null &&
        (retryUntilExported ? metricExporter.lastFailure !== null : metricExporter.errors > 0);
      if (metricExporter !== null && (metricsFailed || metricsTimedOut || typeof stopped === 'string')) {
        const reason = retryUntilExported ? metricExporter.lastFailure : metricExporter.lastError;
        problems.push(
          `OTLP metric export to ${metricEndpoint} failed: ${reason ?? (typeof stopped === 'string' ? stopped : 'timed out at shutdown')} (${metricExporter.errors} failed requests)`,
        );
      } else if (metricsOn && metricsStack === null && stopped !== null) {
        problems.push(`metrics not exported: ${stopped === 'timeout' ? 'timed out at shutdown' : stopped}`);
      }
      releaseGlobals();
      const c = counters();
      return {
        exported: c.exported,
        dropped: c.dropped,
        failed: c.failed,
        error: problems.length === 0 ? null : problems.join('; '),
      };
    };

    return {
      emit,
      offerEncoded,
      spanConfig: requests === null ? null : { ...spanConfig, ...requestLimits },
      kubernetesPort: options.kubernetes ? () => options.kubernetes!.connectWorker() : null,
      async forceFlush(): Promise<void> {
        builder.flush();
        local?.close();
        await queue?.forceFlush();
        if (metricsOn) await (await startMetrics()).meterProvider.forceFlush();
      },
      shutdown(): Promise<OtelShutdownResult> {
        shutdownPromise ??= shutdown();
        return shutdownPromise;
      },
      whenRoom(): Promise<void> {
        return queue?.whenRoom() ?? Promise.resolve();
      },
      closeRequest(): void {
        local?.close();
      },
      checkpointMark(): number {
        local?.close();
        const accepted = queue?.counters.accepted ?? 0;
        return floodHold?.mark(accepted) ?? accepted;
      },
      get settledThrough(): number {
        if (queue === null || floodHold === null) return 0;
        return floodHold.settledThrough(queue.settledThrough, queue.counters.accepted + (local?.open ?? 0));
      },
      get exportState(): ExportState {
        return queue?.state ?? 'ok';
      },
      setStatsSource(source): void {
        statsSource = source;
      },
      get counters(): OtelExporterCounters {
        return counters();
      },
      endpoint: traceEndpoint,
      prometheusPort: metricsExporters.includes('prometheus') ? prometheusPort : null,
      enabled: true,
    };
  } catch (error) {
    releaseGlobals();
    throw error;
  }
}

/** Unregisters the globals (the MeterProvider, the diagnostics logger's users), so another exporter can start in this process. */
function releaseGlobals(): void {
  metrics.disable();
  logs.disable();
  trace.disable();
  context.disable();
  propagation.disable();
  activeExporter = false;
}

/** OTEL_SDK_DISABLED=true: an exporter that counts pairs and exports nothing. */
function disabledExporter(
  endpoint: string,
  countPair: (pair: PairData) => void,
  pairsSeen: () => number,
): OtelExporter {
  return {
    emit: (pair) => {
      try {
        countPair(pair);
      } catch {
        // never throws
      }
    },
    offerEncoded: () => {},
    spanConfig: null,
    kubernetesPort: null,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve({ exported: 0, dropped: 0, failed: 0, error: null }),
    whenRoom: () => Promise.resolve(),
    closeRequest: () => {},
    checkpointMark: () => 0,
    settledThrough: 0,
    exportState: 'ok',
    setStatsSource: () => {},
    get counters(): OtelExporterCounters {
      return {
        pairs: pairsSeen(),
        queued: 0,
        exported: 0,
        dropped: 0,
        failed: 0,
        sampledOut: 0,
        ignored: 0,
        invalidTraceparents: 0,
        traceExportErrors: 0,
        traceExportRetries: 0,
        metricExportErrors: 0,
      };
    },
    endpoint,
    prometheusPort: null,
    enabled: false,
  };
}
