/**
 * Standard OTEL_* environment variables, as users of any OTel SDK expect them to behave
 * (docs/cli.md, "OpenTelemetry configuration").
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { createOtelExporter } from '../../agent/export/otel/index.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { type OtlpReceiver, startReceiver } from './otlp-receiver.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');
const kVariables = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_SDK_DISABLED',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_METRICS_EXPORTER',
];

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());
afterEach(() => {
  for (const name of kVariables) delete process.env[name];
});

test('OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the value length limit', async () => {
  receiver.reset();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.endpoint;
  process.env.OTEL_SERVICE_NAME = 'wirespan-node-7';
  process.env.OTEL_RESOURCE_ATTRIBUTES =
    'k8s.node.name=node-7,deployment.environment.name=prod,service.namespace=obs,k8s.pod.name=wirespan-x7k2p,k8s.namespace.name=observability';
  process.env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = '5';
  const exporter = await createOtelExporter(); // no endpoint option: the variable applies
  assert.equal(exporter.endpoint, receiver.endpoint);
  const { pairs } = replayPairs([demo]);
  for (const pair of pairs) exporter.emit(pair);
  const result = await exporter.shutdown();
  assert.equal(result.error, null);
  assert.equal(receiver.spans.length, pairs.length);
  const span = receiver.spans.find((s) => s.name === 'DNS MX')!;
  // Observed services keep their own service.name; the agent's name and its service.* do not leak in.
  assert.equal(span.resource['service.name'], 'dns://127.0.0.153:53');
  assert.equal(span.resource['service.namespace'], undefined);
  assert.equal(span.resource['k8s.node.name'], 'node-7');
  assert.equal(span.resource['deployment.environment.name'], 'prod');
  // The wirespan pod's own identity (downward API) is not the observed server's.
  assert.equal(span.resource['k8s.pod.name'], undefined);
  assert.equal(span.resource['k8s.namespace.name'], undefined);
  assert.equal(span.attributes['dns.question.name'], 'demo.');
  // wirespan's own metrics carry the agent's identity.
  const metric = receiver.lastMetrics('wirespan.pairs').get('wirespan.pairs')!;
  assert.equal(metric.resource['service.name'], 'wirespan-node-7');
  assert.equal(metric.resource['service.namespace'], 'obs');
  assert.equal(metric.resource['k8s.node.name'], 'node-7');
  assert.equal(metric.resource['k8s.pod.name'], 'wirespan-x7k2p');
});

test('OTEL_TRACES_SAMPLER=traceidratio with ARG 0 keeps only the always-kept spans', async () => {
  receiver.reset();
  process.env.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
  process.env.OTEL_TRACES_SAMPLER_ARG = '0';
  process.env.OTEL_METRICS_EXPORTER = 'none';
  const exporter = await createOtelExporter({ endpoint: receiver.endpoint });
  const { pairs } = replayPairs([demo]);
  for (const pair of pairs) exporter.emit(pair);
  const result = await exporter.shutdown();
  assert.ok(result.exported > 0 && result.exported < pairs.length);
  assert.ok(receiver.spans.every((s) => s.status.code === 'ERROR' || s.parentSpanId !== undefined));
  assert.equal(receiver.metricRequests.length, 0, 'OTEL_METRICS_EXPORTER=none');
});

test('OTEL_SDK_DISABLED=true: nothing is exported, pairs are still counted', async () => {
  receiver.reset();
  process.env.OTEL_SDK_DISABLED = 'true';
  const exporter = await createOtelExporter({ endpoint: receiver.endpoint });
  assert.equal(exporter.enabled, false);
  const { pairs } = replayPairs([demo]);
  for (const pair of pairs) exporter.emit(pair);
  assert.deepEqual(await exporter.shutdown(), { exported: 0, dropped: 0, failed: 0, error: null });
  assert.equal(exporter.counters.pairs, pairs.length);
  assert.equal(receiver.spans.length, 0);
});
