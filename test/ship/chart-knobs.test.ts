/**
 * The chart's operator knobs (issue 15), rendered with test/ship/values/knobs.yaml and single
 * --set overrides: every object valid against the Kubernetes schemas (PodMonitor, a CRD:
 * checked field by field against the pods it must select), the --config file a mounted
 * ConfigMap whose keys `wirespan run --help` lists, extra volumes and mounts, envFrom,
 * securityContext overrides merged over the chart's defaults, wirespan's own metrics port
 * (OTEL_METRICS_EXPORTER, container port, capture filter, PodMonitor, Service) and
 * global.image.registry; and the values the schema or the templates refuse.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DaemonSet as DaemonSetModel } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse as parseYaml } from 'yaml';
import {
  argValue,
  type Container,
  helmLint,
  helmTemplate,
  type Manifest,
  parseHelpFlags,
  releaseNamespace,
  render,
  renderNotes,
  runHelp,
} from './helpers.ts';

const kConfigFile = '/etc/wirespan/config/wirespan.yaml';

function env(container: Container, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}

function validate(manifests: Manifest[]): void {
  const models: Record<string, (m: Manifest) => { validate(): void }> = {
    DaemonSet: (m) => new DaemonSetModel(m as never),
    ConfigMap: (m) => new ConfigMap(m as never),
    ServiceAccount: (m) => new ServiceAccount(m as never),
    Service: (m) => new Service(m as never),
    ClusterRole: (m) => new ClusterRole(m as never),
    ClusterRoleBinding: (m) => new ClusterRoleBinding(m as never),
  };
  for (const manifest of manifests) {
    const model = models[manifest.kind];
    if (model)
      assert.doesNotThrow(() => model(manifest).validate(), `${manifest.kind} ${manifest.metadata.name}`);
    else assert.equal(manifest.kind, 'PodMonitor', `unexpected kind ${manifest.kind}`);
  }
}

describe('chart knobs (test/ship/values/knobs.yaml)', () => {
  const r = render({ values: ['knobs.yaml'] });

  test('valid objects: ConfigMaps, DaemonSet, Service, PodMonitor, ServiceAccount; helm lint passes', () => {
    assert.deepEqual(r.manifests.map((m) => m.kind).sort(), [
      'ClusterRole', // kubernetes.enabled by default (chart-kubernetes.test.ts)
      'ClusterRoleBinding',
      'ConfigMap',
      'ConfigMap',
      'DaemonSet',
      'PodMonitor',
      'Service',
      'ServiceAccount',
    ]);
    validate(r.manifests);
    const lint = helmLint({ values: ['knobs.yaml'] });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  });

  test('agent.config: a ConfigMap mounted read-only and passed with --config; its keys are run flags', () => {
    const config = r.byKind('ConfigMap').find((m) => m.metadata.name.endsWith('-config')) as
      | (Manifest & { data: Record<string, string> })
      | undefined;
    assert.ok(config, 'the config ConfigMap');
    const file = parseYaml(config.data['wirespan.yaml']!) as Record<string, unknown>;
    assert.deepEqual(file, {
      'unanswered-spans-per-second': 50,
      'service-map': ['10.96.0.10:53=coredns'],
      'slow-span': 0.5,
    });
    const flags = new Set(parseHelpFlags(runHelp()).flatMap((f) => f.names));
    for (const key of Object.keys(file)) assert.ok(flags.has(`--${key}`), `--${key} is a run flag`);
    assert.equal(argValue(r.agent.args ?? [], '--config'), kConfigFile);
    const mount = r.agent.volumeMounts?.find((m) => kConfigFile.startsWith(`${m.mountPath}/`));
    assert.equal(mount?.readOnly, true);
    const volume = r.pod.volumes?.find((v) => v.name === mount?.name);
    assert.equal(volume?.configMap?.name, config.metadata.name);
    // Pods restart when the file changes.
    const checksum = (set: string[]) =>
      render({ values: ['knobs.yaml'], set }).daemonSet.spec.template.metadata.annotations?.[
        'checksum/agent-config'
      ];
    assert.match(checksum([]) ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(checksum(['agent.config.slow-span=2']), checksum([]));
  });

  test('no config: no ConfigMap, no --config, no mount', () => {
    const plain = render();
    assert.equal(argValue(plain.agent.args ?? [], '--config'), undefined);
    assert.equal(
      plain.byKind('ConfigMap').find((m) => m.metadata.name.endsWith('-config')),
      undefined,
    );
    assert.equal(
      plain.pod.volumes?.find((v) => v.name === 'agent-config'),
      undefined,
    );
  });

  test('extraVolumes, extraVolumeMounts and envFrom reach the pod and the agent', () => {
    assert.deepEqual(
      r.pod.volumes?.find((v) => v.name === 'otlp-ca'),
      { name: 'otlp-ca', secret: { secretName: 'otlp-ca' } },
    );
    assert.deepEqual(
      r.agent.volumeMounts?.find((m) => m.name === 'otlp-ca'),
      { name: 'otlp-ca', mountPath: '/etc/otlp-ca', readOnly: true },
    );
    for (const mount of r.agent.volumeMounts ?? []) {
      assert.ok(
        r.pod.volumes?.some((v) => v.name === mount.name),
        `volume for mount ${mount.name}`,
      );
    }
    assert.deepEqual((r.agent as Container & { envFrom?: unknown }).envFrom, [
      { secretRef: { name: 'otlp-auth' } },
      { prefix: 'WIRESPAN_', configMapRef: { name: 'wirespan-flags' } },
    ]);
  });

  test("securityContext overrides are merged over the chart's defaults", () => {
    assert.deepEqual(r.agent.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const capture = r.capture!.securityContext as Record<string, unknown>;
    assert.deepEqual(capture.seLinuxOptions, { type: 'spc_t' });
    assert.deepEqual(capture.capabilities, { drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN'] });
    assert.equal(capture.runAsUser, 65532);
    // Defaults unchanged without overrides.
    assert.equal(render().agent.securityContext?.runAsUser, 65532);
  });

  test('wirespan metrics port: OTEL_METRICS_EXPORTER, the port, left out of the capture filter', () => {
    assert.equal(env(r.agent, 'OTEL_METRICS_EXPORTER'), 'otlp,prometheus');
    assert.equal(env(r.agent, 'OTEL_EXPORTER_PROMETHEUS_PORT'), '9465');
    assert.deepEqual(
      r.agent.ports?.find((p) => p.name === 'metrics'),
      { name: 'metrics', containerPort: 9465, protocol: 'TCP' },
    );
    assert.match(
      r.capture?.args?.at(-1) ?? '',
      /^not \(port 4317 or port 4318 or port 8089 or port 9465\) and/,
    );
    // Default: OTLP only, no metrics port, no OTEL_EXPORTER_PROMETHEUS_PORT.
    const plain = render();
    assert.equal(env(plain.agent, 'OTEL_METRICS_EXPORTER'), 'otlp');
    assert.equal(env(plain.agent, 'OTEL_EXPORTER_PROMETHEUS_PORT'), undefined);
    assert.equal(
      plain.agent.ports?.some((p) => p.name === 'metrics'),
      false,
    );
    assert.equal(
      env(render({ set: ['agent.metrics.exporters={prometheus}'] }).agent, 'OTEL_METRICS_EXPORTER'),
      'prometheus',
    );
    const noMetrics = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-chart-')), 'values.yaml');
    fs.writeFileSync(noMetrics, 'agent:\n  metrics:\n    exporters: []\n');
    assert.equal(env(render({ values: [noMetrics] }).agent, 'OTEL_METRICS_EXPORTER'), 'none');
    fs.rmSync(path.dirname(noMetrics), { recursive: true });
  });

  test("PodMonitor and Service select the DaemonSet's pods and name the metrics port", () => {
    const podLabels = r.daemonSet.spec.template.metadata.labels;
    const [monitor] = r.byKind('PodMonitor') as (Manifest & {
      spec: {
        selector: { matchLabels: Record<string, string> };
        namespaceSelector: { matchNames: string[] };
        podMetricsEndpoints: { port: string; path: string; interval: string }[];
      };
    })[];
    assert.equal(monitor!.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(monitor!.metadata.namespace, 'monitoring');
    assert.equal(monitor!.metadata.labels?.release, 'kube-prometheus-stack');
    for (const [key, value] of Object.entries(monitor!.spec.selector.matchLabels))
      assert.equal(podLabels[key], value);
    assert.deepEqual(monitor!.spec.namespaceSelector, { matchNames: [releaseNamespace] });
    assert.deepEqual(monitor!.spec.podMetricsEndpoints, [
      { port: 'metrics', path: '/metrics', interval: '15s' },
    ]);

    const [service] = r.byKind('Service') as (Manifest & {
      metadata: { annotations: Record<string, string> };
      spec: {
        clusterIP: string;
        selector: Record<string, string>;
        ports: { port: number; targetPort: string }[];
      };
    })[];
    assert.equal(service!.spec.clusterIP, 'None');
    for (const [key, value] of Object.entries(service!.spec.selector)) assert.equal(podLabels[key], value);
    assert.deepEqual(
      service!.spec.ports.map((p) => [p.port, p.targetPort]),
      [[9465, 'metrics']],
    );
    assert.equal(service!.metadata.annotations['prometheus.io/port'], '9465');
    assert.equal(service!.metadata.annotations['example.com/team'], 'platform');
  });

  test('global.image.registry replaces the registry of both images (tag and digest forms)', () => {
    assert.equal(r.agent.image, 'mirror.example.com:5000/wirespan/wirespan:0.1.0');
    assert.equal(r.capture?.image, 'mirror.example.com:5000/library/tcpdump-cap:4.99.5');
    const digest = `sha256:${'ab'.repeat(32)}`;
    const named = render({
      set: [
        'global.image.registry=registry.internal',
        'image.repository=wirespan/wirespan',
        `image.digest=${digest}`,
      ],
    });
    assert.equal(
      named.agent.image,
      `registry.internal/wirespan/wirespan@${digest}`,
      'prepended when no host',
    );
    assert.equal(named.capture?.image, named.agent.image);
    assert.equal(render().agent.image, 'ghcr.io/wirespan/wirespan:0.1.0', 'unchanged without it');
  });

  test('NOTES.txt says where the metrics are', () => {
    assert.match(
      renderNotes({ values: ['knobs.yaml'] }),
      /wirespan's own scrape endpoint, port 9465 \/metrics, and the collector's/,
    );
    assert.match(renderNotes(), /4\. Metrics \(the collector's prometheus exporter, :8889\/metrics\)/);
  });

  test('sampling.ratio unset by default: no --sample-ratio, OTEL_TRACES_SAMPLER decides', () => {
    assert.equal(argValue(render().agent.args ?? [], '--sample-ratio'), undefined);
  });
});

describe('chart knobs the chart refuses', () => {
  const refused: [string[], RegExp][] = [
    [['agent.metrics.exporters={statsd}'], /agent\.metrics\.exporters/],
    [['agent.metrics.port=0'], /agent\.metrics\.port/],
    [['monitoring.podMonitor.enabled=yes'], /monitoring\.podMonitor\.enabled/],
    [['monitoring.podMonitor.scrapeTimeout=5s'], /podMonitor/],
    [['agent.envFrom[0].prefix=X_'], /envFrom/],
    [['extraVolumes[0].secret.secretName=x'], /extraVolumes/],
    [['agent.extraVolumeMounts[0].name=x', 'agent.extraVolumeMounts[0].mountPath=relative'], /mountPath/],
    [['monitoring.podMonitor.enabled=true'], /add prometheus to agent\.metrics\.exporters/],
    [
      ['agent.metrics.exporters={prometheus}', 'agent.metrics.port=8089'],
      /must differ from agent\.healthPort/,
    ],
  ];
  for (const [set, message] of refused) {
    test(set.join(' '), () => {
      const result = helmTemplate({ set });
      assert.notEqual(result.status, 0, 'refused');
      assert.match(result.stderr, message);
    });
  }
});
