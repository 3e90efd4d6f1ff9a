/**
 * Rotation: a capture cut into consecutive files at many points (including between a request
 * and its response) yields exactly the pairs of the uncut capture, because correlation state
 * persists across files in one replay.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { corpusDir } from '../helpers/corpus.ts';
import { readAllRecords, writePcap } from '../helpers/pcap-writer.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

/** A pair without where it came from (file names and packet numbers change when cut). */
function withoutSource(pair: Record<string, unknown>): string {
  const { source: _source, ...rest } = pair;
  return JSON.stringify(rest);
}

const captures = [
  'http/pcapplusplus--http-packets2.pcap',
  'dns/pcapplusplus--DnsPackets.pcap',
  'linktypes/pcapplusplus--sll.pcap',
  'dns/tcpdump--dns_tcp.pcap',
];

for (const name of captures) {
  test(`cutting ${path.basename(name)} into rotated files keeps every pair`, () => {
    const original = path.join(corpusDir, name);
    const whole = replayPairs([original]).json.map(withoutSource).sort();
    assert.ok(whole.length > 0, 'the capture has pairs');
    const records = readAllRecords(original);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-rotation-'));
    // Cut after every packet (worst case) and at a prime stride.
    for (const stride of [1, 7]) {
      const files: string[] = [];
      for (let start = 0, index = 0; start < records.length; start += stride, index++) {
        const file = path.join(dir, `cap-${stride}-${String(index).padStart(5, '0')}.pcap`);
        writePcap(file, records.slice(start, start + stride));
        files.push(file);
      }
      const cut = replayPairs(files).json.map(withoutSource).sort();
      assert.deepEqual(cut, whole, `stride ${stride}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
}
