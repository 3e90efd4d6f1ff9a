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

/** Sizes of a classic pcap's global header and of each record's header. */
export const kPcapHeaderBytes = 24;
export const kPcapRecordHeaderBytes = 16;

/** The global header of a little-endian nanosecond pcap (version 2.4, snaplen 262144), at `at`. */
export function putNanosecondPcapHeader(out: Buffer, at: number, linkType: number): void {
  out.writeUInt32LE(0xa1b23c4d, at);
  out.writeUInt16LE(2, at + 4);
  out.writeUInt16LE(4, at + 6);
  out.writeUInt32LE(0, at + 8);
  out.writeUInt32LE(0, at + 12);
  out.writeUInt32LE(262_144, at + 16);
  out.writeUInt32LE(linkType, at + 20);
}

/** A record's header (time, captured and original length), at `at`. */
export function putPcapRecordHeader(
  out: Buffer,
  at: number,
  seconds: number,
  nanos: number,
  capturedLength: number,
  originalLength: number,
): void {
  out.writeUInt32LE(seconds, at);
  out.writeUInt32LE(nanos, at + 4);
  out.writeUInt32LE(capturedLength, at + 8);
  out.writeUInt32LE(originalLength, at + 12);
}

export function pcapBytes(records: readonly OwnedRecord[], linkType = records[0]?.linkType ?? 1): Buffer {
  const header = Buffer.alloc(kPcapHeaderBytes);
  putNanosecondPcapHeader(header, 0, linkType);
  const parts: Buffer[] = [header];
  for (const record of records) {
    const recordHeader = Buffer.alloc(kPcapRecordHeaderBytes);
    putPcapRecordHeader(
      recordHeader,
      0,
      record.seconds,
      record.nanos,
      record.bytes.length,
      record.originalLength,
    );
    parts.push(recordHeader, Buffer.from(record.bytes));
  }
  return Buffer.concat(parts);
}

export function writePcap(file: string, records: readonly OwnedRecord[], linkType?: number): void {
  fs.writeFileSync(file, pcapBytes(records, linkType));
}
