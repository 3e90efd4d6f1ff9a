/**
 * The correlator stage: offers each decoded TCP/UDP packet, in capture order, to every
 * enabled matcher and to the shared TCP reassembly (for stream protocols), and each ICMP echo
 * only to the matchers that read ICMP; advances expiry by capture time, and counts the pairs
 * it passes on.
 *
 * Invariant: expiry runs whenever capture time enters a new second, so a request is
 * reported unanswered at most one second of capture time after its timeout.
 */
import type { DecodedPacket } from '../decode/packet.ts';
import { IpProtocol } from '../decode/packet.ts';
import { SkipCounters } from '../shared/skips.ts';
import { CaptureLossObserver } from './capture-loss/observer.ts';
import { type Matcher, type MatcherContext, PacketView } from './matcher.ts';
import type { CorrelateOptions } from './options.ts';
import { Outcome, type Pair, type PairSink, UnansweredReason, UnansweredReasonNames } from './pair.ts';
import { type ProtocolRegistry, protocolIdOf } from './protocol.ts';
import { matcherRegistry } from './registry.ts';
import { flowShard, payloadShard } from './shard.ts';
import { setConnectionKey } from './tcp-stream/connection.ts';
import type { StreamProtocol } from './tcp-stream/consumer.ts';
import { ParserBufferBudget } from './tcp-stream/parser-buffers.ts';
import { TcpReassembly } from './tcp-stream/reassembly.ts';

/** Pairs passed on, per protocol. */
export interface PairCounts {
  matched: number;
  unanswered: number;
  /** Unanswered pairs by reason name (expired, evicted, end_of_input, connection_closed). */
  unansweredBy: Record<string, number>;
}

interface PacketMatcher {
  onPacket: (view: PacketView) => void;
  byPayload: boolean;
}

export class Correlator {
  readonly skips: SkipCounters;
  /** Bytes the stream parsers hold for incomplete messages (bounded by options.reassembly). */
  readonly parserBuffers: ParserBufferBudget;
  readonly counts = new Map<string, PairCounts>();
  /** TCP bytes the capture missed (capture-loss/observer.ts); also marks the pairs they touched. */
  readonly captureLoss: CaptureLossObserver;
  readonly #matchers: { name: string; matcher: Matcher; byPayload: boolean }[] = [];
  /** The matchers that look at TCP packets, and those that look at UDP packets (stream-only matchers have no onPacket). */
  readonly #tcpMatchers: PacketMatcher[] = [];
  readonly #udpMatchers: PacketMatcher[] = [];
  /** The matchers that look at ICMP/ICMPv6 echo packets (flow-sharded). */
  readonly #icmpMatchers: ((view: PacketView) => void)[] = [];
  /** This correlator's shard among `#shards` (worker pipeline); 1 shard = every packet. */
  readonly #shard: number;
  readonly #shards: number;
  readonly #anyByPayload: boolean;
  readonly #reassembly: TcpReassembly | null;
  readonly #view = new PacketView();
  #lastExpirySecond = Number.NEGATIVE_INFINITY;
  #latestSeconds = 0;
  #latestNanos = 0;
  /** Capture time of the packet (or end of input) being processed: when evictions and closes happen. */
  #nowSeconds = 0;
  #nowNanos = 0;
  readonly #registry: ProtocolRegistry;
  /** By protocol id (registry index). */
  readonly #timeoutById: Float64Array;
  readonly #countsById: PairCounts[] = [];
  /**
   * Records read again after a restart to rebuild the requests pending at the checkpoint
   * (`run`, tail.ts): the pairs they finish were passed on before the restart, so while quiet
   * no pair is counted or passed on; the matchers' state is built as usual.
   */
  quiet = false;

