/**
 * A real OTLP receiver in the test process (@elastic/mockotlpserver: @grpc/grpc-js with the
 * OTLP protos, and OTLP/HTTP on request), with what it received turned into plain values: ids as
 * hex, 64-bit integers (timestamps, counts, int attributes) as decimal strings, attributes as
 * objects; and each request's transport, path and content type.
 *
 * mockotlpserver publishes on process-wide diagnostics channels, so every server in a process
 * sees every request (also after it was closed): start one per test file, or one after another.
 */
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import mock from '@elastic/mockotlpserver';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  status: { code: string; message?: string };
  flags: number;
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  resource: Record<string, unknown>;
  /** The instrumentation scope's name. */
  scope: string;
  /** 'histogram' | 'sum' | 'gauge' | 'exponentialHistogram'. */
  type: string;
  dataPoints: {
    attributes: Record<string, unknown>;
    value?: number | string;
    count?: string;
    bucketCounts?: string[];
    explicitBounds?: number[];
  }[];
}

export interface TraceRequest {
  /** service.name of each ResourceSpans in the request, in order. */
  resourceServiceNames: string[];
  spanCount: number;
}

type Raw = Record<string, unknown>;

/** One request as it arrived: `grpc` (path: the gRPC method) or `http` (path: /v1/traces, ...). */
export interface ReceivedRequest {
  transport: 'grpc' | 'http';
  path: string;
  contentType: string | undefined;
}

/**
 * A span as text for comparing the spans of two runs of the CLI: the random ids left out (the
 * trace id kept when it joins a parent), attributes and resource sorted, and the resource
 * attributes detected per process left out.
 */
export function comparableSpan(span: ReceivedSpan): string {
  const joined = span.parentSpanId !== undefined && span.parentSpanId !== '';
  return JSON.stringify({
    ...span,
    traceId: joined ? span.traceId : '',
    spanId: '',
    attributes: Object.fromEntries(Object.entries(span.attributes).sort(([a], [b]) => a.localeCompare(b))),
    resource: Object.fromEntries(
      Object.entries(span.resource)
        // Detected per process: differs between two runs of the CLI.
        .filter(([key]) => key !== 'service.instance.id' && !key.startsWith('process.'))
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  });
}

function isLong(value: unknown): value is { low: number; high: number; unsigned: boolean } {
  return (
    typeof value === 'object' && value !== null && 'low' in value && 'high' in value && 'unsigned' in value
  );
}

/** A protobuf Long (or number/string) as an exact decimal string. */
export function longText(value: unknown): string {
  if (isLong(value)) {
    const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
    return (value.unsigned ? bits : BigInt.asIntN(64, bits)).toString();
  }
  return String(value);
}

function hex(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const buffer = Buffer.from(value as Uint8Array);
  return buffer.length === 0 ? undefined : buffer.toString('hex');
}

function anyValue(value: Raw): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('doubleValue' in value) return value.doubleValue;
  if ('intValue' in value) {
    const text = longText(value.intValue);
    const number = Number(text);
    return Number.isSafeInteger(number) ? number : text;
  }
  if ('arrayValue' in value) return ((value.arrayValue as Raw).values as Raw[]).map(anyValue);
  return null;
}

export function attributesOf(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of (list as { key: string; value: Raw }[] | undefined) ?? [])
    out[kv.key] = anyValue(kv.value);
  return out;
}

const kKinds = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const kStatus = ['UNSET', 'OK', 'ERROR'];

