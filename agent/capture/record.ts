/**
 * The record a capture reader hands out. One instance per reader, overwritten by every
 * successful `next()`: the bytes at `data[offset, offset + capturedLength)` and every field
 * are valid only until the next call to `next()` on the same reader. Callers that keep bytes
 * must copy them.
 */
export interface CaptureRecord {
  /** Backing bytes (the reader's reused read buffer). */
  data: Uint8Array;
  /** Offset of the packet's first byte (link-layer header) in `data`. */
  offset: number;
  /** Bytes present in the file (caplen). */
  capturedLength: number;
  /** Bytes on the wire (len); larger than capturedLength when the snaplen cut the packet. */
  originalLength: number;
  /**
   * Capture time as whole seconds since the Unix epoch plus nanoseconds within that second.
   * Kept as two integers because epoch nanoseconds (~1.8e18) do not fit a double exactly.
   * Sub-nanosecond resolutions are truncated to the nanosecond.
   */
  seconds: number;
  /** 0..999_999_999 */
  nanos: number;
  /** LINKTYPE_* of the record's interface (pcap header, or the pcapng IDB). */
  linkType: number;
  /** 1-based number of the record within its file, as tshark numbers frames. */
  packetNumber: number;
}

/** Result of `CaptureReader.next()`. Numeric so the read loop compares integers. */
export const ReadResult = {
  /** `reader.record` holds a new record. */
  Record: 0,
  /**
   * The readable bytes end inside a record (or exactly between records). A growing file
   * may complete it later: call `next()` again once the file has grown. In replay mode
   * call `finish()` to count a trailing partial record.
   */
  NeedMore: 1,
  /** The file cannot be read further (bad magic, corrupt framing); see `reader.error`. */
  Failed: 2,
} as const;
export type ReadResult = (typeof ReadResult)[keyof typeof ReadResult];
