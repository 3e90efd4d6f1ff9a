/**
 * pcapng files: a sequence of blocks `type, totalLength, body, totalLength`. Sections start with
 * a Section Header Block (which fixes the byte order and resets the interface list); packets come
 * in Enhanced (EPB), Simple (SPB) and obsolete (OPB) Packet Blocks that refer to the Interface
 * Description Blocks (IDB) of their section. Interface Statistics Blocks (ISB) give the capture's
 * own counts (received, dropped by the interface and by the OS): the latest per interface is kept
 * (captureStats()). Every other block is skipped by its length.
 *
 * Invariants: a block is consumed only once it is complete in the window and its trailing length
 * matches, so NeedMore always leaves the reader at a block boundary and a later call continues
 * there. Every loop iteration consumes at least 12 bytes or returns. A record's bytes stay in the
 * window until the next `next()`. No allocation per record (IDBs allocate, once per interface).
 */

import { type SkipCounters, skipReason } from '../shared/skips.ts';
import { hex32, PCAPNG_SECTION_HEADER } from './magic.ts';
import { MAX_CAPTURED_LENGTH } from './pcap.ts';
import { setPcapngTimestamp, TimestampScale } from './pcapng-time.ts';
import type { RecordWindow } from './read-window.ts';
import { type CaptureRecord, ReadResult } from './record.ts';

const UNKNOWN_INTERFACE = skipReason('capture.pcapng_unknown_interface');
const BAD_PACKET_BLOCK = skipReason('capture.pcapng_bad_packet_block');
const SPB_NO_TIMESTAMP = skipReason('capture.pcapng_spb_no_timestamp');
const OBSOLETE_PACKET_BLOCK = skipReason('capture.pcapng_obsolete_packet_block');