function enumName(value: unknown, names: string[]): string {
  return typeof value === 'number'
    ? (names[value] ?? String(value))
    : String(value).replace(/^(SPAN_KIND_|STATUS_CODE_)/, '');
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly traceRequests: TraceRequest[] = [];
  /** Every metrics request, in arrival order (cumulative temporality: the last one has the totals). */
  readonly metricRequests: ReceivedMetric[][] = [];
  /** Every request's transport and path, in arrival order. */
  readonly requests: ReceivedRequest[] = [];
  #server: InstanceType<typeof mock.MockOtlpServer>;
  readonly #http: boolean;
  /** The gRPC endpoint (`http://127.0.0.1:port`). */
  endpoint = '';
  /** The OTLP/HTTP base URL (with `{ http: true }`). */
  httpEndpoint = '';
  readonly #onRequest = (message: unknown): void => {
    const m = message as { transport: 'grpc' | 'http'; path: string; headers?: Record<string, string> };
    this.requests.push({ transport: m.transport, path: m.path, contentType: m.headers?.['content-type'] });
  };

  /**
   * `port` 0: a free port; a fixed port lets a test bring "the collector" up where an exporter
   * already sends. `http`: also listen for OTLP/HTTP, on `httpPort` (default: a free port).
   */
  constructor(port = 0, options: { http?: boolean; httpPort?: number } = {}) {
    this.#http = options.http ?? false;
    this.#server = new mock.MockOtlpServer({
      services: this.#http ? ['grpc', 'http'] : ['grpc'],
      grpcHostname: '127.0.0.1',
      grpcPort: port,
      httpHostname: '127.0.0.1',
      httpPort: options.httpPort ?? 0,
      logLevel: 'warn',
      onTrace: (request: Raw) => this.#onTrace(request),
      onMetrics: (request: Raw) => this.#onMetrics(request),
    });
  }

  async start(): Promise<this> {
    await this.#server.start();
    this.endpoint = `http://${(this.#server.grpcUrl as URL).host}`;
    if (this.#http) this.httpEndpoint = `http://${(this.#server.httpUrl as URL).host}`;
    diagnostics.subscribe('otlp.v1.request', this.#onRequest);
    return this;
  }

  async close(): Promise<void> {
    diagnostics.unsubscribe('otlp.v1.request', this.#onRequest);
    await this.#server.close();
  }

  reset(): void {
    this.spans.length = 0;
    this.traceRequests.length = 0;
    this.metricRequests.length = 0;
    this.requests.length = 0;
  }

  /**
   * Metrics of the last request that carried `name`, by name. A latency histogram comes once per
   * observed service (each under that service's resource): here its points are merged into the
   * first one's (resource: the first service's); lastRequest() has them apart.
   */
  lastMetrics(name: string): Map<string, ReceivedMetric> {
    const byName = new Map<string, ReceivedMetric>();
    for (const metric of this.lastRequest(name)) {
      const seen = byName.get(metric.name);
      if (seen === undefined) byName.set(metric.name, { ...metric, dataPoints: [...metric.dataPoints] });
      else seen.dataPoints.push(...metric.dataPoints);
    }
    return byName;
  }

  /** Every metric of the last request that carried `name`, in request order. */
  lastRequest(name: string): ReceivedMetric[] {
    for (let i = this.metricRequests.length - 1; i >= 0; i--) {
      const request = this.metricRequests[i]!;
      if (request.some((m) => m.name === name)) return request;
    }
    return [];
  }

  #onTrace(request: Raw): void {
    for (const resourceSpans of request.resourceSpans as Raw[]) {
      const resource = attributesOf((resourceSpans.resource as Raw | undefined)?.attributes);
      for (const scopeSpans of resourceSpans.scopeSpans as Raw[]) {
        const scope = scopeSpans.scope as { name: string; version?: string };
        for (const span of scopeSpans.spans as Raw[]) {
          const status = (span.status as Raw | undefined) ?? {};
          this.spans.push({
            traceId: hex(span.traceId) ?? '',
            spanId: hex(span.spanId) ?? '',
            parentSpanId: hex(span.parentSpanId),
            name: String(span.name),
            kind: enumName(span.kind, kKinds),
            startTimeUnixNano: longText(span.startTimeUnixNano),
            endTimeUnixNano: longText(span.endTimeUnixNano),
            attributes: attributesOf(span.attributes),
            status: {
              code: enumName(status.code ?? 0, kStatus),
              ...(status.message ? { message: String(status.message) } : {}),
            },
            flags: Number(span.flags ?? 0),
            resource,
            scope: { name: scope.name, ...(scope.version ? { version: scope.version } : {}) },
          });
        }
      }
    }
    const services = (request.resourceSpans as Raw[]).map((rs) =>
      String(attributesOf((rs.resource as Raw | undefined)?.attributes)['service.name']),
    );
    const spanCount = (request.resourceSpans as Raw[]).reduce(
      (n, rs) => n + (rs.scopeSpans as Raw[]).reduce((m, ss) => m + (ss.spans as Raw[]).length, 0),
      0,
    );
    this.traceRequests.push({ resourceServiceNames: services, spanCount });
  }

  #onMetrics(request: Raw): void {
    const metrics: ReceivedMetric[] = [];
    for (const resourceMetrics of request.resourceMetrics as Raw[]) {
      const resource = attributesOf((resourceMetrics.resource as Raw | undefined)?.attributes);
      for (const scopeMetrics of resourceMetrics.scopeMetrics as Raw[]) {
        const scope = String((scopeMetrics.scope as Raw | undefined)?.name ?? '');
        for (const metric of scopeMetrics.metrics as Raw[]) {
          const type =
            ['histogram', 'sum', 'gauge', 'exponentialHistogram'].find((t) => t in metric) ?? 'unknown';
          const data = metric[type] as Raw | undefined;
          const dataPoints = ((data?.dataPoints as Raw[] | undefined) ?? []).map((point) => ({
            attributes: attributesOf(point.attributes),
            ...('asInt' in point ? { value: Number(longText(point.asInt)) } : {}),
            ...('asDouble' in point ? { value: Number(point.asDouble) } : {}),
            ...('count' in point ? { count: longText(point.count) } : {}),
            ...('bucketCounts' in point
              ? { bucketCounts: (point.bucketCounts as unknown[]).map(longText) }
              : {}),
            ...('explicitBounds' in point ? { explicitBounds: point.explicitBounds as number[] } : {}),
          }));
          metrics.push({
            name: String(metric.name),
            unit: String(metric.unit ?? ''),
            resource,
            scope,
            type,
            dataPoints,
          });
        }
      }
    }
    this.metricRequests.push(metrics);
  }
}

/** Starts a receiver (close it in the test file's after hook); on `port` if given. */
export function startReceiver(
  port = 0,
  options: { http?: boolean; httpPort?: number } = {},
): Promise<OtlpReceiver> {
  return new OtlpReceiver(port, options).start();
}

/** A loopback port nothing listens on now (bound, then released): where a collector will appear. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
