/**
 * ICMP/ICMPv6 echo matcher ('icmp'): pairs each echo request (ping) with its echo reply.
 *
 * Rules (the README's "ICMP echo" section):
 * - A request is an echo request (ICMP type 8, ICMPv6 type 128) from the client to the server;
 *   its reply is the echo reply (type 0, ICMPv6 129) from the server back to the client with the
 *   same identifier and sequence number. Pairing is by (addresses, identifier, sequence).
 * - The first reply closes the request; a reply that answers nothing (a duplicate, or its
 *   request was not captured or already given up) is counted (icmp.reply_without_request).
 * - A second request with the same addresses, identifier and sequence while one is pending
 *   (sequence numbers wrapped, or a hand-made ping) reports the pending one unanswered (Evicted,
 *   counted as icmp.request_replaced) and waits for its own reply.
 * - Timeout (timeoutNanos.icmp) -> Expired; table full (maxPending.icmp) -> the oldest Evicted;
 *   flush() -> EndOfInput. detail is { id, seq }.
 *
 * Invariants (hot path, every echo packet): one key built from numbers, one table lookup; an
 * entry and its Pair are allocated only when a request opens, and the table is bounded.
 */
import { IcmpType } from '../../decode/icmp.ts';
import type { DecodedPacket } from '../../decode/packet.ts';
import { skipReason } from '../../shared/skips.ts';
import { key11Out } from '../key-hash.ts';
import type { Matcher, MatcherContext, PacketView } from '../matcher.ts';
import { beginRequest, MessageEdges, Outcome, Pair, type PairSink, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import { hasEndpoints, setEndpointsKey } from '../udp/endpoints.ts';

const kReplyWithoutRequest = skipReason('icmp.reply_without_request');
const kRequestReplaced = skipReason('icmp.request_replaced');
const kPendingEvicted = skipReason('icmp.pending_evicted');

/** The JSONL detail of an icmp pair. */
export type IcmpDetail = { id: number; seq: number };

class PendingEcho implements PendingEntry {
  key = 0;
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  seconds = 0;
  nanos = 0;
  id = 0;
  seq = 0;
  readonly pair = new Pair();
}

/** Key of the echo: its endpoints (client first), identifier and sequence number. */
function echoKey(p: DecodedPacket, sourceIsClient: boolean): number {
  setEndpointsKey(p, sourceIsClient, (p.icmpId << 16) | p.icmpSeq);
  return key11Out[0]!;
}

export class IcmpEchoMatcher implements Matcher {
  readonly #sink: PairSink;
  readonly #skips: MatcherContext['skips'];
  readonly #table: PendingTable<PendingEcho>;

  constructor(context: MatcherContext) {
    this.#sink = context.sink;
    this.#skips = context.skips;
    this.#table = new PendingTable(context.options.maxPending.icmp!, context.options.timeoutNanos.icmp!);
  }

  onIcmpPacket(view: PacketView): void {
    const type = view.packet.icmpType;
    if (type === IcmpType.EchoRequest || type === IcmpType.V6EchoRequest) this.#onRequest(view);
    else this.#onReply(view);
  }

  #onReply(view: PacketView): void {
    const p = view.packet;
    const key = echoKey(p, false);
    const pending = this.#table.get(key);
    if (
      pending === undefined ||
      pending.id !== p.icmpId ||
      pending.seq !== p.icmpSeq ||
      !hasEndpoints(pending.pair, p, false)
    ) {
      this.#skips.add(kReplyWithoutRequest);
      return;
    }
    this.#table.delete(key);
    const pair = pending.pair;
    pair.outcome = Outcome.Matched;
    pair.response = new MessageEdges().begin(
      view.seconds,
      view.nanos,
      view.fileId,
      view.packetNumber,
      p.payloadWireLength,
    );
    this.#sink.emit(pair);
  }

  #onRequest(view: PacketView): void {
    const p = view.packet;
    const key = echoKey(p, true);
    const table = this.#table;
    const previous = table.get(key);
    if (previous !== undefined) {
      table.delete(key);
      this.#skips.add(kRequestReplaced);
      this.#emitUnanswered(previous, UnansweredReason.Evicted);
    }
    const echo = new PendingEcho();
    echo.key = key;
    echo.seconds = view.seconds;
    echo.nanos = view.nanos;
    echo.id = p.icmpId;
    echo.seq = p.icmpSeq;
    beginRequest(echo.pair, 'icmp', view, p.payloadWireLength);
    echo.pair.detail = { id: p.icmpId, seq: p.icmpSeq } satisfies IcmpDetail;
    const evicted = table.insert(echo);
    if (evicted !== undefined) {
      this.#skips.add(kPendingEvicted);
      this.#emitUnanswered(evicted, UnansweredReason.Evicted);
    }
  }

  expire(seconds: number, nanos: number): void {
    for (
      let e = this.#table.popExpired(seconds, nanos);
      e !== undefined;
      e = this.#table.popExpired(seconds, nanos)
    ) {
      this.#emitUnanswered(e, UnansweredReason.Expired);
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

  #emitUnanswered(echo: PendingEcho, reason: UnansweredReason): void {
    echo.pair.outcome = Outcome.Unanswered;
    echo.pair.unansweredReason = reason;
    this.#sink.emit(echo.pair);
  }
}
