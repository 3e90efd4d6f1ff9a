/**
 * config/grafana-dashboard.json: valid dashboard JSON, every panel on the `${datasource}`
 * variable, and every Prometheus series and label its queries use is one that wirespan's
 * metrics become in the collector's Prometheus exporter (UnderscoreEscapingWithSuffixes: unit
 * suffix, `_total` for counters, `_bucket/_count/_sum` for histograms): the instruments are
 * read from agent/export/otel/metrics.ts (name constant + unit of each create call), and each
 * must also be in the metric tables of docs/output.md.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as attributes from '../../agent/export/otel/attributes.ts';
import { kLatencyHistograms } from '../../agent/export/otel/metrics.ts';
import * as semconv from '../../agent/export/otel/semconv.ts';
import { repoRoot } from '../helpers/run-cli.ts';

interface Target {
  expr: string;
  legendFormat?: string;
  datasource?: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'config/grafana-dashboard.json'), 'utf8'),
) as Dashboard;
const metricsSource = fs.readFileSync(path.join(repoRoot, 'agent/export/otel/metrics.ts'), 'utf8');
const outputDoc = fs.readFileSync(path.join(repoRoot, 'docs/output.md'), 'utf8');

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
const unitSuffix: Record<string, string> = { s: 'seconds', By: 'bytes' };

/** Prometheus series name -> the OTel instrument it comes from. */
function exportedSeries(): Map<string, string> {
  const constants = attributes as unknown as Record<string, string>;
  const instruments: { name: string; unit: string; kind: 'histogram' | 'counter' | 'gauge' }[] =
    kLatencyHistograms.map((name) => ({ name, unit: 's', kind: 'histogram' }));
  for (const m of metricsSource.matchAll(
    /meter\.create(Observable)?(Counter|Gauge|UpDownCounter)\((\w+),\s*\{\s*unit:\s*'([^']+)'/g,
  )) {
    const name = constants[m[3]!];
    assert.ok(name, `metrics.ts uses ${m[3]}, which attributes.ts does not define`);
    instruments.push({ name, unit: m[4]!, kind: m[2] === 'Counter' ? 'counter' : 'gauge' });
  }
  assert.ok(instruments.length >= 18, `found ${instruments.length} instruments in metrics.ts`);
  const series = new Map<string, string>();
  for (const { name, unit, kind } of instruments) {
    let base = sanitize(name);
    const suffix = unit.startsWith('{') ? '' : (unitSuffix[unit] ?? sanitize(unit));
    if (suffix && !base.endsWith(`_${suffix}`)) base = `${base}_${suffix}`;
    const names =
      kind === 'histogram'
        ? [`${base}_bucket`, `${base}_count`, `${base}_sum`]
        : [kind === 'counter' ? `${base}_total` : base];
    for (const n of names) series.set(n, name);
  }
  return series;
}

/** Labels a series can carry: metric attributes, resource attributes as labels, job, le. */
function knownLabels(): Set<string> {
  const values = [
    ...Object.values(attributes as unknown as Record<string, unknown>),
    ...Object.values(semconv as unknown as Record<string, unknown>),
  ].filter((v): v is string => typeof v === 'string');
  const stable = [
    'error.type',
    'http.request.method',
    'http.response.status_code',
    'http.route',
    'network.transport',
    'network.protocol.version',
    'url.scheme',
  ];
  return new Set([...values, ...stable].map(sanitize).concat(['job', 'le', 'k8s_node_name', '__name__']));
}

function allExprs(): string[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

const kPromqlWords = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'rate',
  'increase',
  'histogram_quantile',
  'by',
  'without',
  'and',
  'or',
  'unless',
  'label_values',
  'count',
  'topk',
  'clamp_min',
]);

