/**
 * config/prometheus-rules.yaml in a real Prometheus (Debian's `prometheus`, started here) that
 * scrapes a real `wirespan run --prometheus-port` while it tails captures written here: one
 * resolver answers every lookup in 300 ms, another in 2 ms. WirespanDNSLatencyP99High fires for
 * the slow one, and the same rule evaluations leave the fast one inactive.
 *
 * The rules are the shipped file with one change in the test's copy: the alert's `for: 5m`
 * becomes a few seconds (Prometheus evaluates every second here); expressions, thresholds and
 * labels are as shipped. Skipped only on a developer machine without prometheus (CI fails).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { dnsMessage, Type } from '../correlate/dns/helpers.ts';
import { ethernet, ipv4, udp } from '../decode/packets.ts';
import { freePort } from '../export/otlp-receiver.ts';
import { type OwnedRecord, writePcap } from '../helpers/pcap-writer.ts';
import { repoRoot } from '../helpers/run-cli.ts';
import { which } from './helpers.ts';

const prometheus = process.env.PROMETHEUS ?? which('prometheus');
const kSkip =
  prometheus === null && process.env.CI !== 'true'
    ? 'prometheus is not installed (Debian package prometheus; .ci/run installs it)'
    : false;

const kSlow = '10.96.0.10';
const kFast = '10.96.0.11';
const kClient = '10.244.1.7';
const kAlert = 'WirespanDNSLatencyP99High';

/** `count` lookups to each resolver from `startSeconds` on, 20 ms apart; answers after 300 ms (slow) or 2 ms (fast). */
function lookups(startSeconds: number, count: number, firstId: number): OwnedRecord[] {
  const records: OwnedRecord[] = [];
  const frame = (src: string, dst: string, srcPort: number, dstPort: number, payload: Uint8Array) =>
    ethernet(0x0800, ipv4({ src, dst, protocol: 17, payload: udp({ srcPort, dstPort, payload }) }));
  const at = (nanos: number, bytes: Uint8Array): OwnedRecord => ({
    seconds: startSeconds + Math.floor(nanos / 1e9),
    nanos: nanos % 1e9,
    originalLength: bytes.length,
    linkType: 1,
    bytes,
  });
  for (let i = 0; i < count; i++) {
    for (const [server, latencyNanos, portBase] of [
      [kSlow, 300_000_000, 30_000],
      [kFast, 2_000_000, 40_000],
    ] as const) {
      const id = (firstId + i) & 0xffff;
      const clientPort = portBase + ((firstId + i) % 20_000);
      const question = { name: `svc-${i}.cluster.local`, type: Type.A };
      const sent = i * 20_000_000;
      records.push(at(sent, frame(kClient, server, clientPort, 53, dnsMessage({ id, question }))));
      records.push(
        at(
          sent + latencyNanos,
          frame(server, kClient, 53, clientPort, dnsMessage({ id, question, response: true })),
        ),
      );
    }
  }
  return records.sort((a, b) => a.seconds - b.seconds || a.nanos - b.nanos);
}

interface Alert {
  labels: Record<string, string>;
  state: string;
}

describe('the latency SLO alert in a real Prometheus', { skip: kSkip }, () => {
  let dir = '';
  let promPort = 0;
  let metricsPort = 0;
  const children: ChildProcess[] = [];
  const logs = { prometheus: '', wirespan: '' };

  before(async () => {
    assert.ok(prometheus, 'prometheus is installed (CI)');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-prom-alert-'));
    fs.mkdirSync(path.join(dir, 'pcaps'));
    promPort = await freePort();
    metricsPort = await freePort();
    const rules = YAML.parse(
      fs.readFileSync(path.join(repoRoot, 'config/prometheus-rules.yaml'), 'utf8'),
    ) as {
      groups: { rules: { alert: string; for: string }[] }[];
    };
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === kAlert);
    assert.ok(rule, `${kAlert} is in the shipped rules`);
    rule.for = '3s';
    fs.writeFileSync(path.join(dir, 'rules.yaml'), YAML.stringify(rules));
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      YAML.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [path.join(dir, 'rules.yaml')],
        scrape_configs: [
          { job_name: 'wirespan', static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] },
        ],
      }),
    );
    const start = (command: string, args: string[], log: keyof typeof logs): void => {
      const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (chunk) => {
        logs[log] += chunk;
      });
      children.push(child);
    };
    start(
      prometheus!,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      'prometheus',
    );
    start(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        path.join(dir, 'pcaps'),
        '--state-dir',
        path.join(dir, 'state'),
        '--health-port',
        '0',
        '--grace',
        '0.3',
        '-o',
        'none',
        '--prometheus-port',
        String(metricsPort),
      ],
      'wirespan',
    );
  });

  after(async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) =>
        child.exitCode === null && child.signalCode === null
          ? new Promise((resolve) => child.once('close', resolve))
          : null,
      ),
    );
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function api<T>(pathAndQuery: string): Promise<T | null> {
    try {
      const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/${pathAndQuery}`);
      if (!response.ok) return null;
      return ((await response.json()) as { data: T }).data;
    } catch {
      return null;
    }
  }

  /** Instant query: value by service_name. */
  async function query(expr: string): Promise<Map<string, number>> {
    const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
      `query?query=${encodeURIComponent(expr)}`,
    );
    return new Map((data?.result ?? []).map((r) => [r.metric.service_name ?? '', Number(r.value[1])]));
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}\nprometheus:\n${logs.prometheus.slice(-3000)}\nwirespan:\n${logs.wirespan}`,
        );
      }
      await sleep(250);
    }
  }

  test('fires for the slow resolver only', async () => {
    const slow = `dns://${kSlow}:53`;
    const fast = `dns://${kFast}:53`;
    const counts = 'sum by (service_name) (dns_lookup_duration_seconds_count{otel_scope_name="wirespan"})';
    // First capture file; the series must be scraped before the second adds to them (a rate needs an increase).
    writePcap(path.join(dir, 'pcaps/cap-20261206000000.pcap'), lookups(1_796_515_200, 50, 1));
    await waitFor('the first lookups in Prometheus', async () => {
      const c = await query(counts);
      return c.get(slow) === 50 && c.get(fast) === 50;
    });
    writePcap(path.join(dir, 'pcaps/cap-20261206000100.pcap'), lookups(1_796_515_260, 50, 1001));
    const p99 = await waitFor('both p99 latencies', async () => {
      const q = await query(
        'histogram_quantile(0.99, sum by (service_name, le) (rate(dns_lookup_duration_seconds_bucket{otel_scope_name="wirespan"}[5m])))',
      );
      return q.has(slow) && q.has(fast) && q;
    });
    assert.ok(p99.get(slow)! > 0.1, `slow p99 ${p99.get(slow)}`);
    assert.ok(p99.get(fast)! < 0.1, `fast p99 ${p99.get(fast)}`);

    const firing = await waitFor('the alert to fire', async () => {
      const data = await api<{ alerts: Alert[] }>('alerts');
      return data?.alerts.find((a) => a.labels.alertname === kAlert && a.state === 'firing');
    });
    assert.equal(firing.labels.service_name, slow);
    assert.equal(firing.labels.severity, 'warning');
    // The evaluations that made it fire saw both resolvers: the fast one is not even pending.
    const data = await api<{ alerts: Alert[] }>('alerts');
    const ours = data!.alerts.filter((a) => a.labels.alertname === kAlert);
    assert.deepEqual(
      ours.map((a) => a.labels.service_name),
      [slow],
    );
  });
});
