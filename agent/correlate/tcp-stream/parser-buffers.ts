/**
 * Bytes that stream parsers copy while a message is incomplete (an HTTP head split across
 * segments, a DNS-over-TCP message announced by its length prefix), counted across every
 * connection of one correlator. Without a shared bound, many connections each holding a partial
 * head (or a DNS prefix announcing 64 KiB and nothing after it) add up to gigabytes while every
 * single connection stays within its own limit. A parser reserves before it allocates or grows,
 * releases when the message completes or the connection ends (onClose, or onForget when
 * reassembly drops the connection), and gives up the message (counted) when refused.
 */
export class ParserBufferBudget {
  readonly limit: number;
  /** Bytes reserved now. */
  bytes = 0;
  /** Reservations refused (each one a message given up by its parser). */
  refused = 0;

  constructor(limit: number) {
    if (!(limit >= 0) || !Number.isFinite(limit)) {
      throw new RangeError(`parser buffer budget must be a finite number >= 0, got ${limit}`);
    }
    this.limit = limit;
  }

  /** Reserves `n` bytes; false (and nothing reserved) when that would pass the limit. */
  reserve(n: number): boolean {
    if (this.bytes + n > this.limit) {
      this.refused++;
      return false;
    }
    this.bytes += n;
    return true;
  }

  release(n: number): void {
    this.bytes -= n;
  }
}

/** Default for TcpReassemblyOptions.maxParserBufferBytesTotal (the memory budget sets its own). */
export const kDefaultParserBufferBytesTotal = 32 * 1024 * 1024;
