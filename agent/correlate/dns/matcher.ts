/**
 * DNS matcher ('dns'): pairs queries with responses over UDP and TCP (framing in stream.ts).
 *
 * Rules (the one place they are written; tshark 4.0's DNS dissector is the reference):
 * - Traffic: UDP datagrams and TCP connections with a port in options.dnsPorts (default [53])
 *   on either side. mDNS (5353) and LLMNR (5355) are not DNS unless listed there.
 * - Direction comes from the QR bit: a query's sender is the client, a response's receiver is
 *   (so the server is the side on the DNS port, and resolver-to-resolver 53 → 53 traffic works).
 * - A query and its response share the key: transport, client address and port, server
 *   address and port, DNS id (tshark: same conversation, same id).
 * - A query opens a request, except while a query with the same key is pending and its first
 *   copy is less than 5 s older (tshark's dns.retransmission_timer default): then it is a
 *   retransmission of it (detail.retransmissions counts copies beyond the first; skip
 *   dns.retransmitted_query). dnsLatencyFrom 'last' moves the request edges to this copy;
 *   'first' keeps them on the first copy. A same-key query 5 s or more after the first copy
 *   opens a new request and the old one ends unanswered, Expired (dns.superseded_query).
 * - The first response with the key closes the request (matched). A later query with that key
 *   opens a new request (id reuse), as in tshark.
 * - A response whose request was answered less than 5 s earlier is a duplicate
 *   (dns.duplicate_response): no pair; tshark marks it dns.retransmission with no
 *   dns.response_to, so tshark's oracle has no line for it either. A response that matches
 *   nothing is counted (dns.unsolicited_response): no pair.
 * - tshark's dns.time runs from the FIRST copy of a retransmitted query (its transaction keeps
 *   the first copy's time), so it equals our latency under dnsLatencyFrom 'first'. Over TCP
 *   tshark's frames are those completing each message: dns.time = response last byte −
 *   request last byte.
 * - Timeout (options.timeoutNanos.dns, from the first copy) → unanswered Expired; table full
 *   (options.maxPending.dns) → oldest unanswered Evicted (dns.pending_evicted); flush() →
 *   EndOfInput; over TCP, a side that closes (FIN) ends the queries it had to answer, a reset
 *   ends all of the connection's, as ConnectionClosed.
 * - detail: {id, name, type, class, rcode, answers, retransmissions?}: name/type/class from the
 *   query's first question (the response's when the query's is unreadable), type/class/rcode
 *   as mnemonics ("AAAA", "IN", "NXDOMAIN"; rcode includes EDNS's extended bits, so BADVERS),
 *   answers = the response's answer count. Unanswered: rcode and answers are null.
 *
 * Invariants (hot path: every UDP packet, every DNS message from TCP):
 * - A non-DNS UDP packet costs two Uint8Array lookups (port table built at construction).
 * - Allocation only when a request opens (Pair, name string, and the entry unless an ended one
 *   is reused), when it ends (detail, response edges, answered record), and for TCP messages
 *   split across segments (stream.ts).
 * - Keys are numeric (key-hash.ts); entries keep the full key and every lookup compares it, so
 *   a hash collision is never taken for a match (the colliding request ends Evicted).
 * - Both tables are in capture order (Map insertion order), so expiry pops from the front.
 */

import { IpProtocol } from '../../decode/packet.ts';
import { skipReason } from '../../shared/skips.ts';
import { FreeList } from '../free-list.ts';
import { key5, key11, key11Out } from '../key-hash.ts';
import { type Matcher, type MatcherContext, type PacketView, parserBuffersOf } from '../matcher.ts';
import {
  diffNanos,
  MessageEdges,
  Outcome,
  Pair,
  type PairSink,
  setEndpoints,
  UnansweredReason,
} from '../pair.ts';
import { NumericPendingTable, type PendingEntry, PendingTable } from '../pending-table.ts';
import { maxPendingOf, timeoutNanosOf } from '../protocol.ts';
import { className, rcodeName, typeName } from './mnemonics.ts';
import {
  DnsHeader,
  DnsQuestion,
  QuestionStatus,
  readExtendedRcode,
  readHeader,
  readQuestion,
} from './parse.ts';
import { type DnsConnection, DnsFlow, type DnsMessageHandler, DnsStreamProtocol } from './stream.ts';

