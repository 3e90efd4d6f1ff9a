/** service.name / service.namespace / k8s.* by the OpenTelemetry Kubernetes convention (identity.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podIdentity, serviceIdentity } from '../../agent/enrich/kubernetes/identity.ts';
import { type SlimOwned, type SlimPod, slimOwned, slimPod } from '../../agent/enrich/kubernetes/slim.ts';

function pod(options: {
  owner?: [kind: string, name: string];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}): SlimPod {
  const slim = slimPod({
    metadata: {
      name: 'web-abc12',
      namespace: 'shop',
      uid: 'u-pod',
      labels: options.labels,
      annotations: options.annotations,
      ownerReferences: options.owner
        ? [{ kind: options.owner[0], name: options.owner[1], uid: `u-${options.owner[1]}`, controller: true }]
        : undefined,
    },
    spec: { nodeName: 'node-1' },
    status: { phase: 'Running', podIP: '10.1.2.3' },
  });
  assert.ok(slim);
  return slim;
}

const owners = (replicaSets: SlimOwned[] = [], jobs: SlimOwned[] = []) => ({
  replicaSet: (namespace: string, name: string) =>
    replicaSets.find((o) => o.metadata.namespace === namespace && o.metadata.name === name),
  job: (namespace: string, name: string) =>
    jobs.find((o) => o.metadata.namespace === namespace && o.metadata.name === name),
});

function owned(name: string, owner?: [string, string]): SlimOwned {
  return slimOwned({
    metadata: {
      name,
      namespace: 'shop',
      uid: `u-${name}`,
      ownerReferences: owner
        ? [{ kind: owner[0], name: owner[1], uid: `u-${owner[1]}`, controller: true }]
        : [],
    },
  })!;
}

const labels = {
  'app.kubernetes.io/instance': 'web-prod',
  'app.kubernetes.io/name': 'web',
  'app.kubernetes.io/version': '2.1.0',
};

test('service.name: annotation, then (opted in) instance and name labels, then workload, then pod', () => {
  const rs = [owned('web-7d9f', ['Deployment', 'web-deploy'])];
  const off = { nameLabels: false };
  const on = { nameLabels: true };
  const annotated = pod({
    owner: ['ReplicaSet', 'web-7d9f'],
    labels,
    annotations: { 'resource.opentelemetry.io/service.name': 'storefront' },
  });
  assert.equal(podIdentity(annotated, owners(rs), on).serviceName, 'storefront');
  const labelled = pod({ owner: ['ReplicaSet', 'web-7d9f'], labels });
  assert.equal(podIdentity(labelled, owners(rs), on).serviceName, 'web-prod');
  assert.equal(
    podIdentity(
      pod({ owner: ['ReplicaSet', 'web-7d9f'], labels: { 'app.kubernetes.io/name': 'web' } }),
      owners(rs),
      on,
    ).serviceName,
    'web',
  );
  assert.equal(podIdentity(labelled, owners(rs), off).serviceName, 'web-deploy', 'labels only when opted in');
  assert.equal(
    podIdentity(labelled, owners(), off).serviceName,
    'web-7d9f',
    'the ReplicaSet when its Deployment is unknown',
  );
  assert.equal(podIdentity(pod({ owner: ['StatefulSet', 'db'] }), owners(), off).serviceName, 'db');
  assert.equal(podIdentity(pod({ owner: ['DaemonSet', 'agent'] }), owners(), off).serviceName, 'agent');
  const jobs = [owned('report-2912', ['CronJob', 'report'])];
  const cron = podIdentity(pod({ owner: ['Job', 'report-2912'] }), owners([], jobs), off);
  assert.equal(cron.serviceName, 'report', 'a CronJob before its Job');
  assert.equal(cron.attributes['k8s.job.name'], 'report-2912');
  assert.equal(cron.attributes['k8s.cronjob.uid'], 'u-report');
  assert.equal(podIdentity(pod({ owner: ['Job', 'once'] }), owners(), off).serviceName, 'once');
  assert.equal(podIdentity(pod({}), owners(), off).serviceName, 'web-abc12', 'a bare pod: its own name');
  assert.equal(
    podIdentity(pod({ owner: ['Rollout', 'canary'] }), owners(), off).serviceName,
    'web-abc12',
    'an unknown controller names nothing',
  );
});

test('service.namespace and other resource.opentelemetry.io/ annotations become attributes', () => {
  const identity = podIdentity(
    pod({
      labels,
      annotations: {
        'resource.opentelemetry.io/service.namespace': 'checkout-team',
        'resource.opentelemetry.io/deployment.environment.name': 'prod',
        'resource.opentelemetry.io/service.version': '2.2.0',
        'prometheus.io/scrape': 'true',
      },
    }),
    owners(),
    { nameLabels: true },
  );
  assert.equal(identity.serviceNamespace, 'checkout-team');
  assert.equal(identity.attributes['service.namespace'], 'checkout-team');
  assert.equal(identity.attributes['k8s.namespace.name'], 'shop');
  assert.equal(identity.attributes['deployment.environment.name'], 'prod');
  assert.equal(identity.attributes['service.version'], '2.2.0', 'the annotation before the version label');
  assert.equal(identity.attributes['prometheus.io/scrape'], undefined);
  assert.equal(
    identity.attributes['service.name'],
    undefined,
    'service.name is the resource name, not an extra',
  );
  const plain = podIdentity(pod({ labels }), owners(), { nameLabels: true });
  assert.equal(plain.serviceNamespace, 'shop');
  assert.equal(plain.attributes['service.version'], '2.1.0');
  assert.equal(
    podIdentity(pod({ labels }), owners(), { nameLabels: false }).attributes['service.version'],
    undefined,
  );
});

test('equal identities have equal keys; any difference changes the key', () => {
  const a = podIdentity(pod({ owner: ['DaemonSet', 'agent'] }), owners(), { nameLabels: false });
  const b = podIdentity(pod({ owner: ['DaemonSet', 'agent'] }), owners(), { nameLabels: false });
  assert.equal(a.key, b.key);
  const c = podIdentity(pod({ owner: ['DaemonSet', 'agent2'] }), owners(), { nameLabels: false });
  assert.notEqual(a.key, c.key);
  const api = serviceIdentity({ name: 'api', namespace: 'a', uid: '', resourceVersion: '' });
  const otherApi = serviceIdentity({ name: 'api', namespace: 'b', uid: '', resourceVersion: '' });
  assert.equal(api.serviceName, otherApi.serviceName);
  assert.notEqual(api.key, otherApi.key, 'two namespaces, two resources');
});
