/** Writes classic pcap files (little-endian, nanosecond magic) for tests. */
import fs from 'node:fs';
import { openCapture } from '../../agent/capture/open.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';

export interface OwnedRecord {
  seconds: number;
  nanos: number;
  originalLength: number;
  linkType: number;
  bytes: Uint8Array;
}

/** Every record of a capture, copied out of the reader's window. */
export function readAllRecords(file: string): OwnedRecord[] {
  const opened = openCapture(file, new SkipCounters());
  if ('error' in opened) throw new Error(opened.error);
  const records: OwnedRecord[] = [];
  try {
    while (opened.reader.next() === ReadResult.Record) {
      const r = opened.reader.record;
      records.push({
        seconds: r.seconds,
        nanos: r.nanos,
        originalLength: r.originalLength,
        linkType: r.linkType,
        bytes: r.data.slice(r.offset, r.offset + r.capturedLength),
      });
    }
  } finally {
    opened.source.close();
  }
  return records;
}

export function pcapBytes(records: readonly OwnedRecord[], linkType = records[0]?.linkType ?? 1): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b23c4d, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [header];
  for (const record of records) {
    const recordHeader = Buffer.alloc(16);
    recordHeader.writeUInt32LE(record.seconds, 0);
    recordHeader.writeUInt32LE(record.nanos, 4);
    recordHeader.writeUInt32LE(record.bytes.length, 8);
    recordHeader.writeUInt32LE(record.originalLength, 12);
    parts.push(recordHeader, Buffer.from(record.bytes));
  }
  return Buffer.concat(parts);
}

export function writePcap(file: string, records: readonly OwnedRecord[], linkType?: number): void {
  fs.writeFileSync(file, pcapBytes(records, linkType));
}