const kMalformed = skipReason('dns.malformed');
const kBadQuestion = skipReason('dns.bad_question');
const kBadRecords = skipReason('dns.bad_records');
const kFragment = skipReason('dns.ip_fragment');
const kRetransmittedQuery = skipReason('dns.retransmitted_query');
const kSupersededQuery = skipReason('dns.superseded_query');
const kDuplicateResponse = skipReason('dns.duplicate_response');
const kUnsolicitedResponse = skipReason('dns.unsolicited_response');
const kPendingEvicted = skipReason('dns.pending_evicted');
const kKeyCollision = skipReason('dns.key_collision');

/** tshark's dns.retransmission_timer default: 5 s between copies of one query. */
const kRetransmissionWindowNanos = 5_000_000_000;

/** Numbers per answered-table entry (QueryIdentity.storeWords). */
const kIdentityWords = 11;

/** Who talks to whom about which id (the message being handled): the full key of a request. */
class QueryIdentity {
  key = 0;
  transport = 0;
  ipVersion = 0;
  client0 = 0;
  client1 = 0;
  client2 = 0;
  client3 = 0;
  clientPort = 0;
  server0 = 0;
  server1 = 0;
  server2 = 0;
  server3 = 0;
  serverPort = 0;
  id = 0;

  /** Sets the identity of a message from `flow`: its sender is the client of a query, its receiver the client of a response. */
  setFrom(flow: DnsFlow, isResponse: boolean, id: number): void {
    this.transport = flow.transport;
    this.ipVersion = flow.ipVersion;
    this.client0 = isResponse ? flow.dst0 : flow.src0;
    this.client1 = isResponse ? flow.dst1 : flow.src1;
    this.client2 = isResponse ? flow.dst2 : flow.src2;
    this.client3 = isResponse ? flow.dst3 : flow.src3;
    this.clientPort = isResponse ? flow.dstPort : flow.srcPort;
    this.server0 = isResponse ? flow.src0 : flow.dst0;
    this.server1 = isResponse ? flow.src1 : flow.dst1;
    this.server2 = isResponse ? flow.src2 : flow.dst2;
    this.server3 = isResponse ? flow.src3 : flow.dst3;
    this.serverPort = isResponse ? flow.srcPort : flow.dstPort;
    this.id = id;
    // key11/key5: built in locals (the word-by-word builder keeps its state in module variables).
    // Words as int32 (the bits it hashes): an unsigned word of 2^31 or more would be boxed in a heap
    // number at the call. IPv4 leaves out the addresses' zero words (isEntry/sameAsWords compare
    // the IP version, so a v4 key equal to a v6 one is a collision like any other).
    if (this.ipVersion === 4)
      key5(
        this.transport * 0x100 + this.ipVersion,
        this.client0 | 0,
        this.server0 | 0,
        (this.clientPort << 16) | this.serverPort,
        id,
      );
    else
      key11(
        this.transport * 0x100 + this.ipVersion,
        this.client0 | 0,
        this.client1 | 0,
        this.client2 | 0,
        this.client3 | 0,
        this.server0 | 0,
        this.server1 | 0,
        this.server2 | 0,
        this.server3 | 0,
        (this.clientPort << 16) | this.serverPort,
        id,
      );
    this.key = key11Out[0]!;
  }

  /** Stores the identity (not the key) as the words of a NumericPendingTable entry. */
  storeWords(table: NumericPendingTable, slot: number): void {
    const words = table.data;
    const at = slot * kIdentityWords;
    words[at] = this.transport * 0x100 + this.ipVersion;
    words[at + 1] = this.client0;
    words[at + 2] = this.client1;
    words[at + 3] = this.client2;
    words[at + 4] = this.client3;
    words[at + 5] = this.server0;
    words[at + 6] = this.server1;
    words[at + 7] = this.server2;
    words[at + 8] = this.server3;
    words[at + 9] = this.clientPort * 0x10000 + this.serverPort;
    words[at + 10] = this.id;
  }