describe('config/grafana-dashboard.json', () => {
  test('is a dashboard: uid, unique panel ids, every query panel on the datasource variable', () => {
    assert.equal(dashboard.uid, 'wirespan');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const queries = dashboard.panels.filter((p) => p.type !== 'row');
    assert.ok(queries.length >= 15, `${queries.length} panels`);
    for (const panel of queries) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      assert.equal(panel.datasource?.uid, '${datasource}', panel.title);
      assert.ok(panel.targets && panel.targets.length > 0, panel.title);
      assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, panel.title);
      for (const target of panel.targets) {
        let depth = 0;
        for (const c of target.expr) {
          depth += c === '(' ? 1 : c === ')' ? -1 : 0;
          assert.ok(depth >= 0, `${panel.title}: ${target.expr}`);
        }
        assert.equal(depth, 0, `${panel.title}: unbalanced ( ) in ${target.expr}`);
      }
    }
    const variables = dashboard.templating.list.map((v) => v.name);
    assert.deepEqual(variables, ['datasource', 'job', 'service']);
  });

  test('every series it queries is one wirespan exports, and is in the metric tables of docs/output.md', () => {
    const exported = exportedSeries();
    const used = new Set<string>();
    for (const expr of allExprs()) {
      for (const [, name] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)) used.add(name!);
      // Every bare identifier outside {...} and strings is a PromQL word, a metric or a label.
      const outside = expr
        .replace(/\{[^}]*\}/g, '')
        .replace(/\[[^\]]*\]/g, '')
        .replace(/"[^"]*"/g, '');
      for (const [word] of outside.matchAll(/[a-zA-Z_][a-zA-Z0-9_]*/g)) {
        if (!kPromqlWords.has(word!) && !knownLabels().has(word!)) used.add(word!);
      }
    }
    for (const variable of dashboard.templating.list) {
      const text = JSON.stringify(variable.query ?? '');
      for (const [, name] of text.matchAll(/label_values\(([a-z_]+),/g)) used.add(name!);
      for (const [, names] of text.matchAll(/__name__=~\\"([^\\]+)\\"/g))
        for (const name of names!.split('|')) used.add(name);
    }
    assert.ok(used.size >= 15, `${used.size} series`);
    const missing = [...used].filter((name) => !exported.has(name));
    assert.deepEqual(missing, [], `not exported by wirespan (known: ${[...exported.keys()].join(', ')})`);
    for (const name of used) {
      const instrument = exported.get(name)!;
      assert.ok(
        outputDoc.includes(`\`${instrument}\``),
        `${instrument} (${name}) is not in docs/output.md's metric tables`,
      );
    }
    // The main signals are all there.
    for (const name of [
      'dns_lookup_duration_seconds_bucket',
      'http_server_request_duration_seconds_bucket',
      'http_client_request_duration_seconds_bucket',
      'wirespan_pair_duration_seconds_bucket',
      'wirespan_pairs_total',
      'wirespan_lag_seconds',
      'wirespan_buffer_pool_slots',
      'wirespan_queue_depth',
      'wirespan_spans_dropped_total',
      'wirespan_export_errors_total',
    ])
      assert.ok(used.has(name), `the dashboard shows ${name}`);
  });

  test('every label it groups or filters by is one the series carry', () => {
    const labels = knownLabels();
    for (const expr of allExprs()) {
      for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g))
        for (const label of list!.split(',').map((l) => l.trim()))
          assert.ok(labels.has(label), `unknown label ${label} in ${expr}`);
      for (const [, body] of expr.matchAll(/\{([^}]*)\}/g))
        for (const [, label] of body!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g))
          assert.ok(labels.has(label!), `unknown label ${label} in ${expr}`);
    }
  });

  test('latency percentiles are histogram_quantile over _bucket rates grouped by le', () => {
    const quantiles = allExprs().filter((e) => e.includes('histogram_quantile'));
    assert.ok(quantiles.length >= 10);
    for (const expr of quantiles) {
      assert.match(expr, /histogram_quantile\(0\.\d+, sum by \([^)]*\ble\) \(rate\([a-z_]+_bucket\{/);
    }
  });
});
