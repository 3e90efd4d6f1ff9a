/**
 * The chart's optional Grafana dashboard ConfigMap (grafanaDashboard.enabled): off by default;
 * when enabled, a ConfigMap with Grafana's sidecar label whose data is exactly
 * config/grafana-dashboard.json (the chart carries a copy in dashboards/, kept identical here).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { chartDir, helmLint, helmTemplate, readRepoFile, releaseNamespace, render } from './helpers.ts';

const dashboardName = 'wirespan-grafana-dashboard';

describe('grafanaDashboard', () => {
  test('the chart copy is identical to config/grafana-dashboard.json', () => {
    assert.equal(
      fs.readFileSync(path.join(chartDir, 'dashboards/wirespan.json'), 'utf8'),
      readRepoFile('config/grafana-dashboard.json'),
      'copy config/grafana-dashboard.json to helm/wirespan/dashboards/wirespan.json',
    );
  });

  test('off by default', () => {
    const rendered = render();
    assert.equal(
      rendered.byKind('ConfigMap').find((m) => m.metadata.name === dashboardName),
      undefined,
    );
  });

  test('enabled: a ConfigMap with the sidecar label carrying the dashboard', () => {
    const rendered = render({
      set: [
        'grafanaDashboard.enabled=true',
        'grafanaDashboard.annotations.grafana_folder=Network',
        'grafanaDashboard.namespace=monitoring',
      ],
    });
    const manifest = rendered.byKind('ConfigMap').find((m) => m.metadata.name === dashboardName);
    assert.ok(manifest, 'the dashboard ConfigMap renders');
    new ConfigMap(manifest as never).validate();
    assert.equal(manifest.metadata.labels?.grafana_dashboard, '1');
    assert.equal(manifest.metadata.namespace, 'monitoring');
    assert.deepEqual((manifest.metadata as { annotations?: object }).annotations, {
      grafana_folder: 'Network',
    });
    const data = (manifest as unknown as { data: Record<string, string> }).data;
    assert.deepEqual(Object.keys(data), ['wirespan.json']);
    assert.deepEqual(
      JSON.parse(data['wirespan.json']!),
      JSON.parse(readRepoFile('config/grafana-dashboard.json')),
    );
    assert.equal(
      render({ set: ['grafanaDashboard.enabled=true'] })
        .byKind('ConfigMap')
        .find((m) => m.metadata.name === dashboardName)?.metadata.namespace,
      releaseNamespace,
    );
    const lint = helmLint({ set: ['grafanaDashboard.enabled=true'] });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  });

  test('the values schema rejects unknown keys and a non-boolean enabled', () => {
    assert.notEqual(helmTemplate({ set: ['grafanaDashboard.enabled=yes please'] }).status, 0);
    assert.notEqual(helmTemplate({ set: ['grafanaDashboard.folder=x'] }).status, 0);
  });
});