  /** Whether the identity stored by storeWords() at `slot` is this one. */
  sameAsWords(table: NumericPendingTable, slot: number): boolean {
    const words = table.data;
    const at = slot * kIdentityWords;
    return (
      words[at + 10] === this.id &&
      words[at + 9] === this.clientPort * 0x10000 + this.serverPort &&
      words[at] === this.transport * 0x100 + this.ipVersion &&
      words[at + 1] === this.client0 &&
      words[at + 2] === this.client1 &&
      words[at + 3] === this.client2 &&
      words[at + 4] === this.client3 &&
      words[at + 5] === this.server0 &&
      words[at + 6] === this.server1 &&
      words[at + 7] === this.server2 &&
      words[at + 8] === this.server3
    );
  }

  /** Whether `entry` is the pending request of this identity (its pair holds the rest of the key). */
  isEntry(entry: DnsEntry): boolean {
    const pair = entry.pair;
    return (
      entry.id === this.id &&
      pair.clientPort === this.clientPort &&
      pair.serverPort === this.serverPort &&
      pair.transport === this.transport &&
      pair.ipVersion === this.ipVersion &&
      pair.client0 === this.client0 &&
      pair.client1 === this.client1 &&
      pair.client2 === this.client2 &&
      pair.client3 === this.client3 &&
      pair.server0 === this.server0 &&
      pair.server1 === this.server1 &&
      pair.server2 === this.server2 &&
      pair.server3 === this.server3
    );
  }
}

/**
 * A pending request. seconds/nanos: its first copy (timeout and retransmission window run from
 * it). Its identity is its pair's transport and endpoints plus `id` (not copied again here).
 */
export class DnsEntry implements PendingEntry {
  key = 0;
  /** Capture-order links, owned by the pending table. */
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  seconds = 0;
  nanos = 0;
  id = 0;
  name: string | null = null;
  type = -1;
  qclass = -1;
  /** Copies of the query beyond the first. */
  retransmissions = 0;
  /** Holds the endpoints and request edges until the request ends (then it belongs to the sinks). */
  pair = new Pair();
  /** TCP: the connection, and whether its client (SYN side) sent the query. */
  connection: DnsConnection | null = null;
  sentByConnectionClient = false;

  /** Readies an ended entry (FreeList) for a new request: what #onQuery does not set. */
  renew(): void {
    this.pair = new Pair();
    this.retransmissions = 0;
    this.connection = null;
    this.sentByConnectionClient = false;
  }
}

/** pair.detail of DNS pairs (JSONL "dns"): the question, the response code and answer count once answered. */
export type DnsDetail = {
  id: number;
  name: string | null;
  type: string | null;
  class: string | null;
  rcode: string | null;
  answers: number | null;
  /** Copies of the query beyond the first (left out when none). */
  retransmissions?: number;
};

function detailOf(entry: DnsEntry, rcode: number | null, answers: number | null): DnsDetail {
  const detail: DnsDetail = {
    id: entry.id,
    name: entry.name,
    type: entry.type < 0 ? null : typeName(entry.type),
    class: entry.qclass < 0 ? null : className(entry.qclass),
    rcode: rcode === null ? null : rcodeName(rcode),
    answers,
  };
  if (entry.retransmissions > 0) detail.retransmissions = entry.retransmissions;
  return detail;
}

/** Marks each DNS port with 1; throws on a value that is not a port number (config error). */
function dnsPortTable(ports: readonly number[]): Uint8Array {
  const table = new Uint8Array(65536);
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`dnsPorts: ${String(port)} is not a port number (an integer in 0..65535)`);
    }
    table[port] = 1;
  }
  return table;
}

/** The 'dns' matcher: UDP packets through onPacket(), TCP messages through `stream` (both into onMessage). */
export class DnsMatcher implements Matcher, DnsMessageHandler {
  readonly stream: DnsStreamProtocol;
  readonly #sink: PairSink;
  readonly #skips: MatcherContext['skips'];
  readonly #latencyFromLast: boolean;
  readonly #dnsPorts: Uint8Array;
  readonly #pending: PendingTable<DnsEntry>;
  /**
   * Recently answered requests (their full identity as kIdentityWords numbers), to tell
   * duplicate responses from unsolicited ones. Numeric: they live for 5 s of capture time.
   */
  readonly #answered: NumericPendingTable;
  readonly #freeEntries = new FreeList<DnsEntry>();
  #tcpPending = 0;
  // Reused per message: the identity (key) of the message being handled, its header and question.
  readonly #messageIdentity = new QueryIdentity();
  readonly #header = new DnsHeader();
  readonly #question = new DnsQuestion();
  readonly #udpFlow = new DnsFlow();
  readonly #udpEdges = new MessageEdges();

