/**
 * rawFlowShard() (the worker pipeline's shard from raw bytes) against the decoder: for every
 * record of the corpus captures, for mutated copies of them and for random bytes, it is either
 * kUnclassified or the decoded packet's flowShard(), and then the decoder reached TCP/UDP.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCapture } from '../../agent/capture/open.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { flowShard } from '../../agent/correlate/shard.ts';
import { decodePacket } from '../../agent/decode/decoder.ts';
import { kUnclassified, rawFlowShard } from '../../agent/decode/flow-hash.ts';
import { DecodedPacket, EtherType, IpProtocol, LinkType } from '../../agent/decode/packet.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { corpusCaptures, corpusFolders } from '../helpers/corpus.ts';
import {
  concat,
  ethernet,
  ethernetTagged,
  ipv4,
  ipv6,
  ipv6Ah,
  ipv6Fragment,
  ipv6Options,
  nullHeader,
  sll,
  sll2,
  tcp,
  udp,
} from './packets.ts';

const kShardCounts = [2, 3, 4, 7];

interface Tally {
  classified: number;
  unclassified: number;
  /** Records the decoder took to TCP/UDP that the hash left unclassified. */
  completeUnclassified: number;
}

const packet = new DecodedPacket();
const skips = new SkipCounters();

/** Checks the contract on one record; returns whether it was classified. */
function check(
  data: Uint8Array,
  offset: number,
  length: number,
  linkType: number,
  what: string,
  tally: Tally,
) {
  const complete = decodePacket(data, offset, length, linkType, packet, skips);
  for (const shards of kShardCounts) {
    const raw = rawFlowShard(data, offset, length, linkType, shards);
    if (raw === kUnclassified) {
      tally.unclassified++;
      if (complete) tally.completeUnclassified++;
      continue;
    }
    tally.classified++;
    assert.ok(
      complete,
      `${what}: classified (shard ${raw}) but the decoder stopped (layer ${packet.stopLayer})`,
    );
    assert.equal(raw, flowShard(packet, shards), `${what}: ${shards} shards`);
  }
}

/** Every record of a capture file: data copied out of the reader's window (it is reused). */
function records(file: string): { data: Uint8Array; linkType: number }[] {
  const opened = openCapture(file, new SkipCounters());
  if ('error' in opened) return [];
  const out: { data: Uint8Array; linkType: number }[] = [];
  try {
    while (opened.reader.next() === ReadResult.Record) {
      const r = opened.reader.record;
      out.push({ data: r.data.slice(r.offset, r.offset + r.capturedLength), linkType: r.linkType });
    }
  } finally {
    opened.source.close();
  }
  return out;
}