const BlockType = {
  InterfaceDescription: 1,
  ObsoletePacket: 2,
  SimplePacket: 3,
  InterfaceStatistics: 5,
  EnhancedPacket: 6,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;
/** type + total length + trailing total length */
const BLOCK_FRAMING_LENGTH = 12;
/** Larger blocks are treated as corrupt framing (Wireshark uses the same bound). */
const MAX_BLOCK_LENGTH = 16 * 1024 * 1024;
const MIN_SECTION_HEADER_LENGTH = 28;
const MIN_INTERFACE_DESCRIPTION_LENGTH = 20;
/** Fixed EPB fields: framing + interface id + timestamp (2 words) + caplen + origlen. */
const EPB_HEADER_LENGTH = 28;
const EPB_FIXED_LENGTH = EPB_HEADER_LENGTH + 4;
/** framing + original length */
const SPB_FIXED_LENGTH = 16;

const OPTION_END = 0;
const OPTION_IF_TSRESOL = 9;
const OPTION_IF_TSOFFSET = 14;
/** Fixed ISB fields: framing + interface id + timestamp (2 words). */
const ISB_FIXED_LENGTH = 24;
/**
 * ISB options (pcapng §4.6), each a 64-bit count since the capture started, consecutive codes:
 * isb_ifrecv (4), isb_ifdrop, isb_filteraccept, isb_osdrop, isb_usrdeliv (8). Kept per interface
 * in that order (slot = code - 4).
 */
const OPTION_ISB_IFRECV = 4;
const OPTION_ISB_USRDELIV = 8;
const kStatisticsSlots = OPTION_ISB_USRDELIV - OPTION_ISB_IFRECV + 1;

/**
 * What a pcapng file says about its own capture (latest Interface Statistics Block of each
 * interface, summed over interfaces). Counts are cumulative since the capture started, and -1
 * where no ISB carried the option.
 */
export interface CaptureStatistics {
  /** Interfaces with an ISB. */
  interfaces: number;
  /** isb_ifrecv: packets the interface received. */
  received: number;
  /** isb_ifdrop: packets the interface (NIC, driver) dropped. */
  interfaceDropped: number;
  /** isb_osdrop: packets the OS dropped (the capture buffer was full: the capture process was too slow). */
  osDropped: number;
  /** isb_filteraccept: packets the capture filter accepted. */
  filterAccepted: number;
  /** isb_usrdeliv: packets delivered to the capture process. */
  userDelivered: number;
}

class PcapngInterface {
  readonly linkType: number;
  /** 0 means unlimited. */
  readonly snapLength: number;
  readonly timestampScale: TimestampScale;

  constructor(linkType: number, snapLength: number, timestampScale: TimestampScale) {
    this.linkType = linkType;
    this.snapLength = snapLength;
    this.timestampScale = timestampScale;
  }
}

export class PcapngParser {
  error: string | null = null;
  /** True once the first Section Header Block has been consumed. */
  headerComplete = false;
  readonly #window: RecordWindow;
  readonly #record: CaptureRecord;
  readonly #skips: SkipCounters;
  /** Byte order of the current section. */
  #littleEndian = true;
  /** Interfaces of the current section, indexed by interface id. */
  #interfaces: PcapngInterface[] = [];
  /** Packet blocks seen so far (delivered or not), as tshark numbers frames. */
  #packetNumber = 0;
  /** Latest ISB counts by interface id (kStatisticsSlots each, -1 = absent); null before the first ISB. */
  #statistics: number[][] | null = null;

  constructor(window: RecordWindow, record: CaptureRecord, skips: SkipCounters) {
    this.#window = window;
    this.#record = record;
    this.#skips = skips;
  }

  next(): ReadResult {
    const window = this.#window;
    for (;;) {
      if (!window.ensure(BLOCK_FRAMING_LENGTH)) return ReadResult.NeedMore;
      let view = window.view;
      let at = window.start;
      const type = view.getUint32(at, this.#littleEndian);
      let littleEndian = this.#littleEndian;
      if (type === PCAPNG_SECTION_HEADER) {
        // A new section may switch byte order; its own byte-order magic (read in file order) says which.
        const byteOrderMagic = view.getUint32(at + 8, false);
        if (byteOrderMagic === BYTE_ORDER_MAGIC) littleEndian = false;
        else if (byteOrderMagic === BYTE_ORDER_MAGIC_SWAPPED) littleEndian = true;
        else return this.#fail(`section header has an invalid byte-order magic ${hex32(byteOrderMagic)}`);
      }
      const totalLength = view.getUint32(at + 4, littleEndian);
      if (totalLength < BLOCK_FRAMING_LENGTH || totalLength % 4 !== 0 || totalLength > MAX_BLOCK_LENGTH) {
        return this.#fail(
          `block of type ${hex32(type)} has an invalid total length ${totalLength} ` +
            `(must be a multiple of 4 from ${BLOCK_FRAMING_LENGTH} to ${MAX_BLOCK_LENGTH})`,
        );
      }
      if (!window.ensure(totalLength)) return ReadResult.NeedMore;
      view = window.view;
      at = window.start;
      const trailingLength = view.getUint32(at + totalLength - 4, littleEndian);
      if (trailingLength !== totalLength) {
        return this.#fail(
          `block of type ${hex32(type)}: trailing length ${trailingLength} ≠ leading length ${totalLength}`,
        );
      }

      let delivered = false;
      switch (type) {
        case BlockType.EnhancedPacket:
          delivered = this.#enhancedPacket(view, at, totalLength, littleEndian);
          break;
        case BlockType.SimplePacket:
          delivered = this.#simplePacket(view, at, totalLength, littleEndian);
          break;
        case BlockType.ObsoletePacket:
          this.#packetNumber++;
          this.#skips.add(OBSOLETE_PACKET_BLOCK);
          break;
        case BlockType.InterfaceStatistics:
          this.#interfaceStatistics(view, at, totalLength, littleEndian);
          break;
        case BlockType.InterfaceDescription:
          if (!this.#addInterface(view, at, totalLength, littleEndian)) return ReadResult.Failed;
          break;
        case PCAPNG_SECTION_HEADER:
          if (totalLength < MIN_SECTION_HEADER_LENGTH) {
            return this.#fail(`section header block is too short (${totalLength} bytes)`);
          }
          this.#littleEndian = littleEndian;
          this.#interfaces = [];
          this.headerComplete = true;
          break;
      }
      window.consume(totalLength);
      if (delivered) return ReadResult.Record;
    }
  }

  /** Fills the record (true) or counts why the block is skipped (false). Does not consume. */
  #enhancedPacket(view: DataView, at: number, totalLength: number, littleEndian: boolean): boolean {
    this.#packetNumber++;
    if (totalLength < EPB_FIXED_LENGTH) {
      this.#skips.add(BAD_PACKET_BLOCK);
      return false;
    }
    const iface = this.#interfaces[view.getUint32(at + 8, littleEndian)];
    if (iface === undefined) {
      this.#skips.add(UNKNOWN_INTERFACE);
      return false;
    }
    const capturedLength = view.getUint32(at + 20, littleEndian);
    if (capturedLength > totalLength - EPB_FIXED_LENGTH || capturedLength > MAX_CAPTURED_LENGTH) {
      this.#skips.add(BAD_PACKET_BLOCK);
      return false;
    }
    const record = this.#record;
    record.data = this.#window.bytes;
    record.offset = at + EPB_HEADER_LENGTH;
    record.capturedLength = capturedLength;
    record.originalLength = view.getUint32(at + 24, littleEndian);
    setPcapngTimestamp(
      record,
      view.getUint32(at + 12, littleEndian),
      view.getUint32(at + 16, littleEndian),
      iface.timestampScale,
    );
    record.linkType = iface.linkType;
    record.packetNumber = this.#packetNumber;
    return true;
  }

  /**
   * SPB: implicitly interface 0, no timestamp, caplen derived from the lengths. Fills the record
   * (true) or counts why the block is skipped (false). Does not consume.
   */
  #simplePacket(view: DataView, at: number, totalLength: number, littleEndian: boolean): boolean {
    this.#packetNumber++;
    if (totalLength < SPB_FIXED_LENGTH) {
      this.#skips.add(BAD_PACKET_BLOCK);
      return false;
    }
    const iface = this.#interfaces[0];
    if (iface === undefined) {
      this.#skips.add(UNKNOWN_INTERFACE);
      return false;
    }
    const originalLength = view.getUint32(at + 8, littleEndian);
    // The block room includes padding, so the original length bounds the packet too.
    let capturedLength = Math.min(originalLength, totalLength - SPB_FIXED_LENGTH, MAX_CAPTURED_LENGTH);
    if (iface.snapLength !== 0 && iface.snapLength < capturedLength) capturedLength = iface.snapLength;
    const record = this.#record;
    record.data = this.#window.bytes;
    record.offset = at + 12;
    record.capturedLength = capturedLength;
    record.originalLength = originalLength;
    record.seconds = 0;
    record.nanos = 0;
    record.linkType = iface.linkType;
    record.packetNumber = this.#packetNumber;
    this.#skips.add(SPB_NO_TIMESTAMP);
    return true;
  }

  /** Parses an IDB and appends its interface; false (with `error` set) when it is too short. */
  #addInterface(view: DataView, at: number, totalLength: number, littleEndian: boolean): boolean {
    if (totalLength < MIN_INTERFACE_DESCRIPTION_LENGTH) {
      this.#fail(`interface description block is too short (${totalLength} bytes)`);
      return false;
    }
    let tsresol: number | undefined;
    let offsetSeconds = 0;
    const optionsEnd = at + totalLength - 4;
    let option = at + 16;
    // Options: code (2), length (2), value padded to 4 bytes. A malformed option ends the list
    // (the block length keeps the framing intact, so the interface is still usable).
    while (option + 4 <= optionsEnd) {
      const code = view.getUint16(option, littleEndian);
      const length = view.getUint16(option + 2, littleEndian);
      const value = option + 4;
      if (code === OPTION_END || value + length > optionsEnd) break;
      if (code === OPTION_IF_TSRESOL && length >= 1) {
        tsresol = view.getUint8(value);
      } else if (code === OPTION_IF_TSOFFSET && length >= 8) {
        const high = view.getInt32(littleEndian ? value + 4 : value, littleEndian);
        const low = view.getUint32(littleEndian ? value : value + 4, littleEndian);
        offsetSeconds = high * 4294967296 + low;
      }
      option = value + ((length + 3) & ~3);
    }
    this.#interfaces.push(
      new PcapngInterface(
        view.getUint16(at + 8, littleEndian),
        view.getUint32(at + 12, littleEndian),
        new TimestampScale(tsresol, offsetSeconds),
      ),
    );
    return true;
  }

  /** The capture's own counts from the ISBs read so far; null when there were none. */
  captureStatistics(): CaptureStatistics | null {
    const statistics = this.#statistics;
    if (statistics === null) return null;
    const sums = [-1, -1, -1, -1, -1];
    let interfaces = 0;
    for (const counts of statistics) {
      if (counts === undefined) continue;
      interfaces++;
      for (let i = 0; i < kStatisticsSlots; i++) {
        if (counts[i]! >= 0) sums[i] = Math.max(sums[i]!, 0) + counts[i]!;
      }
    }
    return {
      interfaces,
      received: sums[0]!,
      interfaceDropped: sums[1]!,
      filterAccepted: sums[2]!,
      osDropped: sums[3]!,
      userDelivered: sums[4]!,
    };
  }

  /** An ISB: its counts replace the interface's previous ones (they are cumulative). Bad ones are ignored. */
  #interfaceStatistics(view: DataView, at: number, totalLength: number, littleEndian: boolean): void {
    if (totalLength < ISB_FIXED_LENGTH) return;
    const interfaceId = view.getUint32(at + 8, littleEndian);
    // Only interfaces this section described: a corrupt id must not grow the table.
    if (this.#interfaces[interfaceId] === undefined) return;
    const counts = [-1, -1, -1, -1, -1];
    const optionsEnd = at + totalLength - 4;
    let option = at + 20;
    while (option + 4 <= optionsEnd) {
      const code = view.getUint16(option, littleEndian);
      const length = view.getUint16(option + 2, littleEndian);
      const value = option + 4;
      if (code === OPTION_END || value + length > optionsEnd) break;
      if (code >= OPTION_ISB_IFRECV && code <= OPTION_ISB_USRDELIV && length === 8) {
        const high = view.getUint32(littleEndian ? value + 4 : value, littleEndian);
        const low = view.getUint32(littleEndian ? value : value + 4, littleEndian);
        counts[code - OPTION_ISB_IFRECV] = high * 4294967296 + low;
      }
      option = value + ((length + 3) & ~3);
    }
    this.#statistics ??= [];
    this.#statistics[interfaceId] = counts;
  }

  #fail(reason: string): ReadResult {
    this.error = `pcapng block at byte ${this.#window.position}: ${reason}`;
    return ReadResult.Failed;
  }
}
