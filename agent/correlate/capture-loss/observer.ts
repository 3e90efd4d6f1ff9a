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
 * Hot path (one call per TCP packet): the connection's numeric key (tcp-stream/connection.ts,
 * computed once by the correlator) into a NumericIndex of slot numbers, the state of both
 * directions in the first 64 bytes of its slot in a Uint32Array, counters in plain number
 * fields; nothing is allocated per packet. Connections are forgotten once their packets stop
 * (expire(): soon after the end of a connection that lost nothing, otherwise after the idle or
 * the longest request timeout), so the table holds the live connections, not the whole capture;
 * beyond the cap, slots are reused oldest-allocated first, and a reused connection
 * resynchronises on its next packet without counting. Two 4-tuples hashing to one key share a
 * slot: their sequence numbers look like jumps, which count nothing.
 *
 * Each connection also keeps its most recent gap per direction as a capture-time interval (from
 * the last segment seen before the missing bytes to the packet that revealed them), so a pair
 * emitted on that connection can tell whether its exchange crossed lost bytes (crossedGap()).
 */
import { TcpFlag } from '../../decode/packet.ts';
import { grown } from '../../shared/typed-arrays.ts';
import { key11Out } from '../key-hash.ts';
import type { PacketView } from '../matcher.ts';
import { NumericIndex } from '../numeric-map.ts';
import type { Pair } from '../pair.ts';
import { buildConnectionKey, sourceIsLower } from '../tcp-stream/connection.ts';
import { seqAdd, seqDiff } from '../tcp-stream/sequence.ts';

/** A jump further than this (either way) is a reused tuple or a key collision, not loss. */
const kSeqWindow = 1 << 30;
/** Per-file marks: file id + the four cumulative counts. */
const kFileFields = 5;
/** Files whose counts are kept (the newest); a long `run` does not grow without bound. */
const kMaxFiles = 4096;
/** Connections the arrays start with (they double up to the cap). */
const kInitialSlots = 1024;

/**
 * An ended connection (a FIN each way, or a reset) that lost nothing is forgotten this long after
 * its last packet: its final ACK and retransmitted FINs come within a few round trips, and a
 * later one only starts a new slot (resynchronised, counting nothing).
 */
const kEndedLingerSeconds = 2;
/** Past the longest request timeout: its pair is emitted within a second of capture time after it. */
const kPairSlackSeconds = 2;
/** #slotKeys of a free slot (keys are >= 0). */
const kFreeSlot = -1;

// Per connection, kSlotWords words of #state: the lower endpoint's sending direction at word 0,
// the other's at kSideWords (a direction's peer is direction ^ kSideWords). The fields every
// packet touches (both directions' and the connection's) share the first 64 bytes; the hole and
// gap fields, touched when bytes go missing, the second.
const kSlotWords = 32;
const kSideWords = 8;
const kFlags = 0;
/** Sequence number after the highest byte (or SYN/FIN) seen or acknowledged. */
const kSeenEnd = 1;
const kLargestSegment = 2;
/** Capture time of the last segment carrying bytes or FIN. */
const kLastSegmentSeconds = 3;
const kLastSegmentNanos = 4;
/** The connection's last packet (whole seconds: expiry runs once per capture second). */
const kLastSeenSeconds = 5;
const kIsn = 16;
const kHoleStart = 17;
const kHoleEnd = 18;
/** Segments the open hole was counted as (taken back one per filling segment). */
const kHoleSegments = 19;
/** The most recent gap: from the last segment before the missing bytes to the packet that revealed them. */
const kGapFromSeconds = 20;
const kGapFromNanos = 21;
const kGapToSeconds = 22;
const kGapToNanos = 23;

// kFlags bits.
const kSynced = 1;
/** The direction has an open hole (kHoleStart..kHoleEnd) that a reordered segment may still fill. */
const kHoleOpen = 2;
/** The direction's SYN was seen (kIsn holds its sequence number). */
const kSynSeen = 4;
/** The direction sent its FIN. */
const kFinSeen = 8;
/** The direction sent a reset. */
const kResetSeen = 16;

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

