/**
 * otel-collector.yaml, parsed and checked the way the collector would wire it: every
 * pipeline names defined receivers, processors, exporters and connectors; the OTLP ports
 * are the ones the wirespan chart sends to; the commented gateway layout is valid YAML that
 * wires up as well; and config/otel-collector-values.yaml (for the collector's Helm chart)
 * carries the same config. (No collector binary can be installed here: see the report.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { readRepoFile, render } from './helpers.ts';

type Section = Record<string, unknown>;
interface Pipeline {
  receivers: string[];
  processors?: string[];
  exporters: string[];
}
interface CollectorConfig {
  receivers: Section;
  processors?: Section;
  exporters: Section;
  connectors?: Section;
  extensions?: Section;
  service: { extensions?: string[]; pipelines: Record<string, Pipeline> };
}

const configText = readRepoFile('otel-collector.yaml');
const config = parseYaml(configText) as CollectorConfig;

/** Component types this config may use, by kind (collector-contrib v0.144+ names). */
const kKnownTypes: Record<string, string[]> = {
  receivers: ['otlp'],
  processors: ['memory_limiter', 'batch'],
  exporters: ['otlp_grpc', 'otlp_http', 'prometheus', 'debug', 'loadbalancing'],
  connectors: ['spanmetrics'],
  extensions: ['health_check'],
};

const typeOf = (id: string) => id.split('/')[0]!;

/** Problems in how the pipelines wire components (empty when the collector would accept it). */
function wiringProblems(c: CollectorConfig): string[] {
  const problems: string[] = [];
  const defined = (kind: keyof CollectorConfig) =>
    new Set(Object.keys((c[kind] as Section | undefined) ?? {}));
  const receivers = defined('receivers');
  const processors = defined('processors');
  const exporters = defined('exporters');
  const connectors = defined('connectors');
  const used = new Set<string>();
  const connectorAs = new Map<string, { exporter: string[]; receiver: string[] }>();
  for (const [name, pipeline] of Object.entries(c.service.pipelines)) {
    const signal = name.split('/')[0]!;
    if (!['traces', 'metrics', 'logs'].includes(signal)) problems.push(`pipeline ${name}: unknown signal`);
    if (!pipeline.receivers?.length) problems.push(`pipeline ${name}: no receivers`);
    if (!pipeline.exporters?.length) problems.push(`pipeline ${name}: no exporters`);
    for (const id of pipeline.receivers ?? []) {
      if (connectors.has(id)) {
        const entry = connectorAs.get(id) ?? { exporter: [], receiver: [] };
        entry.receiver.push(signal);
        connectorAs.set(id, entry);
      } else if (!receivers.has(id)) problems.push(`pipeline ${name}: receiver ${id} is not defined`);
      used.add(`receivers:${id}`);
    }
    for (const id of pipeline.processors ?? []) {
      if (!processors.has(id)) problems.push(`pipeline ${name}: processor ${id} is not defined`);
      used.add(`processors:${id}`);
    }
    if (pipeline.processors?.length && pipeline.processors[0] !== 'memory_limiter') {
      problems.push(`pipeline ${name}: memory_limiter must come first`);
    }
    for (const id of pipeline.exporters ?? []) {
      if (connectors.has(id)) {
        const entry = connectorAs.get(id) ?? { exporter: [], receiver: [] };
        entry.exporter.push(signal);
        connectorAs.set(id, entry);
      } else if (!exporters.has(id)) problems.push(`pipeline ${name}: exporter ${id} is not defined`);
      used.add(`exporters:${id}`);
    }
  }
  for (const id of connectors) {
    const entry = connectorAs.get(id);
    if (!entry?.exporter.length || !entry.receiver.length) {
      problems.push(`connector ${id} must be an exporter in one pipeline and a receiver in another`);
    }
    if (typeOf(id) === 'spanmetrics' && entry) {
      if (!entry.exporter.every((s) => s === 'traces')) problems.push('spanmetrics consumes traces');
      if (!entry.receiver.every((s) => s === 'metrics')) problems.push('spanmetrics produces metrics');
    }
  }
  for (const id of c.service.extensions ?? []) {
    if (!defined('extensions').has(id)) problems.push(`extension ${id} is not defined`);
  }
  for (const [kind, ids] of [
    ['receivers', receivers],
    ['processors', processors],
    ['exporters', exporters],
  ] as const) {
    for (const id of ids) {
      if (!used.has(`${kind}:${id}`)) problems.push(`${kind} ${id} is defined but no pipeline uses it`);
    }
  }
  for (const [kind, known] of Object.entries(kKnownTypes)) {
    for (const id of Object.keys((c[kind as keyof CollectorConfig] as Section | undefined) ?? {})) {
      if (!known.includes(typeOf(id)))
        problems.push(`${kind} ${id}: type ${typeOf(id)} is not one we expect`);
    }
  }
  return problems;
}

