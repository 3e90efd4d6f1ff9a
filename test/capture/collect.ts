/** Drives a CaptureReader over in-memory bytes and copies what it hands out, for assertions. */
import assert from 'node:assert/strict';
import { MemoryByteSource } from '../../agent/capture/byte-source.ts';
import { CaptureReader, type CaptureReaderOptions } from '../../agent/capture/reader.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';

export interface CollectedRecord {
  packetNumber: number;
  seconds: number;
  nanos: number;
  linkType: number;
  capturedLength: number;
  originalLength: number;
  /** The packet bytes, hex. */
  hex: string;
  /** reader.position after this record. */
  position: number;
}

export interface ReadOutcome {
  records: CollectedRecord[];
  /** Result of the last next() call (NeedMore or Failed). */
  last: ReadResult;
  error: string | null;
  skips: Record<string, number>;
  position: number;
  truncatedBytes: number;
  format: string | null;
}

export interface CollectOptions extends CaptureReaderOptions {
  /** Call finish() at the end (default true). */
  finish?: boolean;
}

/**
 * Reads `bytes` all at once (no `chunkSizes`) or appended chunk by chunk, draining the reader after
 * every append as a tailing replay would. Asserts every record's bytes lie inside `record.data` and
 * that next() is not called unboundedly often (each call returning a record consumes >= 12 bytes).
 */
export function collect(
  bytes: Uint8Array,
  options: CollectOptions = {},
  chunkSizes?: readonly number[],
): ReadOutcome {
  const source = new MemoryByteSource(chunkSizes === undefined ? bytes : new Uint8Array(0));
  const skips = new SkipCounters();
  const reader = new CaptureReader(source, skips, options);
  const records: CollectedRecord[] = [];
  let appended = chunkSizes === undefined ? bytes.length : 0;
  let chunkIndex = 0;
  let calls = 0;
  const maxCalls = Math.ceil(bytes.length / 12) + bytes.length + 16;
  let last: ReadResult = ReadResult.NeedMore;
  for (;;) {
    last = reader.next();
    assert.ok(++calls <= maxCalls, `next() called ${calls} times for ${bytes.length} bytes`);
    if (last === ReadResult.Record) {
      records.push(copyRecord(reader));
      continue;
    }
    if (last === ReadResult.Failed || appended >= bytes.length) break;
    const size = Math.max(1, chunkSizes?.[chunkIndex++ % chunkSizes.length] ?? 1);
    source.append(bytes.subarray(appended, appended + size));
    appended += size;
  }
  if (options.finish ?? true) reader.finish();
  return {
    records,
    last,
    error: reader.error,
    skips: skips.toObject(),
    position: reader.position,
    truncatedBytes: reader.truncatedBytes,
    format: reader.format,
  };
}

/** Copies the reader's current record, checking its bytes lie inside `record.data`. */
export function copyRecord(reader: CaptureReader): CollectedRecord {
  const record = reader.record;
  assert.equal(record.packetNumber > 0, true);
  assert.ok(
    Number.isInteger(record.offset) &&
      record.offset >= 0 &&
      record.offset + record.capturedLength <= record.data.length,
    `record ${record.packetNumber} bytes [${record.offset}, +${record.capturedLength}) outside data (${record.data.length})`,
  );
  assert.ok(
    record.nanos >= 0 && record.nanos < 1e9 && Number.isInteger(record.nanos),
    `nanos ${record.nanos}`,
  );
  return {
    packetNumber: record.packetNumber,
    seconds: record.seconds,
    nanos: record.nanos,
    linkType: record.linkType,
    capturedLength: record.capturedLength,
    originalLength: record.originalLength,
    hex: Buffer.from(record.data.subarray(record.offset, record.offset + record.capturedLength)).toString(
      'hex',
    ),
    position: reader.position,
  };
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
