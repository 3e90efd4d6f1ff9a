/**
 * The agent stays answerable while it chews through hostile captures (issue 11): a backlog of
 * floods (FIN/zero-length out-of-order, descending 1-byte out-of-order, HTTP pipelining, SYN)
 * in the watch directory is read at full speed while /healthz is probed every 100 ms; every
 * probe must answer 200 within the chart's liveness probe timeout (the kubelet counts a slower
 * answer as a failure), and SIGTERM afterwards ends the agent promptly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { repoRoot } from '../helpers/run-cli.ts';
import { writePipelineFlood, writeSynFlood } from './crafted-flows.ts';
import { writeFinFlood, writeOneByteFlood } from './crafted-tcp.ts';

/** The chart's livenessProbe.timeoutSeconds, in ms: what the kubelet would wait for each probe. */
function chartProbeTimeoutMs(): number {
  const values = YAML.parse(fs.readFileSync(path.join(repoRoot, 'helm/wirespan/values.yaml'), 'utf8'));
  const seconds = values.agent.livenessProbe.timeoutSeconds;
  assert.ok(Number.isInteger(seconds) && seconds > 0, `livenessProbe.timeoutSeconds: ${seconds}`);
  return seconds * 1000;
}

test('health probes answer throughout a backlog of floods; SIGTERM ends the agent', async () => {
  const probeTimeoutMs = chartProbeTimeoutMs();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-flood-health-'));
  const dir = path.join(root, 'pcaps');
  const state = path.join(root, 'state');
  fs.mkdirSync(dir);
  let child: ReturnType<typeof spawn> | null = null;
  try {
    const floods = [
      (file: string) => writeFinFlood(file, 200_000),
      (file: string) => writeOneByteFlood(file, 100_000, true),
      (file: string) => writePipelineFlood(file, 200_000),
      (file: string) => writeSynFlood(file, 100_000),
    ];
    const old = Date.now() / 1000 - 3600;
    const files = floods.map((write, i) => {
      const file = path.join(dir, `cap${i}`);
      write(file);
      fs.utimesSync(file, old + i, old + i);
      return file;
    });
    // The newest file: the one tcpdump would still be writing, so every flood has a successor.
    writeSynFlood(path.join(dir, 'cap9'), 1);

    const port = 20_000 + Math.floor(Math.random() * 20_000);
    child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        dir,
        '--state-dir',
        state,
        '--grace',
        '0.2',
        '--on-done',
        'rename',
        '--output',
        'none',
        '--health-port',
        String(port),
        '--health-host',
        '127.0.0.1',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const running = child;
    const exited = new Promise<number | null>((resolve) => running.on('close', resolve));

    // Every flood read to its end and checkpointed (--on-done renames them once no checkpoint
    // needs them: here, at the stop).
    const done = () => {
      try {
        const checkpoint = JSON.parse(fs.readFileSync(path.join(state, 'checkpoint.json'), 'utf8'));
        const read = new Set(checkpoint.directories[0].done.map((mark: { path: string }) => mark.path));
        return files.every((file) => read.has(file));
      } catch {
        return false;
      }
    };
    let probes = 0;
    let slowest = 0;
    const failures: string[] = [];
    const deadline = Date.now() + 120_000;
    while (!stderr.includes('"watching"')) {
      assert.ok(Date.now() < deadline, `the agent did not start:\n${stderr}`);
      await sleep(50);
    }
    while (!done()) {
      assert.ok(Date.now() < deadline, `the floods were not all read in time:\n${stderr.slice(-2000)}`);
      const asked = Date.now();
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`, {
          signal: AbortSignal.timeout(probeTimeoutMs),
        });
        if (response.status !== 200) failures.push(`status ${response.status}`);
        await response.arrayBuffer();
        slowest = Math.max(slowest, Date.now() - asked);
        if (process.env.PROBE_DEBUG) process.stderr.write(`probe ${Date.now() - asked} ms\n`);
      } catch (error) {
        failures.push(`${(error as Error).name} after ${Date.now() - asked} ms`);
      }
      probes++;
      await sleep(100);
    }
    assert.deepEqual(failures, [], `${failures.length} of ${probes} probes failed`);
    process.stderr.write(`health probes: ${probes}, slowest ${slowest} ms\n`);
    assert.ok(probes >= 3, `only ${probes} probes: the backlog was read too fast to tell`);

    const stopAsked = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, stderr.slice(-2000));
    assert.ok(Date.now() - stopAsked < 15_000, 'SIGTERM took too long');
    assert.ok(
      files.every((file) => fs.existsSync(`${file}.processed`)),
      `renamed at the stop: ${fs.readdirSync(dir)}`,
    );
  } finally {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  }
});
