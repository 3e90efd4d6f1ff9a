/**
 * TCP reassembly shared by every stream protocol (HTTP/1.x, DNS over TCP): tracks connections by
 * their 4-tuple and hands each direction's bytes to the owning StreamConsumer exactly once, in
 * sequence order.
 *
 * Invariants (hot path: one call per TCP packet):
 * - No per-packet allocation: numeric table keys (key-hash.ts), reused views. Only connection
 *   setup (a forgotten Connection is reused: only its TcpConnectionInfo is new), out-of-order
 *   segments (copied) and claims allocate.
 * - Sequence numbers are compared modulo 2^32 (sequence.ts); SYN and FIN each take one number.
 * - Per direction, bytes before nextSeq are never delivered again (retransmissions, duplicates and
 *   the old part of overlaps are dropped; first copy wins). Bytes after a hole wait in a bounded
 *   buffer until the hole fills (delivered with the filling packet as their view) or is given up
 *   (onGap, then the buffered bytes with their own packets' times): when the buffer is full, when
 *   the peer acknowledges past the hole, at RST, idle expiry, eviction and flush(). A FIN after a
 *   hole waits like data: a retransmission may still fill the hole.
 * - The out-of-order buffers are bounded in what they really hold: per direction in segments and
 *   in bytes (captured bytes + kSegmentOverheadBytes per segment, so FIN-only and snaplen-cut
 *   segments count), and across all connections in bytes (maxBufferedBytesTotal). A segment that
 *   would pass a bound is not buffered: the holes of its own direction before it are given up
 *   (the flow that sends out of order pays, not the others). Giving up or draining n segments
 *   costs O(n); inserting costs O(log n) plus, for a middle insertion, moving at most the entry bound.
 * - The connection table is bounded (least recently seen evicted) and idle connections expire by
 *   capture time; Map insertion order is kept equal to last-seen order so both look only at the front.
 *
 * Roles: the client is the sender of a SYN without ACK (or the receiver of a SYN-ACK). Without a
 * handshake in the capture the client is guessed as the side with the higher port (on equal ports
 * the sender of the first packet seen), and if no protocol claims the first bytes under that guess,
 * they are offered once more with the roles swapped: the side whose bytes a protocol claims as a
 * request is the client from then on.
 *
 * Call order for the correlator: onPacket() for every TCP packet in capture order; expire() along
 * with the matchers' expire(); at end of input flush() BEFORE the matchers' flush(), so bytes held
 * behind holes reach the protocols before they report what is still pending.
 */
import { DecodedPacket, IpProtocol, TcpFlag } from '../../decode/packet.ts';
import { type SkipCounters, skipReason } from '../../shared/skips.ts';
import { FreeList } from '../free-list.ts';
import { PacketView } from '../matcher.ts';
import { NumericPendingTable, PendingTable } from '../pending-table.ts';
import {
  type BufferedSegment,
  BufferTotal,
  ClaimState,
  Connection,
  type Direction,
  kSegmentOverheadBytes,
  sourceIsLower,
} from './connection.ts';
import type { StreamProtocol } from './consumer.ts';
import { kDefaultParserBufferBytesTotal } from './parser-buffers.ts';
import { seqAdd, seqDiff } from './sequence.ts';

export { kSegmentOverheadBytes };

export interface TcpReassemblyOptions {
  /** Connections tracked at once; beyond it the least recently seen one is evicted (counted). */
  maxConnections: number;
  /** A connection with no packet for this long (capture time) is dropped by expire(). */
  idleTimeoutNanos: number;
  /**
   * Out-of-order bytes held per direction, counting kSegmentOverheadBytes per segment besides its
   * captured bytes; when full, the holes before the arriving segment are given up (tcp.buffer_full).
   */
  maxBufferedBytesPerDirection: number;
  /** Out-of-order segments held per direction; when full, as for bytes (tcp.buffer_full). */
  maxBufferedSegmentsPerDirection: number;
  /**
   * Out-of-order bytes (counted as per direction) held by all connections together; when full,
   * the holes of the direction whose segment would pass it are given up (tcp.buffer_budget).
   */
  maxBufferedBytesTotal: number;
  /**
   * Bytes the stream parsers (HTTP heads, DNS-over-TCP messages) hold for incomplete messages,
   * all connections together (parser-buffers.ts); a parser refused is counted and gives up that
   * message. The correlator hands the budget to the protocols through MatcherContext.
   */
  maxParserBufferBytesTotal: number;
}

