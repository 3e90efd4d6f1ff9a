/**
 * The chart's capture side, run for real where the tools exist:
 * - the prune script (tcpdump -z hook of time rotation) from the rendered ConfigMap keeps the
 *   newest fileCount captures and touches nothing else (runs everywhere: sh, ls, sort, head);
 * - the default BPF filter compiles in tcpdump and keeps every packet wirespan pairs on the
 *   default ports (replaying the demo capture filtered gives the same pairs);
 * - the pod, without Kubernetes: the rendered tcpdump command and the rendered `wirespan run`
 *   command and environment (downward-API values filled in as the kubelet would) run side by
 *   side on a shared directory, with loopback HTTP traffic, into a real OTLP receiver. Where
 *   setcap and setpriv exist, tcpdump runs as the container does: UID 65532 with file
 *   capabilities and a bounding set of NET_RAW and NET_ADMIN only.
 * Live capture needs root and tcpdump (.ci/run installs tcpdump); otherwise it is skipped.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startReceiver } from '../export/otlp-receiver.ts';
import { jsonLines, runCli } from '../helpers/run-cli.ts';
import { argValue, type EnvVar, type Manifest, render, repoRoot, which } from './helpers.ts';

const tcpdump = which('tcpdump');
const isRoot = process.getuid?.() === 0;

function pruneScript(fileCount: number): string {
  const r = render({ set: [`capture.rotation.fileCount=${fileCount}`] });
  const configMap = r.byKind('ConfigMap')[0] as Manifest & { data: Record<string, string> };
  const script = configMap.data['prune.sh'];
  assert.ok(script, 'the ConfigMap carries prune.sh');
  return script;
}

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

describe('the prune hook of time rotation', () => {
  test('keeps the newest fileCount capture files, whatever else is in the directory', () => {
    const root = tempDir('wirespan-prune-');
    try {
      const script = path.join(root, 'prune.sh');
      fs.writeFileSync(script, pruneScript(3), { mode: 0o555 });
      const pcaps = path.join(root, 'pcaps');
      fs.mkdirSync(pcaps);
      const captures = [
        'cap-20261129000001.pcap',
        'cap-20261129000002.pcap',
        'cap-20261129000002.pcap1', // -C cut the file within the same second
        'cap-20261129000003.pcap',
        'cap-20261129000004.pcap',
        'cap-20261129000005.pcap',
      ];
      const others = ['cap-20261129000000.pcap.processed', 'notes.txt', 'cap-latest', '.hidden'];
      for (const name of [...captures, ...others]) fs.writeFileSync(path.join(pcaps, name), 'x');
      // tcpdump calls the hook with the file it just closed.
      const result = spawnSync(script, [path.join(pcaps, 'cap-20261129000004.pcap')], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(fs.readdirSync(pcaps).sort(), [...captures.slice(-3), ...others].sort());
      // Nothing to do below the limit.
      assert.equal(spawnSync(script, [path.join(pcaps, 'x')]).status, 0);
      assert.equal(fs.readdirSync(pcaps).length, 3 + others.length);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('an empty directory is fine', () => {
    const root = tempDir('wirespan-prune-');
    try {
      const script = path.join(root, 'prune.sh');
      fs.writeFileSync(script, pruneScript(2), { mode: 0o555 });
      const result = spawnSync(script, [path.join(root, 'cap-20261129000001.pcap')], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(fs.readdirSync(root), ['prune.sh']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the default capture filter', { skip: tcpdump ? false : 'tcpdump is not installed' }, () => {
  test('compiles, and drops nothing wirespan pairs on the default ports (demo capture)', () => {
    const filter = render().capture?.args?.at(-1);
    assert.ok(filter);
    const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');
    // --nano: keep the nanosecond timestamps when writing the filtered copy.
    const filtered = spawnSync(tcpdump!, ['--nano', '-r', demo, '-w', '-', filter], {
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(filtered.status, 0, String(filtered.stderr));
    const dir = tempDir('wirespan-filter-');
    try {
      const file = path.join(dir, 'filtered.pcap');
      fs.writeFileSync(file, filtered.stdout);
      const pairs = (args: string[]) => {
        const result = runCli(['replay', ...args]);
        assert.equal(result.status, 0, result.stderr);
        return jsonLines(result.stdout)
          .map(({ source: _source, ...pair }) => JSON.stringify(pair))
          .sort();
      };
      const all = pairs([demo]);
      assert.ok(all.length > 30);
      const kept = pairs([file]);
      const missing = all.filter((pair) => !kept.includes(pair));
      assert.deepEqual(
        missing.slice(0, 3),
        [],
        `${missing.length} of ${all.length} pairs lost to the filter`,
      );
      assert.equal(kept.length, all.length);
      // And it does filter: the health port's traffic would be dropped.
      const health = spawnSync(tcpdump!, ['-r', file, '-nn', 'port 8089'], { encoding: 'utf8' });
      assert.equal(health.stdout, '');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Env of a rendered container as the kubelet gives it: downward API filled in, $(VAR) expanded. */
