/**
 * Hostile input: random bytes and mutated real packets for every link type (fast-check), the
 * corpus's malformed captures, and reuse of one DecodedPacket across packets.
 *
 * "Never reads outside the record" is checked by decoding the same record between 0x00 and
 * 0xff filler bytes: any read of the filler would make the two results differ.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodePacket } from '../../agent/decode/decoder.ts';
import { DecodedPacket, EtherType, LinkType } from '../../agent/decode/packet.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { decode } from './harness.ts';
import {
  concat,
  ethernet,
  ethernetTagged,
  ipv4,
  ipv6,
  ipv6Fragment,
  ipv6Options,
  nullHeader,
  sll,
  sll2,
  tcp,
  udp,
} from './packets.ts';
import { classicPcapFiles, pcapRecords } from './pcap-records.ts';

const corpus = corpusDir;
const kLinkTypes = Object.values(LinkType);

/** Decodes `record` placed between `before` and `after` filler bytes of value `filler`. */
function decodeEmbedded(record: Uint8Array, linkType: number, before: number, after: number, filler: number) {
  const buffer = new Uint8Array(before + record.length + after).fill(filler);
  buffer.set(record, before);
  return decode(buffer, linkType, before, record.length).out;
}

/** Decoding must not depend on the bytes around the record, nor on the previous packet. */
function checkRecord(record: Uint8Array, linkType: number, before: number, after: number): void {
  const zeros = decodeEmbedded(record, linkType, before, after, 0x00);
  const ones = decodeEmbedded(record, linkType, before, after, 0xff);
  assert.deepEqual(ones, zeros);
  const dirty = new DecodedPacket();
  decodePacket(kDirtySeed, 0, kDirtySeed.length, LinkType.Ethernet, dirty, new SkipCounters());
  const buffer = new Uint8Array(before + record.length + after);
  buffer.set(record, before);
  assert.deepEqual(decode(buffer, linkType, before, record.length, dirty).out, zeros);
}

/** A fully decoded VLAN-tagged IPv6 fragment chain: sets nearly every field. */
const kDirtySeed = ethernetTagged(
  [[EtherType.Vlan, 77]],
  EtherType.Ipv6,
  ipv6({
    next: 0,
    payload: concat(
      ipv6Options(44),
      ipv6Fragment(6, 0, false),
      tcp({ flags: 0xff, ack: 9, payload: [1, 2] }),
    ),
  }),
);

/** Valid packets for every supported link type, plus one per corpus link type and file. */
function seeds(): [Uint8Array, number][] {
  const v4 = ipv4({
    protocol: 6,
    options: [1, 1, 1, 0],
    payload: tcp({ options: [1, 1, 1, 0], payload: [1, 2, 3] }),
  });
  const v6 = ipv6({
    next: 0,
    payload: concat(ipv6Options(44), ipv6Fragment(17, 0, false), udp({ payload: [4] })),
  });
  const list: [Uint8Array, number][] = [
    [ethernet(EtherType.Ipv4, v4), LinkType.Ethernet],
    [
      ethernetTagged(
        [
          [EtherType.QinQ, 1],
          [EtherType.Vlan, 2],
        ],
        EtherType.Ipv6,
        v6,
      ),
      LinkType.Ethernet,
    ],
    [sll(EtherType.Ipv4, v4), LinkType.LinuxSll],
    [sll2(EtherType.Ipv6, v6), LinkType.LinuxSll2],
    [nullHeader(2, v4, true), LinkType.Null],
    [nullHeader(30, v6, false), LinkType.Loop],
    [v4, LinkType.Raw],
    [v6, LinkType.RawDlt12],
    [v4, LinkType.Ipv4],
    [v6, LinkType.Ipv6],
  ];
  for (const relative of classicPcapFiles(corpus, ['linktypes', 'tcp', 'dns', 'malformed'])) {
    let taken = 0;
    for (const record of pcapRecords(readFileSync(path.join(corpus, relative)))) {
      if (taken++ === 3) break;
      list.push([record.data.slice(record.offset, record.offset + record.capturedLength), record.linkType]);
    }
  }
  return list;
}

test('random bytes, every link type: no throw, no read outside the record', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 160 }),
      fc.oneof(fc.constantFrom(...kLinkTypes), fc.integer({ min: 0, max: 0xffffffff })),
      fc.nat(16),
      fc.nat(16),
      (record, linkType, before, after) => checkRecord(record, linkType, before, after),
    ),
    { numRuns: 5000 },
  );
});

test('mutated real packets: no throw, no read outside the record', () => {
  const all = seeds();
  assert.ok(all.length > 30);
  fc.assert(
    fc.property(
      fc.nat(all.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(),
      fc.boolean(),
      fc.nat(8),
      (index, mutations, cut, truncate, before) => {
        const [seed, linkType] = all[index]!;
        let record = seed.slice();
        // Mutations favour the first 80 bytes, where the headers are.
        for (const [at, value] of mutations)
          if (record.length > 0) record[at % Math.min(record.length, 80)] = value;
        if (truncate) record = record.subarray(0, cut % (record.length + 1));
        checkRecord(record, linkType, before, 3);
      },
    ),
    { numRuns: 5000 },
  );
});

test('every malformed corpus capture decodes without throwing', () => {
  const skips = new SkipCounters();
  const out = new DecodedPacket();
  let packets = 0;
  for (const relative of classicPcapFiles(corpus, ['malformed'])) {
    for (const record of pcapRecords(readFileSync(path.join(corpus, relative)))) {
      decode(record.data, record.linkType, record.offset, record.capturedLength, out);
      decodePacket(record.data, record.offset, record.capturedLength, record.linkType, out, skips);
      packets++;
    }
  }
  console.log(`malformed: ${packets} packets`, skips.toObject());
  assert.ok(packets > 20);
});

test('reset() restores every field of a used DecodedPacket', () => {
  const used = new DecodedPacket();
  decodePacket(kDirtySeed, 0, kDirtySeed.length, LinkType.Ethernet, used, new SkipCounters());
  assert.notDeepEqual({ ...used }, { ...new DecodedPacket() });
  used.reset();
  assert.deepEqual({ ...used }, { ...new DecodedPacket() });
});

test('bad record bounds from the caller are a counted stop, not a throw', () => {
  const bytes = ethernet(EtherType.Ipv4, ipv4({ protocol: 17, payload: udp() }));
  assert.equal(decode(bytes, LinkType.Ethernet, -1, 10).reason, 'link.bad_record_bounds');
  assert.equal(decode(bytes, LinkType.Ethernet, 0, Number.NaN).reason, 'link.bad_record_bounds');
  // A length past the buffer is clamped to it.
  const out = new DecodedPacket();
  assert.ok(decodePacket(bytes, 0, bytes.length + 100, LinkType.Ethernet, out, new SkipCounters()));
  assert.equal(out.payloadLength, 0);
});