function portOf(endpoint: unknown): number {
  const match = /:(\d+)$/.exec(String(endpoint));
  assert.ok(match, `an endpoint with a port: ${endpoint}`);
  return Number(match[1]);
}

/** The commented gateway layout, uncommented: the YAML block after "Its config becomes". */
function gatewayBlock(): Section {
  const lines = configText.split('\n');
  const start = lines.findIndex((line) => line.includes('Its config becomes'));
  assert.ok(start > 0, 'the gateway section is there');
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '#') {
      if (block.length > 0) break;
      continue;
    }
    assert.match(line, /^# /, 'the block is commented out line by line');
    block.push(line.slice(2));
  }
  return parseYaml(block.join('\n')) as Section;
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

describe('otel-collector.yaml', () => {
  test('has only collector sections, and every pipeline wires defined components', () => {
    for (const key of Object.keys(config)) {
      assert.ok(
        ['receivers', 'processors', 'exporters', 'connectors', 'extensions', 'service'].includes(key),
        key,
      );
    }
    assert.deepEqual(wiringProblems(config), []);
  });

  test('the wiring check finds broken configs', () => {
    const broken = structuredClone(config);
    broken.service.pipelines.traces!.exporters = ['otlp_grpc/jaegr', 'otlp_grpc/tempo', 'spanmetrics'];
    broken.service.pipelines.metrics!.processors = ['batch', 'memory_limiter'];
    assert.deepEqual(wiringProblems(broken), [
      'pipeline traces: exporter otlp_grpc/jaegr is not defined',
      'pipeline metrics: memory_limiter must come first',
      'exporters otlp_grpc/jaeger is defined but no pipeline uses it',
    ]);
    const oldNames = structuredClone(config);
    oldNames.exporters = { ...oldNames.exporters, 'otlp/old': {} };
    oldNames.service.pipelines.traces!.exporters.push('otlp/old');
    assert.deepEqual(wiringProblems(oldNames), ['exporters otlp/old: type otlp is not one we expect']);
  });

  test('OTLP in over gRPC and HTTP, on the ports the wirespan chart uses', () => {
    const protocols = (config.receivers.otlp as { protocols: Record<string, { endpoint: string }> })
      .protocols;
    const chart = render();
    const endpoint = chart.agent.env?.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value;
    assert.equal(endpoint, 'http://$(HOST_IP):4317');
    assert.equal(portOf(protocols.grpc?.endpoint), portOf(endpoint), 'gRPC receiver = the chart default');
    assert.equal(portOf(protocols.http?.endpoint), 4318);
    // The capture filter leaves the OTLP traffic out (no spans about exporting spans).
    const filter = chart.capture?.args?.at(-1) ?? '';
    assert.match(filter, /^not \(port 4317 or port 4318 /);
  });

  test('traces to Jaeger and Tempo over OTLP/gRPC (v0.144 exporter name), RED metrics by spanmetrics', () => {
    const traces = config.service.pipelines.traces!;
    assert.ok(traces.exporters.includes('otlp_grpc/jaeger') && traces.exporters.includes('otlp_grpc/tempo'));
    assert.ok(traces.exporters.includes('spanmetrics'));
    assert.ok(config.service.pipelines.metrics!.receivers.includes('spanmetrics'));
    assert.ok(config.service.pipelines.metrics!.exporters.includes('prometheus'));
    assert.ok(traces.processors?.includes('batch'));
    const spanmetrics = config.connectors?.spanmetrics as {
      histogram: { unit: string; explicit: { buckets: string[] } };
    };
    assert.equal(spanmetrics.histogram.unit, 's');
    for (const slo of ['100ms', '250ms']) {
      assert.ok(spanmetrics.histogram.explicit.buckets.includes(slo), `SLO boundary ${slo}`);
    }
    const prometheus = config.exporters.prometheus as { endpoint: string; translation_strategy: string };
    assert.equal(
      prometheus.translation_strategy,
      'UnderscoreEscapingWithSuffixes',
      'the names the rules use',
    );
    assert.equal(portOf(prometheus.endpoint), 8889);
  });

  test('environment references use the env provider syntax (env:NAME, with an optional :-default)', () => {
    const references = [...configText.matchAll(/\$\{[^}]*\}/g)].map((m) => m[0]);
    assert.ok(references.length > 0);
    for (const reference of references) assert.match(reference, /^\$\{env:[A-Z_][A-Z0-9_]*(:-[^}]*)?\}$/);
  });

  test('the commented gateway layout parses and wires up: traces by trace id to a collector pool', () => {
    const gateway = gatewayBlock() as Pick<CollectorConfig, 'exporters' | 'service'>;
    const loadbalancing = gateway.exporters.loadbalancing as {
      routing_key: string;
      protocol: { otlp: Section };
      resolver: Section;
    };
    assert.equal(loadbalancing.routing_key, 'traceID');
    assert.ok(loadbalancing.protocol.otlp, 'protocol.otlp');
    assert.equal(Object.keys(loadbalancing.resolver).length, 1, 'exactly one resolver');
    // The node collector keeps this file's receivers and processors; exporters and service are replaced.
    const nodeCollector: CollectorConfig = {
      receivers: config.receivers,
      processors: config.processors,
      exporters: gateway.exporters,
      extensions: config.extensions,
      service: { ...gateway.service, extensions: config.service.extensions },
    };
    assert.deepEqual(wiringProblems(nodeCollector), []);
    assert.deepEqual(gateway.service.pipelines.traces?.exporters, ['loadbalancing']);
  });
});

