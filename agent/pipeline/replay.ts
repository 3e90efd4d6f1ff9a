/**
 * The finished-files source on this thread (`replay`/`report --workers 0`): reads capture
 * files in rotation order and runs every record through the RecordLoop (record-loop.ts, the
 * same loop body every worker runs). The reference mode: the worker pipeline must produce the
 * same pairs.
 *
 * The work is done in steps of a bounded number of records, so a caller with an
 * asynchronous consumer (the OTLP exporter) can wait for it between steps.
 */
import type { FileByteSource } from '../capture/byte-source.ts';
import { openCapture } from '../capture/open.ts';
import type { CaptureStatistics } from '../capture/pcapng.ts';
import type { CaptureReader } from '../capture/reader.ts';
import { type CaptureRecord, ReadResult } from '../capture/record.ts';
import type { DecodedPacket } from '../decode/packet.ts';
import { type PacketConsumer, RecordLoop } from './record-loop.ts';

export interface ReplayInput {
  files: readonly string[];
  /** Called for every record (the `--packets` listing); returns false to stop early. null to skip. */
  onRecord: ((fileId: number, record: CaptureRecord, packet: DecodedPacket) => boolean) | null;
  loop: RecordLoop;
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
  elapsedNanos: bigint;
  /** True when output consumers asked to stop early (closed pipe). */
  stoppedEarly: boolean;
}

export class ThisThreadReplay {
  readonly #input: ReplayInput;
  readonly #started = process.hrtime.bigint();
  readonly result: ReplayResult;
  #fileId = -1;
  #opened: { reader: CaptureReader; source: FileByteSource; result: FileResult } | null = null;
  #finished = false;

  constructor(input: ReplayInput) {
    this.#input = input;
    this.result = { files: [], elapsedNanos: 0n, stoppedEarly: false };
  }

  /** Processes up to `maxRecords` records; true once every file was read (the sink is finished then). */
  step(maxRecords: number): boolean {
    if (this.#finished) return true;
    const { loop, onRecord } = this.#input;
    // Counts up in small integers: a budget counted down from Infinity is a double, which the
    // optimised loop boxed into a fresh heap number at every record.
    let records = 0;
    let done = false;
    while (records < maxRecords) {
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
      records++;
      const record = reader.record;
      opened.result.packets++;
      opened.result.bytes += record.capturedLength;
      loop.record(this.#fileId, record);
      if (onRecord && !onRecord(this.#fileId, record, loop.packet)) {
        this.result.stoppedEarly = true;
        this.#closeFile();
        this.#fileId = this.#input.files.length;
      }
    }
    if (done) this.#finish();
    return done;
  }

  #openNext(): { reader: CaptureReader; source: FileByteSource; result: FileResult } | null {
    const files = this.#input.files;
    while (++this.#fileId < files.length) {
      const file = files[this.#fileId]!;
      const opened = openCapture(file, this.#input.loop.inputSkips);
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
    this.#input.loop.finish();
    this.result.elapsedNanos = process.hrtime.bigint() - this.#started;
  }
}

/** Replays every file to the end through `sink` (a correlator), synchronously. */
export function replayFiles(input: {
  files: readonly string[];
  sink: PacketConsumer;
  onRecord: ReplayInput['onRecord'];
}): ReplayResult {
  const replay = new ThisThreadReplay({
    files: input.files,
    onRecord: input.onRecord,
    loop: new RecordLoop(input.sink),
  });
  while (!replay.step(Number.POSITIVE_INFINITY));
  return replay.result;
}
