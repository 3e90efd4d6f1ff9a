/**
 * TCP handshake matcher ('tcp'): pairs a client's SYN with the server's SYN-ACK.
 *
 * Invariants (hot path, every TCP packet):
 * - Packets without SYN or RST return after one flags test; only SYN, SYN-ACK and RST build a key.
 * - One pending attempt per (client, server, client ISN). The key (key-hash.ts) hashes the
 *   address words, ports and ISN; the entry keeps the ISN and its Pair the full tuple, compared
 *   on every lookup, so a key collision is never taken for a match.
 * - Allocation only when an attempt opens (its Pair, and its entry unless an ended one is
 *   reused); retransmissions, matches and expiry reuse them.
 * - The table is in capture order of each attempt's latest SYN (a retransmitted SYN re-inserts
 *   its entry), so expiry pops from the front.
 *
 * Rules (the one place they are written; docs/architecture.md links here):
 * - SYN (SYN set, ACK and RST clear) opens an attempt; the request edges begin at it.
 * - A SYN with the same tuple and ISN while the attempt is pending is a retransmission: the
 *   request extends to it (request.last = latest SYN, request.packets = copies) and its
 *   timeout restarts. detail = {syns} when more than one copy was seen, else null.
 * - A SYN with another ISN on the same tuple is a new attempt (port reuse); the older one stays
 *   pending until its own SYN-ACK, RST or timeout.
 * - The first SYN-ACK from the server with ack = ISN + 1 closes the attempt (matched). So
 *   response.first − request.last is tshark's tcp.analysis.ack_rtt (latest SYN → SYN-ACK) and
 *   response.last − request.first the client's wait from its first SYN.
 * - Later SYN-ACK copies, SYN-ACKs with another ack and SYN-ACKs whose SYN is not in the
 *   capture are counted (tcp.synack_unmatched), never paired.
 * - RST+ACK from the server with ack = ISN + 1 (connection refused) closes the attempt as
 *   unanswered, reason ConnectionClosed.
 * - Timeout (timeoutNanos.tcp from the latest SYN) → Expired; table full (maxPending.tcp) →
 *   oldest Evicted; flush() → EndOfInput.
 */
