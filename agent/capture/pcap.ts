/**
 * Classic pcap (libpcap) files: a 24-byte file header, then records of a 16-byte header
 * (24 bytes in the "modified" variant) followed by caplen bytes of packet.
 *
 * Invariants: each Record result consumes exactly one whole record; a record that is not complete
 * in the window is never consumed (NeedMore), so a later call after the file grew starts at the
 * same record header. The record's bytes stay in the window until the next `next()`. No
 * allocation per record.
 */

import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { PcapMagic, pcapMagicBigEndian } from './magic.ts';
import type { RecordWindow } from './read-window.ts';
import { type CaptureRecord, ReadResult } from './record.ts';

const TIMESTAMP_FRACTION_OVERFLOW = skipReason('capture.timestamp_fraction_overflow');

export const PCAP_FILE_HEADER_LENGTH = 24;
/**
 * Largest caplen accepted (libpcap's and Wireshark's MAXIMUM_SNAPLEN). A larger one means the
 * framing is broken, since pcap records have no other length to resynchronise on.
 */
export const MAX_CAPTURED_LENGTH = 262144;
/** The link-type field's upper bits carry FCS information (e.g. 805306369 is Ethernet). */
const LINK_TYPE_MASK = 0x03ffffff;

export class PcapParser {
  error: string | null = null;
  /** True once the file header has been consumed. */
  headerComplete = false;
  readonly #window: RecordWindow;
  readonly #record: CaptureRecord;
  readonly #skips: SkipCounters;
  readonly #littleEndian: boolean;
  readonly #recordHeaderLength: number;
  /** 1e6 for microsecond files, 1e9 for nanosecond files. */
  readonly #fractionsPerSecond: number;
  readonly #nanosPerFraction: number;
  #linkType = 0;
  #packetNumber = 0;

  /** `firstWord`: the file's first four bytes read big-endian, a pcap magic (see magic.ts). */
  constructor(window: RecordWindow, record: CaptureRecord, skips: SkipCounters, firstWord: number) {
    const magic = pcapMagicBigEndian(firstWord);
    const nanosecond = magic === PcapMagic.Nanoseconds;
    this.#window = window;
    this.#record = record;
    this.#skips = skips;
    this.#littleEndian = firstWord !== magic;
    this.#recordHeaderLength = magic === PcapMagic.Modified ? 24 : 16;
    this.#fractionsPerSecond = nanosecond ? 1_000_000_000 : 1_000_000;
    this.#nanosPerFraction = nanosecond ? 1 : 1000;
  }

  next(): ReadResult {
    const window = this.#window;
    const littleEndian = this.#littleEndian;
    if (!this.headerComplete) {
      if (!window.ensure(PCAP_FILE_HEADER_LENGTH)) return ReadResult.NeedMore;
      this.#linkType = window.view.getUint32(window.start + 20, littleEndian) & LINK_TYPE_MASK;
      window.consume(PCAP_FILE_HEADER_LENGTH);
      this.headerComplete = true;
    }

    const headerLength = this.#recordHeaderLength;
    if (!window.ensure(headerLength)) return ReadResult.NeedMore;
    const capturedLength = window.view.getUint32(window.start + 8, littleEndian);
    if (capturedLength > MAX_CAPTURED_LENGTH) {
      this.error =
        `packet ${this.#packetNumber + 1} at byte ${window.position}: captured length ${capturedLength} ` +
        `exceeds ${MAX_CAPTURED_LENGTH}; the file's framing cannot be trusted after it`;
      return ReadResult.Failed;
    }
    if (!window.ensure(headerLength + capturedLength)) return ReadResult.NeedMore;

    const view = window.view;
    const at = window.start;
    let seconds = view.getUint32(at, littleEndian);
    let fraction = view.getUint32(at + 4, littleEndian);
    if (fraction >= this.#fractionsPerSecond) {
      // Broken writers store e.g. 1_000_000 µs: carry the whole seconds, keep the record.
      seconds += Math.floor(fraction / this.#fractionsPerSecond);
      fraction %= this.#fractionsPerSecond;
      this.#skips.add(TIMESTAMP_FRACTION_OVERFLOW);
    }
    const record = this.#record;
    record.data = window.bytes;
    record.offset = at + headerLength;
    record.capturedLength = capturedLength;
    record.originalLength = view.getUint32(at + 12, littleEndian);
    record.seconds = seconds;
    record.nanos = fraction * this.#nanosPerFraction;
    record.linkType = this.#linkType;
    record.packetNumber = ++this.#packetNumber;
    window.consume(headerLength + capturedLength);
    return ReadResult.Record;
  }
}
