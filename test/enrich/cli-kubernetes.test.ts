/**
 * `wirespan replay --otlp --kubernetes` (the real CLI, with and without workers) against a
 * local API server and a real OTLP receiver: spans between pods carry their workloads' names,
 * k8s.* resource attributes and the client's workload; unknown addresses keep today's names.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type OtlpReceiver, startReceiver } from '../export/otlp-receiver.ts';
import { writePcap } from '../helpers/pcap-writer.ts';
import { repoRoot } from '../helpers/run-cli.ts';
import { clusterCapture, seedCluster } from './cluster.ts';
import { FakeApiServer, kubeconfigText } from './fake-api-server.ts';

let server: FakeApiServer;
let receiver: OtlpReceiver;
let dir: string;

before(async () => {
  server = new FakeApiServer();
  await server.listen();
  seedCluster(server);
  receiver = await startReceiver();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-k8s-'));
  fs.writeFileSync(path.join(dir, 'kubeconfig'), kubeconfigText(server.url));
  writePcap(path.join(dir, 'cluster.pcap'), clusterCapture());
});
after(async () => {
  await receiver.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function runCliAsync(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'agent/cli/main.mjs'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

for (const workers of ['0', '2']) {
  test(`--workers ${workers}: spans named after the pods' workloads`, async () => {
    receiver.reset();
    const result = await runCliAsync(
      [
        'replay',
        path.join(dir, 'cluster.pcap'),
        '--workers',
        workers,
        '-o',
        'none',
        '--otlp',
        receiver.endpoint,
        '--kubernetes',
      ],
      { KUBECONFIG: path.join(dir, 'kubeconfig') },
    );
    assert.equal(result.status, 0, result.stderr);
    const byPath = (p: string) => {
      const span = receiver.spans.find((s) => s.attributes['url.path'] === p);
      assert.ok(span, `a span for ${p}`);
      return span;
    };
    const cart = byPath('/cart');
    assert.equal(cart.resource['service.name'], 'checkout');
    assert.equal(cart.resource['service.namespace'], 'shop');
    assert.equal(cart.resource['k8s.deployment.name'], 'checkout');
    assert.equal(cart.resource['k8s.pod.name'], 'checkout-7d4b9c-x2x9q');
    assert.equal(cart.resource['k8s.node.name'], 'node-b');
    assert.equal(cart.attributes['client.service.name'], 'storefront');
    assert.equal(cart.attributes['client.service.namespace'], 'shop');
    const nodeExporter = byPath('/metrics');
    assert.equal(nodeExporter.resource['service.name'], 'node-exporter');
    assert.equal(nodeExporter.resource['k8s.daemonset.name'], 'node-exporter');
    assert.equal(byPath('/pay').resource['k8s.service.name'], 'payments');
    const gone = byPath('/gone');
    assert.equal(gone.resource['service.name'], 'http://10.244.9.9:8080');
    assert.equal(gone.resource['k8s.pod.name'], undefined);
    assert.equal(gone.attributes['client.service.name'], 'storefront');

    // 4 exchanges, each an HTTP and a TCP connect pair, both ends looked up (in the workers
    // too, reported back to the main thread): misses are the unknown server's two pairs.
    const metrics = receiver.lastMetrics('wirespan.kubernetes.lookups');
    const lookups = metrics.get('wirespan.kubernetes.lookups')!.dataPoints;
    const count = (result: string) =>
      Number(lookups.find((p) => p.attributes['wirespan.kubernetes.result'] === result)?.value);
    assert.deepEqual([count('hit'), count('miss')], [14, 2]);
    const objects = metrics.get('wirespan.kubernetes.objects')!.dataPoints;
    const pods = objects.find((p) => p.attributes['wirespan.kubernetes.kind'] === 'pods');
    assert.equal(Number(pods?.value), 3);
  });
}

test('without --kubernetes nothing is looked up and names stay address-based', async () => {
  receiver.reset();
  const lists = server.requests.length;
  const result = await runCliAsync(
    ['replay', path.join(dir, 'cluster.pcap'), '--workers', '0', '-o', 'none', '--otlp', receiver.endpoint],
    { KUBECONFIG: path.join(dir, 'kubeconfig') },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.equal(server.requests.length, lists);
  const cart = receiver.spans.find((s) => s.attributes['url.path'] === '/cart');
  assert.equal(cart?.resource['service.name'], 'http://10.244.2.7:8080');
  assert.equal(cart?.attributes['client.service.name'], undefined);
});

test('--kubernetes with no cluster to watch is a usage error that says why', async () => {
  const result = await runCliAsync(
    ['replay', path.join(dir, 'cluster.pcap'), '-o', 'none', '--otlp', receiver.endpoint, '--kubernetes'],
    { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' },
  );
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--kubernetes: no cluster to watch: .*KUBECONFIG unset/);
});

test('an API server that refuses: the replay starts at once, warns, and keeps address names', async () => {
  receiver.reset();
  const refused = path.join(dir, 'refused-kubeconfig');
  fs.writeFileSync(refused, kubeconfigText('http://127.0.0.1:9'));
  const result = await runCliAsync(
    ['replay', path.join(dir, 'cluster.pcap'), '-o', 'none', '--otlp', receiver.endpoint, '--kubernetes'],
    { KUBECONFIG: refused },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /"msg":"kubernetes: list\/watch failed; retrying with backoff/);
  assert.match(result.stderr, /"msg":"kubernetes: starting before every kind listed/);
  const cart = receiver.spans.find((s) => s.attributes['url.path'] === '/cart');
  assert.equal(cart?.resource['service.name'], 'http://10.244.2.7:8080');
});
