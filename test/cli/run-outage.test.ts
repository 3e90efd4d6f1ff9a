/**
 * `wirespan run` through a collector outage, as real processes: the agent starts with nothing
 * listening on its OTLP port, reads a capture, logs the outage once and reports not ready; the
 * receiver then comes up on that port, the agent logs the recovery once, becomes ready, and
 * after SIGTERM the receiver holds exactly the pairs `replay` finds, at their exact capture
 * times; exit code 0. While the collector is down the checkpoint stays before the capture's
 * spans; the final one is at its end. Over OTLP/gRPC and OTLP/HTTP (http/protobuf: the same retries and
 * outage reporting, export-outage.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, type OtlpReceiver, startReceiver } from '../export/otlp-receiver.ts';
import { jsonLines, repoRoot, runCli } from '../helpers/run-cli.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');

const receivers: OtlpReceiver[] = [];
after(async () => {
  for (const receiver of receivers) await receiver.close();
});

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMillis = 15_000) {
  const deadline = Date.now() + timeoutMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function nanosText(rfc3339: string): string {
  const match = /^(.*)\.(\d{9})Z$/.exec(rfc3339);
  assert.ok(match, rfc3339);
  return (BigInt(Date.parse(`${match[1]}Z`) / 1000) * 1_000_000_000n + BigInt(match[2]!)).toString();
}

function logLines(stderr: string, message: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === message);
}

async function readyz(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  } catch {
    return 0;
  }
}

for (const [workers, protocol] of [
  ['0', 'grpc'],
  ['2', 'grpc'],
  ['2', 'http/protobuf'],
] as const) {
  test(`run --workers ${workers}, ${protocol}: a collector down at start, then up: every pair exported once, outage logged once, exit 0`, async () => {
    let receiver: OtlpReceiver | null = null;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-outage-'));
    const state = `${dir}.state`;
    const capture = path.join(dir, 'cap-20261128230000.pcap');
    const checkpoint = () =>
      JSON.parse(fs.readFileSync(path.join(state, 'checkpoint.json'), 'utf8')).directories[0] as {
        done: unknown[];
        current: { offset: number } | null;
      };
    const otlpPort = await freePort();
    const http = protocol === 'http/protobuf';
    const healthPort = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        dir,
        '--state-dir',
        state,
        '--otlp',
        `http://127.0.0.1:${otlpPort}`,
        '--health-port',
        String(healthPort),
        '--health-host',
        '127.0.0.1',
        '--grace',
        '0.3',
        // Readiness is re-evaluated at each stats tick.
        '--stats-interval',
        '1',
        '--workers',
        workers,
      ],
      { cwd: repoRoot, env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: protocol } },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout!.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitFor(() => stderr.includes('"watching"'), 'the agent to start');
      fs.copyFileSync(demo, capture);

      await waitFor(() => logLines(stderr, 'span export failing').length > 0, 'the outage to be logged');
      await waitFor(async () => (await readyz(healthPort)) === 503, '/readyz to answer 503');
      // Read, not exported: the checkpoint stays before the first record (past the pcap header at most).
      await sleep(1500);
      assert.deepEqual(checkpoint().done, []);
      assert.ok((checkpoint().current?.offset ?? 0) <= 24, JSON.stringify(checkpoint()));

      // Over HTTP the collector comes up on the HTTP port the agent sends to (gRPC elsewhere).
      receiver = http
        ? await startReceiver(0, { http: true, httpPort: otlpPort })
        : await startReceiver(otlpPort);
      receivers.push(receiver);
      await waitFor(() => logLines(stderr, 'span export recovered').length > 0, 'the recovery to be logged');
      await waitFor(() => receiver!.spans.length > 0, 'spans at the receiver');
      await waitFor(async () => (await readyz(healthPort)) === 200, '/readyz to answer 200 again');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.equal(checkpoint().current?.offset, fs.statSync(capture).size);

    const failing = logLines(stderr, 'span export failing');
    const recovered = logLines(stderr, 'span export recovered');
    assert.equal(failing.length, 1, stderr);
    assert.equal(recovered.length, 1, stderr);
    assert.equal(failing[0]!.level, 'warn');
    assert.match(String(failing[0]!.error), http ? /ECONNREFUSED/ : /UNAVAILABLE/);
    if (http) assert.ok(receiver!.requests.every((r) => r.transport === 'http'));
    // Over HTTP the SDK's transport retries a refused request itself (with backoff, within the
    // export timeout), so the request that gets through may be a first attempt.
    assert.ok(Number(recovered[0]!.retries) >= (http ? 0 : 1), JSON.stringify(recovered[0]));
    assert.ok(Number(recovered[0]!.outageSeconds) > 0);

    const expected = jsonLines(runCli(['replay', demo, '--workers', '0']).stdout)
      .map((pair) => `${nanosText(pair.start as string)}-${nanosText((pair.end ?? pair.given_up) as string)}`)
      .sort();
    assert.equal(receiver!.spans.length, expected.length, 'one span per pair, none twice');
    assert.deepEqual(
      receiver!.spans.map((s) => `${s.startTimeUnixNano}-${s.endTimeUnixNano}`).sort(),
      expected,
    );
  });
}
