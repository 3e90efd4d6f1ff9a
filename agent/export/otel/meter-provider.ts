/**
 * The SDK's metric stack (sdk.ts builds it when first needed): the MeterProvider on wirespan's
 * resource, registered globally, with its readers (OTLP with the per-service split, console,
 * Prometheus) and wirespan's instruments (metrics.ts). Its modules (sdk-metrics, the OTLP metric
 * exporter and otlp-transformer's serializers: ~40-60 ms of the exporter's thread) load only
 * with this file, so a start that exports spans does not wait for them: metrics first go out
 * after the export interval (60 s by default), while the latency histograms record every pair
 * from the first one (latency-histograms.ts needs no SDK).
 */
import { type Attributes, metrics } from '@opentelemetry/api';
import { ExportResultCode, getBooleanFromEnv } from '@opentelemetry/core';
import type { OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import {
  type AggregationOption,
  AggregationTemporality,
  AggregationType,
  ConsoleMetricExporter,
  InstrumentType,
  MeterProvider,
  type MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import { matcherRegistry } from '../../correlate/registry.ts';
import type { KubernetesMetadata } from '../../enrich/kubernetes/metadata.ts';
import type { PipelineStatsSnapshot } from '../pipeline-stats.ts';
import type { MetricsExporterName } from './exporter-env.ts';
import { FreshChannel } from './fresh-channel.ts';
import type { LatencyHistograms } from './latency-histograms.ts';
import { type ExporterCountsSource, latencyHistograms, WirespanMetrics } from './metrics.ts';
import type { OtlpProtocol } from './otlp-transport.ts';
import { kScope } from './pair-span.ts';
import type { PrometheusEndpoint } from './prometheus-endpoint.ts';
import { createServiceMetricExporter, ServiceMetricsSplitter } from './service-metrics.ts';

export interface MetricsStackOptions {
  resource: Resource;
  /** The metric exporters in use (not empty). */
  exporters: readonly MetricsExporterName[];
  otlp: {
    /** Base URL; undefined: the OTEL_EXPORTER_OTLP_* variables. */
    endpoint: string | undefined;
    /** Per-request timeout; undefined: the variables. */
    timeoutMillis: number | undefined;
    protocol: OtlpProtocol;
    /** A new channel after a connection failure (fresh-channel.ts). */
    retryUntilExported: boolean;
    /** The resource attributes every observed service shares, the service map's extra ones, the cap (service-metrics.ts). */
    sharedAttributes: Attributes;
    serviceAttributes: ReadonlyMap<string, Attributes>;
    maxServices: number;
  };
  exportIntervalMillis: number;
  exportTimeoutMillis: number;
  prometheus: { port: number; host: string | undefined };
  /** The explicit-bucket latency histograms; null: the SDK's exponential ones. */
  latency: LatencyHistograms | null;
  boundaries: readonly number[];
  counts: () => ExporterCountsSource;
  stats: () => PipelineStatsSnapshot | null;
  onStatsError: (error: unknown) => void;
  kubernetes: KubernetesMetadata | null;
}

export interface MetricsStack {
  meterProvider: MeterProvider;
  /** wirespan's instruments; with exponential histograms, where latency points are recorded. */
  instruments: WirespanMetrics;
  /** The OTLP metric exporter (its failed requests), null without one. */
  otlpExporter: CountingMetricExporter | null;
  prometheus: PrometheusEndpoint | null;
}

/**
 * Builds and registers the MeterProvider; rejects when another one is registered globally or the
 * Prometheus port cannot be opened.
 */
export async function startMetricsStack(options: MetricsStackOptions): Promise<MetricsStack> {
  const { exporters, latency, otlp } = options;
  // Latency histograms under each observed service's resource (service-metrics.ts).
  const splitter = new ServiceMetricsSplitter(
    otlp.sharedAttributes,
    otlp.serviceAttributes,
    otlp.maxServices,
  );
  const otlpExporter = exporters.includes('otlp')
    ? new CountingMetricExporter(
        new FreshChannel(
          'metrics',
          (userAgent) =>
            createServiceMetricExporter(
              {
                ...(otlp.endpoint === undefined ? {} : { url: otlp.endpoint }),
                ...(otlp.timeoutMillis === undefined ? {} : { timeoutMillis: otlp.timeoutMillis }),
                ...(userAgent === undefined ? {} : { userAgent }),
              },
              otlp.protocol,
              splitter,
            ),
          otlp.retryUntilExported,
        ),
      )
    : null;
  // Explicit-bucket latency histograms: aggregated by wirespan, read by every reader as its
  // MetricProducer (latency-histograms.ts); exponential ones: the SDK's instruments.
  const periodic = (exporter: PushMetricExporter): PeriodicExportingMetricReader =>
    new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: options.exportIntervalMillis,
      exportTimeoutMillis: Math.min(options.exportTimeoutMillis, options.exportIntervalMillis),
      metricProducers:
        latency === null
          ? []
          : [
              latency.producer(
                exporter.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ??
                  AggregationTemporality.CUMULATIVE,
              ),
            ],
    });
  const readers: MetricReader[] = [
    ...(otlpExporter === null ? [] : [periodic(otlpExporter)]),
    ...(exporters.includes('console') ? [periodic(new ConsoleMetricExporter())] : []),
  ];
  const prometheus = exporters.includes('prometheus')
    ? new (await import('./prometheus-endpoint.ts')).PrometheusEndpoint(
        options.prometheus.port,
        options.prometheus.host,
        latency === null ? [] : [latency.producer(AggregationTemporality.CUMULATIVE)],
      )
    : null;
  await prometheus?.listen();
  if (prometheus !== null) readers.push(prometheus);
  const meterProvider = new MeterProvider({
    resource: options.resource,
    views: latency === null ? exponentialLatencyViews() : [],
    readers,
    sdkMetricsEnabled: getBooleanFromEnv('OTEL_NODE_EXPERIMENTAL_SDK_METRICS'),
  });
  if (!metrics.setGlobalMeterProvider(meterProvider)) {
    // Not shut down: that would export. The port is given back.
    await prometheus?.shutdown().catch(() => undefined);
    throw new Error('cannot register the MeterProvider (another one is registered globally)');
  }
  const meter = meterProvider.getMeter(kScope.name, kScope.version);
  options.kubernetes?.observe(meter);
  const instruments = new WirespanMetrics({
    meter,
    boundaries: options.boundaries,
    counts: options.counts,
    stats: options.stats,
    now: () => Date.now(),
    onStatsError: options.onStatsError,
    latency,
  });
  return { meterProvider, instruments, otlpExporter, prometheus };
}