describe('config/otel-collector-values.yaml (opentelemetry-collector Helm chart)', () => {
  const values = parseYaml(readRepoFile('config/otel-collector-values.yaml')) as {
    mode: string;
    image: { repository: string };
    ports: Record<string, { enabled: boolean; containerPort?: number; hostPort?: number }>;
    podAnnotations: Record<string, string>;
    config: CollectorConfig;
  };

  test('its config is otel-collector.yaml (plus nulls removing the chart defaults)', () => {
    assert.deepEqual(withoutNulls(values.config), config);
  });

  test('a DaemonSet with hostPort 4317 (the chart default endpoint) and the prometheus port exposed', () => {
    assert.equal(values.mode, 'daemonset');
    assert.match(values.image.repository, /contrib/, 'spanmetrics and loadbalancing are contrib components');
    assert.equal(values.ports.otlp?.hostPort, 4317);
    assert.equal(values.ports.otlp?.containerPort, 4317);
    assert.equal(values.ports['otlp-http']?.hostPort, 4318);
    const prom = values.ports['prom-exporter'];
    assert.equal(prom?.enabled, true);
    assert.equal(prom?.containerPort, portOf((config.exporters.prometheus as { endpoint: string }).endpoint));
    assert.equal(values.podAnnotations['prometheus.io/port'], String(prom?.containerPort));
    // The wirespan chart's ServiceMonitor scrapes the port by this name.
    const chart = parseYaml(readRepoFile('helm/wirespan/values.yaml')) as {
      monitoring: { serviceMonitor: { port: string } };
    };
    assert.ok(values.ports[chart.monitoring.serviceMonitor.port], 'ServiceMonitor port name exists');
  });
});
