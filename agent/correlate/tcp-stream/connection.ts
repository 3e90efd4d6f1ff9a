/**
 * State of one tracked TCP connection (one object per connection, one Direction per side).
 *
 * Endpoints are stored in canonical order: `a` is the lower (address words, port) endpoint, `b`
 * the higher one, so both directions of a connection find the same table entry. Which of them
 * is the client is a separate flag (`clientIsA`) that a claim may still flip while the roles are
 * only guessed.
 */

import type { DecodedPacket } from '../../decode/packet.ts';
import { key5, key11, key11Out } from '../key-hash.ts';
import type { PacketView } from '../matcher.ts';
import type { PendingEntry } from '../pending-table.ts';
import { type StreamConsumer, TcpConnectionInfo } from './consumer.ts';
import { seqDiff } from './sequence.ts';

/** Whether a StreamProtocol owns the connection. */
export const ClaimState = {
  /** No protocol claimed it yet: in-order bytes are still offered to StreamProtocol.claim(). */
  Unclaimed: 0,
  /** A consumer owns it: every in-order byte goes to that consumer. */
  Claimed: 1,
  /** No protocol wanted its first bytes: only SYNs are still looked at (port reuse). */
  Ignored: 2,
} as const;
export type ClaimState = (typeof ClaimState)[keyof typeof ClaimState];

/** An out-of-order segment copied until the hole before it fills (or is given up on). */
export class BufferedSegment {
  /** Sequence number of the first payload byte (after the SYN, if the segment carried one). */
  seq: number;
  /** Captured payload bytes (a copy). */
  bytes: Uint8Array;
  /** Payload bytes on the wire: more than bytes.length when the snaplen cut the packet. */
  wireLength: number;
  /** The segment carried a FIN (which takes the sequence number after its payload). */
  fin: boolean;
  /** Capture time, file and packet number of the segment (its edges when a hole is given up). */
  seconds: number;
  nanos: number;
  fileId: number;
  packetNumber: number;

  constructor(
    seq: number,
    bytes: Uint8Array,
    wireLength: number,
    fin: boolean,
    seconds: number,
    nanos: number,
    fileId: number,
    packetNumber: number,
  ) {
    this.seq = seq;
    this.bytes = bytes;
    this.wireLength = wireLength;
    this.fin = fin;
    this.seconds = seconds;
    this.nanos = nanos;
    this.fileId = fileId;
    this.packetNumber = packetNumber;
  }
}

/**
 * Heap bytes one buffered segment costs besides its captured payload: the BufferedSegment object
 * (8 fields, boxed doubles for times and large sequence numbers), the Uint8Array copy with its
 * ArrayBuffer and backing store, and its slot in the sorted array. Measured with --expose-gc
 * (heapUsed + arrayBuffers over 50 k buffered segments): 337 bytes for a 1-byte payload, 314 for
 * 1000 bytes, 114 for a FIN-only segment (no copy); rounded up. Every segment, FIN-only and
 * snaplen-cut ones included, counts this towards the buffer bounds.
 */
export const kSegmentOverheadBytes = 352;

/** Bytes held by all out-of-order buffers of one reassembly (the global budget's running total). */
export class BufferTotal {
  bytes = 0;
}

const kNoBytes = new Uint8Array(0);

/**
 * One side's sending direction, with its out-of-order buffer: segments sorted by seq (modulo
 * 2^32 from nextSeq) in `slots[head, slots.length)`. Taking the first segment advances `head`
 * (compacted when the dead prefix is at least half the array), so draining or giving up n
 * segments is O(n); a segment after all others is appended; one before all others takes the
 * slot before `head` when there is one. Only a middle insertion moves segments: at most the
 * direction's entry bound.
 */
