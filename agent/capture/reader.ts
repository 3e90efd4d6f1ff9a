/**
 * Streaming capture reader: detects pcap / pcapng by magic, then hands out one record per
 * `next()` from a single reused read window.
 *
 * Invariants (buffer lifetime): `record` is ONE object, overwritten by every `next()`; its `data`
 * is the read window, valid only until the next `next()` (see record.ts). The reader never reads
 * a whole file: it reads window-sized chunks. It consumes only complete records/blocks, so
 * `position` is always a record boundary and, after NeedMore, a later `next()` (once the file
 * grew) continues exactly there.
 */

import { type SkipCounters, skipReason } from '../shared/skips.ts';
import type { ByteSource } from './byte-source.ts';
import { ChunkWindow } from './chunk-window.ts';
import { type CaptureFormat, formatOfMagic, hex32 } from './magic.ts';
import { PcapParser } from './pcap.ts';
import { type CaptureStatistics, PcapngParser } from './pcapng.ts';
import { ReadWindow, type RecordWindow } from './read-window.ts';
import { type CaptureRecord, ReadResult } from './record.ts';

const TRUNCATED_RECORD = skipReason('capture.truncated_record');

/**
 * Bytes read per read(2). Small enough that a chunk is still in the core's L2 cache when the
 * parsers reach it (1 MiB windows cost ~170 ms of kernel copy per 1 M packets in the profile,
 * 256 KiB ~45 ms), large enough that syscalls stay rare (~700 per 1 M packets).
 */
export const DEFAULT_WINDOW_SIZE = 256 * 1024;
const MAGIC_LENGTH = 4;

export interface CaptureReaderOptions {
  /** Initial read window in bytes (default 1 MiB); it grows if one record is larger. */
  windowSize?: number;
}

export class CaptureReader {
  readonly record: CaptureRecord;
  /** Known once the first four bytes were read. */
  format: CaptureFormat | null = null;
  /** Why the file cannot be read further; set exactly when `next()` returned Failed. */
  error: string | null = null;
  /** Records delivered so far. */
  packets = 0;
  /** Bytes of a trailing partial record counted by `finish()`. */
  truncatedBytes = 0;
  readonly #skips: SkipCounters;
  readonly #window: RecordWindow;
  #parser: PcapParser | PcapngParser | null = null;
  #finished = false;

  /** `source`: a ByteSource read into the reader's own window, or a ChunkWindow read in place. */
  constructor(source: ByteSource | ChunkWindow, skips: SkipCounters, options: CaptureReaderOptions = {}) {
    this.#skips = skips;
    this.#window =
      source instanceof ChunkWindow
        ? source
        : new ReadWindow(source, options.windowSize ?? DEFAULT_WINDOW_SIZE);
    this.record = {
      data: this.#window.bytes,
      offset: 0,
      capturedLength: 0,
      originalLength: 0,
      seconds: 0,
      nanos: 0,
      linkType: 0,
      packetNumber: 0,
    };
  }

  /** File offset just after the last complete record or block consumed (where to resume). */
  get position(): number {
    return this.#window.position;
  }

  /** Bytes read from the source so far. */
  get bytesRead(): number {
    return this.#window.bytesRead;
  }

  next(): ReadResult {
    if (this.error !== null) return ReadResult.Failed;
    const parser = this.#parser ?? this.#detectFormat();
    if (parser === null) return this.error === null ? ReadResult.NeedMore : ReadResult.Failed;
    const result = parser.next();
    if (result === ReadResult.Record) {
      this.packets++;
    } else if (result === ReadResult.Failed) {
      this.error = parser.error;
    } else if (this.#window.ioError !== null) {
      this.error = this.#window.ioError;
      return ReadResult.Failed;
    }
    return result;
  }

  /**
   * The file is complete (replay): counts a trailing partial record, or reports a file too short
   * to hold a capture header. Call after `next()` returned NeedMore; later calls do nothing.
   */
  finish(): void {
    if (this.#finished || this.error !== null) return;
    this.#finished = true;
    let size: number;
    try {
      size = this.#window.size();
    } catch (error) {
      this.error = `cannot stat the capture: ${(error as Error).message}`;
      return;
    }
    if (this.#parser === null || !this.#parser.headerComplete) {
      this.error = `file too short to be a capture (${size} bytes)`;
      return;
    }
    const leftover = size - this.position;
    if (leftover > 0) {
      this.#skips.add(TRUNCATED_RECORD);
      this.truncatedBytes = leftover;
    }
  }

  /** pcapng Interface Statistics Blocks read so far (the capture's own drop counts); null without. */
  captureStatistics(): CaptureStatistics | null {
    return this.#parser instanceof PcapngParser ? this.#parser.captureStatistics() : null;
  }

  #detectFormat(): PcapParser | PcapngParser | null {
    const window = this.#window;
    if (!window.ensure(MAGIC_LENGTH)) {
      this.error = window.ioError;
      return null;
    }
    const firstWord = window.view.getUint32(window.start, false);
    const format = formatOfMagic(firstWord);
    if (format === null) {
      this.error = `not a capture file (magic ${hex32(firstWord)})`;
      return null;
    }
    this.format = format;
    this.#parser =
      format === 'pcap'
        ? new PcapParser(window, this.record, this.#skips, firstWord)
        : new PcapngParser(window, this.record, this.#skips);
    return this.#parser;
  }
}
