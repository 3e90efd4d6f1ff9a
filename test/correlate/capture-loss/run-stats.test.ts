/**
 * `wirespan run` logs each stats interval's capture loss: over the intervals the missing and
 * seen bytes add up to the capture's. One thread only: run's workers post their stats after a
 * chunk, at most once a second, so an idle worker's last counts wait for the next chunk.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { repoRoot } from '../../helpers/run-cli.ts';
import { cutSegments, tcpSegments } from './segments.ts';

const fixture = path.join(import.meta.dirname, '../../fixtures/capture-loss/loopback-http.pcap');

for (const workers of ['0']) {
  test(`run --workers ${workers}: the stats lines' interval losses add up to the capture's`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-loss-run-'));
    const dir = path.join(root, 'pcaps');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'cap-20261206000000.pcap');
    writePcap(file, cutSegments(tcpSegments(readAllRecords(fixture)), (_s, i) => i % 20 === 19).kept);
    const counts = replayPairs([file]).correlator.captureLoss.counts;
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        dir,
        '--state-dir',
        path.join(root, 'state'),
        '--on-done',
        'keep',
        '--grace',
        '0.2',
        '--health-port',
        '0',
        '--stats-interval',
        '1',
        '--workers',
        workers,
        '-o',
        'none',
      ],
      { cwd: repoRoot },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const intervals = () =>
      stderr
        .split('\n')
        .filter((line) => line.includes('"msg":"stats"'))
        .map((line) => JSON.parse(line).captureLoss as { missing_bytes: number; observed_bytes: number });
    const total = (key: 'missing_bytes' | 'observed_bytes') =>
      intervals().reduce((sum, i) => sum + i[key], 0);
    const deadline = Date.now() + 30_000;
    while (total('observed_bytes') < counts.observedBytes && Date.now() < deadline) await sleep(200);
    child.kill('SIGTERM');
    await exited;
    assert.equal(total('observed_bytes'), counts.observedBytes, stderr);
    assert.equal(total('missing_bytes'), counts.missingBytes);
    assert.ok(intervals().some((i) => i.missing_bytes > 0));
    fs.rmSync(root, { recursive: true, force: true });
  });
}