/** The table's size and timeouts: the correlator passes the reassembly's and the protocols' limits. */
export interface CaptureLossLimits {
  /** Connections tracked at once; beyond it slots are reused oldest-allocated first. */
  maxConnections: number;
  /** The reassembly's idle timeout: a connection with no packet for longer is forgotten (see expire()). */
  idleTimeoutNanos: number;
  /** The longest request timeout: a connection's pairs may be emitted that long after its last packet. */
  longestTimeoutNanos: number;
}

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
  /** Whole seconds without a packet after which any other connection is forgotten. */
  readonly #keepSeconds: number;
  readonly #slots: NumericIndex;
  /** Key of the connection in each slot, kFreeSlot when the slot is free. */
  #slotKeys: Float64Array;
  /** Freed slots (a stack), taken before new ones. */
  #freeSlots: Int32Array;
  #freeCount = 0;
  /** Slots handed out so far; beyond the capacity the slot at #reuse is taken next. */
  #used = 0;
  #reuse = 0;
  /** Gaps counted so far: while none, no pair crossed one (most captures lose nothing). */
  #gapsCounted = 0;
  /** kSlotWords per connection: both directions' hot fields in its first 64 bytes (see kFlags). */
  #state: Uint32Array;

  constructor(limits: CaptureLossLimits) {
    const { maxConnections } = limits;
    if (!(maxConnections >= 1)) throw new RangeError(`maxConnections must be >= 1, got ${maxConnections}`);
    this.#capacity = maxConnections;
    this.#keepSeconds =
      Math.ceil(Math.max(limits.idleTimeoutNanos, limits.longestTimeoutNanos) / 1e9) + kPairSlackSeconds;
    this.#slots = new NumericIndex(Math.min(maxConnections * 2, kInitialSlots * 2));
    // Grown by doubling up to the cap: a small capture does not pay for the cap's arrays.
    const slots = Math.min(maxConnections, kInitialSlots);
    this.#slotKeys = new Float64Array(slots);
    this.#freeSlots = new Int32Array(slots);
    this.#state = new Uint32Array(slots * kSlotWords);
  }

  /** Connections tracked now. */
  get connections(): number {
    return this.#used - this.#freeCount;
  }

  /** Doubles the per-slot arrays (at most to the cap); existing state is kept. */
  #grow(): void {
    const slots = Math.min(this.#capacity, this.#slotKeys.length * 2);
    const keys = new Float64Array(slots);
    keys.set(this.#slotKeys);
    this.#slotKeys = keys;
    const free = new Int32Array(slots);
    free.set(this.#freeSlots);
    this.#freeSlots = free;
    const state = new Uint32Array(slots * kSlotWords);
    state.set(this.#state);
    this.#state = state;
  }

  /** One TCP packet in capture order, with its view.connectionKey set (setConnectionKey()). */
  onPacket(view: PacketView): void {
    const p = view.packet;
    const seconds = view.seconds;
    const nanos = view.nanos;
    const fileId = view.fileId;
    const key = view.connectionKey;
    if (fileId !== this.#currentFile) this.#markFile(fileId);
    const flags = p.tcpFlags;
    let slot = this.#slots.get(key);
    if ((flags & TcpFlag.Rst) !== 0) {
      // A reset counts nothing, whatever its numbers; it ends the connection (forgotten after the linger).
      if (slot >= 0) this.#onReset(slot * kSlotWords + (sourceIsLower(p) ? 0 : kSideWords), seconds);
      return;
    }
    if (slot < 0) slot = this.#allocate(key);
    const base = slot * kSlotWords;
    this.#state[base + kLastSeenSeconds] = seconds;
    const direction = base + (sourceIsLower(p) ? 0 : kSideWords);
    const peer = direction ^ kSideWords;
    const syn = (flags & TcpFlag.Syn) !== 0;
    if (syn) this.#onSyn(direction, peer, p.tcpSeq, (flags & TcpFlag.Ack) !== 0);
    if ((flags & TcpFlag.Ack) !== 0) this.#onAck(peer, p.tcpAck, seconds, nanos);
    const fin = (flags & TcpFlag.Fin) !== 0;
    const length = Math.max(p.payloadWireLength, p.payloadLength);
    if (length > 0 || fin)
      this.#onSegment(direction, syn ? seqAdd(p.tcpSeq, 1) : p.tcpSeq, length, fin, seconds, nanos);
  }

  /**
   * Capture time reached `seconds`: forgets the connections whose packets stopped. One that ended
   * (a FIN each way, or a reset) and lost nothing after kEndedLingerSeconds: its late packets
   * (final ACK, retransmitted FIN) are seen by then. Any other after the idle timeout or the
   * longest request timeout, whichever is longer, + kPairSlackSeconds: until then a pair of it may
   * still be emitted and ask crossedGap(). Called once per capture second, after the matchers'
   * and the reassembly's expiry (whose pairs may still ask); costs one pass over the slots in use.
   */
  expire(seconds: number): void {
    const keys = this.#slotKeys;
    const state = this.#state;
    for (let slot = 0; slot < this.#used; slot++) {
      if (keys[slot] === kFreeSlot) continue;
      const base = slot * kSlotWords;
      // More than N whole seconds apart: more than N seconds since the last packet, whatever the nanos.
      const idle = seconds - state[base + kLastSeenSeconds]!;
      if (idle <= kEndedLingerSeconds) continue;
      if (idle <= this.#keepSeconds && !this.#endedWithoutLoss(base)) continue;
      this.#slots.delete(keys[slot]!);
      keys[slot] = kFreeSlot;
      this.#freeSlots[this.#freeCount++] = slot;
    }
  }

  #endedWithoutLoss(base: number): boolean {
    const state = this.#state;
    const lower = state[base + kFlags]!;
    const higher = state[base + kSideWords + kFlags]!;
    const ended = ((lower | higher) & kResetSeen) !== 0 || (lower & higher & kFinSeen) !== 0;
    return ended && !this.#hasGap(base) && !this.#hasGap(base + kSideWords);
  }

  #hasGap(direction: number): boolean {
    return this.#state[direction + kGapToSeconds] !== 0 || this.#state[direction + kGapToNanos] !== 0;
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
      this.#fileMarks = grown(this.#fileMarks, this.#fileMarks.length * 2);
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
    if (this.#gapsCounted === 0 || pair.transport !== 6) return false;
    const lower = clientIsLower(pair);
    buildConnectionKey(
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
    const slot = this.#slots.get(key11Out[0]!);
    if (slot < 0) return false;
    const startSeconds = pair.request.firstSeconds;
    const startNanos = pair.request.firstNanos;
    const response = pair.response;
    const endSeconds = response !== null ? response.lastSeconds : pair.givenUpSeconds;
    const endNanos = response !== null ? response.lastNanos : pair.givenUpNanos;
    const base = slot * kSlotWords;
    return (
      this.#gapOverlaps(base, startSeconds, startNanos, endSeconds, endNanos) ||
      this.#gapOverlaps(base + kSideWords, startSeconds, startNanos, endSeconds, endNanos)
    );
  }

  /** Whether the direction's most recent gap interval overlaps [start, end] (the gap strictly after start). */
  #gapOverlaps(direction: number, startS: number, startN: number, endS: number, endN: number): boolean {
    if (!this.#hasGap(direction)) return false;
    const state = this.#state;
    const toS = state[direction + kGapToSeconds]!;
    const toN = state[direction + kGapToNanos]!;
    const fromS = state[direction + kGapFromSeconds]!;
    const fromN = state[direction + kGapFromNanos]!;
    const endsAfterStart = toS > startS || (toS === startS && toN > startN);
    const startsBeforeEnd = fromS < endS || (fromS === endS && fromN < endN);
    return endsAfterStart && startsBeforeEnd;
  }

  #allocate(key: number): number {
    let slot: number;
    if (this.#freeCount > 0) slot = this.#freeSlots[--this.#freeCount]!;
    else if (this.#used < this.#capacity) {
      if (this.#used === this.#slotKeys.length) this.#grow();
      slot = this.#used++;
    } else {
      slot = this.#reuse;
      this.#reuse = (this.#reuse + 1) % this.#capacity;
      this.#slots.delete(this.#slotKeys[slot]!);
    }
    this.#slotKeys[slot] = key;
    this.#slots.set(key, slot);
    this.#state.fill(0, slot * kSlotWords, (slot + 1) * kSlotWords);
    return slot;
  }

  #onReset(direction: number, seconds: number): void {
    this.#state[direction + kFlags] = this.#state[direction + kFlags]! | kResetSeen;
    this.#state[(direction & ~kSideWords) + kLastSeenSeconds] = seconds;
  }

  #onSyn(direction: number, peer: number, isn: number, synAck: boolean): void {
    const state = this.#state;
    if ((state[direction + kFlags]! & kSynSeen) !== 0 && state[direction + kIsn] === isn) return;
    // A new SYN on a known tuple is a new connection: both directions start over (a SYN-ACK
    // answers the SYN already seen, whose direction stays).
    state[direction + kFlags] = kSynced | kSynSeen;
    state[direction + kIsn] = isn;
    state[direction + kSeenEnd] = seqAdd(isn, 1);
    state[direction + kLargestSegment] = 0;
    if (!synAck) state[peer + kFlags] = 0;
  }

  /** An ACK about `direction` (the peer of the packet's sender). */
  #onAck(direction: number, ack: number, seconds: number, nanos: number): void {
    const state = this.#state;
    const flags = state[direction + kFlags]!;
    if ((flags & kSynced) === 0) {
      state[direction + kFlags] = flags | kSynced;
      state[direction + kSeenEnd] = ack;
      return;
    }
    const seenEnd = state[direction + kSeenEnd]!;
    const ahead = seqDiff(ack, seenEnd);
    if (ahead <= 0 || ahead > kSeqWindow) return;
    // Acknowledged but never seen: lost by the capture, unless the segment still comes (captured
    // after its ACK), so it opens a hole like a sequence gap.
    this.#openHole(direction, seenEnd, ack, seconds, nanos);
    state[direction + kSeenEnd] = ack;
  }

  #openHole(direction: number, from: number, to: number, seconds: number, nanos: number): void {
    const state = this.#state;
    state[direction + kHoleSegments] = this.#countGap(direction, seqDiff(to, from), seconds, nanos);
    state[direction + kFlags] = state[direction + kFlags]! | kHoleOpen;
    state[direction + kHoleStart] = from;
    state[direction + kHoleEnd] = to;
  }

  #onSegment(
    direction: number,
    seq: number,
    length: number,
    fin: boolean,
    seconds: number,
    nanos: number,
  ): void {
    const state = this.#state;
    const flags = state[direction + kFlags]!;
    const end = seqAdd(seq, length + (fin ? 1 : 0));
    if ((flags & kSynced) === 0) {
      state[direction + kFlags] = flags | kSynced;
      state[direction + kSeenEnd] = seq;
    }
    const seenEnd = state[direction + kSeenEnd]!;
    const ahead = seqDiff(seq, seenEnd);
    if (ahead > kSeqWindow || ahead < -kSeqWindow) {
      // A discontinuity (reused tuple without its SYN, colliding key): start over here.
      state[direction + kFlags] = (flags & kSynSeen ? kSynced | kSynSeen : kSynced) | (fin ? kFinSeen : 0);
      state[direction + kSeenEnd] = end;
      this.#observe(direction, length, seconds, nanos);
      return;
    }
    if (ahead > 0) this.#openHole(direction, seenEnd, seq, seconds, nanos);
    else if (ahead < 0 && (flags & kHoleOpen) !== 0) {
      this.#fillHole(direction, seq, end);
    }
    const fresh = seqDiff(end, state[direction + kSeenEnd]!);
    if (fresh > 0) {
      state[direction + kSeenEnd] = end;
      // Only the new part of an overlap counts (a retransmission of seen bytes adds nothing).
      this.#observe(direction, Math.min(fresh, length), seconds, nanos);
    } else {
      state[direction + kLastSegmentSeconds] = seconds;
      state[direction + kLastSegmentNanos] = nanos;
    }
    if (length > state[direction + kLargestSegment]!) state[direction + kLargestSegment] = length;
    if (fin) state[direction + kFlags] = state[direction + kFlags]! | kFinSeen;
  }

  #observe(direction: number, bytes: number, seconds: number, nanos: number): void {
    if (bytes > 0) {
      this.counts.observedBytes += bytes;
      this.counts.observedSegments++;
    }
    this.#state[direction + kLastSegmentSeconds] = seconds;
    this.#state[direction + kLastSegmentNanos] = nanos;
  }

  /** A late segment inside the open hole: those bytes were reordered, not lost. */
  #fillHole(direction: number, seq: number, end: number): void {
    const state = this.#state;
    const holeStart = state[direction + kHoleStart]!;
    const holeEnd = state[direction + kHoleEnd]!;
    const from = seqDiff(seq, holeStart) > 0 ? seq : holeStart;
    const to = seqDiff(end, holeEnd) < 0 ? end : holeEnd;
    const filled = seqDiff(to, from);
    if (filled <= 0) return;
    const counts = this.counts;
    counts.missingBytes -= filled;
    counts.observedBytes += filled;
    counts.observedSegments++;
    // Keep the larger remainder open (a hole filled in the middle leaves two; one is tracked).
    if (seqDiff(from, holeStart) >= seqDiff(holeEnd, to)) state[direction + kHoleEnd] = from;
    else state[direction + kHoleStart] = to;
    // The hole's segment count was an estimate: a filled hole takes all of it back, a partly filled one one.
    const closed = seqDiff(state[direction + kHoleEnd]!, state[direction + kHoleStart]!) <= 0;
    const segments = state[direction + kHoleSegments]!;
    const takenBack = closed ? segments : Math.min(segments, 1);
    state[direction + kHoleSegments] = segments - takenBack;
    counts.missingSegments -= takenBack;
    if (closed) state[direction + kFlags] = state[direction + kFlags]! & ~kHoleOpen;
  }

  /** Counts `bytes` missing in `direction`, revealed at (seconds, nanos); returns the segments counted. */
  #countGap(direction: number, bytes: number, seconds: number, nanos: number): number {
    const state = this.#state;
    const largest = state[direction + kLargestSegment]!;
    // Rounded, not up: segments vary in size, and a lost one a little larger than all seen is still one.
    const segments = largest > 0 ? Math.max(1, Math.round(bytes / largest)) : 1;
    this.counts.missingBytes += bytes;
    this.counts.missingSegments += segments;
    this.#gapsCounted++;
    state[direction + kGapFromSeconds] = state[direction + kLastSegmentSeconds]!;
    state[direction + kGapFromNanos] = state[direction + kLastSegmentNanos]!;
    state[direction + kGapToSeconds] = seconds;
    state[direction + kGapToNanos] = nanos;
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
