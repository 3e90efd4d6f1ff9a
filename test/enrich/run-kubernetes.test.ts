/**
 * `wirespan run --kubernetes --workers 1` (the agent, its spans made in a worker) while the
 * cluster changes: a pod that appears and a pod whose annotation renames it reach the worker's
 * address table, and the next captures' spans carry the new names.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReceiver } from '../export/otlp-receiver.ts';
import { pcapBytes } from '../helpers/pcap-writer.ts';
import { repoRoot } from '../helpers/run-cli.ts';
import { exchange, kPods, seedCluster } from './cluster.ts';
import { FakeApiServer, kubeconfigText } from './fake-api-server.ts';

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('names follow the cluster while the agent runs', async () => {
  const server = new FakeApiServer();
  await server.listen();
  seedCluster(server);
  const receiver = await startReceiver();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-run-k8s-'));
  const captures = path.join(dir, 'pcaps');
  fs.mkdirSync(captures);
  fs.writeFileSync(path.join(dir, 'kubeconfig'), kubeconfigText(server.url));
  let agent: ChildProcess | null = null;
  try {
    agent = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        captures,
        '--state-dir',
        path.join(dir, 'state'),
        '--grace',
        '0.2',
        '--health-port',
        '0',
        '--otlp',
        receiver.endpoint,
        // One worker: it has looked up addresses before the change, so only fresh updates pass.
        '--workers',
        '1',
        '--kubernetes',
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, KUBECONFIG: path.join(dir, 'kubeconfig'), OTEL_METRIC_EXPORT_INTERVAL: '200' },
      },
    );
    let stderr = '';
    agent.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => agent!.on('close', resolve));
    /** The main thread's address count, from its latest metric export (undefined before the first). */
    const addresses = () => {
      const value = receiver.lastMetrics('wirespan.kubernetes.addresses').get('wirespan.kubernetes.addresses')
        ?.dataPoints[0]?.value;
      return value === undefined ? undefined : Number(value);
    };
    const span = (urlPath: string) => receiver.spans.find((s) => s.attributes['url.path'] === urlPath);

    fs.writeFileSync(
      path.join(captures, 'cap-20261206100000.pcap'),
      pcapBytes(exchange('10.244.1.5', 41001, '10.244.2.7', 8080, '/before', 10)),
    );
    await until(() => span('/before') !== undefined, `the first span (${stderr})`);
    assert.equal(span('/before')!.resource['service.name'], 'checkout');
    // Spans can come before the first metric export (the workers start while the exporter is built).
    await until(() => addresses() !== undefined, 'the first metric export');
    const before = addresses()!;

    // A new StatefulSet pod, and checkout renamed by its annotation.
    const search = structuredClone(kPods.checkout);
    search.metadata.name = 'search-0';
    search.metadata.uid = 'uid-search-0';
    search.metadata.ownerReferences = [
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name: 'search',
        uid: 'uid-search',
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
    search.status.podIP = '10.244.3.3';
    search.status.podIPs = [{ ip: '10.244.3.3' }];
    server.put('Pod', search);
    const renamed = structuredClone(kPods.checkout);
    Object.assign(renamed.metadata.annotations, { 'resource.opentelemetry.io/service.name': 'checkout-v2' });
    server.put('Pod', renamed);
    // The main thread has the new address once its gauge counts it; the worker gets it by message before its next chunk.
    await until(() => addresses() === before + 1, 'the new pod in the address table');

    fs.writeFileSync(
      path.join(captures, 'cap-20261206100100.pcap'),
      pcapBytes([
        ...exchange('10.244.1.5', 41002, '10.244.3.3', 9200, '/search', 70),
        ...exchange('10.244.1.5', 41003, '10.244.2.7', 8080, '/after', 71),
      ]),
    );
    await until(() => span('/search') !== undefined && span('/after') !== undefined, 'the later spans');
    assert.equal(span('/search')!.resource['service.name'], 'search');
    assert.equal(span('/search')!.resource['k8s.statefulset.name'], 'search');
    assert.equal(span('/search')!.attributes['client.service.name'], 'storefront');
    assert.equal(span('/after')!.resource['service.name'], 'checkout-v2');

    agent.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    agent = null;
  } finally {
    agent?.kill('SIGKILL');
    await receiver.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
