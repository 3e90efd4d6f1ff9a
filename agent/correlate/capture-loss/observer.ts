/**
 * Capture-loss estimate from the traffic itself, the way Zeek's capture-loss analysis does it:
 * TCP bytes the capture never saw although the connection shows they were sent. Two signs:
 * - a sequence gap: a segment starts after the highest sequence number seen in its direction;
 * - an ACK beyond it: the receiver acknowledged bytes the capture never saw (a lost tail,
 *   lost last segment before a FIN that was lost too, lost data at the end of the capture).
 * Each missing byte is counted once (the highest-seen mark moves past it); a later segment that
 * fills the direction's most recent hole (reordered in the capture, or captured after its ACK:
 * not lost) is moved back from missing to observed. Missing segments are estimated as the gap over the largest segment
 * seen in that direction (rounded, at least one; one while no segment was seen).
 *
 * Why an observer of its own rather than TcpReassembly's onGap: reassembly reports gaps only for
 * connections a protocol claimed, and only when it gives a hole up (buffer full, ACK, close),
 * while loss on unparsed TCP traffic is just as much a sign of a starved capture. Sequence and
 * ACK numbers are all this needs: a few typed-array slots per connection, no bytes held.
 *
 * Hot path (one call per TCP packet): the connection's numeric key (tcp-stream/connection.ts)
 * into a NumericIndex of slot numbers, state in typed arrays indexed by slot, counters in plain
 * number fields; nothing is allocated per packet. Connections are capped (slots reused oldest-first beyond the cap; a
 * reused connection resynchronises on its next packet without counting). Two 4-tuples hashing to
 * one key share a slot: their sequence numbers look like jumps, which count nothing.
 *
 * Each connection also keeps its most recent gap per direction as a capture-time interval (from
 * the last segment seen before the missing bytes to the packet that revealed them), so a pair
 * emitted on that connection can tell whether its exchange crossed lost bytes (crossedGap()).
 */
import { type DecodedPacket, TcpFlag } from '../../decode/packet.ts';
import { NumericIndex } from '../numeric-map.ts';
import type { Pair } from '../pair.ts';
import { connectionKey, packetConnectionKey, sourceIsLower } from '../tcp-stream/connection.ts';
import { seqAdd, seqDiff } from '../tcp-stream/sequence.ts';

/** A jump further than this (either way) is a reused tuple or a key collision, not loss. */
const kSeqWindow = 1 << 30;
/** Per-file marks: file id + the four cumulative counts. */
const kFileFields = 5;
/** Files whose counts are kept (the newest); a long `run` does not grow without bound. */
const kMaxFiles = 4096;
/** Connections the arrays start with (they double up to the cap). */
const kInitialSlots = 1024;

const kSynced = 1;
/** The direction has an open hole (holeStart..holeEnd) that a reordered segment may still fill. */
const kHoleOpen = 2;
/** The direction's SYN was seen (#isn holds its sequence number). */
const kSynSeen = 4;

/** Counts of one period (interval, file or run): sequence space seen and missed. */
export class CaptureLossCounts {
  observedBytes = 0;
  observedSegments = 0;
  missingBytes = 0;
  missingSegments = 0;

  /** Missing bytes over all bytes sent (observed + missing); 0 with no traffic. */
  ratio(): number {
    const total = this.observedBytes + this.missingBytes;
    return total > 0 ? this.missingBytes / total : 0;
  }

  /** Missing segments over all segments sent (observed + missing); 0 with no traffic. */
  segmentRatio(): number {
    const total = this.observedSegments + this.missingSegments;
    return total > 0 ? this.missingSegments / total : 0;
  }

  add(other: CaptureLossCountsData): void {
    this.observedBytes += other.observedBytes;
    this.observedSegments += other.observedSegments;
    this.missingBytes += other.missingBytes;
    this.missingSegments += other.missingSegments;
  }

  /** Takes `other` (an earlier reading of the same counts) away: the counts of the period since. */
  subtract(other: CaptureLossCountsData): void {
    this.observedBytes -= other.observedBytes;
    this.observedSegments -= other.observedSegments;
    this.missingBytes -= other.missingBytes;
    this.missingSegments -= other.missingSegments;
  }

  /** Plain copy (structured-clone and JSON safe). */
  toData(): CaptureLossCountsData {
    return {
      observedBytes: this.observedBytes,
      observedSegments: this.observedSegments,
      missingBytes: this.missingBytes,
      missingSegments: this.missingSegments,
    };
  }
}