export class Direction {
  /** True once nextSeq is known (from a SYN, the peer's ACK or the first segment seen). */
  synced = false;
  /** Sequence number of the next byte to deliver (unsigned 32-bit). */
  nextSeq = 0;
  /** A SYN was seen from this side with this initial sequence number. */
  synSeen = false;
  isn = 0;
  /** FIN or RST ended this direction: nothing more is delivered. */
  closed = false;
  /** Payload (or a FIN) was seen from this side: the handshake is over. */
  dataSeen = false;
  /** Buffered segments live in [head, slots.length); slots before head are empty. */
  readonly #slots: (BufferedSegment | undefined)[] = [];
  #head = 0;
  /**
   * What the buffer holds: captured bytes + kSegmentOverheadBytes per segment (bounded by
   * maxBufferedBytesPerDirection; also counted in the shared total).
   */
  bufferedBytes = 0;
  /** Bytes of this direction still offered to StreamProtocol.claim() while unclaimed. */
  offerBudget: number;
  readonly #total: BufferTotal;

  constructor(offerBudget: number, total: BufferTotal) {
    this.offerBudget = offerBudget;
    this.#total = total;
  }

  /** Readies the direction of a reused connection (Connection.reopen): as constructed. */
  reset(offerBudget: number): void {
    this.clearBuffer();
    this.synced = false;
    this.nextSeq = 0;
    this.synSeen = false;
    this.isn = 0;
    this.closed = false;
    this.dataSeen = false;
    this.offerBudget = offerBudget;
  }

  /** Segments buffered. */
  get bufferedCount(): number {
    return this.#slots.length - this.#head;
  }

  /** The buffered segment with the lowest sequence number. */
  first(): BufferedSegment | undefined {
    return this.#slots[this.#head];
  }

  /** The buffered segment with the highest sequence number. */
  last(): BufferedSegment | undefined {
    return this.#head < this.#slots.length ? this.#slots[this.#slots.length - 1] : undefined;
  }

  /** Removes and returns the first segment (amortised O(1)). */
  shift(): BufferedSegment | undefined {
    const slots = this.#slots;
    const head = this.#head;
    const segment = slots[head];
    if (segment === undefined) return undefined;
    slots[head] = undefined;
    this.#head = head + 1;
    const cost = segment.bytes.length + kSegmentOverheadBytes;
    this.bufferedBytes -= cost;
    this.#total.bytes -= cost;
    if (this.#head === slots.length) {
      slots.length = 0;
      this.#head = 0;
    } else if (this.#head >= 32 && this.#head * 2 >= slots.length) {
      slots.copyWithin(0, this.#head);
      slots.length -= this.#head;
      this.#head = 0;
    }
    return segment;
  }

  /**
   * Copies an out-of-order segment (captured bytes data[offset, offset + captured)) into the
   * sorted buffer; a copy of a segment already buffered (same seq, no longer, no new FIN) is dropped.
   */
  insert(
    seq: number,
    data: Uint8Array,
    offset: number,
    captured: number,
    wire: number,
    fin: boolean,
    seconds: number,
    nanos: number,
    fileId: number,
    packetNumber: number,
  ): void {
    const slots = this.#slots;
    const head = this.#head;
    // index = the first position whose segment starts after seq. Segments mostly arrive in
    // order behind the hole: check the back first, then binary search.
    let index = slots.length;
    if (index > head && seqDiff(slots[index - 1]!.seq, seq) > 0) {
      let low = head;
      let high = index - 1;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (seqDiff(slots[middle]!.seq, seq) > 0) high = middle;
        else low = middle + 1;
      }
      index = low;
    }
    const previous = index > head ? slots[index - 1]! : undefined;
    if (
      previous !== undefined &&
      previous.seq === seq &&
      previous.wireLength >= wire &&
      (previous.fin || !fin)
    ) {
      return;
    }
    const bytes = captured === 0 ? kNoBytes : data.slice(offset, offset + captured);
    const segment = new BufferedSegment(seq, bytes, wire, fin, seconds, nanos, fileId, packetNumber);
    if (index === slots.length) slots.push(segment);
    else if (index === head && head > 0) {
      slots[head - 1] = segment;
      this.#head = head - 1;
    } else slots.splice(index, 0, segment);
    const cost = captured + kSegmentOverheadBytes;
    this.bufferedBytes += cost;
    this.#total.bytes += cost;
  }

