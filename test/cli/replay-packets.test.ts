import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { capinfosPacketCount, corpusCaptures, corpusDir } from '../helpers/corpus.ts';
import { jsonLines, runCli } from '../helpers/run-cli.ts';

test('replay --packets prints one line per record of every capture in a directory, and a summary', () => {
  const result = runCli(['replay', path.join(corpusDir, 'formats'), '--packets']);
  assert.equal(result.status, 0, result.stderr);
  const lines = jsonLines(result.stdout);
  const expectedPerFile = new Map<string, number>();
  for (const capture of corpusCaptures('formats'))
    expectedPerFile.set(capture, capinfosPacketCount(capture) ?? -1);
  const seenPerFile = new Map<string, number>();
  for (const line of lines)
    seenPerFile.set(line.file as string, (seenPerFile.get(line.file as string) ?? 0) + 1);
  for (const [capture, expected] of expectedPerFile) {
    assert.equal(
      seenPerFile.get(capture) ?? 0,
      expected,
      `${path.basename(capture)}: packets listed vs capinfos`,
    );
  }
  assert.match(result.stderr, /packets/);
  assert.match(result.stderr, /packets\/s/);
});

test('a packet line carries capture time, addresses, ports, flags and payload length', () => {
  const capture = path.join(corpusDir, 'tcp/tcpdump--tcp-handshake-nano.pcap');
  const result = runCli(['replay', capture, '--packets']);
  assert.equal(result.status, 0, result.stderr);
  const [first] = jsonLines(result.stdout);
  assert.ok(first);
  assert.equal(first.packet, 1);
  assert.equal(first.decoded, true);
  assert.equal(first.transport, 'tcp');
  assert.equal(first.tcp_flags, 'SYN');
  assert.match(first.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
});

test('a non-capture file is a clear error and exit code 1, other inputs are still processed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-'));
  const notCapture = path.join(dir, 'notes.pcap');
  fs.writeFileSync(notCapture, '<html>this is not a capture</html>');
  const good = path.join(corpusDir, 'dns/tcpdump--dns_udp.pcap');
  const result = runCli(['replay', notCapture, good, '--packets']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /notes\.pcap: not a capture file/);
  assert.equal(jsonLines(result.stdout).length, 2);
});

test('a missing input is reported and gives exit code 1', () => {
  const result = runCli(['replay', '/nonexistent/wirespan/capture.pcap']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /no such file or directory/);
});

test('usage errors exit with code 2 and a hint', () => {
  const badPort = runCli(['replay', corpusDir, '--dns-ports', '99999']);
  assert.equal(badPort.status, 2);
  assert.match(badPort.stderr, /not a port number/);
  const badOutput = runCli(['replay', corpusDir, '--output', 'xml']);
  assert.equal(badOutput.status, 2);
  assert.match(badOutput.stderr, /--output must be/);
  const noCommand = runCli([]);
  assert.equal(noCommand.status, 2);
});

test('--help and --version work', () => {
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /replay <inputs\.\.>/);
  const version = runCli(['--version']);
  assert.equal(version.status, 0);
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(version.stdout.trim(), pkg.version);
});

test('--output jsonl:PATH writes the lines to the file, none prints only the summary', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-'));
  const out = path.join(dir, 'packets.jsonl');
  const capture = path.join(corpusDir, 'dns/tcpdump--dns_tcp.pcap');
  const toFile = runCli(['replay', capture, '--packets', '--output', `jsonl:${out}`]);
  assert.equal(toFile.status, 0, toFile.stderr);
  assert.equal(toFile.stdout, '');
  assert.equal(jsonLines(fs.readFileSync(out, 'utf8')).length, 11);
  const none = runCli(['replay', capture, '--packets', '--output', 'none']);
  assert.equal(none.status, 0);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /11 packets/);
});
