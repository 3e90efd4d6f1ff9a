/**
 * Generic UDP request/reply matcher ('udp') for the server ports in options.udpPorts.
 *
 * Invariants (hot path, every UDP packet):
 * - Port classification is two lookups (source, destination port) in a 64 Ki-entry Uint8Array
 *   built at construction; datagrams with no server port on either side return at once.
 * - One pending request per (client address, client port, server address, server port). The
 *   key (key-hash.ts) hashes the address words and ports; the entry's Pair keeps the full tuple,
 *   which is compared on every lookup, so a key collision is never taken for a match.
 * - Allocation only when a request opens (its Pair, and its entry unless an ended one is reused).
 * - The table is in capture order of each request's latest datagram (a retransmission
 *   re-inserts its entry), so expiry pops from the front.
 *
 * Rules (the one place they are written; docs/architecture.md links here):
 * - Server ports = options.udpPorts minus options.dnsPorts (DNS has its own matcher).
 * - A datagram from a server port is a reply when its reversed tuple has a pending request:
 *   the first reply closes the request (matched, response = that datagram).
 * - Otherwise a datagram to a server port is a request: it opens one, or, while one is pending
 *   on the same tuple, is a retransmission of it (request extends: request.first stays the
 *   first datagram, so latency counts from the first copy; the timeout restarts).
 * - After the reply the next client datagram opens a new request.
 * - A datagram from a server port that answers nothing (and is not itself addressed to a
 *   server port) is counted (udp.reply_without_request).
 * - When both ports are server ports (e.g. NTP 123 → 123) the first datagram of an exchange is
 *   the request and the reverse-direction one its reply.
 * - A reply must come from the address and port the request went to: TFTP (69), which answers
 *   from a fresh port, leaves its requests unanswered.
 * - Timeout (timeoutNanos.udp from the latest request datagram) → Expired; table full
 *   (maxPending.udp) → oldest Evicted; flush() → EndOfInput. detail is always null.
 */
import { type DecodedPacket, IpProtocol } from '../../decode/packet.ts';
import { skipReason } from '../../shared/skips.ts';
import { FreeList } from '../free-list.ts';
import { key11Out } from '../key-hash.ts';
import type { Matcher, MatcherContext, PacketView } from '../matcher.ts';
import type { CorrelateOptions } from '../options.ts';
import { beginRequest, MessageEdges, Outcome, Pair, type PairSink, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import { maxPendingOf, timeoutNanosOf } from '../protocol.ts';
import { hasEndpoints, setEndpointsKey } from './endpoints.ts';

const kReplyWithoutRequest = skipReason('udp.reply_without_request');
const kPendingEvicted = skipReason('udp.pending_evicted');
const kKeyCollision = skipReason('udp.key_collision');

class PendingRequest implements PendingEntry {
  key = 0;
  /** Capture-order links, owned by the pending table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  /** Capture time of the latest request datagram (the timeout runs from it). */
  seconds = 0;
  nanos = 0;
  /** Holds the tuple and the request edges until the request ends (then it belongs to the sinks). */
  pair = new Pair();

  /** Readies an ended entry (FreeList) for a new request: every other field is set on opening. */
  renew(): void {
    this.pair = new Pair();
  }
}

/** Marks each server port with 1; throws on a port that is not an integer in 0..65535 (config error). */
export function serverPortTable(options: CorrelateOptions): Uint8Array {
  const table = new Uint8Array(65536);
  for (const port of options.udpPorts) table[checkedPort(port, 'udpPorts')] = 1;
  for (const port of options.dnsPorts) table[checkedPort(port, 'dnsPorts')] = 0;
  return table;
}

function checkedPort(port: number, option: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${option}: ${String(port)} is not a port number (an integer in 0..65535)`);
  }
  return port;
}

/** Key of the request: its endpoints, client first. */
function requestKey(p: DecodedPacket, sourceIsClient: boolean): number {
  setEndpointsKey(p, sourceIsClient, 0);
  return key11Out[0]!;
}

export class UdpMatcher implements Matcher {
  readonly #sink: PairSink;
  readonly #skips: MatcherContext['skips'];
  readonly #table: PendingTable<PendingRequest>;
  readonly #freeEntries = new FreeList<PendingRequest>();
  readonly #serverPorts: Uint8Array;

  constructor(context: MatcherContext) {
    this.#sink = context.sink;
    this.#skips = context.skips;
    this.#serverPorts = serverPortTable(context.options);
    this.#table = new PendingTable(
      maxPendingOf(context.options, 'udp'),
      timeoutNanosOf(context.options, 'udp'),
    );
  }

  readonly packetTransport = IpProtocol.Udp;

  onPacket(view: PacketView): void {
    const p = view.packet;
    if (p.ipProtocol !== IpProtocol.Udp) return;
    const fromServerPort = this.#serverPorts[p.srcPort] === 1;
    const toServerPort = this.#serverPorts[p.dstPort] === 1;
    if (fromServerPort && this.#closeWithReply(view)) return;
    if (toServerPort) this.#onRequest(view);
    else if (fromServerPort) this.#skips.add(kReplyWithoutRequest);
  }

  /** Closes the request this datagram answers; false when it answers none. */
  #closeWithReply(view: PacketView): boolean {
    const p = view.packet;
    // The reply travels server → client: its destination is the request's client.
    const key = requestKey(p, false);
    const pending = this.#table.get(key);
    if (pending === undefined) return false;
    const pair = pending.pair;
    const answers = hasEndpoints(pair, p, false);
    if (!answers) return false;
    this.#table.delete(key);
    pair.outcome = Outcome.Matched;
    pair.response = new MessageEdges().begin(
      view.seconds,
      view.nanos,
      view.fileId,
      view.packetNumber,
      p.payloadWireLength,
    );
    this.#sink.emit(pair);
    this.#freeEntries.give(pending);
    return true;
  }

  #onRequest(view: PacketView): void {
    const p = view.packet;
    const key = requestKey(p, true);
    const table = this.#table;
    const pending = table.get(key);
    if (pending !== undefined) {
      const retransmission = hasEndpoints(pending.pair, p, true);
      if (retransmission) {
        const request = pending.pair.request;
        request.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, p.payloadWireLength);
        pending.seconds = view.seconds;
        pending.nanos = view.nanos;
        table.insert(pending); // moves it to the back: the table stays in capture order
        return;
      }
      // Another request under the same key: keep the new one, report the displaced one.
      table.delete(key);
      this.#skips.add(kKeyCollision);
      this.#emitUnanswered(pending, UnansweredReason.Evicted);
    }
    let request = this.#freeEntries.take();
    if (request === undefined) request = new PendingRequest();
    else request.renew();
    request.key = key;
    request.seconds = view.seconds;
    request.nanos = view.nanos;
    beginRequest(request.pair, 'udp', view, p.payloadWireLength);
    const evicted = table.insert(request);
    if (evicted !== undefined) {
      this.#skips.add(kPendingEvicted);
      this.#emitUnanswered(evicted, UnansweredReason.Evicted);
    }
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

  #emitUnanswered(request: PendingRequest, reason: UnansweredReason): void {
    const pair = request.pair;
    pair.outcome = Outcome.Unanswered;
    pair.unansweredReason = reason;
    this.#sink.emit(pair);
    this.#freeEntries.give(request);
  }
}
