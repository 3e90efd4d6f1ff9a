/**
 * Hostile input end to end: malformed and mutated captures go through the real reader,
 * decoder and correlator (every matcher enabled) without a throw or a hang; the CLI reports
 * problems per file and keeps going.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { corpusCaptures, corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';
import { runCli } from '../helpers/run-cli.ts';

test('the CLI replays every malformed corpus capture without crashing or hanging', () => {
  const result = runCli(['replay', path.join(corpusDir, 'malformed'), '--relay', '--output', 'none']);
  assert.ok(result.status === 0 || result.status === 1, `exit status ${result.status}: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /internal error/);
  assert.match(result.stderr, /packets/);
});

test('mutated real captures never make the pipeline throw (fast-check)', () => {
  const seeds = [
    'dns/pcapplusplus--DnsPackets.pcap',
    'http/pcapplusplus--http-packets2.pcap',
    'dns/tcpdump--dns_tcp.pcap',
    'formats/pcapplusplus--many_interfaces-1.pcapng',
    'linktypes/pcapplusplus--sll.pcap',
  ].map((name) => fs.readFileSync(path.join(corpusDir, name)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-fuzz-'));
  const file = path.join(dir, 'mutated.pcap');
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
      fc.option(fc.nat()),
      (seedIndex, flips, cut) => {
        const bytes = Buffer.from(seeds[seedIndex]!);
        // Mutations past the 24-byte header hit record headers and packet bytes alike.
        for (const [position, value] of flips)
          bytes[24 + (position % Math.max(1, bytes.length - 24))] = value;
        fs.writeFileSync(file, cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1)));
        replayPairs([file], (options) => {
          options.relay.enabled = true;
          options.relay.matchEcho = true;
          options.relay.crossTransport = true;
        });
      },
    ),
    { numRuns: 150 },
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every capture of every corpus folder replays with all matchers on', () => {
  for (const folder of ['formats', 'linktypes', 'dns', 'http', 'tcp', 'malformed']) {
    for (const capture of corpusCaptures(folder)) {
      assert.doesNotThrow(
        () =>
          replayPairs([capture], (options) => {
            options.relay.enabled = true;
          }),
        capture,
      );
    }
  }
});
