import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ByteBuffer } from '../../agent/output/byte-buffer.ts';
import { PairJsonWriter, pairToObject } from '../../agent/output/pair-json.ts';

const decoder = new TextDecoder();

import { corpusCaptures, corpusDir } from '../helpers/corpus.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

test('the fast JSONL writer equals JSON.stringify of the schema object for every corpus pair', () => {
  let compared = 0;
  for (const folder of ['dns', 'http', 'linktypes', 'tcp', 'formats']) {
    const files = corpusCaptures(folder);
    const { pairs } = replayPairs(files, (options) => {
      options.relay.enabled = true;
      options.relay.internalNetworks = ['10.0.0.0/8', 'fd00::/8'];
    });
    const writer = new PairJsonWriter(files);
    const out = new ByteBuffer(16);
    for (const pair of pairs) {
      out.clear();
      writer.write(out, pair);
      assert.equal(decoder.decode(out.view()), `${JSON.stringify(pairToObject(pair, files))}\n`);
      compared++;
    }
  }
  assert.ok(compared > 400, `${compared} pairs compared`);
});

test('a file name that needs escaping stays valid JSON', () => {
  const capture = path.join(corpusDir, 'dns/tcpdump--dns_udp.pcap');
  const { pairs } = replayPairs([capture]);
  const writer = new PairJsonWriter(['dir "quoted"\\cap\n1.pcap']);
  const out = new ByteBuffer();
  writer.write(out, pairs[0]!);
  const parsed = JSON.parse(decoder.decode(out.view())) as { source: { request: { file: string } } };
  assert.equal(parsed.source.request.file, 'dir "quoted"\\cap\n1.pcap');
});
