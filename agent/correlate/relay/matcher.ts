/**
 * Payload relay matcher ('relay'), the original engine's model for gateways and middleboxes:
 * a payload that enters the internal networks is a request, the same payload bytes leaving
 * them is its response.
 *
 * Invariants (hot path, every TCP/UDP packet with a payload):
 * - Classification is two NetworkSet.contains() calls over typed arrays; packets that do not
 *   cross the boundary (both ends inside or both outside) return at once.
 * - A leaving packet is hashed only while requests are pending; the hash (payload-hash.ts) and
 *   the key (key-hash.ts) are computed in place, with no allocation.
 * - Requests with the same key (payload lanes, length and, unless crossTransport, transport)
 *   form a FIFO chain: the table holds the oldest, each entry links to the next newer one.
 *   Entries keep the full fingerprint, so a key collision never pairs different payloads.
 * - #pending counts every request (chained ones too) and stays <= maxPending.relay; the oldest
 *   chain head is evicted before a request that would exceed it, so the table itself (sized
 *   maxPending, holding at most #pending heads) never evicts.
 * - Allocation only when a request opens (its entry + Pair) and for the detail of a match.
 * - A chained request reaches the table (and so expiry) when its elders leave; its timeout
 *   then still counts from its own time, so it expires never early and at most one timeout
 *   late (the pending table's own guarantee for out-of-order entries).
 *
 * Rules (the one place they are written; docs/architecture.md links here):
 * - Inside = options.relay.internalNetworks. Only packets with a non-empty payload count.
 * - Entering (source outside, destination inside) = request. Client = the original sender
 *   (source), server = the internal address and port it entered through (destination),
 *   transport = its transport.
 * - Leaving (source inside, destination outside) with the same payload (both lanes and
 *   length) = response of the oldest eligible pending request. Eligible: the same transport
 *   unless relay.crossTransport; not an echo (destination address = the request's client
 *   address) unless relay.matchEcho.
 * - The same payload entering again between the same endpoints while pending is a
 *   retransmission: the request extends (latency counts from the first copy; timeout restarts).
 * - Fragments and snaplen-cut payloads cannot be compared byte for byte: counted
 *   (relay.payload_incomplete) and ignored.
 * - detail = {out: {address, port, transport}} ("203.0.113.5", 40000, "udp"),
 *   the destination the payload left for. Leaving packets that match nothing are ordinary
 *   outbound traffic: neither paired nor counted.
 * - Timeout (timeoutNanos.relay from the latest copy) → Expired; over maxPending.relay →
 *   oldest Evicted; flush() → EndOfInput.
 */
import { formatIp } from '../../decode/format.ts';
import { skipReason } from '../../shared/skips.ts';
import { keyBegin, keyEnd, keyWord } from '../key-hash.ts';
import type { Matcher, MatcherContext, PacketView } from '../matcher.ts';
import { beginRequest, MessageEdges, Outcome, Pair, type PairSink, UnansweredReason } from '../pair.ts';
import { type PendingEntry, PendingTable } from '../pending-table.ts';
import { maxPendingOf, timeoutNanosOf } from '../protocol.ts';
import { hasEndpoints } from '../udp/endpoints.ts';
import { NetworkSet } from './networks.ts';
import { PayloadHash } from './payload-hash.ts';

const kPayloadIncomplete = skipReason('relay.payload_incomplete');
const kPendingEvicted = skipReason('relay.pending_evicted');

class RelayRequest implements PendingEntry {
  key = 0;
  /** Capture-order links, owned by the pending table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  /** Capture time of the latest copy (the timeout runs from it). */
  seconds = 0;
  nanos = 0;
  /** Payload fingerprint: hash lanes, length, and the transport when it is part of the key (else 0). */
  laneA = 0;
  laneB = 0;
  length = 0;
  keyTransport = 0;
  /** Next newer request with the same key, or null. */
  next: RelayRequest | null = null;
  /** Newest request of the chain; kept current on the chain's head only. */
  last: RelayRequest = this;
  /** Holds the entering packet's endpoints and the request edges until the request ends. */
  readonly pair = new Pair();
}

