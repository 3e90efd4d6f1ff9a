/**
 * The Prometheus scrape endpoint (`--prometheus-port`, OTEL_METRICS_EXPORTER=prometheus): a
 * MetricReader (cumulative, collected at each scrape) serving `GET /metrics` in the text format
 * written by @opentelemetry/exporter-prometheus's PrometheusSerializer.
 *
 * Not that package's PrometheusExporter as it is: its serializer (0.301.0) does not add the unit
 * suffix the OpenTelemetry-to-Prometheus compatibility spec asks for, so `dns.lookup.duration`
 * (unit s) would be `dns_lookup_duration_bucket` here and `dns_lookup_duration_seconds_bucket`
 * through the collector's Prometheus exporter, and one set of alert rules and dashboards could
 * not serve both. The names are given their suffix before serialising (kUnitSuffixes), so both
 * paths give the same series.
 */
import type http from 'node:http';
import { diag } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import {
  type MetricData,
  type MetricProducer,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { createServer } from '../../shared/node-http.ts';

/**
 * Unit suffixes of the compatibility spec for the units wirespan uses; units in braces
 * (`{pair}`) are annotations and get none (counters still get `_total` from the serializer).
 */
const kUnitSuffixes: Readonly<Record<string, string>> = { s: 'seconds', ms: 'milliseconds', By: 'bytes' };

function withUnitSuffix(metric: MetricData): MetricData {
  const suffix = kUnitSuffixes[metric.descriptor.unit];
  const name = metric.descriptor.name;
  // As the collector's translator: no suffix when the name already has the unit as a word.
  if (suffix === undefined || name.split(/[._]/).includes(suffix)) return metric;
  return { ...metric, descriptor: { ...metric.descriptor, name: `${name}_${suffix}` } };
}

/** The collection with unit suffixes on the metric names (once per scrape). */
export function withUnitSuffixes(data: ResourceMetrics): ResourceMetrics {
  return {
    resource: data.resource,
    scopeMetrics: data.scopeMetrics.map((scope) => ({
      scope: scope.scope,
      metrics: scope.metrics.map(withUnitSuffix),
    })),
  };
}

export class PrometheusEndpoint extends MetricReader {
  readonly port: number;
  readonly #host: string | undefined;
  /**
   * k8s.node.name from wirespan's resource on every series (the rest stays in target_info):
   * the agent rules group by node, as the collector's resource_to_telemetry_conversion gives it.
   */
  readonly #serializer = new PrometheusSerializer('', false, /^k8s\.node\.name$/);
  readonly #server: http.Server;

  /**
   * `host` undefined: all interfaces; `metricProducers`: collected at each scrape besides the
   * SDK's instruments (the latency histograms). Call listen() before the first scrape is expected.
   */
  constructor(port: number, host: string | undefined, metricProducers: MetricProducer[] = []) {
    super({ metricProducers });
    this.port = port;
    this.#host = host;
    this.#server = createServer((request, response) => this.#handle(request, response));
  }

  /** Starts listening; rejects (EADDRINUSE, ...) with the port in the message. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void =>
        reject(new Error(`Prometheus endpoint on port ${this.port}: ${error.message}`));
      this.#server.once('error', onError);
      this.#server.listen({ port: this.port, host: this.#host }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
  }

  #handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.statusCode = 404;
      response.end();
      return;
    }
    this.collect().then(
      ({ resourceMetrics, errors }) => {
        if (errors.length > 0) diag.error('wirespan: Prometheus collection errors', ...errors);
        response.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
        response.end(this.#serializer.serialize(withUnitSuffixes(resourceMetrics)));
      },
      (error: unknown) => {
        response.statusCode = 500;
        response.end(`# collection failed: ${String(error)}\n`);
      },
    );
  }

  protected override async onForceFlush(): Promise<void> {}

  protected override onShutdown(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
