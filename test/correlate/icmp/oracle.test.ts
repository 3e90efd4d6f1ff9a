/**
 * ICMP and ICMPv6 echo of real ping (test/fixtures/protocols/icmp/echo.pcap, made by
 * test/tools/make-tls-icmp-captures.sh) against tshark's view (echo.tshark.tsv): every reply
 * tshark links to its request (icmp.resp_to / icmpv6.resp_to) is a matched pair with the same
 * frames and tshark's response time to the nanosecond; every request tshark finds no reply
 * for is reported unanswered.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { diffNanos, Outcome } from '../../../agent/correlate/pair.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const dir = path.join(import.meta.dirname, '../../fixtures/protocols/icmp');
const capture = path.join(dir, 'echo.pcap');

/** tshark's resptime is in milliseconds with up to 6 decimals: exact integer nanoseconds. */
function millisTextToNanos(text: string): number {
  const [whole = '0', fraction = ''] = text.split('.');
  return Number(whole) * 1e6 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

interface EchoLine {
  frame: number;
  request: boolean;
  id: number;
  seq: number;
  respTo: number;
  respTimeNanos: number;
}

function oracle(): EchoLine[] {
  return fs
    .readFileSync(path.join(dir, 'echo.tshark.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((row) => {
      const f = row.split('\t');
      const type = Number(f[2] || f[3]);
      return {
        frame: Number(f[0]),
        request: type === 8 || type === 128,
        id: Number(f[4] || f[5]),
        seq: Number(f[6] || f[7]),
        respTo: Number(f[8] || f[9] || 0),
        respTimeNanos: millisTextToNanos(f[10] || f[11] || '0'),
      };
    });
}

test('icmp: pairs equal tshark, to the nanosecond; unanswered pings reported', () => {
  const { pairs, json } = replayPairs([capture]);
  const lines = oracle();
  const replies = lines.filter((l) => !l.request);
  const answered = new Set(replies.map((l) => l.respTo));
  const unansweredRequests = lines.filter((l) => l.request && !answered.has(l.frame));
  assert.ok(replies.length >= 6 && unansweredRequests.length >= 4, 'the fixture has both kinds');

  const matched = pairs.filter((p) => p.protocol === 'icmp' && p.outcome === Outcome.Matched);
  assert.equal(matched.length, replies.length);
  for (const reply of replies) {
    const pair = matched.find((p) => p.response!.packet === reply.frame);
    assert.ok(pair, `reply frame ${reply.frame} pairs`);
    assert.equal(pair.request.packet, reply.respTo);
    const r = pair.response!;
    assert.equal(
      diffNanos(pair.request.firstSeconds, pair.request.firstNanos, r.lastSeconds, r.lastNanos),
      reply.respTimeNanos,
    );
    assert.deepEqual(pair.detail, { id: reply.id, seq: reply.seq });
  }
  const unanswered = pairs.filter((p) => p.protocol === 'icmp' && p.outcome === Outcome.Unanswered);
  assert.deepEqual(
    unanswered.map((p) => p.request.packet).sort((a, b) => a - b),
    unansweredRequests.map((l) => l.frame),
  );
  const transports = new Set(json.map((line) => line.transport));
  assert.deepEqual([...transports].sort(), ['icmp', 'ipv6-icmp']);
  for (const line of json) {
    assert.equal((line.client as { port: number }).port, 0);
  }
});