  constructor(
    options: CorrelateOptions,
    sink: PairSink,
    skips = new SkipCounters(),
    registry: ProtocolRegistry = matcherRegistry,
    shard: { index: number; count: number } = { index: 0, count: 1 },
  ) {
    this.skips = skips;
    this.#shard = shard.index;
    this.#shards = shard.count;
    this.#registry = registry;
    this.#timeoutById = new Float64Array(registry.length);
    for (let id = 0; id < registry.length; id++) {
      this.#timeoutById[id] = options.timeoutNanos[registry[id]!.name] ?? 0;
    }
    this.captureLoss = new CaptureLossObserver({
      maxConnections: options.reassembly.maxConnections,
      idleTimeoutNanos: options.reassembly.idleTimeoutNanos,
      longestTimeoutNanos: Math.max(0, ...this.#timeoutById),
    });
    this.parserBuffers = new ParserBufferBudget(options.reassembly.maxParserBufferBytesTotal);
    const streams: StreamProtocol[] = [];
    for (let id = 0; id < registry.length; id++) {
      const descriptor = registry[id]!;
      if (descriptor.create === undefined || !descriptor.enabled(options)) continue;
      const context: MatcherContext = {
        options,
        sink: this.#sinkFor(id, descriptor.name, sink),
        skips,
        parserBuffers: this.parserBuffers,
      };
      const matcher = descriptor.create(context);
      const byPayload = descriptor.shardBy === 'payload';
      this.#matchers.push({ name: descriptor.name, matcher, byPayload });
      if (matcher.onPacket) {
        const entry = { onPacket: matcher.onPacket.bind(matcher), byPayload };
        if (matcher.packetTransport !== IpProtocol.Udp) this.#tcpMatchers.push(entry);
        if (matcher.packetTransport !== IpProtocol.Tcp) this.#udpMatchers.push(entry);
      }
      if (matcher.onIcmpPacket) this.#icmpMatchers.push(matcher.onIcmpPacket.bind(matcher));
      const counts = { matched: 0, unanswered: 0, unansweredBy: {} };
      this.counts.set(descriptor.name, counts);
      this.#countsById[id] = counts;
      if (matcher.stream) streams.push(matcher.stream);
    }
    this.#reassembly = streams.length > 0 ? new TcpReassembly(streams, options.reassembly, skips) : null;
    this.#anyByPayload = this.#matchers.some((m) => m.byPayload);
  }

  /**
   * The sink of the matcher of protocol `id`: stamps each pair's protocol id (its own, or, for a
   * pair of another protocol, found by name), counts it and passes it on. Made once per matcher.
   */
  #sinkFor(id: number, name: string, sink: PairSink): PairSink {
    return {
      emit: (pair) => {
        pair.protocolId = pair.protocol === name ? id : protocolIdOf(this.#registry, pair.protocol);
        this.#count(pair, sink);
      },
    };
  }

  #count(pair: Pair, sink: PairSink): void {
    if (this.quiet) return;
    let counts = this.#countsById[pair.protocolId] ?? this.counts.get(pair.protocol);
    if (!counts) {
      counts = { matched: 0, unanswered: 0, unansweredBy: {} };
      this.counts.set(pair.protocol, counts);
      if (pair.protocolId >= 0) this.#countsById[pair.protocolId] = counts;
    }
    if (pair.outcome !== Outcome.Matched) this.#stampGivenUp(pair);
    if (this.captureLoss.crossedGap(pair)) {
      pair.captureGap = true;
      const reason = pair.unansweredReason;
      // Waiting ended by a close, the timeout or the end of input: the response most likely fell
      // into the gap. An eviction stays one (the table was full whatever the capture lost).
      if (pair.outcome !== Outcome.Matched && reason !== UnansweredReason.Evicted)
        pair.unansweredReason = UnansweredReason.CaptureGap;
    }
    if (pair.outcome === Outcome.Matched) counts.matched++;
    else {
      counts.unanswered++;
      const reason = UnansweredReasonNames[pair.unansweredReason];
      counts.unansweredBy[reason] = (counts.unansweredBy[reason] ?? 0) + 1;
    }
    sink.emit(pair);
  }