/**
 * Views giving the SDK's latency histograms base-2 exponential buckets (`--histogram
 * exponential`; explicit buckets are aggregated in latency-histograms.ts, not by the SDK).
 */
function exponentialLatencyViews(): ViewOptions[] {
  return latencyHistograms(matcherRegistry).map((instrumentName) => ({
    instrumentName,
    aggregation: {
      type: AggregationType.EXPONENTIAL_HISTOGRAM,
      options: { maxSize: 160, recordMinMax: true },
    },
  }));
}

/**
 * Wraps the OTLP metric exporter to count failed requests (the SDK only logs them to diag);
 * with retryUntilExported, a new channel after a connection failure (fresh-channel.ts).
 */
export class CountingMetricExporter implements PushMetricExporter {
  readonly #channel: FreshChannel<OTLPMetricExporterBase>;
  errors = 0;
  lastError: string | null = null;
  /** The last request's error, or null when it succeeded (metrics are cumulative: a later success makes up for a failure). */
  lastFailure: string | null = null;

  constructor(channel: FreshChannel<OTLPMetricExporterBase>) {
    this.#channel = channel;
  }

  export(data: ResourceMetrics, resultCallback: Parameters<PushMetricExporter['export']>[1]): void {
    this.#channel.current().export(data, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.lastFailure = null;
      else {
        this.errors++;
        this.lastFailure = (result.error?.message ?? 'metric export failed').trim();
        this.lastError ??= this.lastFailure;
        this.#channel.failed(result.error);
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.#channel.current().forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#channel.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.#channel.current().selectAggregationTemporality(instrumentType);
  }

  selectAggregation(instrumentType: InstrumentType): AggregationOption {
    return this.#channel.current().selectAggregation(instrumentType);
  }
}
