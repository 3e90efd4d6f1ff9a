/**
 * Live capture: a real tcpdump (-U, --nano, rotating every second with -G 1) writes loopback
 * traffic we generate (HTTP to a local server, UDP request/reply to a local responder) into
 * a watched directory; `wirespan run` turns it into pairs while the capture is still being
 * written. Also measures how long a pair takes from its response hitting the disk to its line
 * leaving the agent (printed; asserted only against a generous bound).
 * Skipped, with the reason, where tcpdump is missing or may not capture (not root).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonLines, repoRoot } from '../helpers/run-cli.ts';

const tcpdump = spawnSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).stdout.trim();
const skip = !tcpdump
  ? 'tcpdump is not installed'
  : process.getuid?.() !== 0
    ? 'capturing needs root'
    : false;

test('tcpdump rotating every second into a watched directory: HTTP and UDP pairs come out live', {
  skip,
}, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-live-'));
  const dir = path.join(root, 'pcaps');
  fs.mkdirSync(dir);
  const out = path.join(root, 'pairs.jsonl');

  const server = http.createServer((request, response) => {
    setTimeout(() => response.end(`hello ${request.url}\n`), 5);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const httpPort = (server.address() as AddressInfo).port;
  const responder = dgram.createSocket('udp4');
  responder.on('message', (message, peer) => responder.send(message, peer.port, peer.address));
  await new Promise<void>((resolve) => responder.bind(0, '127.0.0.1', resolve));
  const udpPort = responder.address().port;

  const capture = spawn(tcpdump, [
    '-i',
    'lo',
    '-U',
    // Hand packets over at once: without it libpcap's buffer timeout holds them back up to ~1 s.
    '--immediate-mode',
    '--nano',
    '-G',
    '1',
    '-n',
    // Keep root: after dropping to its own user tcpdump could not create the rotated files here.
    '-Z',
    'root',
    '-w',
    path.join(dir, 'cap-%s.pcap'),
    `tcp port ${httpPort} or udp port ${udpPort}`,
  ]);
  let captureLog = '';
  capture.stderr.on('data', (chunk) => {
    captureLog += chunk;
  });
  const agent = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'agent/cli/main.mjs'),
      'run',
      '--watch',
      dir,
      '--state-dir',
      path.join(root, 'state'),
      '--grace',
      '0.5',
      '--health-port',
      '0',
      '--udp-ports',
      String(udpPort),
      '--output',
      `jsonl:${out}`,
    ],
    { cwd: repoRoot },
  );
  let agentLog = '';
  agent.stderr.on('data', (chunk) => {
    agentLog += chunk;
  });
  const agentExited = new Promise<number | null>((resolve) => agent.on('close', resolve));
  /** Wall time each pair's line was first seen in the output, by its end timestamp. */
  const seenAt = new Map<string, number>();
  try {
    const deadline = Date.now() + 10_000;
    while (!captureLog.includes('listening on')) {
      if (Date.now() > deadline) throw new Error(`tcpdump did not start: ${captureLog}`);
      await sleep(100);
    }
    // Watch the output while the traffic is generated: note when each line first appears.
    const poller = setInterval(() => {
      if (!fs.existsSync(out)) return;
      for (const line of jsonLines(fs.readFileSync(out, 'utf8'))) {
        if (line.end && !seenAt.has(String(line.end))) seenAt.set(String(line.end), Date.now());
      }
    }, 20);
    const client = dgram.createSocket('udp4');
    for (let i = 0; i < 6; i++) {
      const body = await (await fetch(`http://127.0.0.1:${httpPort}/item/${i}`)).text();
      assert.equal(body, `hello /item/${i}\n`);
      await new Promise<void>((resolve) => client.send(`ping ${i}`, udpPort, '127.0.0.1', () => resolve()));
      await sleep(400);
    }
    client.close();
    // Wait for the pairs to come out while tcpdump is still writing; note when each line appears.
    const waitUntil = Date.now() + 15_000;
    for (;;) {
      const lines = fs.existsSync(out) ? jsonLines(fs.readFileSync(out, 'utf8')) : [];
      for (const line of lines)
        if (line.end && !seenAt.has(String(line.end))) seenAt.set(String(line.end), Date.now());
      const matched = lines.filter((p) => p.outcome === 'matched');
      const count = (protocol: string) => matched.filter((p) => p.protocol === protocol).length;
      if (count('http') >= 6 && count('udp') >= 6) break;
      if (Date.now() > waitUntil) throw new Error(`pairs did not arrive: ${lines.length} lines\n${agentLog}`);
      await sleep(50);
    }
    clearInterval(poller);
  } finally {
    capture.kill('SIGINT');
    agent.kill('SIGTERM');
    server.close();
    responder.close();
  }
  assert.equal(await agentExited, 0, agentLog);
  const pairs = jsonLines(fs.readFileSync(out, 'utf8'));
  const httpPairs = pairs.filter((p) => p.protocol === 'http' && p.outcome === 'matched');
  const udpPairs = pairs.filter((p) => p.protocol === 'udp' && p.outcome === 'matched');
  assert.equal(httpPairs.length, 6, JSON.stringify(pairs.map((p) => [p.protocol, p.outcome])));
  assert.deepEqual(httpPairs.map((p) => (p.http as { target: string; status: number }).target).sort(), [
    '/item/0',
    '/item/1',
    '/item/2',
    '/item/3',
    '/item/4',
    '/item/5',
  ]);
  assert.equal(udpPairs.length, 6);
  for (const pair of httpPairs) {
    // The server waits 5 ms before answering (libuv timers may fire up to ~1 ms early): the wire
    // latency is at least ~4 ms, and sane.
    const duration = pair.duration_ns as number;
    assert.ok(duration >= 4_000_000 && duration < 2_000_000_000, `HTTP latency ${duration} ns`);
  }
  // Disk-to-output latency: from the response's capture time to the line showing up (both on this machine's clock).
  const latencies = [...seenAt].map(([end, seen]) => seen - Date.parse(end)).sort((a, b) => a - b);
  console.log(
    `disk-to-output latency over ${latencies.length} pairs: median ${latencies[latencies.length >> 1]} ms, max ${latencies.at(-1)} ms (output polled every 20 ms)`,
  );
  assert.ok((latencies.at(-1) ?? 0) < 5000, 'pairs come out within seconds of their packets');
  const files = new Set(pairs.map((p) => (p.source as { request: { file: string } }).request.file));
  assert.ok(files.size >= 2, `pairs came from ${files.size} rotated files`);
});
