/**
 * ICMP echo pairing rules and floods, through the real reader, decoder and correlator on
 * hand-built captures (Ethernet, IPv4 and IPv6): pairing by (addresses, id, seq), replies that
 * answer nothing, a replaced request, expiry, and floods that stay within the pending cap.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Outcome, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { skipReason } from '../../../agent/shared/skips.ts';
import { type OwnedRecord, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const kStart = 1_700_000_000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-icmp-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Echo {
  /** Nanoseconds after kStart. */
  at: number;
  src: string;
  dst: string;
  reply?: boolean;
  id: number;
  seq: number;
}

function address(text: string): number[] {
  if (!text.includes(':')) return text.split('.').map(Number);
  const [head = '', tail = ''] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) =>
    Number.parseInt(g, 16),
  );
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** One Ethernet frame with an IPv4 ICMP or IPv6 ICMPv6 echo carrying 16 data bytes. */
function echoRecord(e: Echo): OwnedRecord {
  const v6 = e.src.includes(':');
  const type = v6 ? (e.reply ? 129 : 128) : e.reply ? 0 : 8;
  const icmp = Buffer.alloc(24);
  icmp[0] = type;
  icmp.writeUInt16BE(e.id, 4);
  icmp.writeUInt16BE(e.seq, 6);
  const ip = v6 ? Buffer.alloc(40) : Buffer.alloc(20);
  if (v6) {
    ip[0] = 0x60;
    ip.writeUInt16BE(icmp.length, 4);
    ip[6] = 58;
    ip[7] = 64;
    Buffer.from(address(e.src)).copy(ip, 8);
    Buffer.from(address(e.dst)).copy(ip, 24);
  } else {
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + icmp.length, 2);
    ip[8] = 64;
    ip[9] = 1;
    Buffer.from(address(e.src)).copy(ip, 12);
    Buffer.from(address(e.dst)).copy(ip, 16);
  }
  const ethernet = Buffer.alloc(14);
  ethernet.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  const bytes = Buffer.concat([ethernet, ip, icmp]);
  return {
    seconds: kStart + Math.floor(e.at / 1e9),
    nanos: e.at % 1e9,
    originalLength: bytes.length,
    linkType: 1,
    bytes,
  };
}

let files = 0;
function replay(echoes: Echo[], configure?: Parameters<typeof replayPairs>[1]) {
  const file = path.join(dir, `echo-${files++}.pcap`);
  writePcap(file, echoes.map(echoRecord));
  const replayed = replayPairs([file], configure);
  return { ...replayed, icmp: replayed.pairs.filter((p) => p.protocol === 'icmp') };
}

test('a reply pairs only with the request of the same addresses, id and seq', () => {
  const { icmp, correlator } = replay([
    { at: 0, src: '10.0.0.1', dst: '10.0.0.2', id: 1, seq: 1 },
    { at: 10, src: '10.0.0.2', dst: '10.0.0.1', reply: true, id: 1, seq: 2 }, // other seq
    { at: 20, src: '10.0.0.2', dst: '10.0.0.1', reply: true, id: 2, seq: 1 }, // other id
    { at: 30, src: '10.0.0.3', dst: '10.0.0.1', reply: true, id: 1, seq: 1 }, // other server
    { at: 40, src: '10.0.0.2', dst: '10.0.0.1', reply: true, id: 1, seq: 1 },
    { at: 50, src: '10.0.0.2', dst: '10.0.0.1', reply: true, id: 1, seq: 1 }, // duplicate
    { at: 60, src: '2001:db8::1', dst: '2001:db8::2', id: 1, seq: 1 },
    { at: 75, src: '2001:db8::2', dst: '2001:db8::1', reply: true, id: 1, seq: 1 },
  ]);
  assert.equal(icmp.length, 2);
  const [v4, v6] = icmp;
  assert.equal(v4!.outcome, Outcome.Matched);
  assert.equal(v4!.response!.lastNanos - v4!.request.firstNanos, 40);
  assert.equal(v4!.response!.packet, 5);
  assert.equal(v6!.transport, 58);
  assert.equal(v6!.response!.lastNanos - v6!.request.firstNanos, 15);
  assert.equal(correlator.skips.get(skipReason('icmp.reply_without_request')), 4);
});

test('a request repeated while pending replaces it (evicted, counted); the timeout expires the rest', () => {
  const { icmp, correlator } = replay([
    { at: 0, src: '10.0.0.1', dst: '10.0.0.2', id: 9, seq: 1 },
    { at: 1e6, src: '10.0.0.1', dst: '10.0.0.2', id: 9, seq: 1 },
    { at: 2e6, src: '10.0.0.2', dst: '10.0.0.1', reply: true, id: 9, seq: 1 },
    { at: 3e6, src: '10.0.0.1', dst: '10.0.0.2', id: 9, seq: 2 },
    { at: 40e9, src: '10.0.0.1', dst: '10.0.0.2', id: 9, seq: 3 },
  ]);
  assert.deepEqual(
    icmp.map((p) => [
      p.outcome,
      p.outcome === Outcome.Unanswered ? p.unansweredReason : -1,
      p.request.packet,
    ]),
    [
      [Outcome.Unanswered, UnansweredReason.Evicted, 1],
      [Outcome.Matched, -1, 2],
      [Outcome.Unanswered, UnansweredReason.Expired, 4],
      [Outcome.Unanswered, UnansweredReason.EndOfInput, 5],
    ],
  );
  assert.equal(correlator.skips.get(skipReason('icmp.request_replaced')), 1);
});

test('an unanswered ICMP flood stays within the pending cap: every request reported, evictions counted', () => {
  const count = 20_000;
  const cap = 500;
  const echoes: Echo[] = [];
  for (let i = 0; i < count; i++)
    echoes.push({ at: i * 1000, src: '10.1.0.1', dst: '10.0.0.2', id: i >> 16, seq: i & 0xffff });
  const file = path.join(dir, 'flood.pcap');
  writePcap(file, echoes.map(echoRecord));
  const { pairs, correlator } = replayPairs([file], (o) => {
    (o.maxPending as Record<string, number>).icmp = cap;
    o.maxPending.udp = cap;
  });
  assert.equal(pairs.length, count, 'every request is reported');
  assert.ok(pairs.every((p) => p.outcome === Outcome.Unanswered));
  assert.equal(correlator.skips.get(skipReason('icmp.pending_evicted')), count - cap);
  // Only the newest `cap` were still pending at the end: the table never held more.
  assert.equal(pairs.filter((p) => p.unansweredReason === UnansweredReason.EndOfInput).length, cap);
});

test('a flood of replies that answer nothing is counted and holds nothing', () => {
  const echoes: Echo[] = [];
  for (let i = 0; i < 20_000; i++)
    echoes.push({ at: i, src: '10.0.0.2', dst: '10.1.0.1', reply: true, id: 1, seq: i });
  const { icmp, correlator } = replay(echoes);
  assert.equal(icmp.length, 0);
  assert.equal(correlator.skips.get(skipReason('icmp.reply_without_request')), 20_000);
  assert.equal(correlator.pending().icmp, 0);
});