function containerEnv(list: readonly EnvVar[], fieldValues: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of list) {
    if (variable.valueFrom?.fieldRef) {
      const value = fieldValues[variable.valueFrom.fieldRef.fieldPath];
      assert.ok(value !== undefined, `a value for ${variable.valueFrom.fieldRef.fieldPath}`);
      env[variable.name] = value;
    } else {
      env[variable.name] = (variable.value ?? '').replace(/\$\(([A-Z0-9_]+)\)/g, (whole, name: string) =>
        name in env ? env[name]! : whole,
      );
    }
  }
  return env;
}

/** How tcpdump runs here: as in the container when setcap/setpriv allow it, else plain root. */
function captureLauncher(root: string): { command: string; prefix: string[]; mode: string } {
  const setcap = which('setcap');
  const setpriv = which('setpriv');
  if (setcap && setpriv) {
    const copy = path.join(root, 'tcpdump');
    fs.copyFileSync(tcpdump!, copy);
    fs.chmodSync(copy, 0o755);
    const set = spawnSync(setcap, ['cap_net_raw,cap_net_admin=eip', copy], { encoding: 'utf8' });
    if (set.status === 0) {
      return {
        command: setpriv,
        prefix: [
          '--reuid=65532',
          '--regid=65532',
          '--clear-groups',
          '--bounding-set=-all,+net_raw,+net_admin',
          copy,
        ],
        mode: 'UID 65532, file capabilities, bounding set NET_RAW+NET_ADMIN (as the capture container)',
      };
    }
  }
  return { command: tcpdump!, prefix: [], mode: 'root (setcap/setpriv unavailable)' };
}

const liveSkip = !tcpdump ? 'tcpdump is not installed' : !isRoot ? 'capturing needs root' : false;

