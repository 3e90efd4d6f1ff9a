/**
 * KubernetesMetadata with the real @kubernetes/client-node against a local API server: names
 * by the OpenTelemetry convention, a dropped watch resumed from its resourceVersion (no relist),
 * 410 Gone followed by a relist that forgets what vanished, a failed watch restarted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAddress } from '../../agent/correlate/relay/networks.ts';
import type { KubeIdentity } from '../../agent/enrich/kubernetes/identity.ts';
import { KubernetesMetadata } from '../../agent/enrich/kubernetes/metadata.ts';
import { kPods, replicaSet, seedCluster } from './cluster.ts';
import { FakeApiServer, kPaths, kubeconfigText } from './fake-api-server.ts';

let server: FakeApiServer;
let metadata: KubernetesMetadata;

function who(ip: string, port: number): KubeIdentity | null {
  const address = parseAddress(ip)!;
  const [w0, w1, w2, w3] = address.words;
  return metadata.table.lookup(address.ipVersion, w0, w1, w2, w3, port);
}

/** Polls until `condition` holds; fails after 20 s (a hang, not a timing assertion). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

before(async () => {
  server = new FakeApiServer();
  await server.listen();
  seedCluster(server);
  const config = new KubeConfig();
  config.loadFromString(kubeconfigText(server.url));
  metadata = await KubernetesMetadata.start({ nameLabels: false }, config);
});
after(async () => {
  await metadata.stop();
  await server.close();
});

test('pods, hostNetwork ports, cluster IPs and endpoint addresses get their names', () => {
  const checkout = who('10.244.2.7', 8080)!;
  assert.equal(checkout.serviceName, 'checkout'); // the Deployment, through its ReplicaSet
  assert.deepEqual(checkout.attributes, {
    'service.namespace': 'shop',
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': 'checkout-7d4b9c-x2x9q',
    'k8s.pod.uid': 'uid-checkout-7d4b9c-x2x9q',
    'k8s.node.name': 'node-b',
    'k8s.deployment.name': 'checkout',
    'k8s.deployment.uid': 'uid-checkout',
    'k8s.replicaset.name': 'checkout-7d4b9c',
    'k8s.replicaset.uid': 'uid-checkout-7d4b9c',
  });
  assert.equal(who('10.244.2.7', 1)?.serviceName, 'checkout', 'a pod address names the pod on any port');
  assert.equal(who('10.244.1.5', 40001)?.serviceName, 'storefront', 'the annotation comes first');
  assert.equal(who('10.0.0.11', 9100)?.attributes['k8s.daemonset.name'], 'node-exporter');
  assert.equal(who('10.0.0.11', 22), null, 'a hostNetwork pod is only its own ports on the node address');
  assert.equal(who('10.96.0.20', 80)?.attributes['k8s.service.name'], 'payments');
  assert.equal(who('192.168.50.10', 5432)?.serviceName, 'legacy-db', 'a selector-less endpoint');
  assert.equal(who('10.244.9.9', 8080), null);
  const counts = metadata.counts();
  assert.equal(counts.kinds.pods!.objects, 3);
  assert.equal(counts.kinds.replicasets!.objects, 2);
  assert.ok(counts.misses >= 2);
});

test('a pod seen before its ReplicaSet takes its Deployment name when the ReplicaSet arrives', async () => {
  const cart = structuredClone(kPods.checkout);
  cart.metadata.name = 'cart-5c5c-aaaaa';
  cart.metadata.ownerReferences[0]!.name = 'cart-5c5c';
  cart.status.podIP = '10.244.5.5';
  cart.status.podIPs = [{ ip: '10.244.5.5' }];
  server.put('Pod', cart);
  await until(() => who('10.244.5.5', 80)?.serviceName === 'cart-5c5c', 'the ReplicaSet name first');
  server.put('ReplicaSet', replicaSet('cart-5c5c', 'shop', 'cart'));
  await until(() => who('10.244.5.5', 80)?.serviceName === 'cart', 'the Deployment name');
  assert.equal(who('10.244.5.5', 80)?.attributes['k8s.deployment.name'], 'cart');
  server.remove('ReplicaSet', 'shop', 'cart-5c5c');
  await until(() => who('10.244.5.5', 80)?.serviceName === 'cart-5c5c', 'the ReplicaSet name again');
  server.remove('Pod', 'shop', 'cart-5c5c-aaaaa');
  await until(() => who('10.244.5.5', 80) === null, 'the deleted pod to be forgotten');
});

test('a dropped watch resumes from its resourceVersion; 410 Gone relists; a failed watch restarts', async () => {
  const listsBefore = server.lists(kPaths.Pod);
  // Dropped while a pod is added: the resumed watch replays the event, no list.
  server.dropWatches();
  const added = structuredClone(kPods.checkout);
  added.metadata.name = 'checkout-7d4b9c-zzzzz';
  added.status.podIP = '10.244.2.8';
  added.status.podIPs = [{ ip: '10.244.2.8' }];
  server.put('Pod', added);
  await until(
    () => who('10.244.2.8', 8080)?.attributes['k8s.pod.name'] === 'checkout-7d4b9c-zzzzz',
    'the added pod',
  );
  assert.equal(server.lists(kPaths.Pod), listsBefore, 'resumed, not relisted');
  const resumed = server.requests.filter((r) => r.path === kPaths.Pod && r.watch).at(-1)!;
  assert.notEqual(resumed.resourceVersion, '', 'the watch resumed from a resourceVersion');

  // A delete the agent never saw, then history compacted: the resumed watch gets 410, the relist forgets the pod.
  server.remove('Pod', 'shop', 'checkout-7d4b9c-zzzzz', true);
  server.compact();
  server.dropWatches();
  await until(() => who('10.244.2.8', 8080) === null, 'the relist to drop the vanished pod');
  assert.equal(server.lists(kPaths.Pod), listsBefore + 1);

  // A watch that fails (500): the informer stops, is restarted, and picks up later changes.
  const errorsBefore = metadata.counts().kinds.services!.errors;
  server.failNextWatch.add(kPaths.Service);
  server.dropWatches();
  await until(() => metadata.counts().kinds.services!.errors === errorsBefore + 1, 'the watch error');
  server.put('Service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'search', namespace: 'shop', uid: 'uid-svc-search' },
    spec: { clusterIP: '10.96.0.40', ports: [{ port: 9200 }] },
  });
  await until(() => who('10.96.0.40', 9200)?.serviceName === 'search', 'the restarted watch');
});

test('the cap: objects beyond maxObjects per kind, and addresses beyond it, are left out and counted', async () => {
  const small = new FakeApiServer();
  await small.listen();
  seedCluster(small);
  const config = new KubeConfig();
  config.loadFromString(kubeconfigText(small.url));
  const capped = await KubernetesMetadata.start({ nameLabels: false, maxObjects: 2 }, config);
  try {
    let counts = capped.counts();
    assert.deepEqual([counts.kinds.pods!.objects, counts.kinds.pods!.dropped], [2, 1], 'the list is cut');
    const extra = structuredClone(kPods.checkout);
    extra.metadata.name = 'checkout-7d4b9c-extra';
    small.put('Pod', extra);
    await until(() => capped.counts().kinds.pods!.dropped === 2, 'the watched pod to be turned away');
    counts = capped.counts();
    assert.equal(counts.kinds.pods!.objects, 2);
    assert.equal(counts.addresses, 2);
    assert.ok(counts.addressesDropped > 0, 'addresses beyond the cap are counted');
    // A pod that leaves makes room for the next one.
    small.remove('Pod', 'shop', kPods.frontend.metadata.name);
    await until(() => capped.counts().kinds.pods!.objects === 1, 'the delete');
    const late = structuredClone(kPods.checkout);
    late.metadata.name = 'checkout-7d4b9c-late';
    small.put('Pod', late);
    await until(() => capped.counts().kinds.pods!.objects === 2, 'the late pod to be kept');
  } finally {
    await capped.stop();
    await small.close();
  }
});

test('a large collection is listed in pages of 500, all of it kept', async () => {
  const big = new FakeApiServer();
  await big.listen();
  for (let i = 0; i < 1200; i++) {
    const pod = structuredClone(kPods.checkout);
    pod.metadata.name = `checkout-7d4b9c-${i}`;
    pod.status.podIP = `10.250.${i >> 8}.${i & 255}`;
    pod.status.podIPs = [{ ip: pod.status.podIP }];
    big.put('Pod', pod);
  }
  const config = new KubeConfig();
  config.loadFromString(kubeconfigText(big.url));
  const many = await KubernetesMetadata.start({ nameLabels: false }, config);
  try {
    assert.equal(many.counts().kinds.pods!.objects, 1200);
    assert.equal(many.counts().addresses, 1200);
    const pages = big.requests.filter((r) => r.path === kPaths.Pod && !r.watch);
    assert.deepEqual(
      pages.map((r) => r.continued),
      [false, true, true],
    );
  } finally {
    await many.stop();
    await big.close();
  }
});
