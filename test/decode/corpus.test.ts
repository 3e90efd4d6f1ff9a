/**
 * The decoder against tshark on the real captures in shared/corpus: every packet where tshark
 * shows exactly one IPv4/IPv6 layer and one TCP/UDP layer and no fragment must agree on
 * addresses, ports, flags, seq/ack and payload length. The tshark values are committed in
 * test/fixtures/decode/tshark-fields.tsv (test/decode/tools/make-tshark-fixtures.ts).
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { decodePacket } from '../../agent/decode/decoder.ts';
import { formatAddress } from '../../agent/decode/format.ts';
import { DecodedPacket, IpProtocol, Layer } from '../../agent/decode/packet.ts';
import { SkipCounters, skipReasonName } from '../../agent/shared/skips.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { pcapRecords } from './pcap-records.ts';

const corpus = corpusDir;
const fixture = path.resolve(import.meta.dirname, '../fixtures/decode/tshark-fields.tsv');

/** Link types tshark decodes and wirespan does not support, by design (ARCNET, PPP). */
const kUnsupportedLinkTypes = new Set([50, 129]);

type Row = Record<string, string>;

/** Fixture sections: relative path → tshark rows by frame number. */
function readFixture(): Map<string, Map<number, Row>> {
  const lines = readFileSync(fixture, 'utf8').trimEnd().split('\n');
  const header = /fields: (.*)$/.exec(lines[0] ?? '');
  assert.ok(header?.[1], 'fixture header names the fields');
  const fields = header[1].split(' ');
  const files = new Map<string, Map<number, Row>>();
  let rows = new Map<number, Row>();
  for (const line of lines.slice(1)) {
    if (line.startsWith('@ ')) {
      rows = new Map();
      files.set(line.slice(2), rows);
      continue;
    }
    const values = line.split('\t');
    const row: Row = {};
    fields.forEach((field, i) => {
      row[field] = values[i] ?? '';
    });
    rows.set(Number(row['frame.number']), row);
  }
  return files;
}

/** True when tshark saw one IP and one TCP/UDP layer in an unfragmented packet. */
function comparable(row: Row): boolean {
  const one = (field: string) => row[field] !== '' && !row[field]?.includes('|');
  const ip = one('ip.src') !== one('ipv6.src') && !(row['ip.src'] ?? '').includes('|');
  const transport = one('tcp.srcport') !== one('udp.srcport');
  const ipv4Fragment = row['ip.flags.mf'] === '1' || (row['ip.frag_offset'] ?? '0') > '0';
  const ipv6Fragment = (row['ipv6.fraghdr.offset'] || '0') !== '0' || row['ipv6.fraghdr.more'] === '1';
  return ip && transport && !ipv4Fragment && !ipv6Fragment;
}

/** Differences between the decoder's output and tshark's row, as "field: ours != tshark". */
function differences(out: DecodedPacket, row: Row): string[] {
  const diffs: string[] = [];
  const check = (name: string, ours: string | number, theirs: string | number) => {
    if (String(ours) !== String(theirs)) diffs.push(`${name}: ${ours} != ${theirs}`);
  };
  const v6 = row['ipv6.src'] !== '';
  check('src', formatAddress(out, 'src'), (v6 ? row['ipv6.src'] : row['ip.src']) ?? '');
  check('dst', formatAddress(out, 'dst'), (v6 ? row['ipv6.dst'] : row['ip.dst']) ?? '');
  if (row['tcp.srcport'] !== '') {
    check('protocol', out.ipProtocol, IpProtocol.Tcp);
    check('srcPort', out.srcPort, row['tcp.srcport'] ?? '');
    check('dstPort', out.dstPort, row['tcp.dstport'] ?? '');
    check('flags', out.tcpFlags, Number.parseInt(row['tcp.flags'] ?? '', 16) & 0xff);
    check('seq', out.tcpSeq, row['tcp.seq_raw'] ?? '');
    check('ack', out.tcpAck, row['tcp.ack_raw'] ?? '');
    check('payloadWireLength', out.payloadWireLength, row['tcp.len'] ?? '');
  } else {
    check('protocol', out.ipProtocol, IpProtocol.Udp);
    check('srcPort', out.srcPort, row['udp.srcport'] ?? '');
    check('dstPort', out.dstPort, row['udp.dstport'] ?? '');
    check('payloadWireLength', out.payloadWireLength, Number(row['udp.length']) - 8);
  }
  return diffs;
}

test('decoder agrees with tshark on every comparable corpus packet', () => {
  const out = new DecodedPacket();
  const skips = new SkipCounters();
  let totalCompared = 0;
  const failures: string[] = [];
  for (const [relative, rows] of readFixture()) {
    const bytes = readFileSync(path.join(corpus, relative));
    let packets = 0;
    let compared = 0;
    let onlyOurs = 0;
    let unsupported = 0;
    for (const record of pcapRecords(bytes)) {
      packets++;
      const decoded = decodePacket(
        record.data,
        record.offset,
        record.capturedLength,
        record.linkType,
        out,
        skips,
      );
      assert.equal(decoded, out.stopLayer === Layer.Complete);
      assert.ok(out.payloadLength <= out.payloadWireLength, `${relative}#${record.packetNumber} payload`);
      const row = rows.get(record.packetNumber);
      assert.ok(row, `${relative}#${record.packetNumber} has a tshark row`);
      if (kUnsupportedLinkTypes.has(record.linkType)) {
        unsupported++;
        continue;
      }
      if (!comparable(row)) {
        if (decoded) onlyOurs++;
        continue;
      }
      compared++;
      if (!decoded) {
        failures.push(`${relative}#${record.packetNumber}: not decoded (${skipReasonName(out.stopReason)})`);
        continue;
      }
      for (const diff of differences(out, row)) failures.push(`${relative}#${record.packetNumber} ${diff}`);
    }
    assert.equal(packets, rows.size, `${relative}: packet count`);
    totalCompared += compared;
    const notes = [
      onlyOurs && `${onlyOurs} decoded only by us`,
      unsupported && `${unsupported} unsupported link type`,
    ];
    console.log(
      `${relative}: ${compared}/${packets} compared${notes
        .filter(Boolean)
        .map((n) => `, ${n}`)
        .join('')}`,
    );
  }
  console.log(
    `total: ${totalCompared} packets compared, ${failures.length} differences; stops:`,
    skips.toObject(),
  );
  assert.deepEqual(failures, []);
  assert.ok(totalCompared > 3000, 'the corpus was found and compared');
});
