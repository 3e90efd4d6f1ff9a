/**
 * Rotation: the TLS and ICMP fixtures cut into rotated files after every packet (and at a prime
 * stride) give exactly the pairs of the uncut capture: a handshake's ClientHello, ServerHello
 * and Finished, and a ping's request and reply, in different files still pair.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const fixtures = path.join(import.meta.dirname, '../../fixtures/protocols');

/** A pair without where it came from (file names and packet numbers change when cut). */
function withoutSource(pair: Record<string, unknown>): string {
  const { source: _source, ...rest } = pair;
  return JSON.stringify(rest);
}

for (const [name, protocol] of [
  ['tls/handshakes.pcap', 'tls'],
  ['icmp/echo.pcap', 'icmp'],
] as const) {
  test(`cutting ${name} into rotated files keeps every ${protocol} pair`, () => {
    const original = path.join(fixtures, name);
    const whole = replayPairs([original]).json.map(withoutSource).sort();
    assert.ok(whole.filter((line) => line.includes(`"protocol":"${protocol}"`)).length >= 6);
    const records = readAllRecords(original);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-rotation-'));
    try {
      for (const stride of [1, 7]) {
        const files: string[] = [];
        for (let start = 0, index = 0; start < records.length; start += stride, index++) {
          const file = path.join(dir, `cap-${stride}-${String(index).padStart(5, '0')}.pcap`);
          writePcap(file, records.slice(start, start + stride));
          files.push(file);
        }
        assert.deepEqual(replayPairs(files).json.map(withoutSource).sort(), whole, `stride ${stride}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