  #stampGivenUp(pair: Pair): void {
    if (pair.unansweredReason === UnansweredReason.Expired) {
      const timeout = this.#timeoutById[pair.protocolId] ?? 0;
      const total = pair.request.lastNanos + timeout;
      pair.givenUpSeconds = pair.request.lastSeconds + Math.floor(total / 1e9);
      pair.givenUpNanos = total % 1e9;
    } else {
      pair.givenUpSeconds = this.#nowSeconds;
      pair.givenUpNanos = this.#nowNanos;
    }
  }

  onPacket(
    fileId: number,
    packetNumber: number,
    seconds: number,
    nanos: number,
    data: Uint8Array,
    packet: DecodedPacket,
  ): void {
    this.advanceTime(seconds, nanos);
    let flowMine = true;
    let payloadMine = true;
    if (this.#shards > 1) {
      flowMine = flowShard(packet, this.#shards) === this.#shard;
      payloadMine = this.#anyByPayload && payloadShard(packet, data, this.#shards) === this.#shard;
      if (!flowMine && !payloadMine) return;
    }
    const view = this.#view;
    view.packet = packet;
    view.data = data;
    view.seconds = seconds;
    view.nanos = nanos;
    view.fileId = fileId;
    view.packetNumber = packetNumber;
    if (packet.ipProtocol === IpProtocol.Icmp || packet.ipProtocol === IpProtocol.Icmpv6) {
      if (!flowMine) return;
      const icmpMatchers = this.#icmpMatchers;
      for (let i = 0; i < icmpMatchers.length; i++) icmpMatchers[i]!(view);
      return;
    }
    const tcp = flowMine && packet.ipProtocol === IpProtocol.Tcp;
    if (tcp) {
      // One key for the capture-loss observer and the reassembly's connection table.
      setConnectionKey(view);
      // Before the matchers: a gap this packet reveals is known when the pairs it ends are counted.
      this.captureLoss.onPacket(view);
    }
    const matchers = packet.ipProtocol === IpProtocol.Tcp ? this.#tcpMatchers : this.#udpMatchers;
    for (let i = 0; i < matchers.length; i++) {
      const entry = matchers[i]!;
      if (entry.byPayload ? payloadMine : flowMine) entry.onPacket(view);
    }
    if (tcp && this.#reassembly !== null) this.#reassembly.onPacket(view);
  }

  /**
   * Capture time moved to (seconds, nanos) without a packet for this correlator (the worker
   * pipeline: another shard's packet). Keeps expiry identical whatever the shard count.
   */
  advanceTime(seconds: number, nanos: number): void {
    this.#nowSeconds = seconds;
    this.#nowNanos = nanos;
    if (seconds > this.#lastExpirySecond) {
      this.#lastExpirySecond = seconds;
      this.#expire(seconds, nanos);
    }
    if (seconds > this.#latestSeconds || (seconds === this.#latestSeconds && nanos > this.#latestNanos)) {
      this.#latestSeconds = seconds;
      this.#latestNanos = nanos;
    }
  }

  #expire(seconds: number, nanos: number): void {
    for (const { matcher } of this.#matchers) matcher.expire(seconds, nanos);
    this.#reassembly?.expire(seconds, nanos);
    // Last: the pairs expired above may still ask the observer whether they crossed a gap.
    this.captureLoss.expire(seconds);
  }

  /** End of input: expire at the newest capture time seen, then report everything still pending. */
  finish(): void {
    this.#nowSeconds = this.#latestSeconds;
    this.#nowNanos = this.#latestNanos;
    this.#expire(this.#latestSeconds, this.#latestNanos);
    this.#reassembly?.flush();
    for (const { matcher } of this.#matchers) matcher.flush();
  }

  /** Pending requests per protocol (for stats). */
  pending(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { name, matcher } of this.#matchers) out[name] = matcher.pendingCount();
    return out;
  }
}