export function defaultTcpReassemblyOptions(): TcpReassemblyOptions {
  return {
    maxConnections: 65_536,
    // Longer than HTTP keep-alive idle periods, so a quiet connection keeps its roles and state.
    idleTimeoutNanos: 300 * 1_000_000_000,
    // A 1 MiB receive window of full-size segments (~724 x 1448 bytes) waits whole behind a hole.
    maxBufferedBytesPerDirection: 1024 * 1024,
    // The same window in 1448-byte segments with room to spare; small segments stop here first.
    maxBufferedSegmentsPerDirection: 1024,
    // 64 holes of 1 MiB at once (or many small ones); a fraction of the agent's memory budget.
    maxBufferedBytesTotal: 64 * 1024 * 1024,
    maxParserBufferBytesTotal: kDefaultParserBufferBytesTotal,
  };
}

/**
 * Heap bytes one tracked connection costs with nothing buffered: the Connection, its two
 * Directions and TcpConnectionInfo, its table entry, and a lingering closed entry. Measured with
 * --expose-gc (heapUsed over 100 k connections): ~602 bytes open, plus ~40 for a closed one's
 * lingering entry; rounded up (test/hostile/tcp-floods.test.ts checks it). A memory budget
 * sizes maxConnections with it (buffered bytes come on top, bounded by maxBufferedBytesTotal).
 */
export const kConnectionOverheadBytes = 1024;

/**
 * How long an ended connection's late packets (final ACKs, retransmitted FINs or data) are
 * recognised and ignored: a few RTOs of capture time.
 */
const kClosedLingerNanos = 10 * 1_000_000_000;

/** Bytes per direction offered to claim() before an unclaimed direction stops being offered. */
export const kClaimBudgetBytes = 4096;
/**
 * A segment further than this from nextSeq (either way) is no retransmission or reordering but a
 * discontinuity: heavy capture loss or a reused port whose SYN was not captured.
 */
const kSeqWindow = 1 << 30;

/** The connection table was full: the least recently seen connection was dropped. */
const kEvicted = skipReason('tcp.connection_evicted');
/** A claimed connection with an open direction went idle and was dropped. */
const kIdle = skipReason('tcp.connection_idle');
/** Two 4-tuples hashed to the same key: the older connection was dropped. */
const kKeyCollision = skipReason('tcp.key_collision');
/** Bytes of a claimed connection never arrived (capture loss, snaplen cut): one count per onGap. */
const kGap = skipReason('tcp.gap');
/** The out-of-order buffer of a direction was full (bytes or segments): the holes before the new segment were given up early. */
const kBufferFull = skipReason('tcp.buffer_full');
/** All out-of-order buffers together were full: the inserting direction's holes were given up early. */
const kBufferBudget = skipReason('tcp.buffer_budget');
/** A segment far outside the expected sequence window restarted its direction there. */
const kSeqJump = skipReason('tcp.seq_jump');

const kNoBytes = new Uint8Array(0);

function checkLimit(name: string, value: number): void {
  if (!(value >= 0) || !Number.isFinite(value))
    throw new RangeError(`${name} must be a number >= 0, got ${value}`);
}

