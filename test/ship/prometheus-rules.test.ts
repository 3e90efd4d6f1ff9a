/**
 * config/prometheus-rules.yaml: the latency SLO and error-ratio alerts.
 * - Every series and label the expressions use exists in what a real `wirespan run` exports
 *   (received over OTLP here), once named the way the collector's prometheus exporter names
 *   it (UnderscoreEscapingWithSuffixes, resource attributes as labels, service.name as job,
 *   the scope as otel_scope_name).
 * - The chart's PrometheusRule, with default values, is exactly this file's rules.
 * - Where promtool is installed: `promtool check rules`, and `promtool test rules` with
 *   synthetic series (prometheus-rules.promtool.yaml) that make each alert fire above its
 *   threshold and stay silent below it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { type ReceivedMetric, startReceiver } from '../export/otlp-receiver.ts';
import { type Manifest, readRepoFile, render, repoRoot, run, which } from './helpers.ts';

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const rulesPath = 'config/prometheus-rules.yaml';
const rules = parseYaml(readRepoFile(rulesPath)) as RuleFile;
const allRules = rules.groups.flatMap((g) => g.rules);

/** OTel unit -> Prometheus unit suffix (the collector's prometheus translator, main cases). */
const kUnitSuffix: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  '%': 'percent',
};

function sanitize(name: string): string {
  return name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
}

/**
 * Prometheus series names for one OTel metric, as translation_strategy
 * UnderscoreEscapingWithSuffixes gives them: unit suffix (annotations such as {pair} are
 * dropped; none when the name already has the unit as a word, as prometheus/otlptranslator's
 * addUnitTokens), `_total` for counters, `_bucket/_sum/_count` for histograms.
 */
export function prometheusNames(name: string, unit: string, type: string): string[] {
  let base = sanitize(name);
  const unitName = unit.startsWith('{') ? '' : (kUnitSuffix[unit] ?? (unit === '1' ? '' : sanitize(unit)));
  if (unitName && !base.split('_').includes(unitName)) base = `${base}_${unitName}`;
  if (type === 'histogram') return [`${base}_bucket`, `${base}_sum`, `${base}_count`];
  if (type === 'exponentialHistogram') return [base];
  if (type === 'sum') return [base.endsWith('_total') ? base : `${base}_total`];
  return [base];
}

interface Series {
  labels: Map<string, Set<string>>;
}

/** Series name -> label name -> values seen, from the metrics a receiver got. */
function toPrometheus(metrics: ReceivedMetric[]): Map<string, Series> {
  const series = new Map<string, Series>();
  for (const metric of metrics) {
    const resourceLabels: Record<string, string> = {};
    for (const [key, value] of Object.entries(metric.resource)) resourceLabels[sanitize(key)] = String(value);
    const serviceName = String(metric.resource['service.name']);
    const namespace = metric.resource['service.namespace'];
    resourceLabels.job = namespace ? `${namespace}/${serviceName}` : serviceName;
    resourceLabels.otel_scope_name = metric.scope;
    for (const name of prometheusNames(metric.name, metric.unit, metric.type)) {
      const entry = series.get(name) ?? { labels: new Map<string, Set<string>>() };
      series.set(name, entry);
      const add = (label: string, value: string) => {
        const values = entry.labels.get(label) ?? new Set<string>();
        values.add(value);
        entry.labels.set(label, values);
      };
      for (const point of metric.dataPoints) {
        for (const [key, value] of Object.entries(point.attributes)) add(sanitize(key), String(value));
        for (const [key, value] of Object.entries(resourceLabels)) add(key, value);
        if (name.endsWith('_bucket')) add('le', '+Inf');
      }
    }
  }
  return series;
}

interface Selector {
  name: string;
  matchers: { label: string; op: string; value: string }[];
}

/** The metric selectors of a PromQL expression (name{matchers}) and its by/without labels. */
function selectorsOf(expr: string): { selectors: Selector[]; grouping: string[] } {
  const selectors: Selector[] = [];
  for (const [, name, body] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
    const matchers = [...body!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((m) => ({
      label: m[1]!,
      op: m[2]!,
      value: m[3]!,
    }));
    selectors.push({ name: name!, matchers });
  }
  const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1]!.split(',').map((label) => label.trim()),
  );
  return { selectors, grouping };
}