/** pair.detail of relay pairs (JSONL "relay"): where the payload left the internal networks. */
export type RelayDetail = { out: { address: string; port: number; transport: 'tcp' | 'udp' } };

export class RelayMatcher implements Matcher {
  readonly #sink: PairSink;
  readonly #skips: MatcherContext['skips'];
  readonly #inside: NetworkSet;
  readonly #matchEcho: boolean;
  readonly #crossTransport: boolean;
  readonly #maxPending: number;
  readonly #timeoutNanos: number;
  readonly #table: PendingTable<RelayRequest>;
  readonly #hash = new PayloadHash();
  #pending = 0;

  /** Throws on a bad relay.internalNetworks (configuration error). */
  constructor(context: MatcherContext) {
    const options = context.options;
    const relay = options.relay;
    this.#sink = context.sink;
    this.#skips = context.skips;
    this.#inside = new NetworkSet(relay.internalNetworks, 'relay.internalNetworks');
    this.#matchEcho = relay.matchEcho;
    this.#crossTransport = relay.crossTransport;
    this.#maxPending = maxPendingOf(options, 'relay');
    this.#timeoutNanos = timeoutNanosOf(options, 'relay');
    this.#table = new PendingTable(this.#maxPending, this.#timeoutNanos);
  }

  onPacket(view: PacketView): void {
    const p = view.packet;
    const length = p.payloadLength;
    if (length === 0) return;
    const srcInside = this.#inside.contains(p.ipVersion, p.src0, p.src1, p.src2, p.src3);
    const dstInside = this.#inside.contains(p.ipVersion, p.dst0, p.dst1, p.dst2, p.dst3);
    if (srcInside === dstInside) return;
    const entering = dstInside;
    if (!entering && this.#pending === 0) return;
    if (p.isFragment || length < p.payloadWireLength) {
      this.#skips.add(kPayloadIncomplete);
      return;
    }
    const hash = this.#hash;
    hash.compute(view.data, p.payloadOffset, length);
    const keyTransport = this.#crossTransport ? 0 : p.ipProtocol;
    keyBegin();
    keyWord(hash.laneA);
    keyWord(hash.laneB);
    keyWord(length);
    keyWord(keyTransport);
    const key = keyEnd();
    if (entering) this.#enter(view, key, keyTransport);
    else this.#leave(view, key, keyTransport);
  }

  #enter(view: PacketView, key: number, keyTransport: number): void {
    const p = view.packet;
    const hash = this.#hash;
    const table = this.#table;
    const head = table.get(key);
    for (let e = head ?? null; e !== null; e = e.next) {
      if (
        this.#samePayload(e, keyTransport) &&
        e.pair.transport === p.ipProtocol &&
        hasEndpoints(e.pair, p, true)
      ) {
        e.pair.request.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, p.payloadLength);
        e.seconds = view.seconds;
        e.nanos = view.nanos;
        if (e === head) table.insert(e); // back of the table: it stays in capture order
        return;
      }
    }
    if (this.#pending >= this.#maxPending) this.#evictOldest();
    const request = new RelayRequest();
    request.key = key;
    request.seconds = view.seconds;
    request.nanos = view.nanos;
    request.laneA = hash.laneA;
    request.laneB = hash.laneB;
    request.length = hash.length;
    request.keyTransport = keyTransport;
    beginRequest(request.pair, 'relay', view, p.payloadLength);
    // Looked up again: the eviction above may have removed this key's chain.
    const chain = table.get(key);
    if (chain === undefined) {
      table.insert(request);
    } else {
      chain.last.next = request;
      chain.last = request;
    }
    this.#pending++;
  }