export class TcpReassembly {
  readonly #protocols: readonly StreamProtocol[];
  readonly #maxConnections: number;
  readonly #maxBuffered: number;
  readonly #maxSegments: number;
  readonly #maxTotal: number;
  /** Bytes held by every direction's buffer (kept by Direction on each insert, removal and clear). */
  readonly #total = new BufferTotal();
  readonly #skips: SkipCounters;
  /** Connections in last-seen order (a touched connection moves to the newest end). */
  readonly #connections: PendingTable<Connection>;
  /** Ended connections, kept for kClosedLingerNanos so their late packets change nothing. */
  readonly #closed: NumericPendingTable;
  /** Forgotten Connection objects (with their Directions) for new connections to reuse. */
  readonly #freeConnections = new FreeList<Connection>();
  /** View for bytes delivered outside their own packet (given-up holes): a buffered segment's own edges. */
  readonly #replayView = new PacketView();
  readonly #replayPacket = new DecodedPacket();
  /** Connections dropped because the table was full. */
  evictions = 0;
  /** Connections dropped by idle expiry (closed ones included). */
  idleDrops = 0;

  constructor(protocols: readonly StreamProtocol[], options: TcpReassemblyOptions, skips: SkipCounters) {
    if (!(options.maxConnections >= 1)) {
      throw new RangeError(`maxConnections must be >= 1, got ${options.maxConnections}`);
    }
    this.#protocols = protocols;
    this.#maxConnections = options.maxConnections;
    // The table's own cap is never reached: #open evicts first, to count and deliver what it drops.
    this.#connections = new PendingTable(options.maxConnections + 1, options.idleTimeoutNanos);
    // Evicting a lingering closed connection loses nothing: it only stops ignoring late packets.
    this.#closed = new NumericPendingTable(options.maxConnections, kClosedLingerNanos);
    checkLimit('maxBufferedBytesPerDirection', options.maxBufferedBytesPerDirection);
    checkLimit('maxBufferedSegmentsPerDirection', options.maxBufferedSegmentsPerDirection);
    checkLimit('maxBufferedBytesTotal', options.maxBufferedBytesTotal);
    this.#maxBuffered = options.maxBufferedBytesPerDirection;
    this.#maxSegments = options.maxBufferedSegmentsPerDirection;
    this.#maxTotal = options.maxBufferedBytesTotal;
    this.#skips = skips;
    this.#replayView.packet = this.#replayPacket;
    this.#replayView.data = kNoBytes;
    this.#replayPacket.ipProtocol = IpProtocol.Tcp;
  }

  connectionCount(): number {
    return this.#connections.size;
  }

  /** Bytes held by all out-of-order buffers (captured + kSegmentOverheadBytes per segment). */
  bufferedBytes(): number {
    return this.#total.bytes;
  }

  /**
   * One TCP packet in capture order (other packets are ignored), with its view.connectionKey set
   * (setConnectionKey(): the correlator computes it once for the capture-loss observer and this table).
   */
  onPacket(view: PacketView): void {
    const p = view.packet;
    if (p.ipProtocol !== IpProtocol.Tcp) return;
    const key = view.connectionKey;
    const srcIsA = sourceIsLower(p);
    let conn = this.#connections.get(key);
    if (conn !== undefined && !conn.matches(p, srcIsA)) {
      this.#skips.add(kKeyCollision);
      this.#remove(conn);
      conn = undefined;
    }
    const flags = p.tcpFlags;
    const reset = (flags & TcpFlag.Rst) !== 0;
    if (conn === undefined) {
      // A connection that ended (both sides closed) lingers in #closed: its late ACKs and
      // retransmissions are ignored there; a new SYN on the tuple starts a new connection.
      if (this.#closed.find(key) >= 0) {
        if ((flags & TcpFlag.Syn) === 0 || reset) return;
        this.#closed.delete(key);
      }
    }
    if ((flags & TcpFlag.Syn) !== 0 && !reset) {
      conn = this.#onSyn(conn, view, srcIsA);
    } else if (conn === undefined) {
      // Higher port = client (ephemeral ports are high); equal ports: the sender of this first packet.
      const srcIsClient = p.srcPort !== p.dstPort ? p.srcPort > p.dstPort : true;
      conn = this.#open(view, srcIsA, srcIsClient === srcIsA, false);
    }
    this.#touch(conn, view);
    if (conn.claim === ClaimState.Ignored) return;
    const direction = srcIsA ? conn.a : conn.b;
    if (reset) this.#reset(conn, direction, view);
    else {
      if ((flags & TcpFlag.Ack) !== 0) this.#onAck(conn, srcIsA ? conn.b : conn.a, p.tcpAck, view);
      this.#onSegment(conn, direction, view);
    }
    // Both sides closed (FIN each way, or a reset): the connection is over. It moves to the
    // short-lived #closed table, so a busy capture does not fill #connections with the dead.
    if (conn.a.closed && conn.b.closed && this.#connections.delete(conn.key)) {
      this.#closed.insert(conn.key, view.seconds, view.nanos);
      this.#forget(conn);
    }
  }

