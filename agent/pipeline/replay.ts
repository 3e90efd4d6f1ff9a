/**
 * `wirespan replay --workers 0`: reads finished capture files in rotation order on this
 * thread, decodes every record and hands decoded packets to the correlator. The reference
 * mode: the worker pipeline must produce the same pairs.
 *
 * The work is done in steps of a bounded number of records, so a caller with an
 * asynchronous consumer (the OTLP exporter) can wait for it between steps.
 */
import type { FileByteSource } from '../capture/byte-source.ts';
import { openCapture } from '../capture/open.ts';
import type { CaptureStatistics } from '../capture/pcapng.ts';
import type { CaptureReader } from '../capture/reader.ts';
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
  /** Called for every record (the `--packets` listing); returns false to stop early. null to skip. */
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
  /** pcapng files: the capture's own counts (Interface Statistics Blocks). */
  captureStatistics?: CaptureStatistics | null;
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
  /** Capture time of the newest record read (null before the first). */
  newestCapture: { seconds: number; nanos: number } | null;
}

export class ThisThreadReplay {
  readonly #input: ReplayInput;
  readonly #started = process.hrtime.bigint();
  readonly #packet = new DecodedPacket();
  readonly result: ReplayResult;
  #fileId = -1;
  #opened: { reader: CaptureReader; source: FileByteSource; result: FileResult } | null = null;
  #finished = false;

  constructor(input: ReplayInput) {
    this.#input = input;
    this.result = {
      files: [],
      packets: 0,
      decoded: 0,
      bytes: 0,
      skips: new SkipCounters(),
      elapsedNanos: 0n,
      stoppedEarly: false,
      newestCapture: null,
    };
  }

  /** Processes up to `maxRecords` records; true once every file was read (the sink is finished then). */
  step(maxRecords: number): boolean {
    if (this.#finished) return true;
    const result = this.result;
    const packet = this.#packet;
    const { sink, onRecord } = this.#input;
    // Counters live in locals during the step and are written back at its end: an object field
    // holding epoch seconds (above V8's small integers) would allocate at every write.
    let newestSeconds = result.newestCapture?.seconds ?? -1;
    let newestNanos = result.newestCapture?.nanos ?? 0;
    let budget = maxRecords;
    let done = false;
    while (budget > 0) {
      const opened = this.#opened ?? this.#openNext();
      if (opened === null) {
        done = true;
        break;
      }
      const { reader } = opened;
      const status = reader.next();
      if (status !== ReadResult.Record) {
        if (status === ReadResult.NeedMore) reader.finish();
        this.#closeFile();
        continue;
      }
      budget--;
      const record = reader.record;
      opened.result.packets++;
      opened.result.bytes += record.capturedLength;
      result.packets++;
      result.bytes += record.capturedLength;
      if (
        record.seconds > newestSeconds ||
        (record.seconds === newestSeconds && record.nanos > newestNanos)
      ) {
        newestSeconds = record.seconds;
        newestNanos = record.nanos;
      }
      decodePacket(record.data, record.offset, record.capturedLength, record.linkType, packet, result.skips);
      if (packet.stopLayer === Layer.Complete) {
        result.decoded++;
        sink?.onPacket(this.#fileId, record.packetNumber, record.seconds, record.nanos, record.data, packet);
      }
      if (onRecord && !onRecord(this.#fileId, record, packet)) {
        result.stoppedEarly = true;
        this.#closeFile();
        this.#fileId = this.#input.files.length;
      }
    }
    if (newestSeconds >= 0) result.newestCapture = { seconds: newestSeconds, nanos: newestNanos };
    if (done) this.#finish();
    return done;
  }

  #openNext(): { reader: CaptureReader; source: FileByteSource; result: FileResult } | null {
    const files = this.#input.files;
    while (++this.#fileId < files.length) {
      const file = files[this.#fileId]!;
      const opened = openCapture(file, this.result.skips);
      if ('error' in opened) {
        this.result.files.push({ file, format: null, packets: 0, bytes: 0, error: opened.error });
        continue;
      }
      this.#opened = { ...opened, result: { file, format: null, packets: 0, bytes: 0, error: null } };
      return this.#opened;
    }
    return null;
  }

  #closeFile(): void {
    const opened = this.#opened;
    if (opened === null) return;
    opened.result.format = opened.reader.format;
    opened.result.error = opened.reader.error;
    opened.result.captureStatistics = opened.reader.captureStatistics();
    opened.source.close();
    this.result.files.push(opened.result);
    this.#opened = null;
  }

  #finish(): void {
    this.#finished = true;
    this.#input.sink?.finish();
    this.result.elapsedNanos = process.hrtime.bigint() - this.#started;
  }
}

/** Replays every file to the end, synchronously. */
export function replayFiles(input: ReplayInput): ReplayResult {
  const replay = new ThisThreadReplay(input);
  while (!replay.step(Number.POSITIVE_INFINITY));
  return replay.result;
}