export type CaptureLossCountsData = Pick<
  CaptureLossCounts,
  'observedBytes' | 'observedSegments' | 'missingBytes' | 'missingSegments'
>;

export class CaptureLossObserver {
  /** Cumulative counts since the start. */
  readonly counts = new CaptureLossCounts();
  /**
   * Per file: at each change of file, the file id and the cumulative counts then (kFileFields
   * numbers per entry, the newest kMaxFiles files); a file's counts are the difference to the
   * next entry (or to `counts`). Loss revealed by a file's first packets counts for that file.
   */
  #fileMarks = new Float64Array(64 * kFileFields);
  #fileMarkCount = 0;
  #currentFile = -1;
  readonly #capacity: number;
  readonly #slots: NumericIndex;
  /** Key of the connection in each slot (to remove it from #slots when the slot is reused). */
  #slotKeys: Float64Array;
  /** Slots handed out so far; beyond the capacity the slot at #reuse is taken next. */
  #used = 0;
  #reuse = 0;
  // Per direction (index slot * 2 + 0 for the lower endpoint's sending side, + 1 for the other).
  #flags: Uint8Array;
  /** Sequence number after the highest byte (or SYN/FIN) seen or acknowledged. */
  #seenEnd: Uint32Array;
  #isn: Uint32Array;
  #largestSegment: Uint32Array;
  #holeStart: Uint32Array;
  #holeEnd: Uint32Array;
  /** Segments the open hole was counted as (taken back one per filling segment). */
  #holeSegments: Uint32Array;
  /** Capture time of the last segment carrying bytes or FIN (seconds, nanos). */
  #lastSegmentSeconds: Uint32Array;
  #lastSegmentNanos: Uint32Array;
  /** The most recent gap: from the last segment before the missing bytes to the packet that revealed them. */
  #gapFromSeconds: Uint32Array;
  #gapFromNanos: Uint32Array;
  #gapToSeconds: Uint32Array;
  #gapToNanos: Uint32Array;

  constructor(maxConnections: number) {
    if (!(maxConnections >= 1)) throw new RangeError(`maxConnections must be >= 1, got ${maxConnections}`);
    this.#capacity = maxConnections;
    this.#slots = new NumericIndex(Math.min(maxConnections * 2, kInitialSlots * 2));
    // Grown by doubling up to the cap: a small capture does not pay for the cap's arrays.
    const slots = Math.min(maxConnections, kInitialSlots);
    this.#slotKeys = new Float64Array(slots);
    this.#flags = new Uint8Array(slots * 2);
    this.#seenEnd = new Uint32Array(slots * 2);
    this.#isn = new Uint32Array(slots * 2);
    this.#largestSegment = new Uint32Array(slots * 2);
    this.#holeStart = new Uint32Array(slots * 2);
    this.#holeEnd = new Uint32Array(slots * 2);
    this.#holeSegments = new Uint32Array(slots * 2);
    this.#lastSegmentSeconds = new Uint32Array(slots * 2);
    this.#lastSegmentNanos = new Uint32Array(slots * 2);
    this.#gapFromSeconds = new Uint32Array(slots * 2);
    this.#gapFromNanos = new Uint32Array(slots * 2);
    this.#gapToSeconds = new Uint32Array(slots * 2);
    this.#gapToNanos = new Uint32Array(slots * 2);
  }

  /** Doubles every per-slot array (at most to the cap); existing state is kept. */
  #grow(): void {
    const slots = Math.min(this.#capacity, this.#slotKeys.length * 2);
    const grown = <T extends Uint8Array | Uint32Array | Float64Array>(old: T, length: number): T => {
      const array = new (old.constructor as new (n: number) => T)(length);
      array.set(old);
      return array;
    };
    this.#slotKeys = grown(this.#slotKeys, slots);
    this.#flags = grown(this.#flags, slots * 2);
    this.#seenEnd = grown(this.#seenEnd, slots * 2);
    this.#isn = grown(this.#isn, slots * 2);
    this.#largestSegment = grown(this.#largestSegment, slots * 2);
    this.#holeStart = grown(this.#holeStart, slots * 2);
    this.#holeEnd = grown(this.#holeEnd, slots * 2);
    this.#holeSegments = grown(this.#holeSegments, slots * 2);
    this.#lastSegmentSeconds = grown(this.#lastSegmentSeconds, slots * 2);
    this.#lastSegmentNanos = grown(this.#lastSegmentNanos, slots * 2);
    this.#gapFromSeconds = grown(this.#gapFromSeconds, slots * 2);
    this.#gapFromNanos = grown(this.#gapFromNanos, slots * 2);
    this.#gapToSeconds = grown(this.#gapToSeconds, slots * 2);
    this.#gapToNanos = grown(this.#gapToNanos, slots * 2);
  }