  /** Capture time reached (seconds, nanos): drops connections idle for longer than the idle timeout. */
  expire(seconds: number, nanos: number): void {
    while (this.#closed.popExpired(seconds, nanos)) {
      // Ended connections hold nothing: they just stop being recognised.
    }
    for (;;) {
      const conn = this.#connections.peekOldest();
      if (conn === undefined || this.#connections.popExpired(seconds, nanos) === undefined) return;
      this.idleDrops++;
      if (conn.consumer !== null && (!conn.a.closed || !conn.b.closed)) this.#skips.add(kIdle);
      this.#remove(conn);
    }
  }

  /**
   * End of input: gives up every hole (buffered bytes reach their consumers) and forgets all
   * connections. Connections are not closed: what is still pending is the protocols' flush().
   */
  flush(): void {
    for (const conn of this.#connections.values()) {
      this.#giveUpAll(conn, conn.a);
      this.#giveUpAll(conn, conn.b);
      conn.consumer?.onForget?.();
    }
    this.#connections.clear();
    this.#closed.clear();
  }

  /**
   * A SYN (no RST): a retransmitted SYN or SYN-ACK keeps the connection; a SYN-ACK completing
   * a handshake in progress fixes the roles; anything else starts a new connection on the tuple
   * (port reuse), after closing the old one.
   */
  #onSyn(conn: Connection | undefined, view: PacketView, srcIsA: boolean): Connection {
    const p = view.packet;
    const isn = p.tcpSeq;
    const synAck = (p.tcpFlags & TcpFlag.Ack) !== 0;
    if (conn !== undefined) {
      const direction = srcIsA ? conn.a : conn.b;
      if (direction.synSeen && direction.isn === isn) return conn;
      if (synAck && !direction.synSeen && !direction.dataSeen && !conn.a.closed && !conn.b.closed) {
        // The server's answer to the SYN we have (or a handshake joined after the SYN).
        conn.setClientIsA(!srcIsA);
        conn.rolesKnown = true;
        this.#startDirection(direction, isn);
        return conn;
      }
      this.#finish(conn, view);
    }
    // A SYN's sender is the client; a SYN-ACK's receiver is.
    const created = this.#open(view, srcIsA, synAck ? !srcIsA : srcIsA, true);
    this.#startDirection(srcIsA ? created.a : created.b, isn);
    return created;
  }

