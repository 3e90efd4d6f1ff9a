/**
 * `wirespan replay`: reads finished capture files in rotation order on one thread, decodes
 * every record and hands decoded packets to the correlator. (The worker-thread pipeline
 * builds on the same stages.)
 */
import { openCapture } from '../capture/open.ts';
import { type CaptureRecord, ReadResult } from '../capture/record.ts';
import { decodePacket } from '../decode/decoder.ts';
import { DecodedPacket, Layer } from '../decode/packet.ts';
import { SkipCounters } from '../shared/skips.ts';

/** What receives each decoded packet (the correlator), if anything. */
export interface PacketSink {
  onPacket(
    fileId: number,
    packetNumber: number,
    seconds: number,
    nanos: number,
    data: Uint8Array,
    packet: DecodedPacket,
  ): void;
  /** All input has been read. */
  finish(): void;
}

export interface ReplayInput {
  files: readonly string[];
  /** Called for every record (the `--packets` listing); null to skip. */
  onRecord: ((fileId: number, record: CaptureRecord, packet: DecodedPacket) => boolean) | null;
  sink: PacketSink | null;
}

export interface FileResult {
  file: string;
  format: string | null;
  packets: number;
  bytes: number;
  /** Set when the file could not be read to its end. */
  error: string | null;
}

export interface ReplayResult {
  files: FileResult[];
  packets: number;
  decoded: number;
  bytes: number;
  skips: SkipCounters;
  elapsedNanos: bigint;
  /** True when output consumers asked to stop early (closed pipe). */
  stoppedEarly: boolean;
}

export function replayFiles(input: ReplayInput): ReplayResult {
  const started = process.hrtime.bigint();
  const skips = new SkipCounters();
  const packet = new DecodedPacket();
  const results: FileResult[] = [];
  let packets = 0;
  let decoded = 0;
  let bytes = 0;
  let stoppedEarly = false;

  for (let fileId = 0; fileId < input.files.length && !stoppedEarly; fileId++) {
    const file = input.files[fileId]!;
    const opened = openCapture(file, skips);
    if ('error' in opened) {
      results.push({ file, format: null, packets: 0, bytes: 0, error: opened.error });
      continue;
    }
    const { reader, source } = opened;
    const result: FileResult = { file, format: null, packets: 0, bytes: 0, error: null };
    try {
      for (;;) {
        const status = reader.next();
        if (status !== ReadResult.Record) {
          if (status === ReadResult.NeedMore) reader.finish();
          break;
        }
        const record = reader.record;
        result.packets++;
        result.bytes += record.capturedLength;
        decodePacket(record.data, record.offset, record.capturedLength, record.linkType, packet, skips);
        if (packet.stopLayer === Layer.Complete) {
          decoded++;
          input.sink?.onPacket(
            fileId,
            record.packetNumber,
            record.seconds,
            record.nanos,
            record.data,
            packet,
          );
        }
        if (input.onRecord && !input.onRecord(fileId, record, packet)) {
          stoppedEarly = true;
          break;
        }
      }
      result.format = reader.format;
      result.error = reader.error;
    } finally {
      source.close();
    }
    packets += result.packets;
    bytes += result.bytes;
    results.push(result);
  }
  input.sink?.finish();
  return {
    files: results,
    packets,
    decoded,
    bytes,
    skips,
    elapsedNanos: process.hrtime.bigint() - started,
    stoppedEarly,
  };
}