  clearBuffer(): void {
    // Setting an array's length is a runtime call even when it changes nothing (every closing
    // direction comes here, almost always with nothing buffered).
    if (this.#slots.length !== 0) this.#slots.length = 0;
    this.#head = 0;
    this.#total.bytes -= this.bufferedBytes;
    this.bufferedBytes = 0;
  }
}

export class Connection implements PendingEntry {
  key = 0;
  ipVersion = 4;
  readonly a: Direction;
  readonly b: Direction;
  /**
   * The endpoints as client/server, handed to protocols (swapped when guessed roles flip). The
   * connection keeps no other copy: `a` is the client when clientIsA. (Address words of 2^31 and
   * more are heap numbers in V8's double fields: one copy per connection halves those boxes.)
   * A reopened connection gets a new one: its old consumer may still hold this one.
   */
  info = new TcpConnectionInfo();
  clientIsA = true;
  /** Roles come from a SYN/SYN-ACK or a claim: never flipped again. */
  rolesKnown = false;
  claim: ClaimState = ClaimState.Unclaimed;
  consumer: StreamConsumer | null = null;
  /** Capture time, file and packet number of the last packet seen (idle expiry, give-up edges). */
  seconds = 0;
  nanos = 0;
  lastFileId = 0;
  lastPacket = 0;
  /** Last-seen order links, owned by the reassembly's connection table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;

  /**
   * `p` is any packet of the connection; `srcIsA` says whether its source is the canonical `a`
   * endpoint (the client until setClientIsA() says otherwise); `total` is the reassembly's
   * running total of buffered bytes.
   */
  constructor(key: number, p: DecodedPacket, srcIsA: boolean, offerBudget: number, total: BufferTotal) {
    this.a = new Direction(offerBudget, total);
    this.b = new Direction(offerBudget, total);
    this.#setEndpoints(key, p, srcIsA);
  }

  /**
   * Readies a connection the reassembly forgot (and its consumer with it) for another 4-tuple:
   * as constructed with these arguments (and the same total).
   */
  reopen(key: number, p: DecodedPacket, srcIsA: boolean, offerBudget: number): void {
    this.info = new TcpConnectionInfo();
    this.clientIsA = true;
    this.rolesKnown = false;
    this.claim = ClaimState.Unclaimed;
    this.consumer = null;
    this.seconds = this.nanos = this.lastFileId = this.lastPacket = 0;
    this.a.reset(offerBudget);
    this.b.reset(offerBudget);
    this.#setEndpoints(key, p, srcIsA);
  }

  #setEndpoints(key: number, p: DecodedPacket, srcIsA: boolean): void {
    this.key = key;
    this.ipVersion = p.ipVersion;
    const info = this.info;
    info.ipVersion = p.ipVersion;
    if (srcIsA) {
      info.client0 = p.src0;
      info.client1 = p.src1;
      info.client2 = p.src2;
      info.client3 = p.src3;
      info.clientPort = p.srcPort;
      info.server0 = p.dst0;
      info.server1 = p.dst1;
      info.server2 = p.dst2;
      info.server3 = p.dst3;
      info.serverPort = p.dstPort;
    } else {
      info.client0 = p.dst0;
      info.client1 = p.dst1;
      info.client2 = p.dst2;
      info.client3 = p.dst3;
      info.clientPort = p.dstPort;
      info.server0 = p.src0;
      info.server1 = p.src1;
      info.server2 = p.src2;
      info.server3 = p.src3;
      info.serverPort = p.srcPort;
    }
  }

  /** Whether `p` (whose source is `a` when srcIsA) belongs to this connection: guards against key collisions. */
  matches(p: DecodedPacket, srcIsA: boolean): boolean {
    if (p.ipVersion !== this.ipVersion) return false;
    const info = this.info;
    return srcIsA === this.clientIsA
      ? p.src0 === info.client0 &&
          p.src1 === info.client1 &&
          p.src2 === info.client2 &&
          p.src3 === info.client3 &&
          p.srcPort === info.clientPort &&
          p.dst0 === info.server0 &&
          p.dst1 === info.server1 &&
          p.dst2 === info.server2 &&
          p.dst3 === info.server3 &&
          p.dstPort === info.serverPort
      : p.dst0 === info.client0 &&
          p.dst1 === info.client1 &&
          p.dst2 === info.client2 &&
          p.dst3 === info.client3 &&
          p.dstPort === info.clientPort &&
          p.src0 === info.server0 &&
          p.src1 === info.server1 &&
          p.src2 === info.server2 &&
          p.src3 === info.server3 &&
          p.srcPort === info.serverPort;
  }

