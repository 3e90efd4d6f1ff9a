import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { kUnclassified, rawFlowShard } from '../../agent/decode/flow-hash.ts';
import { type OwnedRecord, pcapBytes, readAllRecords } from '../helpers/pcap-writer.ts';
import { splitByShard } from './shard-split.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');

/** demo.pcap's records and, every 7th place, an ARP frame (no IP: the hash cannot place it). */
function mixedRecords(): OwnedRecord[] {
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  const records: OwnedRecord[] = [];
  for (const [i, record] of readAllRecords(demo).entries()) {
    records.push(record);
    if (i % 7 === 0) records.push({ ...record, bytes: new Uint8Array(arp), originalLength: arp.length });
  }
  return records;
}

test("every record goes to its flow shard's file, in order, with its times; unplaceable ones to every file", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-shard-split-'));
  try {
    const records = mixedRecords();
    const pcap = path.join(dir, 'mixed.pcap');
    // A record cut short at the end (a capture still being written) is left out.
    fs.writeFileSync(pcap, Buffer.concat([pcapBytes(records), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]));
    const files = splitByShard(pcap, 2);
    assert.equal(files.length, 2);
    const shardOf = (r: OwnedRecord) => rawFlowShard(r.bytes, 0, r.bytes.length, r.linkType, 2);
    const placed = records.map(shardOf);
    assert.ok(
      placed.includes(0) && placed.includes(1) && placed.includes(kUnclassified),
      'both shards and unplaceable records',
    );
    for (const [shard, file] of files.entries()) {
      const expected = records.filter((_, i) => placed[i] === shard || placed[i] === kUnclassified);
      const got = readAllRecords(file);
      assert.equal(got.length, expected.length, `shard ${shard}: records`);
      for (const [i, record] of got.entries()) {
        assert.deepEqual(
          Buffer.from(record.bytes),
          Buffer.from(expected[i]!.bytes),
          `shard ${shard} record ${i}`,
        );
        assert.equal(record.seconds, expected[i]!.seconds);
        assert.equal(record.nanos, expected[i]!.nanos);
        assert.equal(record.originalLength, expected[i]!.originalLength);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a file that is no capture is an error, with the reader's reason", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-shard-split-'));
  try {
    const file = path.join(dir, 'notes.pcap');
    fs.writeFileSync(file, Buffer.alloc(64, 0x41));
    assert.throws(() => splitByShard(file, 2), /not a capture file/);
    assert.deepEqual(fs.readdirSync(dir), ['notes.pcap'], 'no partial shard file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
