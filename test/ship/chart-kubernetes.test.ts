/**
 * The chart's Kubernetes metadata (kubernetes.*): on by default, a read-only ClusterRole bound
 * to the pods' service account, the token mounted into the agent container only, the flags
 * `wirespan run` takes; off, none of it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { argValue, helmTemplate, type Manifest, releaseNamespace, render } from './helpers.ts';

const kTokenDir = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

describe('kubernetes.enabled (default)', () => {
  const r = render();
  const [role] = r.byKind('ClusterRole') as (Manifest & { rules: Rule[] })[];
  const [binding] = r.byKind('ClusterRoleBinding') as (Manifest & {
    roleRef: { kind: string; name: string };
    subjects: { kind: string; name: string; namespace: string }[];
  })[];

  test('a read-only ClusterRole over exactly what the agent watches', () => {
    assert.ok(role);
    const granted = role.rules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group}/${resource}`)),
    );
    assert.deepEqual(granted.sort(), [
      '/pods',
      '/services',
      'apps/replicasets',
      'batch/jobs',
      'discovery.k8s.io/endpointslices',
    ]);
    for (const rule of role.rules) assert.deepEqual(rule.verbs, ['get', 'list', 'watch']);
  });

  test("bound to the pods' service account", () => {
    assert.ok(binding);
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role!.metadata.name,
    });
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: r.pod.serviceAccountName, namespace: releaseNamespace },
    ]);
  });

  test('the token, CA and namespace in the agent container only', () => {
    assert.equal(r.pod.automountServiceAccountToken, false, 'not in every container');
    const mount = r.agent.volumeMounts?.find((m) => m.mountPath === kTokenDir);
    assert.ok(mount?.readOnly, 'the agent has the token, read-only');
    assert.equal(
      r.capture?.volumeMounts?.find((m) => m.name === mount.name),
      undefined,
      'tcpdump does not get it',
    );
    const volume = r.pod.volumes?.find((v) => v.name === mount.name) as
      | { projected: { sources: Record<string, { path?: string; items?: { path: string }[] }>[] } }
      | undefined;
    const paths = (volume?.projected.sources ?? []).flatMap((source) =>
      Object.values(source).flatMap((s) => (s.path ? [s.path] : (s.items ?? []).map((i) => i.path))),
    );
    assert.deepEqual(paths.sort(), ['ca.crt', 'namespace', 'token']);
  });

  test('run --kubernetes with the cap; labels only when asked', () => {
    const args = r.agent.args ?? [];
    assert.ok(args.includes('--kubernetes'));
    assert.equal(argValue(args, '--kubernetes-max-objects'), '50000');
    assert.ok(!args.includes('--kubernetes-name-labels'));
    const tuned =
      render({ set: ['kubernetes.nameLabels=true', 'kubernetes.maxObjects=2000'] }).agent.args ?? [];
    assert.ok(tuned.includes('--kubernetes-name-labels'));
    assert.equal(argValue(tuned, '--kubernetes-max-objects'), '2000');
  });
});

test('kubernetes.enabled=false: no RBAC, no token, no flag', () => {
  const r = render({ set: ['kubernetes.enabled=false'] });
  assert.deepEqual(r.byKind('ClusterRole'), []);
  assert.deepEqual(r.byKind('ClusterRoleBinding'), []);
  for (const container of r.pod.containers) {
    assert.equal(
      container.volumeMounts?.find((m) => m.mountPath === kTokenDir),
      undefined,
    );
    assert.ok(!(container.args ?? []).some((arg) => arg.startsWith('--kubernetes')));
  }
  assert.equal(r.pod.automountServiceAccountToken, false);
});

test('the schema refuses unknown kubernetes keys', () => {
  const result = helmTemplate({ set: ['kubernetes.namelabels=true'] });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /kubernetes/);
});