  #leave(view: PacketView, key: number, keyTransport: number): void {
    const p = view.packet;
    const head = this.#table.get(key);
    let previous: RelayRequest | null = null;
    for (let e = head ?? null; e !== null; previous = e, e = e.next) {
      if (!this.#samePayload(e, keyTransport)) continue;
      if (!this.#matchEcho && isEcho(e.pair, view)) continue;
      if (previous === null) {
        this.#table.delete(key);
        this.#promoteNext(e);
      } else {
        previous.next = e.next;
        if (head!.last === e) head!.last = previous;
      }
      this.#pending--;
      const pair = e.pair;
      pair.outcome = Outcome.Matched;
      pair.response = new MessageEdges().begin(
        view.seconds,
        view.nanos,
        view.fileId,
        view.packetNumber,
        p.payloadLength,
      );
      // Text, not words: detail goes to JSONL as-is, and a match is rare enough to format here.
      pair.detail = {
        out: {
          address: formatIp(p.ipVersion, p.dst0, p.dst1, p.dst2, p.dst3),
          port: p.dstPort,
          transport: p.ipProtocol === 6 ? 'tcp' : 'udp',
        },
      } satisfies RelayDetail;
      this.#sink.emit(pair);
      return;
    }
  }

  /** The hash the last onPacket computed is this request's payload (and, per options, transport). */
  #samePayload(e: RelayRequest, keyTransport: number): boolean {
    const hash = this.#hash;
    return (
      e.laneA === hash.laneA &&
      e.laneB === hash.laneB &&
      e.length === hash.length &&
      e.keyTransport === keyTransport
    );
  }

  /** After `head` left the table: its chain's next request becomes the head. */
  #promoteNext(head: RelayRequest): void {
    const next = head.next;
    if (next === null) return;
    next.last = head.last;
    head.next = null;
    this.#table.insert(next);
  }

  #evictOldest(): void {
    const oldest = this.#table.popOldest()!;
    this.#skips.add(kPendingEvicted);
    this.#pending--;
    this.#promoteNext(oldest);
    this.#emitUnanswered(oldest, UnansweredReason.Evicted);
  }

  expire(seconds: number, nanos: number): void {
    const table = this.#table;
    for (
      let head = table.popExpired(seconds, nanos);
      head !== undefined;
      head = table.popExpired(seconds, nanos)
    ) {
      this.#pending--;
      this.#emitUnanswered(head, UnansweredReason.Expired);
      // Chained requests behind an expired head may have expired too: emit them now.
      let next = head.next;
      while (next !== null && ageNanos(next, seconds, nanos) > this.#timeoutNanos) {
        this.#pending--;
        this.#emitUnanswered(next, UnansweredReason.Expired);
        next = next.next;
      }
      head.next = next;
      this.#promoteNext(head);
    }
  }

  flush(): void {
    for (let head = this.#table.popOldest(); head !== undefined; head = this.#table.popOldest()) {
      for (let e: RelayRequest | null = head; e !== null; e = e.next) {
        this.#pending--;
        this.#emitUnanswered(e, UnansweredReason.EndOfInput);
      }
    }
  }

  pendingCount(): number {
    return this.#pending;
  }

  #emitUnanswered(request: RelayRequest, reason: UnansweredReason): void {
    const pair = request.pair;
    pair.outcome = Outcome.Unanswered;
    pair.unansweredReason = reason;
    this.#sink.emit(pair);
  }
}

function ageNanos(e: RelayRequest, seconds: number, nanos: number): number {
  return (seconds - e.seconds) * 1_000_000_000 + (nanos - e.nanos);
}

/** The leaving packet goes back to the request's original sender (any port). */
function isEcho(pair: Pair, view: PacketView): boolean {
  const p = view.packet;
  return (
    pair.ipVersion === p.ipVersion &&
    pair.client0 === p.dst0 &&
    pair.client1 === p.dst1 &&
    pair.client2 === p.dst2 &&
    pair.client3 === p.dst3
  );
}