import { type DecodedPacket, IpProtocol, TcpFlag } from '../../decode/packet.ts';
import { skipReason } from '../../shared/skips.ts';
import { FreeList } from '../free-list.ts';
import { key11Out } from '../key-hash.ts';
import type { Matcher, MatcherContext, PacketView } from '../matcher.ts';
import { beginRequest, MessageEdges, Outcome, Pair, type PairSink, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import { maxPendingOf, timeoutNanosOf } from '../protocol.ts';
import { hasEndpoints, setEndpointsKey } from '../udp/endpoints.ts';

const kSynAckUnmatched = skipReason('tcp.synack_unmatched');
const kPendingEvicted = skipReason('tcp.pending_evicted');
const kKeyCollision = skipReason('tcp.key_collision');

const kSynAckRst = TcpFlag.Syn | TcpFlag.Ack | TcpFlag.Rst;

/** "tcp handshakes carry nothing extra": detail only reports SYN retransmissions. */
/** pair.detail of TCP handshake pairs (JSONL "tcp"): only when the SYN was sent more than once. */
export type TcpDetail = { syns: number };

function synsDetail(pair: Pair): TcpDetail | null {
  return pair.request.packets > 1 ? { syns: pair.request.packets } : null;
}

class PendingAttempt implements PendingEntry {
  key = 0;
  /** Capture-order links, owned by the pending table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  /** Capture time of the latest SYN copy (the timeout runs from it). */
  seconds = 0;
  nanos = 0;
  /** Client's initial sequence number, as int32 (a small integer: no heap number per attempt). */
  isn = 0;
  /** The tuple (client = SYN sender) and the request edges until the attempt ends (then the sinks'). */
  pair = new Pair();

  /** Readies an ended entry (FreeList) for a new attempt: every other field is set on opening. */
  renew(): void {
    this.pair = new Pair();
  }
}

/** Key of the attempt: endpoints (client first) and the client's ISN. */
function attemptKey(p: DecodedPacket, sourceIsClient: boolean, isn: number): number {
  setEndpointsKey(p, sourceIsClient, isn | 0);
  return key11Out[0]!;
}

export class TcpHandshakeMatcher implements Matcher {
  readonly #sink: PairSink;
  readonly #skips: MatcherContext['skips'];
  readonly #table: PendingTable<PendingAttempt>;
  readonly #freeEntries = new FreeList<PendingAttempt>();

  constructor(context: MatcherContext) {
    this.#sink = context.sink;
    this.#skips = context.skips;
    this.#table = new PendingTable(
      maxPendingOf(context.options, 'tcp'),
      timeoutNanosOf(context.options, 'tcp'),
    );
  }

  readonly packetTransport = IpProtocol.Tcp;

  onPacket(view: PacketView): void {
    const p = view.packet;
    if (p.ipProtocol !== IpProtocol.Tcp) return;
    const handshakeFlags = p.tcpFlags & kSynAckRst;
    if (handshakeFlags === TcpFlag.Syn) this.#onSyn(view);
    else if (handshakeFlags === (TcpFlag.Syn | TcpFlag.Ack)) this.#onServerAnswer(view, false);
    else if (handshakeFlags === (TcpFlag.Rst | TcpFlag.Ack)) this.#onServerAnswer(view, true);
  }

  #onSyn(view: PacketView): void {
    const p = view.packet;
    const isn = p.tcpSeq | 0;
    const key = attemptKey(p, true, isn);
    const table = this.#table;
    const pending = table.get(key);
    if (pending !== undefined) {
      const sameAttempt = pending.isn === isn && hasEndpoints(pending.pair, p, true);
      if (sameAttempt) {
        const request = pending.pair.request;
        request.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, p.payloadWireLength);
        pending.seconds = view.seconds;
        pending.nanos = view.nanos;
        table.insert(pending); // moves it to the back: the table stays in capture order of latest SYNs
        return;
      }
      // Another attempt under the same key: keep the new one, report the displaced one.
      table.delete(key);
      this.#skips.add(kKeyCollision);
      this.#emitUnanswered(pending, UnansweredReason.Evicted);
    }
    let attempt = this.#freeEntries.take();
    if (attempt === undefined) attempt = new PendingAttempt();
    else attempt.renew();
    attempt.key = key;
    attempt.seconds = view.seconds;
    attempt.nanos = view.nanos;
    attempt.isn = isn;
    beginRequest(attempt.pair, 'tcp', view, p.payloadWireLength);
    const evicted = table.insert(attempt);
    if (evicted !== undefined) {
      this.#skips.add(kPendingEvicted);
      this.#emitUnanswered(evicted, UnansweredReason.Evicted);
    }
  }

  /** SYN-ACK (reset=false) or RST+ACK (reset=true) from the server: both acknowledge ISN + 1. */
  #onServerAnswer(view: PacketView, reset: boolean): void {
    const p = view.packet;
    const isn = (p.tcpAck - 1) | 0;
    // The answer travels server → client: its destination is the attempt's client.
    const key = attemptKey(p, false, isn);
    const pending = this.#table.get(key);
    const answers = pending !== undefined && pending.isn === isn && hasEndpoints(pending.pair, p, false);
    if (!answers) {
      // A RST without a pending SYN is ordinary connection teardown, not worth a counter.
      if (!reset) this.#skips.add(kSynAckUnmatched);
      return;
    }
    this.#table.delete(key);
    if (reset) {
      this.#emitUnanswered(pending, UnansweredReason.ConnectionClosed);
      return;
    }
    const pair = pending.pair;
    pair.outcome = Outcome.Matched;
    pair.response = new MessageEdges().begin(
      view.seconds,
      view.nanos,
      view.fileId,
      view.packetNumber,
      p.payloadWireLength,
    );
    pair.detail = synsDetail(pair);
    this.#sink.emit(pair);
    this.#freeEntries.give(pending);
  }

  expire(seconds: number, nanos: number): void {
    for (;;) {
      const expired = this.#table.popExpired(seconds, nanos);
      if (expired === undefined) return;
      this.#emitUnanswered(expired, UnansweredReason.Expired);
    }
  }

  flush(): void {
    for (let e = this.#table.popOldest(); e !== undefined; e = this.#table.popOldest()) {
      this.#emitUnanswered(e, UnansweredReason.EndOfInput);
    }
  }

  pendingCount(): number {
    return this.#table.size;
  }

  #emitUnanswered(attempt: PendingAttempt, reason: UnansweredReason): void {
    const pair = attempt.pair;
    pair.outcome = Outcome.Unanswered;
    pair.unansweredReason = reason;
    pair.detail = synsDetail(pair);
    this.#sink.emit(pair);
    this.#freeEntries.give(attempt);
  }
}