describe('the pod, without Kubernetes: rendered capture + agent on one directory', { skip: liveSkip }, () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  test('HTTP exchanges become spans at the collector; probes and exports are not captured; files are consumed', async () => {
    const root = tempDir('wirespan-pod-');
    const pcaps = path.join(root, 'pcaps');
    fs.mkdirSync(pcaps, { mode: 0o777 });
    fs.chmodSync(pcaps, 0o777); // an emptyDir is world-writable
    const state = path.join(root, 'state');
    const tmp = path.join(root, 'tmp');
    fs.mkdirSync(state);
    fs.mkdirSync(tmp);
    const receiver = await startReceiver();
    const receiverPort = Number(new URL(receiver.endpoint).port);
    const healthPort = await freePort();
    const server = http.createServer((request, response) => {
      setTimeout(() => response.end(`ok ${request.url}\n`), 3);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const httpPort = (server.address() as AddressInfo).port;

    const r = render({
      set: [
        'capture.rotation.seconds=1',
        // Pruning (beyond fileCount) never runs here: what goes, the agent deleted.
        'capture.rotation.fileCount=8',
        'capture.rotation.fileSizeMB=1',
        `capture.excludePorts={4317,4318,${receiverPort}}`,
        `agent.healthPort=${healthPort}`,
        `agent.otlp.endpoint=http://$(HOST_IP):${receiverPort}`,
        'agent.grace=0.5',
        // A file is deleted once no checkpoint needs it: ~timeout + 2 s of capture after it is read.
        'agent.timeout=1',
        'agent.statsInterval=1',
        // No API server here (chart-kubernetes.test.ts renders that part, test/enrich runs it).
        'kubernetes.enabled=false',
      ],
    });
    try {
      // The capture container: its args with /pcaps and the script mount mapped here, on loopback.
      const configMap = r.byKind('ConfigMap')[0] as Manifest & { data: Record<string, string> };
      const script = path.join(root, 'prune.sh');
      fs.writeFileSync(script, configMap.data['prune.sh']!, { mode: 0o555 });
      const captureArgs = [...(r.capture?.args ?? [])];
      captureArgs[captureArgs.indexOf('-i') + 1] = 'lo';
      captureArgs[captureArgs.indexOf('-z') + 1] = script;
      const output = captureArgs.indexOf('-w') + 1;
      captureArgs[output] = captureArgs[output]!.replace(/^\/pcaps\//, `${pcaps}/`);
      const launcher = captureLauncher(root);
      const capture = spawn(launcher.command, [...launcher.prefix, ...captureArgs]);
      children.push(capture);
      let captureLog = '';
      capture.stderr.on('data', (chunk) => {
        captureLog += chunk;
      });

      // The agent container: its args and env, volumes mapped here.
      const args = (r.agent.args ?? []).map((arg) =>
        arg === '/pcaps' ? pcaps : arg === '/var/lib/wirespan' ? state : arg,
      );
      const env = containerEnv(r.agent.env ?? [], {
        'spec.nodeName': 'node-a',
        'metadata.name': 'wirespan-x7k2p',
        'metadata.namespace': 'observability',
        'metadata.uid': '6f1c1f5e-0000-4000-8000-000000000001',
        'status.hostIP': '127.0.0.1',
      });
      assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, receiver.endpoint);
      env.NODE_COMPILE_CACHE = path.join(tmp, 'node-compile-cache');
      const agent = spawn(process.execPath, [path.join(repoRoot, 'agent/cli/main.mjs'), ...args], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', ...env, OTEL_METRIC_EXPORT_INTERVAL: '1000' },
      });
      children.push(agent);
      let agentLog = '';
      agent.stderr.on('data', (chunk) => {
        agentLog += chunk;
      });
      const agentExit = new Promise<number | null>((resolve) => agent.on('close', resolve));

      const deadline = Date.now() + 15_000;
      while (!captureLog.includes('listening on')) {
        assert.ok(Date.now() < deadline, `tcpdump (${launcher.mode}) did not start: ${captureLog}`);
        assert.equal(capture.exitCode, null, `tcpdump exited: ${captureLog}`);
        await sleep(100);
      }
      const health = async (route: string) => {
        try {
          return (await fetch(`http://127.0.0.1:${healthPort}${route}`)).status;
        } catch {
          return 0;
        }
      };
      while ((await health('/healthz')) !== 200) {
        assert.ok(Date.now() < deadline, `agent health endpoint did not come up:\n${agentLog}`);
        await sleep(100);
      }

      // Traffic over several rotations (-G 1 rotates when a packet arrives after the second).
      const requests = 12;
      for (let i = 0; i < requests; i++) {
        const response = await fetch(`http://127.0.0.1:${httpPort}/orders/${i}`);
        assert.equal(await response.text(), `ok /orders/${i}\n`);
        await health('/readyz');
        await sleep(300);
      }
      const httpSpans = () =>
        receiver.spans.filter(
          (s) =>
            s.attributes['wirespan.protocol'] === 'http' &&
            s.attributes['server.port'] === httpPort &&
            String(s.attributes['url.path']).startsWith('/orders/'),
        );
      // Captured traffic keeps tcpdump rotating (-G rotates when a packet arrives), so the
      // newest file gets a successor and is finished; probes alone are filtered out.
      const tick = async () => {
        await (await fetch(`http://127.0.0.1:${httpPort}/tick`)).text();
        await sleep(300);
      };
      const spanDeadline = Date.now() + 45_000;
      while (httpSpans().length < requests) {
        assert.ok(
          Date.now() < spanDeadline,
          `${httpSpans().length}/${requests} HTTP spans; agent log:\n${agentLog}\ncapture:\n${captureLog}`,
        );
        await tick();
      }
      assert.equal(await health('/readyz'), 200, 'ready: watching and exporting');

      const spans = httpSpans();
      assert.deepEqual(
        spans.map((s) => s.attributes['url.path']).sort(),
        Array.from({ length: requests }, (_, i) => `/orders/${i}`).sort(),
      );
      for (const span of spans) {
        assert.equal(span.name, 'GET /orders/{id}', 'heuristic route');
        assert.equal(span.resource['k8s.node.name'], 'node-a', 'downward-API resource attributes');
        assert.ok(BigInt(span.endTimeUnixNano) > BigInt(span.startTimeUnixNano));
      }
      const ports = new Set(receiver.spans.map((s) => s.attributes['server.port']));
      assert.ok(!ports.has(healthPort), 'the probes (health port) are not captured');
      assert.ok(!ports.has(receiverPort), 'the OTLP export is not captured');
      // --on-done delete: finished files go; tcpdump's current one, one in its grace period and
      // those of the last ~3 s of capture (a restart would read them again) stay.
      const fileDeadline = Date.now() + 20_000;
      const filesRead = () => new Set(agentLog.match(/"reading capture file","file":"[^"]+"/g)).size;
      while (fs.readdirSync(pcaps).length > 6 || filesRead() < 8) {
        assert.ok(Date.now() < fileDeadline, `files left: ${fs.readdirSync(pcaps).join(' ')}`);
        await tick();
      }

      agent.kill('SIGTERM');
      assert.equal(await agentExit, 0, `SIGTERM drains and exits 0:\n${agentLog}`);
      // Its own metrics (flushed at shutdown) carry the pod's resource attributes (the latency
      // histograms are under the observed services' resources).
      const agentResource =
        receiver.metricRequests.flat().findLast((m) => m.name === 'wirespan.pairs')?.resource ?? {};
      assert.equal(agentResource['service.name'], 'wirespan');
      assert.equal(agentResource['k8s.pod.name'], 'wirespan-x7k2p');
      assert.equal(agentResource['k8s.namespace.name'], 'observability');
      capture.kill('SIGTERM');
      console.log(`# capture ran as ${launcher.mode}; ${spans.length} HTTP spans`);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      server.close();
      await receiver.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

test('the rendered capture command is what the live test runs (-U --nano, rotation, filter last)', () => {
  const args = render().capture?.args ?? [];
  assert.ok(args.includes('-U') && args.includes('--nano'));
  assert.equal(argValue(args, '-z'), '/etc/wirespan-capture/prune.sh');
  assert.match(args.at(-1) ?? '', /^not \(/);
});