describe('the rule file', () => {
  test('has the DNS p99 latency and HTTP 5xx ratio alerts, each complete', () => {
    const names = allRules.map((r) => r.alert);
    assert.ok(names.includes('WirespanDNSLatencyP99High'));
    assert.ok(names.includes('WirespanHTTPErrorRatioHigh'));
    for (const rule of allRules) {
      assert.match(rule.for, /^\d+[smh]$/, `${rule.alert}: for`);
      assert.ok(rule.labels.severity, `${rule.alert}: severity`);
      assert.ok(rule.annotations.summary && rule.annotations.description, `${rule.alert}: annotations`);
    }
    const dns = allRules.find((r) => r.alert === 'WirespanDNSLatencyP99High')!;
    assert.match(dns.expr, /histogram_quantile\(0\.99,/);
    assert.match(dns.expr, /\) > 0\.1\s*$/);
    assert.equal(dns.for, '5m');
  });

  test('the translation of OTel names matches the collector (examples from its docs)', () => {
    assert.deepEqual(prometheusNames('dns.lookup.duration', 's', 'histogram'), [
      'dns_lookup_duration_seconds_bucket',
      'dns_lookup_duration_seconds_sum',
      'dns_lookup_duration_seconds_count',
    ]);
    assert.deepEqual(prometheusNames('wirespan.files', '{file}', 'sum'), ['wirespan_files_total']);
    assert.deepEqual(prometheusNames('wirespan.bytes.read', 'By', 'sum'), ['wirespan_bytes_read_total']);
    assert.deepEqual(prometheusNames('wirespan.lag', 's', 'gauge'), ['wirespan_lag_seconds']);
  });

  test("the chart's PrometheusRule with default thresholds is exactly this file", () => {
    const r = render({ set: ['monitoring.prometheusRule.enabled=true'] });
    const [rule] = r.byKind('PrometheusRule') as (Manifest & { spec: RuleFile })[];
    assert.ok(rule, 'rendered');
    assert.deepEqual(rule.spec.groups, rules.groups);
  });
});

describe('the series the rules use are what wirespan exports', () => {
  let series: Map<string, Series>;
  let receiverClose: () => Promise<void>;
  let dir = '';

  before(async () => {
    const receiver = await startReceiver();
    receiverClose = () => receiver.close();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-rules-'));
    fs.mkdirSync(path.join(dir, 'pcaps'));
    fs.copyFileSync(
      path.join(repoRoot, 'test/fixtures/demo.pcap'),
      path.join(dir, 'pcaps/cap-20261128230000.pcap'),
    );
    // `wirespan run` as the chart runs it: endpoint from the environment, node name as a resource attribute.
    const agent = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        path.join(dir, 'pcaps'),
        '--state-dir',
        path.join(dir, 'state'),
        '--health-port',
        '0',
        '--otlp',
      ],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_METRIC_EXPORT_INTERVAL: '500',
          OTEL_RESOURCE_ATTRIBUTES: 'k8s.node.name=node-a',
        },
      },
    );
    let stderr = '';
    agent.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => agent.on('close', resolve));
    const deadline = Date.now() + 30_000;
    while (!receiver.metricRequests.some((m) => m.some((x) => x.name === 'wirespan.lag'))) {
      if (Date.now() > deadline) {
        agent.kill('SIGKILL');
        throw new Error(`no wirespan.lag metric from wirespan run:\n${stderr}`);
      }
      await sleep(100);
    }
    agent.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    series = toPrometheus(receiver.metricRequests.flat());
  });

  after(async () => {
    await receiverClose?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const rule of allRules) {
    test(`${rule.alert}: every series, label and matched value exists`, () => {
      const { selectors, grouping } = selectorsOf(rule.expr);
      assert.ok(selectors.length > 0, 'the expression selects series');
      for (const selector of selectors) {
        const found = series.get(selector.name);
        assert.ok(found, `${selector.name} is exported (have: ${[...series.keys()].sort().join(', ')})`);
        for (const matcher of selector.matchers) {
          const values = found.labels.get(matcher.label);
          assert.ok(values, `${selector.name} has label ${matcher.label}`);
          if (matcher.op === '=')
            assert.ok(values.has(matcher.value), `${matcher.label}="${matcher.value}" occurs`);
          if (matcher.op === '=~') {
            const pattern = new RegExp(`^(?:${matcher.value})$`);
            assert.ok(
              [...values].some((v) => pattern.test(v)),
              `${matcher.label}=~"${matcher.value}" matches`,
            );
          }
        }
        for (const label of grouping) {
          assert.ok(found.labels.has(label), `${selector.name} has the label ${label} grouped by`);
        }
      }
    });
  }
});

const promtool = process.env.PROMTOOL ?? which('promtool');

describe('promtool', {
  skip: promtool ? false : 'promtool is not installed (it comes with the Debian package prometheus)',
}, () => {
  test('promtool check rules', () => {
    const result = run(promtool!, ['check', 'rules', rulesPath]);
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, new RegExp(`SUCCESS: ${allRules.length} rules found`));
  });

  test('promtool test rules: each alert fires above its threshold and not below', () => {
    const result = run(promtool!, ['test', 'rules', 'test/ship/prometheus-rules.promtool.yaml']);
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /SUCCESS/);
  });
});
