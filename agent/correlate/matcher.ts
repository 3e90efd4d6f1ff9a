/**
 * The contract between the correlator and one protocol matcher (one folder per protocol
 * under agent/correlate/, one line in registry.ts to add one; the descriptor: protocol.ts).
 *
 * The correlator offers every decoded TCP/UDP packet, in capture order, to every enabled
 * matcher through one reused PacketView. A matcher keeps its own pending requests (numeric
 * keys, bounded, expiring by capture time) and emits finished pairs into the PairSink.
 * Matchers never read the wall clock and never talk to exporters.
 */

import type { DecodedPacket } from '../decode/packet.ts';
import type { SkipCounters } from '../shared/skips.ts';
import type { CorrelateOptions } from './options.ts';
import type { PairSink } from './pair.ts';
import type { StreamProtocol } from './tcp-stream/consumer.ts';
import { ParserBufferBudget } from './tcp-stream/parser-buffers.ts';

/**
 * The packet being correlated. One instance, overwritten for every packet: a matcher that
 * keeps payload bytes beyond onPacket() must copy them (data is the reader's reused buffer).
 */
export class PacketView {
  /** The decoded headers (stopLayer is Complete: TCP or UDP). */
  packet!: DecodedPacket;
  /** The record's bytes; packet.payloadOffset/payloadLength index into it. */
  data!: Uint8Array;
  /** Capture time: seconds since the epoch and nanoseconds within the second. */
  seconds = 0;
  nanos = 0;
  /** Index of the capture file in the correlator's file table (stable across rotation). */
  fileId = 0;
  /** 1-based packet number within that file. */
  packetNumber = 0;
  /**
   * TCP packets: the connection key of its 4-tuple (tcp-stream/connection.ts setConnectionKey(),
   * set once per packet by the correlator before the capture-loss observer and the reassembly).
   */
  connectionKey = 0;
}

export interface Matcher {
  /**
   * Offered each decoded TCP/UDP packet in capture order. Left out by matchers that only read
   * TCP streams (`stream`), so the correlator does not call them per packet.
   */
  onPacket?(view: PacketView): void;
  /**
   * IpProtocol.Tcp or IpProtocol.Udp when onPacket() reads only that transport's packets: the
   * correlator then offers it no others (a call per packet saved; onPacket still ignores them).
   */
  readonly packetTransport?: number;
  /**
   * Offered each decoded ICMP/ICMPv6 echo request and reply (packet.icmp* fields) in capture
   * order; only matchers that define it see ICMP packets (onPacket never does).
   */
  onIcmpPacket?(view: PacketView): void;
  /**
   * Capture time has reached (seconds, nanos): emit as unanswered (reason Expired) every
   * pending request older than its timeout. Called by the correlator at least once per
   * second of capture time, and before flush().
   */
  expire(seconds: number, nanos: number): void;
  /** End of input: emit every pending request as unanswered (reason EndOfInput). */
  flush(): void;
  /** Requests waiting for a response (for stats). */
  pendingCount(): number;
  /**
   * Set by matchers that read TCP byte streams (HTTP, DNS over TCP): the correlator's shared
   * TCP reassembly offers new connections to it. Its pending requests are included in this
   * matcher's pendingCount/expire/flush.
   */
  readonly stream?: StreamProtocol;
}

export interface MatcherContext {
  options: CorrelateOptions;
  sink: PairSink;
  /** Counted skips (malformed L7 messages, evictions...) under the matcher's own reason names. */
  skips: SkipCounters;
  /**
   * Bytes stream parsers may hold for incomplete messages, shared by every protocol of the
   * correlator (tcp-stream/parser-buffers.ts). Absent (tests): see parserBuffersOf().
   */
  parserBuffers?: ParserBufferBudget;
}

/** The context's shared parser budget, or (a matcher on its own, in tests) one of the configured size. */
export function parserBuffersOf(context: MatcherContext): ParserBufferBudget {
  return (
    context.parserBuffers ?? new ParserBufferBudget(context.options.reassembly.maxParserBufferBytesTotal)
  );
}

/**
 * The matcher of a protocol that reads only TCP streams (no onPacket): the correlator's
 * reassembly offers connections to `stream`, which keeps the pending requests.
 */
export class StreamMatcher<Stream extends StreamProtocol = StreamProtocol> implements Matcher {
  readonly stream: Stream;

  constructor(stream: Stream) {
    this.stream = stream;
  }

  expire(seconds: number, nanos: number): void {
    this.stream.expire(seconds, nanos);
  }

  flush(): void {
    this.stream.flush();
  }

  pendingCount(): number {
    return this.stream.pendingCount();
  }
}
