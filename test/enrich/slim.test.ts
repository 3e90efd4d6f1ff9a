/** What the caches keep of API objects (slim.ts): few fields, bounded, malformed input rejected. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slimEndpointSlice, slimPod, slimService } from '../../agent/enrich/kubernetes/slim.ts';
import { kPods } from './cluster.ts';

test('a pod keeps names, owner, node, addresses; not its spec, env, managed fields or other labels', () => {
  const slim = slimPod(kPods.checkout)!;
  assert.deepEqual(slim, {
    metadata: {
      name: 'checkout-7d4b9c-x2x9q',
      namespace: 'shop',
      uid: 'uid-checkout-7d4b9c-x2x9q',
      resourceVersion: '',
    },
    labels: { 'app.kubernetes.io/name': 'checkout-label' },
    annotations: {},
    owner: { kind: 'ReplicaSet', name: 'checkout-7d4b9c', uid: 'uid-checkout-7d4b9c' },
    nodeName: 'node-b',
    hostNetwork: false,
    hostPorts: [],
    ips: ['10.244.2.7'],
    phase: 'Running',
  });
  assert.deepEqual(slimPod(kPods.nodeExporter)?.hostPorts, [9100], 'hostNetwork pods keep their ports');
});

test('malformed objects are null, never an exception', () => {
  for (const bad of [null, 7, 'pod', [], {}, { metadata: {} }, { metadata: { name: 5 } }, { metadata: [] }]) {
    assert.equal(slimPod(bad), null);
    assert.equal(slimService(bad), null);
    assert.equal(slimEndpointSlice(bad), null);
  }
  const odd = slimPod({
    metadata: { name: 'x', ownerReferences: 'nope', labels: 3, annotations: null },
    spec: {
      hostNetwork: true,
      containers: [{ ports: [{ containerPort: 70000 }, { containerPort: 'a' }, {}] }],
    },
    status: { podIPs: [{ ip: 1 }, null, { ip: '10.0.0.1' }], podIP: '10.0.0.1' },
  })!;
  assert.deepEqual([odd.owner, odd.hostPorts, odd.ips], [null, [], ['10.0.0.1']]);
});

test('lists and strings are cut to their bounds', () => {
  const annotations: Record<string, string> = {};
  for (let i = 0; i < 100; i++) annotations[`resource.opentelemetry.io/k${i}`] = 'v'.repeat(10_000);
  const slim = slimPod({
    metadata: { name: 'n'.repeat(10_000), annotations },
    status: { podIPs: Array.from({ length: 100 }, (_, i) => ({ ip: `10.0.0.${i}` })) },
  })!;
  assert.equal(Object.keys(slim.annotations).length, 16);
  assert.ok(Object.values(slim.annotations).every((v) => v.length === 255));
  assert.equal(slim.metadata.name.length, 255);
  assert.equal(slim.ips.length, 8);
  const slice = slimEndpointSlice({
    metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'big' } },
    endpoints: Array.from({ length: 5000 }, (_, i) => ({ addresses: [`10.1.${i >> 8}.${i & 255}`] })),
    ports: [{ port: 80 }],
  })!;
  assert.equal(slice.addresses.length, 1000);
  assert.deepEqual(
    slimService({ metadata: { name: 'h' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } })?.clusterIPs,
    [],
    'a headless Service has no address of its own',
  );
});