  /** One TCP packet in capture order; `key` is its packetConnectionKey() (the correlator computes it once). */
  onPacket(p: DecodedPacket, seconds: number, nanos: number, fileId = 0, key = packetConnectionKey(p)): void {
    if (fileId !== this.#currentFile) this.#markFile(fileId);
    const srcIsLower = sourceIsLower(p);
    const flags = p.tcpFlags;
    if ((flags & TcpFlag.Rst) !== 0) return;
    let slot = this.#slots.get(key);
    if (slot < 0) slot = this.#allocate(key);
    const direction = slot * 2 + (srcIsLower ? 0 : 1);
    const peer = direction ^ 1;
    const syn = (flags & TcpFlag.Syn) !== 0;
    if (syn) this.#onSyn(direction, peer, p.tcpSeq, (flags & TcpFlag.Ack) !== 0);
    if ((flags & TcpFlag.Ack) !== 0) this.#onAck(peer, p.tcpAck, seconds, nanos);
    const fin = (flags & TcpFlag.Fin) !== 0;
    const length = Math.max(p.payloadWireLength, p.payloadLength);
    if (length > 0 || fin)
      this.#onSegment(direction, syn ? seqAdd(p.tcpSeq, 1) : p.tcpSeq, length, fin, seconds, nanos);
  }

  /** Counts per file id (the newest kMaxFiles files seen), for files with TCP traffic. */
  countsByFile(): Map<number, CaptureLossCounts> {
    const byFile = new Map<number, CaptureLossCounts>();
    const marks = this.#fileMarks;
    for (let i = 0; i < this.#fileMarkCount; i++) {
      const at = i * kFileFields;
      const next =
        i + 1 < this.#fileMarkCount ? marks.subarray(at + kFileFields + 1, at + 2 * kFileFields) : null;
      const file = byFile.get(marks[at]!) ?? new CaptureLossCounts();
      file.observedBytes += (next ? next[0]! : this.counts.observedBytes) - marks[at + 1]!;
      file.observedSegments += (next ? next[1]! : this.counts.observedSegments) - marks[at + 2]!;
      file.missingBytes += (next ? next[2]! : this.counts.missingBytes) - marks[at + 3]!;
      file.missingSegments += (next ? next[3]! : this.counts.missingSegments) - marks[at + 4]!;
      byFile.set(marks[at]!, file);
    }
    return byFile;
  }

  #markFile(fileId: number): void {
    this.#currentFile = fileId;
    if (this.#fileMarkCount === kMaxFiles) {
      // Forget the oldest file (its counts stay in the run's).
      this.#fileMarks.copyWithin(0, kFileFields);
      this.#fileMarkCount--;
    } else if ((this.#fileMarkCount + 1) * kFileFields > this.#fileMarks.length) {
      const grown = new Float64Array(this.#fileMarks.length * 2);
      grown.set(this.#fileMarks);
      this.#fileMarks = grown;
    }
    const at = this.#fileMarkCount++ * kFileFields;
    const c = this.counts;
    this.#fileMarks[at] = fileId;
    this.#fileMarks[at + 1] = c.observedBytes;
    this.#fileMarks[at + 2] = c.observedSegments;
    this.#fileMarks[at + 3] = c.missingBytes;
    this.#fileMarks[at + 4] = c.missingSegments;
  }

  /**
   * Whether the pair's connection lost bytes (either way) while its exchange was under way:
   * between its request's first byte and its response's last byte (unanswered: the time it
   * was given up). False for connections no longer (or never) tracked.
   */
  crossedGap(pair: Pair): boolean {
    if (pair.transport !== 6) return false;
    const lower = clientIsLower(pair);
    const key = connectionKey(
      pair.ipVersion,
      lower,
      pair.client0,
      pair.client1,
      pair.client2,
      pair.client3,
      pair.clientPort,
      pair.server0,
      pair.server1,
      pair.server2,
      pair.server3,
      pair.serverPort,
    );
    const slot = this.#slots.get(key);
    if (slot < 0) return false;
    const startSeconds = pair.request.firstSeconds;
    const startNanos = pair.request.firstNanos;
    const response = pair.response;
    const endSeconds = response !== null ? response.lastSeconds : pair.givenUpSeconds;
    const endNanos = response !== null ? response.lastNanos : pair.givenUpNanos;
    return (
      this.#gapOverlaps(slot * 2, startSeconds, startNanos, endSeconds, endNanos) ||
      this.#gapOverlaps(slot * 2 + 1, startSeconds, startNanos, endSeconds, endNanos)
    );
  }

  /** Whether the direction's most recent gap interval overlaps [start, end] (the gap strictly after start). */
  #gapOverlaps(direction: number, startS: number, startN: number, endS: number, endN: number): boolean {
    const toS = this.#gapToSeconds[direction]!;
    const toN = this.#gapToNanos[direction]!;
    if (toS === 0 && toN === 0) return false;
    const fromS = this.#gapFromSeconds[direction]!;
    const fromN = this.#gapFromNanos[direction]!;
    const endsAfterStart = toS > startS || (toS === startS && toN > startN);
    const startsBeforeEnd = fromS < endS || (fromS === endS && fromN < endN);
    return endsAfterStart && startsBeforeEnd;
  }

  #allocate(key: number): number {
    let slot: number;
    if (this.#used < this.#capacity) {
      if (this.#used === this.#slotKeys.length) this.#grow();
      slot = this.#used++;
    } else {
      slot = this.#reuse;
      this.#reuse = (this.#reuse + 1) % this.#capacity;
      this.#slots.delete(this.#slotKeys[slot]!);
    }
    this.#slotKeys[slot] = key;
    this.#slots.set(key, slot);
    this.#clear(slot * 2);
    this.#clear(slot * 2 + 1);
    return slot;
  }

  #clear(direction: number): void {
    this.#flags[direction] = 0;
    this.#largestSegment[direction] = 0;
    this.#lastSegmentSeconds[direction] = 0;
    this.#lastSegmentNanos[direction] = 0;
    this.#gapFromSeconds[direction] = 0;
    this.#gapFromNanos[direction] = 0;
    this.#gapToSeconds[direction] = 0;
    this.#gapToNanos[direction] = 0;
  }

  #onSyn(direction: number, peer: number, isn: number, synAck: boolean): void {
    if ((this.#flags[direction]! & kSynSeen) !== 0 && this.#isn[direction] === isn) return;
    // A new SYN on a known tuple is a new connection: both directions start over (a SYN-ACK
    // answers the SYN already seen, whose direction stays).
    this.#flags[direction] = kSynced | kSynSeen;
    this.#isn[direction] = isn;
    this.#seenEnd[direction] = seqAdd(isn, 1);
    this.#largestSegment[direction] = 0;
    if (!synAck) this.#flags[peer] = 0;
  }

  /** An ACK about `direction` (the peer of the packet's sender). */
  #onAck(direction: number, ack: number, seconds: number, nanos: number): void {
    const flags = this.#flags[direction]!;
    if ((flags & kSynced) === 0) {
      this.#flags[direction] = kSynced;
      this.#seenEnd[direction] = ack;
      return;
    }
    const ahead = seqDiff(ack, this.#seenEnd[direction]!);
    if (ahead <= 0 || ahead > kSeqWindow) return;
    // Acknowledged but never seen: lost by the capture, unless the segment still comes (captured
    // after its ACK), so it opens a hole like a sequence gap.
    this.#openHole(direction, this.#seenEnd[direction]!, ack, seconds, nanos);
    this.#seenEnd[direction] = ack;
  }

  #openHole(direction: number, from: number, to: number, seconds: number, nanos: number): void {
    this.#holeSegments[direction] = this.#countGap(direction, seqDiff(to, from), seconds, nanos);
    this.#flags[direction] = this.#flags[direction]! | kHoleOpen;
    this.#holeStart[direction] = from;
    this.#holeEnd[direction] = to;
  }

  #onSegment(
    direction: number,
    seq: number,
    length: number,
    fin: boolean,
    seconds: number,
    nanos: number,
  ): void {
    const flags = this.#flags[direction]!;
    const end = seqAdd(seq, length + (fin ? 1 : 0));
    if ((flags & kSynced) === 0) {
      this.#flags[direction] = kSynced;
      this.#seenEnd[direction] = seq;
    }
    const seenEnd = this.#seenEnd[direction]!;
    const ahead = seqDiff(seq, seenEnd);
    if (ahead > kSeqWindow || ahead < -kSeqWindow) {
      // A discontinuity (reused tuple without its SYN, colliding key): start over here.
      this.#flags[direction] = flags & kSynSeen ? kSynced | kSynSeen : kSynced;
      this.#seenEnd[direction] = end;
      this.#observe(direction, length, seconds, nanos);
      return;
    }
    if (ahead > 0) this.#openHole(direction, seenEnd, seq, seconds, nanos);
    else if (ahead < 0 && (flags & kHoleOpen) !== 0) {
      this.#fillHole(direction, seq, end);
    }
    const fresh = seqDiff(end, this.#seenEnd[direction]!);
    if (fresh > 0) {
      this.#seenEnd[direction] = end;
      // Only the new part of an overlap counts (a retransmission of seen bytes adds nothing).
      this.#observe(direction, Math.min(fresh, length), seconds, nanos);
    } else {
      this.#lastSegmentSeconds[direction] = seconds;
      this.#lastSegmentNanos[direction] = nanos;
    }
    if (length > this.#largestSegment[direction]!) this.#largestSegment[direction] = length;
  }

  #observe(direction: number, bytes: number, seconds: number, nanos: number): void {
    if (bytes > 0) {
      this.counts.observedBytes += bytes;
      this.counts.observedSegments++;
    }
    this.#lastSegmentSeconds[direction] = seconds;
    this.#lastSegmentNanos[direction] = nanos;
  }

  /** A late segment inside the open hole: those bytes were reordered, not lost. */
  #fillHole(direction: number, seq: number, end: number): void {
    const holeStart = this.#holeStart[direction]!;
    const holeEnd = this.#holeEnd[direction]!;
    const from = seqDiff(seq, holeStart) > 0 ? seq : holeStart;
    const to = seqDiff(end, holeEnd) < 0 ? end : holeEnd;
    const filled = seqDiff(to, from);
    if (filled <= 0) return;
    const counts = this.counts;
    counts.missingBytes -= filled;
    counts.observedBytes += filled;
    counts.observedSegments++;
    // Keep the larger remainder open (a hole filled in the middle leaves two; one is tracked).
    if (seqDiff(from, holeStart) >= seqDiff(holeEnd, to)) this.#holeEnd[direction] = from;
    else this.#holeStart[direction] = to;
    // The hole's segment count was an estimate: a filled hole takes all of it back, a partly filled one one.
    const closed = seqDiff(this.#holeEnd[direction]!, this.#holeStart[direction]!) <= 0;
    const segments = this.#holeSegments[direction]!;
    const takenBack = closed ? segments : Math.min(segments, 1);
    this.#holeSegments[direction] = segments - takenBack;
    counts.missingSegments -= takenBack;
    if (closed) this.#flags[direction] = this.#flags[direction]! & ~kHoleOpen;
  }

  /** Counts `bytes` missing in `direction`, revealed at (seconds, nanos); returns the segments counted. */
  #countGap(direction: number, bytes: number, seconds: number, nanos: number): number {
    const largest = this.#largestSegment[direction]!;
    // Rounded, not up: segments vary in size, and a lost one a little larger than all seen is still one.
    const segments = largest > 0 ? Math.max(1, Math.round(bytes / largest)) : 1;
    this.counts.missingBytes += bytes;
    this.counts.missingSegments += segments;
    this.#gapFromSeconds[direction] = this.#lastSegmentSeconds[direction]!;
    this.#gapFromNanos[direction] = this.#lastSegmentNanos[direction]!;
    this.#gapToSeconds[direction] = seconds;
    this.#gapToNanos[direction] = nanos;
    return segments;
  }
}

function clientIsLower(pair: Pair): boolean {
  if (pair.client0 !== pair.server0) return pair.client0 >>> 0 < pair.server0 >>> 0;
  if (pair.client1 !== pair.server1) return pair.client1 >>> 0 < pair.server1 >>> 0;
  if (pair.client2 !== pair.server2) return pair.client2 >>> 0 < pair.server2 >>> 0;
  if (pair.client3 !== pair.server3) return pair.client3 >>> 0 < pair.server3 >>> 0;
  return pair.clientPort <= pair.serverPort;
}
