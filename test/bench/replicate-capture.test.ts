/**
 * The protocol bench's replicator (replicate-capture.ts): three copies of a real capture pair
 * exactly like three separate captures of it, through the real CLI. Each pair of the copy is
 * the source's pair with the same protocol, server, client port, duration and packets (shifted
 * by whole copies), and every copy has its own client addresses (no shared connections).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { jsonLines, repoRoot, runCli } from '../helpers/run-cli.ts';
import { countRecords, replicateCapture } from './replicate-capture.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-replicate-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const kCopies = 3;

/** The JSONL fields the comparison reads. */
interface PairLine {
  outcome: string;
  protocol: string;
  client: { address: string; port: number };
  server: { address: string; port: number };
  duration_ns: number | null;
  source: { request?: { packet: number }; response?: { packet: number; last_packet?: number } };
}

interface PairKeys {
  /** Per pair: protocol, outcome, server, client port, duration, packets within the copy. */
  keys: string[];
  clients: Set<string>;
}

function replayKeys(file: string, flags: string[], sourceRecords: number): PairKeys {
  const result = runCli(['replay', file, ...flags, '--output', 'jsonl', '--workers', '0', '--quiet']);
  assert.equal(result.status, 0, result.stderr);
  const keys: string[] = [];
  const clients = new Set<string>();
  for (const pair of jsonLines(result.stdout) as unknown as PairLine[]) {
    const request = pair.source.request?.packet;
    const response = pair.source.response?.last_packet ?? pair.source.response?.packet;
    const inCopy = (packet: number | undefined) =>
      packet === undefined ? '-' : (packet - 1) % sourceRecords;
    keys.push(
      [
        pair.outcome,
        pair.protocol,
        `${pair.server.address}:${pair.server.port}`,
        pair.client.port,
        pair.duration_ns,
        inCopy(request),
        inCopy(response),
      ].join(' '),
    );
    clients.add(pair.client.address);
  }
  return { keys: keys.sort(), clients };
}

for (const { name, file, serverPorts, flags } of [
  { name: 'HTTP/2 (h2c)', file: 'test/fixtures/protocols/http2/h2c.pcap', serverPorts: [18080], flags: [] },
  {
    name: 'PostgreSQL',
    file: 'test/fixtures/protocols/postgresql/postgresql.pcap',
    serverPorts: [55432],
    flags: ['--postgresql-ports', '55432'],
  },
]) {
  test(`${name}: ${kCopies} copies pair exactly as ${kCopies} x the source, each copy on its own clients`, () => {
    const source = path.join(repoRoot, file);
    const replica = path.join(tmp, `${path.basename(file, '.pcap')}-x${kCopies}.pcap`);
    const sourceRecords = countRecords(source);
    const written = replicateCapture(source, replica, kCopies, serverPorts);
    assert.equal(written.packets, kCopies * sourceRecords);
    assert.equal(written.unshifted, 0);
    assert.equal(countRecords(replica), kCopies * sourceRecords);

    const original = replayKeys(source, flags, sourceRecords);
    const copied = replayKeys(replica, flags, sourceRecords);
    assert.ok(original.keys.some((key) => key.startsWith('matched') && !key.includes(' tcp ')));
    assert.deepEqual(copied.keys, original.keys.flatMap((key) => Array(kCopies).fill(key)).sort());
    assert.equal(copied.clients.size, kCopies * original.clients.size);
    assert.ok(![...copied.clients].some((address) => original.clients.has(address)));
  });
}
