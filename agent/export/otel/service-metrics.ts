/**
 * Latency histograms under the observed service's own identity, as Beyla and the collector's
 * spanmetrics connector report them: each data point of a latency histogram carries the observed
 * service's `service.name` (metrics.ts records it), and the OTLP metric request puts those points
 * in a ResourceMetrics of their own whose resource is that service's, as its spans have it (the
 * shared attributes, the service map entry's attributes, `service.name`), so a collector's
 * Prometheus exporter gives them `job="<service>"`; the attribute stays on the points as
 * spanmetrics keeps it (`service_name`, the label a direct Prometheus scrape sees too).
 * wirespan's own metrics (pipeline health) stay on wirespan's resource.
 *
 * The SDK's metric serializer takes one ResourceMetrics per request; an ExportMetricsServiceRequest
 * is only a repeated ResourceMetrics field, and concatenated protobuf messages merge their
 * repeated fields, so the request is the concatenation of one serialized request per resource.
 * Runs once per metric export (not per pair).
 */
import type { Attributes } from '@opentelemetry/api';
import { OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import {
  type IExportMetricsServiceResponse,
  type ISerializer,
  MetricsExporterMetricsHelper,
  ProtobufMetricsSerializer,
} from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { MetricData, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { kLatencyHistograms } from './metrics.ts';
import { createOtlpDelegate, type OtlpProtocol, type OtlpTransportConfig } from './otlp-transport.ts';
import { serviceResource } from './resource.ts';
import { ATTR_SERVICE_NAME } from './semconv-stable.ts';

const kLatency = new Set(kLatencyHistograms);

type Point = MetricData['dataPoints'][number];

/** Splits wirespan's collection into its own ResourceMetrics and one per observed service. */
export class ServiceMetricsSplitter {
  readonly #shared: Attributes;
  readonly #serviceAttributes: ReadonlyMap<string, Attributes>;
  readonly #maxServices: number;
  /** Resources by service name, reused between exports; cleared when it outgrows maxServices. */
  readonly #resources = new Map<string, Resource>();

  /** `serviceAttributes`: the service map's extra resource attributes by service name. */
  constructor(shared: Attributes, serviceAttributes: ReadonlyMap<string, Attributes>, maxServices: number) {
    this.#shared = shared;
    this.#serviceAttributes = serviceAttributes;
    this.#maxServices = maxServices;
  }

  split(data: ResourceMetrics): ResourceMetrics[] {
    const own: ScopeMetrics[] = [];
    const services = new Map<string, { resource: Resource; scopes: ScopeMetrics[] }>();
    for (const scope of data.scopeMetrics) {
      const ownMetrics: MetricData[] = [];
      for (const metric of scope.metrics) {
        if (!kLatency.has(metric.descriptor.name)) {
          ownMetrics.push(metric);
          continue;
        }
        const byService = new Map<string, Point[]>();
        const unnamed: Point[] = [];
        for (const point of metric.dataPoints as Point[]) {
          const key = point.attributes[ATTR_SERVICE_NAME];
          if (typeof key !== 'string') unnamed.push(point);
          else {
            const points = byService.get(key);
            if (points === undefined) byService.set(key, [point]);
            else points.push(point);
          }
        }
        if (unnamed.length > 0) ownMetrics.push({ ...metric, dataPoints: unnamed } as MetricData);
        for (const [key, points] of byService) {
          const split = { ...metric, dataPoints: points } as MetricData;
          const service = services.get(key);
          if (service === undefined) {
            services.set(key, {
              resource: this.#resource(key),
              scopes: [{ scope: scope.scope, metrics: [split] }],
            });
            continue;
          }
          const target = service.scopes.find((s) => s.scope === scope.scope);
          if (target === undefined) service.scopes.push({ scope: scope.scope, metrics: [split] });
          else target.metrics.push(split);
        }
      }
      if (ownMetrics.length > 0) own.push({ scope: scope.scope, metrics: ownMetrics });
    }
    const out: ResourceMetrics[] = [{ resource: data.resource, scopeMetrics: own }];
    for (const service of services.values())
      out.push({ resource: service.resource, scopeMetrics: service.scopes });
    return out;
  }

  #resource(name: string): Resource {
    let resource = this.#resources.get(name);
    if (resource === undefined) {
      if (this.#resources.size >= this.#maxServices) this.#resources.clear();
      resource = serviceResource(this.#shared, name, this.#serviceAttributes.get(name) ?? null);
      this.#resources.set(name, resource);
    }
    return resource;
  }
}

/** The SDK's protobuf metric serializer over the split resources (see the file comment). */
export function serviceMetricsSerializer(
  splitter: ServiceMetricsSplitter,
): ISerializer<ResourceMetrics, IExportMetricsServiceResponse> {
  return {
    serializeRequest: (data) => {
      const parts: Uint8Array[] = [];
      for (const resourceMetrics of splitter.split(data)) {
        const bytes = ProtobufMetricsSerializer.serializeRequest(resourceMetrics);
        if (bytes !== undefined) parts.push(bytes);
      }
      return Buffer.concat(parts);
    },
    deserializeResponse: (data) => ProtobufMetricsSerializer.deserializeResponse(data),
  };
}

/**
 * The OTLP metric exporter (gRPC or HTTP) with the service split: the SDK's OTLPMetricExporterBase
 * (temporality and aggregation from OTEL_EXPORTER_OTLP_METRICS_*) over wirespan's serializer.
 */
export function createServiceMetricExporter(
  config: OtlpTransportConfig,
  protocol: OtlpProtocol,
  splitter: ServiceMetricsSplitter,
): OTLPMetricExporterBase {
  return new OTLPMetricExporterBase(
    createOtlpDelegate(
      'METRICS',
      protocol,
      config,
      serviceMetricsSerializer(splitter),
      MetricsExporterMetricsHelper,
    ),
  );
}