  constructor(context: MatcherContext) {
    const options = context.options;
    this.#sink = context.sink;
    this.#skips = context.skips;
    this.#latencyFromLast = options.dnsLatencyFrom === 'last';
    this.#dnsPorts = dnsPortTable(options.dnsPorts);
    this.#pending = new PendingTable(maxPendingOf(options, 'dns'), timeoutNanosOf(options, 'dns'));
    this.#answered = new NumericPendingTable(
      maxPendingOf(options, 'dns'),
      kRetransmissionWindowNanos,
      kIdentityWords,
    );
    this.stream = new DnsStreamProtocol(this.#dnsPorts, this, context.skips, parserBuffersOf(context));
  }

  readonly packetTransport = IpProtocol.Udp;

  onPacket(view: PacketView): void {
    const p = view.packet;
    if (p.ipProtocol !== IpProtocol.Udp) return;
    if (this.#dnsPorts[p.srcPort] !== 1 && this.#dnsPorts[p.dstPort] !== 1) return;
    // A first fragment still carries the header; later fragments never reach matchers (no UDP header).
    if (p.isFragment) this.#skips.add(kFragment);
    const flow = this.#udpFlow;
    flow.ipVersion = p.ipVersion;
    flow.src0 = p.src0;
    flow.src1 = p.src1;
    flow.src2 = p.src2;
    flow.src3 = p.src3;
    flow.srcPort = p.srcPort;
    flow.dst0 = p.dst0;
    flow.dst1 = p.dst1;
    flow.dst2 = p.dst2;
    flow.dst3 = p.dst3;
    flow.dstPort = p.dstPort;
    const edges = this.#udpEdges.begin(
      view.seconds,
      view.nanos,
      view.fileId,
      view.packetNumber,
      p.payloadWireLength,
    );
    this.onMessage(flow, view.data, p.payloadOffset, p.payloadLength, edges);
  }

  onMessage(flow: DnsFlow, data: Uint8Array, offset: number, length: number, edges: MessageEdges): void {
    const header = this.#header;
    if (!readHeader(data, offset, length, header)) {
      this.#skips.add(kMalformed);
      return;
    }
    this.#messageIdentity.setFrom(flow, header.isResponse, header.id);
    if (header.isResponse) this.#onResponse(data, offset, length, edges);
    else this.#onQuery(flow, data, offset, length, edges);
  }

  #onQuery(flow: DnsFlow, data: Uint8Array, offset: number, length: number, edges: MessageEdges): void {
    const identity = this.#messageIdentity;
    const existing = this.#pending.get(identity.key);
    if (existing !== undefined) {
      if (!identity.isEntry(existing)) {
        this.#skips.add(kKeyCollision);
        this.#end(existing, UnansweredReason.Evicted);
      } else if (
        diffNanos(existing.seconds, existing.nanos, edges.firstSeconds, edges.firstNanos) <
        kRetransmissionWindowNanos
      ) {
        existing.retransmissions++;
        this.#skips.add(kRetransmittedQuery);
        if (this.#latencyFromLast) existing.pair.request.copyFrom(edges);
        return;
      } else {
        this.#skips.add(kSupersededQuery);
        this.#end(existing, UnansweredReason.Expired);
      }
    }
    this.#answered.delete(identity.key);

    let entry = this.#freeEntries.take();
    if (entry === undefined) entry = new DnsEntry();
    else entry.renew();
    entry.key = identity.key;
    entry.id = identity.id;
    entry.seconds = edges.firstSeconds;
    entry.nanos = edges.firstNanos;
    this.#readQuestionInto(entry, data, offset, length);
    const pair = entry.pair;
    pair.protocol = 'dns';
    pair.transport = identity.transport;
    setEndpoints(
      pair,
      identity.ipVersion,
      identity.client0,
      identity.client1,
      identity.client2,
      identity.client3,
      identity.clientPort,
      identity.server0,
      identity.server1,
      identity.server2,
      identity.server3,
      identity.serverPort,
      true,
    );
    pair.request.copyFrom(edges);
    const connection = flow.connection;
    if (connection !== null) {
      entry.connection = connection;
      entry.sentByConnectionClient = flow.fromConnectionClient;
      connection.pending.add(entry);
      this.#tcpPending++;
    }
    const evicted = this.#pending.insert(entry);
    if (evicted !== undefined) {
      this.#skips.add(kPendingEvicted);
      this.#release(evicted);
      this.#emitUnanswered(evicted, UnansweredReason.Evicted);
    }
  }

