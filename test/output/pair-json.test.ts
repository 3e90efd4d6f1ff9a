import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ByteBuffer } from '../../agent/output/byte-buffer.ts';
import { exactNanosBetween, PairJsonWriter, pairToObject } from '../../agent/output/pair-json.ts';

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
      const fast = decoder.decode(out.view());
      const reference = `${JSON.stringify(pairToObject(pair, files))}\n`;
      const response = pair.response;
      if (response === null || Number.isSafeInteger(pairToObject(pair, files).duration_ns)) {
        assert.equal(fast, reference);
      } else {
        // Beyond 2^53 ns the object's number is rounded; the fast writer prints the exact digits.
        const duration = /"duration_ns":(\d+)/;
        assert.equal(fast.replace(duration, ''), reference.replace(duration, ''));
        const exact =
          BigInt(response.lastSeconds - pair.request.firstSeconds) * 1_000_000_000n +
          BigInt(response.lastNanos - pair.request.firstNanos);
        assert.equal(fast.match(duration)?.[1], String(exact));
      }
      compared++;
    }
  }
  assert.ok(compared > 400, `${compared} pairs compared`);
});

test('timestamps alternating between seconds, days and years equal formatTimestamp', () => {
  const capture = path.join(corpusDir, 'dns/tcpdump--dns_udp.pcap');
  const { pairs } = replayPairs([capture]);
  const pair = pairs.find((p) => p.response !== null)!;
  const writer = new PairJsonWriter([capture]);
  const out = new ByteBuffer(16);
  const day = 86_400;
  // A second apart, across midnight, back and forth, a leap day, years beyond 9999 and before 1970.
  const starts = [
    1_700_000_000,
    1_700_000_001,
    1_700_000_000,
    19_999 * day - 1,
    19_999 * day,
    19_999 * day - 1,
  ];
  starts.push(11_016 * day + 43_210, 253_402_300_799, 253_402_300_800, -1, 0, 1_700_000_000);
  for (const seconds of starts) {
    for (const [request, response] of [
      [seconds, seconds + 1],
      [seconds + 1, seconds],
    ] as const) {
      pair.request.firstSeconds = pair.request.lastSeconds = request;
      pair.response!.firstSeconds = pair.response!.lastSeconds = response;
      out.clear();
      writer.write(out, pair);
      assert.equal(decoder.decode(out.view()), `${JSON.stringify(pairToObject(pair, [capture]))}\n`);
    }
  }
});

test('durations print exactly, also beyond 2^53 ns and with a nanosecond borrow', () => {
  const cases: [number, number, number, number, string][] = [
    [10, 900, 12, 100, '1999999200'],
    [10, 100, 10, 100, '0'],
    [10, 200, 10, 100, '-100'],
    [12, 100, 10, 900, '-1999999200'],
    [0, 999_999_999, 9_007_200, 1, '9007199000000002'],
    [1_422_527_998, 578_402_281, 2_894_531_997, 938_836_488, '1472003999360434207'],
    [2_894_531_997, 938_836_488, 1_422_527_998, 578_402_281, '-1472003999360434207'],
  ];
  const out = new ByteBuffer(4);
  for (const [s1, n1, s2, n2, expected] of cases) {
    out.clear();
    out.nanosBetween(s1, n1, s2, n2);
    assert.equal(decoder.decode(out.view()), expected, `${s1}.${n1} -> ${s2}.${n2}`);
    assert.equal(exactNanosBetween(s1, n1, s2, n2), expected);
  }
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