  #startDirection(direction: Direction, isn: number): void {
    direction.synSeen = true;
    direction.isn = isn;
    direction.synced = true;
    direction.nextSeq = seqAdd(isn, 1);
  }

  /** The ACK of a packet is about the peer's direction: it syncs an unsynced peer, or gives up a hole it acknowledges. */
  #onAck(conn: Connection, peer: Direction, ack: number, view: PacketView): void {
    if (!peer.synced) {
      peer.synced = true;
      peer.nextSeq = ack;
      return;
    }
    // Only with bytes buffered after the hole: the peer got what the capture lost, so no
    // retransmission will ever fill it. (A lone unacked number is often just an uncaptured FIN.)
    if (peer.closed || peer.bufferedCount === 0) return;
    const ahead = seqDiff(ack, peer.nextSeq);
    if (ahead <= 0 || ahead > kSeqWindow) return;
    this.#giveUpTo(conn, peer, ack, view);
  }

  /** Payload and/or FIN of one packet in `direction`. */
  #onSegment(conn: Connection, direction: Direction, view: PacketView): void {
    const p = view.packet;
    const flags = p.tcpFlags;
    const fin = (flags & TcpFlag.Fin) !== 0;
    const captured = p.payloadLength;
    const wire = Math.max(p.payloadWireLength, captured);
    if ((wire === 0 && !fin) || direction.closed) return;
    // Payload on a SYN (TCP Fast Open) starts after the SYN's sequence number.
    const seq = (flags & TcpFlag.Syn) !== 0 ? seqAdd(p.tcpSeq, 1) : p.tcpSeq;
    direction.dataSeen = true;
    if (!direction.synced) {
      direction.synced = true;
      direction.nextSeq = seq;
    }
    let ahead = seqDiff(seq, direction.nextSeq);
    if (ahead > kSeqWindow || ahead < -kSeqWindow) {
      this.#skips.add(kSeqJump);
      this.#giveUpAll(conn, direction);
      if (direction.closed || conn.claim === ClaimState.Ignored) return;
      this.#gap(conn, direction, (seq - direction.nextSeq) >>> 0, view);
      direction.nextSeq = seq;
      ahead = 0;
    }
    if (ahead > 0) {
      const cost = captured + kSegmentOverheadBytes;
      if (
        direction.bufferedCount >= this.#maxSegments ||
        direction.bufferedBytes + cost > this.#maxBuffered
      ) {
        this.#skips.add(kBufferFull);
      } else if (this.#total.bytes + cost > this.#maxTotal) {
        this.#skips.add(kBufferBudget);
      } else {
        direction.insert(
          seq,
          view.data,
          p.payloadOffset,
          captured,
          wire,
          fin,
          view.seconds,
          view.nanos,
          view.fileId,
          view.packetNumber,
        );
        return;
      }
      this.#giveUpTo(conn, direction, seq, view);
      if (direction.closed || conn.claim === ClaimState.Ignored) return;
    }
    this.#deliver(conn, direction, seq, view.data, p.payloadOffset, captured, wire, fin, view);
    this.#drain(conn, direction, view);
  }

  /**
   * Delivers what is new in a segment starting at `seq` (at or before nextSeq): the captured
   * bytes after nextSeq, a gap for a snaplen-cut tail, and the FIN when it is next in sequence.
   */
  #deliver(
    conn: Connection,
    direction: Direction,
    seq: number,
    data: Uint8Array,
    offset: number,
    captured: number,
    wire: number,
    fin: boolean,
    view: PacketView,
  ): void {
    const skip = -seqDiff(seq, direction.nextSeq);
    if (skip < captured) {
      const length = captured - skip;
      direction.nextSeq = seqAdd(direction.nextSeq, length);
      this.#emit(conn, direction, data, offset + skip, length, view);
    }
    if (wire > captured && skip < wire) {
      const missing = wire - Math.max(skip, captured);
      direction.nextSeq = seqAdd(direction.nextSeq, missing);
      this.#gap(conn, direction, missing, view);
    }
    if (fin && !direction.closed && direction.nextSeq === seqAdd(seq, wire)) {
      direction.nextSeq = seqAdd(direction.nextSeq, 1);
      this.#closeDirection(conn, direction, false, view);
    }
  }

  /** Delivers buffered segments that the last delivery made contiguous; `view` (the filling packet) completes them. */
  #drain(conn: Connection, direction: Direction, view: PacketView): void {
    for (;;) {
      const next = direction.first();
      if (next === undefined || direction.closed || seqDiff(next.seq, direction.nextSeq) > 0) return;
      direction.shift();
      this.#deliver(
        conn,
        direction,
        next.seq,
        next.bytes,
        0,
        next.bytes.length,
        next.wireLength,
        next.fin,
        view,
      );
    }
  }

  /**
   * Gives up every hole before `limit`: each hole is reported with onGap and the segments after
   * it are delivered with their own packets as views (nothing else will complete them).
   */
  #giveUpTo(conn: Connection, direction: Direction, limit: number, view: PacketView): void {
    for (;;) {
      const next = direction.first();
      if (next !== undefined && seqDiff(next.seq, direction.nextSeq) <= 0) {
        direction.shift();
        const own = this.#segmentView(conn, direction, next);
        this.#deliver(
          conn,
          direction,
          next.seq,
          next.bytes,
          0,
          next.bytes.length,
          next.wireLength,
          next.fin,
          own,
        );
        if (direction.closed) return;
        continue;
      }
      const target = next !== undefined && seqDiff(next.seq, limit) < 0 ? next.seq : limit;
      const missing = seqDiff(target, direction.nextSeq);
      if (missing <= 0) return;
      this.#gap(
        conn,
        direction,
        missing,
        next !== undefined ? this.#segmentView(conn, direction, next) : view,
      );
      direction.nextSeq = target;
    }
  }

  #giveUpAll(conn: Connection, direction: Direction): void {
    const last = direction.last();
    if (last !== undefined) this.#giveUpTo(conn, direction, last.seq, this.#replayView);
  }

  /** In-order bytes: to the owning consumer, or offered to the protocols while unclaimed. */
  #emit(
    conn: Connection,
    direction: Direction,
    data: Uint8Array,
    offset: number,
    length: number,
    view: PacketView,
  ): void {
    const consumer = conn.consumer;
    if (consumer !== null) {
      consumer.onData(conn.isClient(direction), data, offset, length, view);
    } else if (conn.claim === ClaimState.Unclaimed && direction.offerBudget > 0) {
      this.#offer(conn, direction, data, offset, length, view);
    }
  }

  #offer(
    conn: Connection,
    direction: Direction,
    data: Uint8Array,
    offset: number,
    length: number,
    view: PacketView,
  ): void {
    direction.offerBudget -= length;
    if (this.#tryClaim(conn, direction, data, offset, length, view)) return;
    if (!conn.rolesKnown) {
      conn.setClientIsA(!conn.clientIsA);
      if (this.#tryClaim(conn, direction, data, offset, length, view)) return;
      conn.setClientIsA(!conn.clientIsA);
    }
    if (conn.a.offerBudget <= 0 && conn.b.offerBudget <= 0) {
      // Nobody wants it: stop copying its bytes; a new SYN on the tuple still starts over.
      conn.claim = ClaimState.Ignored;
      conn.a.clearBuffer();
      conn.b.clearBuffer();
    }
  }

  #tryClaim(
    conn: Connection,
    direction: Direction,
    data: Uint8Array,
    offset: number,
    length: number,
    view: PacketView,
  ): boolean {
    const fromClient = conn.isClient(direction);
    const protocols = this.#protocols;
    for (let i = 0; i < protocols.length; i++) {
      const consumer = protocols[i]!.claim(conn.info, fromClient, data, offset, length, view);
      if (consumer === null) continue;
      conn.consumer = consumer;
      conn.claim = ClaimState.Claimed;
      conn.rolesKnown = true;
      // The claim owns the connection from these bytes on: they are its first data.
      consumer.onData(fromClient, data, offset, length, view);
      return true;
    }
    return false;
  }

  #gap(conn: Connection, direction: Direction, bytes: number, view: PacketView): void {
    const consumer = conn.consumer;
    if (consumer === null) return;
    this.#skips.add(kGap);
    consumer.onGap(conn.isClient(direction), bytes, view);
  }

  #closeDirection(conn: Connection, direction: Direction, reset: boolean, view: PacketView): void {
    direction.closed = true;
    direction.clearBuffer();
    conn.consumer?.onClose(conn.isClient(direction), reset, view);
  }

  /** RST: both directions end (the sender's first), after delivering what was buffered. */
  #reset(conn: Connection, sender: Direction, view: PacketView): void {
    const receiver = sender === conn.a ? conn.b : conn.a;
    if (!sender.closed) {
      this.#giveUpAll(conn, sender);
      if (!sender.closed) this.#closeDirection(conn, sender, true, view);
    }
    if (!receiver.closed) {
      this.#giveUpAll(conn, receiver);
      if (!receiver.closed) this.#closeDirection(conn, receiver, true, view);
    }
  }

  /** A connection replaced by a new one on its tuple: buffered bytes delivered, open directions closed as reset. */
  #finish(conn: Connection, view: PacketView): void {
    this.#reset(conn, conn.a, view);
    this.#connections.delete(conn.key);
    this.#forget(conn);
  }

  /** Stops tracking a connection (eviction, idle, collision): buffered bytes are delivered, nothing is closed. */
  #remove(conn: Connection): void {
    this.#giveUpAll(conn, conn.a);
    this.#giveUpAll(conn, conn.b);
    this.#connections.delete(conn.key);
    this.#forget(conn);
  }

  /** A connection out of the table: its consumer lets go, and the object waits for reuse by #open. */
  #forget(conn: Connection): void {
    conn.consumer?.onForget?.();
    this.#freeConnections.give(conn);
  }

  /** A new connection for the view's packet (view.connectionKey is read here: a key passed as an argument is boxed). */
  #open(view: PacketView, srcIsA: boolean, clientIsA: boolean, rolesKnown: boolean): Connection {
    const key = view.connectionKey;
    if (this.#connections.size >= this.#maxConnections) {
      const oldest = this.#connections.peekOldest();
      if (oldest !== undefined) {
        this.evictions++;
        this.#skips.add(kEvicted);
        this.#remove(oldest);
      }
    }
    let conn = this.#freeConnections.take();
    if (conn === undefined) conn = new Connection(key, view.packet, srcIsA, kClaimBudgetBytes, this.#total);
    else conn.reopen(key, view.packet, srcIsA, kClaimBudgetBytes);
    conn.setClientIsA(clientIsA);
    conn.rolesKnown = rolesKnown;
    this.#connections.insert(conn);
    return conn;
  }

  /** Marks the connection as just seen: moves it to the back of the map (LRU order) and records the packet. */
  #touch(conn: Connection, view: PacketView): void {
    conn.seconds = view.seconds;
    conn.nanos = view.nanos;
    this.#connections.touch(conn);
    conn.lastFileId = view.fileId;
    conn.lastPacket = view.packetNumber;
  }

  /** The replay view carrying a buffered segment's own capture time, file and packet number. */
  #segmentView(conn: Connection, direction: Direction, segment: BufferedSegment): PacketView {
    const view = this.#replayView;
    view.seconds = segment.seconds;
    view.nanos = segment.nanos;
    view.fileId = segment.fileId;
    view.packetNumber = segment.packetNumber;
    const p = this.#replayPacket;
    const info = conn.info;
    const fromClient = conn.isClient(direction);
    p.ipVersion = conn.ipVersion;
    p.src0 = fromClient ? info.client0 : info.server0;
    p.src1 = fromClient ? info.client1 : info.server1;
    p.src2 = fromClient ? info.client2 : info.server2;
    p.src3 = fromClient ? info.client3 : info.server3;
    p.srcPort = fromClient ? info.clientPort : info.serverPort;
    p.dst0 = fromClient ? info.server0 : info.client0;
    p.dst1 = fromClient ? info.server1 : info.client1;
    p.dst2 = fromClient ? info.server2 : info.client2;
    p.dst3 = fromClient ? info.server3 : info.client3;
    p.dstPort = fromClient ? info.serverPort : info.clientPort;
    p.tcpSeq = segment.seq;
    p.tcpFlags = segment.fin ? TcpFlag.Fin : 0;
    return view;
  }
}
