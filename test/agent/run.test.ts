/**
 * `wirespan run` as a real process on real files: a capture written in pieces (header first,
 * a record split across two writes) into a watched directory, rotated into a second file
 * between a request and its response, gives exactly the pairs `replay` finds in the whole
 * capture; the health endpoints answer; SIGTERM drains and exits 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pcapBytes, readAllRecords } from '../helpers/pcap-writer.ts';
import { jsonLines, repoRoot, runCli } from '../helpers/run-cli.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');

function startAgent(args: string[]): {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [path.join(repoRoot, 'agent/cli/main.mjs'), 'run', ...args], {
    cwd: repoRoot,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function waitFor(condition: () => boolean, what: string, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function withoutSource(pair: Record<string, unknown>): string {
  const { source: _source, ...rest } = pair;
  return JSON.stringify(rest);
}

test('tails a growing, rotating capture: every pair once, as replay finds them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-run-'));
  const out = path.join(dir, '..', `${path.basename(dir)}.jsonl`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const agent = startAgent([
    '--watch',
    dir,
    '--grace',
    '0.3',
    '--output',
    `jsonl:${out}`,
    '--health-port',
    String(port),
    '--health-host',
    '127.0.0.1',
  ]);
  try {
    await waitFor(() => agent.stderr().includes('"watching"'), 'the agent to start');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    await waitFor(() => agent.stderr().length > 0, 'logs');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200, await ready.text());

    const records = readAllRecords(demo);
    // Cut between a DNS query (packet 33 is one that is answered later? any cut works): packet 80.
    const cut = 80;
    const first = pcapBytes(records.slice(0, cut));
    const second = pcapBytes(records.slice(cut));
    const file1 = path.join(dir, 'cap-20261128230000.pcap');
    // Like tcpdump: the 24-byte header first, then records; one record split across two writes.
    fs.writeFileSync(file1, first.subarray(0, 24));
    await sleep(300);
    const middle = 24 + Math.floor((first.length - 24) / 2) + 7;
    fs.appendFileSync(file1, first.subarray(24, middle));
    await sleep(300);
    fs.appendFileSync(file1, first.subarray(middle));
    await sleep(500);
    // Rotation: tcpdump opens the next file; the old one stops growing.
    const file2 = path.join(dir, 'cap-20261128230030.pcap');
    fs.writeFileSync(file2, second);
    await waitFor(() => agent.stderr().includes(file2), 'the second file to be read');
    await sleep(800);
  } finally {
    agent.child.kill('SIGTERM');
  }
  assert.equal(await agent.exited, 0, agent.stderr());
  assert.match(agent.stderr(), /"stopped"/);

  const expected = jsonLines(runCli(['replay', demo, '--workers', '0']).stdout)
    .map(withoutSource)
    .sort();
  const got = jsonLines(fs.readFileSync(out, 'utf8')).map(withoutSource).sort();
  assert.deepEqual(got, expected);
});

test('a file overwritten before it was read to its end is counted as lost; the agent goes on', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-run-'));
  const agent = startAgent(['--watch', dir, '--grace', '0.3', '--health-port', '0', '--stats-interval', '1']);
  try {
    await waitFor(() => agent.stderr().includes('"watching"'), 'the agent to start');
    const bytes = pcapBytes(readAllRecords(demo));
    const file = path.join(dir, 'cap0');
    fs.writeFileSync(file, bytes);
    await waitFor(() => agent.stderr().includes('reading capture file'), 'the file to be opened');
    await sleep(300);
    // A -W ring overwrites it in place: truncated, then rewritten shorter than what was read.
    fs.writeFileSync(file, bytes.subarray(0, 24));
    await waitFor(() => /capture file lost/.test(agent.stderr()), 'the loss to be reported');
    // The ring's new content under the same name is read as a new file.
    fs.appendFileSync(file, bytes.subarray(24));
    await waitFor(() => agent.stderr().split('reading capture file').length > 2, 'the new content to be read');
  } finally {
    agent.child.kill('SIGTERM');
  }
  assert.equal(await agent.exited, 0, agent.stderr());
  const lost = agent
    .stderr()
    .split('\n')
    .filter((line) => line.includes('capture file lost'));
  assert.equal(lost.length, 1, 'logged once');
});

test('a missing watch directory is a clear error', () => {
  const result = runCli(['run', '--watch', '/nonexistent/wirespan-pcaps', '--health-port', '0']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /watch directory does not exist/);
});