  isClient(direction: Direction): boolean {
    return (direction === this.a) === this.clientIsA;
  }

  /** Sets which endpoint is the client, swapping `info`'s sides when that changes. */
  setClientIsA(clientIsA: boolean): void {
    if (clientIsA === this.clientIsA) return;
    this.clientIsA = clientIsA;
    const info = this.info;
    let word = info.client0;
    info.client0 = info.server0;
    info.server0 = word;
    word = info.client1;
    info.client1 = info.server1;
    info.server1 = word;
    word = info.client2;
    info.client2 = info.server2;
    info.server2 = word;
    word = info.client3;
    info.client3 = info.server3;
    info.server3 = word;
    word = info.clientPort;
    info.clientPort = info.serverPort;
    info.serverPort = word;
  }
}

/**
 * Whether the packet's source is the canonical lower endpoint: addresses compared word by word
 * (unsigned), then ports. Equal endpoints (a host talking to itself on one port) count as lower.
 */
export function sourceIsLower(p: DecodedPacket): boolean {
  if (p.src0 !== p.dst0) return p.src0 >>> 0 < p.dst0 >>> 0;
  if (p.src1 !== p.dst1) return p.src1 >>> 0 < p.dst1 >>> 0;
  if (p.src2 !== p.dst2) return p.src2 >>> 0 < p.dst2 >>> 0;
  if (p.src3 !== p.dst3) return p.src3 >>> 0 < p.dst3 >>> 0;
  return p.srcPort <= p.dstPort;
}

/**
 * One key per TCP connection whichever way a packet goes (key-hash.ts): the IP version, then the
 * lower endpoint's (sourceIsLower's order) address words and port, then the other's (IPv4: only
 * the address's one word), into key11Out[0] (read it right after: a returned key would be a heap number per call). The
 * reassembly's connection table and the capture-loss observer use the same key.
 */
export function buildConnectionKey(
  ipVersion: number,
  srcIsLower: boolean,
  s0: number,
  s1: number,
  s2: number,
  s3: number,
  sPort: number,
  d0: number,
  d1: number,
  d2: number,
  d3: number,
  dPort: number,
): void {
  // IPv4: the address's other three words are zero (key-hash.ts). A v4 key that equals a v6 one
  // is a collision like any other (Connection.matches() tells them apart).
  if (ipVersion === 4) {
    if (srcIsLower) key5(ipVersion, s0, sPort, d0, dPort);
    else key5(ipVersion, d0, dPort, s0, sPort);
  } else if (srcIsLower) key11(ipVersion, s0, s1, s2, s3, sPort, d0, d1, d2, d3, dPort);
  else key11(ipVersion, d0, d1, d2, d3, dPort, s0, s1, s2, s3, sPort);
}

/**
 * Sets view.connectionKey to the connection key of its TCP packet: once per packet, by the
 * correlator, for the capture-loss observer and the reassembly (stored, never returned, so no
 * heap number per packet: see key11Out). The address words go as int32 (`| 0`, the same bits the
 * key hashes): unsigned words of 2^31 and more are no small integers, and V8 would box each one
 * in a heap number at every call that is not inlined.
 */
export function setConnectionKey(view: PacketView): void {
  const p = view.packet;
  buildConnectionKey(
    p.ipVersion,
    sourceIsLower(p),
    p.src0 | 0,
    p.src1 | 0,
    p.src2 | 0,
    p.src3 | 0,
    p.srcPort,
    p.dst0 | 0,
    p.dst1 | 0,
    p.dst2 | 0,
    p.dst3 | 0,
    p.dstPort,
  );
  view.connectionKey = key11Out[0]!;
}