/** xorshift32: reproducible pseudo-random bytes (a failure names the seed). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const corpus = corpusFolders
  .flatMap((folder) => corpusCaptures(folder))
  .flatMap((file) =>
    records(file).map((r, i) => ({ ...r, what: `${file.split('/').slice(-2).join('/')} #${i + 1}` })),
  );

test('corpus: every record is unclassified or gets the decoded packet’s flow shard', () => {
  const tally: Tally = { classified: 0, unclassified: 0, completeUnclassified: 0 };
  for (const r of corpus) check(r.data, 0, r.data.length, r.linkType, r.what, tally);
  assert.ok(corpus.length > 1000, `corpus records: ${corpus.length}`);
  // Coverage: nearly every TCP/UDP record is classified (only LLC/SNAP and odd NULL spellings are not).
  const complete = tally.classified + tally.completeUnclassified;
  assert.ok(tally.completeUnclassified <= complete * 0.02, JSON.stringify(tally));
});

test('mutated corpus records and truncations: never a wrong shard, never a record the decoder stops at', () => {
  const tally: Tally = { classified: 0, unclassified: 0, completeUnclassified: 0 };
  const next = random(12);
  for (let i = 0; i < corpus.length; i++) {
    const r = corpus[i]!;
    for (let round = 0; round < 6; round++) {
      const data = r.data.slice();
      const flips = 1 + (next() % 4);
      // Mutations concentrated on the headers (the first 80 bytes), where the checks are.
      for (let f = 0; f < flips && data.length > 0; f++) {
        data[next() % Math.min(data.length, 80)] = next() & 0xff;
      }
      const length = round === 5 ? next() % (data.length + 1) : data.length;
      check(data, 0, length, r.linkType, `${r.what} mutation ${round}`, tally);
    }
  }
  assert.ok(tally.classified > 0 && tally.unclassified > 0, JSON.stringify(tally));
});

test('random bytes under every supported link type', () => {
  const tally: Tally = { classified: 0, unclassified: 0, completeUnclassified: 0 };
  const next = random(7);
  const linkTypes = Object.values(LinkType);
  for (let i = 0; i < 30_000; i++) {
    const data = new Uint8Array(next() % 120);
    for (let j = 0; j < data.length; j++) data[j] = next() & 0xff;
    // Plausible starts so some records get past the link and IP checks.
    const linkType = linkTypes[i % linkTypes.length]!;
    if (data.length > 20 && (linkType === LinkType.Raw || linkType === LinkType.Ipv4)) data[0] = 0x45;
    if (data.length > 20 && linkType === LinkType.Ethernet) {
      data[12] = 0x08;
      data[13] = 0;
      data[14] = 0x45;
      data[20] = 0;
      data[21] = 0;
      data[23] = i % 2 === 0 ? IpProtocol.Tcp : IpProtocol.Udp;
    }
    check(data, 0, data.length, linkType, `random #${i} linktype ${linkType}`, tally);
    // Bounds outside the buffer and offsets into it.
    check(data, 3, data.length + 10, linkType, `random #${i} overlong`, tally);
    check(data, -1, 10, linkType, `random #${i} negative offset`, tally);
  }
  assert.ok(tally.classified > 0, JSON.stringify(tally));
});

const client = { src: '10.0.0.1', dst: '10.0.0.2' };
const v6 = { src: 'fd00::1', dst: 'fd00::2' };

test('constructed encapsulations: classified, same shard both ways, same as decoded', () => {
  const tally: Tally = { classified: 0, unclassified: 0, completeUnclassified: 0 };
  const cases: [string, Uint8Array, number][] = [];
  for (const [name, l4, proto] of [
    ['tcp', tcp({ srcPort: 40000, dstPort: 80 }), IpProtocol.Tcp],
    ['udp', udp({ srcPort: 40000, dstPort: 53 }), IpProtocol.Udp],
  ] as const) {
    const v4 = ipv4({ ...client, protocol: proto, payload: l4 });
    const six = ipv6({ ...v6, next: proto, payload: l4 });
    cases.push([`eth ipv4 ${name}`, ethernet(EtherType.Ipv4, v4), LinkType.Ethernet]);
    cases.push([`eth ipv6 ${name}`, ethernet(EtherType.Ipv6, six), LinkType.Ethernet]);
    cases.push([
      `vlan ipv4 ${name}`,
      ethernetTagged([[EtherType.Vlan, 7]], EtherType.Ipv4, v4),
      LinkType.Ethernet,
    ]);
    cases.push([
      `qinq ipv6 ${name}`,
      ethernetTagged(
        [
          [EtherType.QinQ, 100],
          [EtherType.Vlan, 7],
        ],
        EtherType.Ipv6,
        six,
      ),
      LinkType.Ethernet,
    ]);
    cases.push([
      `pppoe ipv4 ${name}`,
      ethernet(EtherType.PppoeSession, concat([0x11, 0, 0, 1], [0, 0], [0, 0x21], v4)),
      LinkType.Ethernet,
    ]);
    cases.push([`sll ipv4 ${name}`, sll(EtherType.Ipv4, v4), LinkType.LinuxSll]);
    cases.push([`sll2 ipv6 ${name}`, sll2(EtherType.Ipv6, six), LinkType.LinuxSll2]);
    cases.push([`null le ipv4 ${name}`, nullHeader(2, v4, true), LinkType.Null]);
    cases.push([`null be ipv6 ${name}`, nullHeader(30, six, false), LinkType.Null]);
    cases.push([`loop ipv4 ${name}`, nullHeader(2, v4, false), LinkType.Loop]);
    cases.push([`raw ipv6 ${name}`, six, LinkType.Raw]);
    cases.push([`ipv4 ${name}`, v4, LinkType.Ipv4]);
    cases.push([`ipv6 ${name}`, six, LinkType.Ipv6]);
    cases.push([
      `ipv6 ext headers ${name}`,
      ipv6({
        ...v6,
        next: 0,
        payload: concat(
          ipv6Options(43),
          ipv6Options(60, 1),
          ipv6Options(51),
          ipv6Ah(44),
          ipv6Fragment(proto, 0, false),
          l4,
        ),
      }),
      LinkType.Ipv6,
    ]);
  }
  for (const [what, bytes, linkType] of cases) {
    const before = tally.classified;
    check(bytes, 0, bytes.length, linkType, what, tally);
    assert.equal(tally.classified, before + kShardCounts.length, `${what} is classified`);
  }
  // Fragments (IPv4 and non-atomic IPv6) are left to the decoder.
  const fragment4 = ipv4({ ...client, protocol: IpProtocol.Udp, payload: udp({}), flagsFragment: 0x2000 });
  const fragment6 = ipv6({
    ...v6,
    next: 44,
    payload: concat(ipv6Fragment(IpProtocol.Udp, 0, true), udp({})),
  });
  assert.equal(rawFlowShard(fragment4, 0, fragment4.length, LinkType.Ipv4, 4), kUnclassified);
  assert.equal(rawFlowShard(fragment6, 0, fragment6.length, LinkType.Ipv6, 4), kUnclassified);
  // Direction-independent.
  const there = ipv4({ ...client, protocol: IpProtocol.Tcp, payload: tcp({ srcPort: 40000, dstPort: 80 }) });
  const back = ipv4({
    src: client.dst,
    dst: client.src,
    protocol: IpProtocol.Tcp,
    payload: tcp({ srcPort: 80, dstPort: 40000 }),
  });
  for (const shards of kShardCounts) {
    assert.equal(
      rawFlowShard(there, 0, there.length, LinkType.Ipv4, shards),
      rawFlowShard(back, 0, back.length, LinkType.Ipv4, shards),
    );
  }
});

test('flow shards are balanced: 20,000 random IPv4 and IPv6 flows over 2, 3, 4 and 7 shards', () => {
  const next = random(99);
  for (const shards of [2, 3, 4, 7]) {
    const counts = new Array<number>(shards).fill(0);
    const flows = 20_000;
    for (let i = 0; i < flows; i++) {
      const l4 = udp({ srcPort: 1024 + (next() % 60_000), dstPort: i % 3 === 0 ? 53 : 9000 });
      const bytes =
        i % 2 === 0
          ? ipv4({
              src: `10.${next() & 255}.${next() & 255}.${next() & 255}`,
              dst: '192.168.1.10',
              protocol: IpProtocol.Udp,
              payload: l4,
            })
          : ipv6({
              src: `fd00::${(next() & 0xffff).toString(16)}`,
              dst: 'fd00:1::2',
              next: IpProtocol.Udp,
              payload: l4,
            });
      const shard = rawFlowShard(bytes, 0, bytes.length, i % 2 === 0 ? LinkType.Ipv4 : LinkType.Ipv6, shards);
      assert.ok(shard >= 0);
      counts[shard]!++;
    }
    const expected = flows / shards;
    for (const count of counts)
      assert.ok(Math.abs(count - expected) < expected * 0.1, `${shards} shards: ${counts}`);
  }
});

test('the shard is the flow hash (unsigned) modulo the shard count, for every --workers count', () => {
  // Both functions take the modulo in two small-integer steps; this is the plain definition.
  const reference = (p: DecodedPacket, shards: number): number => {
    let h =
      p.src0 ^
      p.dst0 ^
      (p.src1 ^ p.dst1) ^
      (p.src2 ^ p.dst2) ^
      (p.src3 ^ p.dst3) ^
      (((p.srcPort ^ p.dstPort) << 8) | p.ipProtocol);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) % shards;
  };
  const next = random(7);
  for (let i = 0; i < 5_000; i++) {
    const l4 = tcp({ srcPort: next() & 0xffff, dstPort: next() & 0xffff });
    const bytes =
      i % 2 === 0
        ? ipv4({
            src: `${next() & 255}.${next() & 255}.${next() & 255}.${next() & 255}`,
            dst: `${next() & 255}.${next() & 255}.${next() & 255}.${next() & 255}`,
            protocol: IpProtocol.Tcp,
            payload: l4,
          })
        : ipv6({
            src: `${(next() & 0xffff).toString(16)}::${(next() & 0xffff).toString(16)}`,
            dst: `fd00:${(next() & 0xffff).toString(16)}::${(next() & 0xffff).toString(16)}`,
            next: IpProtocol.Tcp,
            payload: l4,
          });
    const linkType = i % 2 === 0 ? LinkType.Ipv4 : LinkType.Ipv6;
    assert.ok(decodePacket(bytes, 0, bytes.length, linkType, packet, skips));
    for (let shards = 1; shards <= 64; shards++) {
      const expected = reference(packet, shards);
      assert.equal(flowShard(packet, shards), expected, `flow ${i}, ${shards} shards`);
      assert.equal(
        rawFlowShard(bytes, 0, bytes.length, linkType, shards),
        expected,
        `flow ${i}, ${shards} shards`,
      );
    }
  }
});