  #onResponse(data: Uint8Array, offset: number, length: number, edges: MessageEdges): void {
    const identity = this.#messageIdentity;
    const entry = this.#pending.get(identity.key);
    if (entry === undefined || !identity.isEntry(entry)) {
      const slot = this.#answered.find(identity.key);
      const duplicate = slot >= 0 && identity.sameAsWords(this.#answered, slot);
      this.#skips.add(duplicate ? kDuplicateResponse : kUnsolicitedResponse);
      return;
    }
    this.#pending.delete(entry.key);
    this.#release(entry);
    const header = this.#header;
    let rcode = readExtendedRcode(data, offset, length, header);
    if (rcode < 0) {
      this.#skips.add(kBadRecords);
      rcode = header.rcode;
    }
    if (entry.name === null) this.#readQuestionInto(entry, data, offset, length);
    const pair = entry.pair;
    pair.outcome = Outcome.Matched;
    const response = new MessageEdges();
    response.copyFrom(edges);
    pair.response = response;
    pair.detail = detailOf(entry, rcode, header.answerCount);
    this.#sink.emit(pair);

    identity.storeWords(this.#answered, this.#answered.insert(entry.key, edges.lastSeconds, edges.lastNanos));
    this.#freeEntries.give(entry);
  }

  /** Reads the first question of the message whose header is in #header into the entry. */
  #readQuestionInto(entry: DnsEntry, data: Uint8Array, offset: number, length: number): void {
    const question = this.#question;
    const status = readQuestion(data, offset, length, this.#header, question);
    if (status >= QuestionStatus.NameLoops) this.#skips.add(kBadQuestion);
    entry.name = question.name;
    entry.type = question.type;
    entry.qclass = question.qclass;
  }

  onConnectionClosed(connection: DnsConnection, closedByConnectionClient: boolean, reset: boolean): void {
    for (const entry of connection.pending) {
      // A FIN ends only the queries the closing side had to answer: those the other side sent.
      if (reset || entry.sentByConnectionClient !== closedByConnectionClient) {
        this.#end(entry, UnansweredReason.ConnectionClosed);
      }
    }
  }

  /** Removes a pending request and reports it unanswered. */
  #end(entry: DnsEntry, reason: UnansweredReason): void {
    this.#pending.delete(entry.key);
    this.#release(entry);
    this.#emitUnanswered(entry, reason);
  }

  /** Bookkeeping for a request leaving the pending table. */
  #release(entry: DnsEntry): void {
    const connection = entry.connection;
    if (connection === null) return;
    connection.pending.delete(entry);
    entry.connection = null;
    this.#tcpPending--;
  }

  #emitUnanswered(entry: DnsEntry, reason: UnansweredReason): void {
    const pair = entry.pair;
    pair.outcome = Outcome.Unanswered;
    pair.unansweredReason = reason;
    pair.response = null;
    pair.detail = detailOf(entry, null, null);
    this.#sink.emit(pair);
    this.#freeEntries.give(entry);
  }

  expire(seconds: number, nanos: number): void {
    for (;;) {
      const entry = this.#pending.popExpired(seconds, nanos);
      if (entry === undefined) break;
      this.#release(entry);
      this.#emitUnanswered(entry, UnansweredReason.Expired);
    }
    while (this.#answered.popExpired(seconds, nanos)) {
      // Answered records only classify late duplicates; they end silently.
    }
  }

  flush(): void {
    for (;;) {
      const entry = this.#pending.popOldest();
      if (entry === undefined) break;
      this.#release(entry);
      this.#emitUnanswered(entry, UnansweredReason.EndOfInput);
    }
    // Nothing to report for answered records.
    this.#answered.clear();
  }

  pendingCount(): number {
    return this.#pending.size;
  }

  tcpPendingCount(): number {
    return this.#tcpPending;
  }
}
