/**
 * Test harness for matchers, shared by the tcp, udp and relay tests: builds packets by hand
 * (no decoder or capture reader needed) and feeds them through ONE reused PacketView,
 * DecodedPacket and data buffer, overwritten per packet like the real pipeline's, so a matcher
 * that keeps a reference instead of a copy fails here.
 */
import type { Matcher } from '../../../agent/correlate/matcher.ts';
import { PacketView } from '../../../agent/correlate/matcher.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import { diffNanos, type Pair } from '../../../agent/correlate/pair.ts';
import type { ProtocolDescriptor as MatcherDescriptor } from '../../../agent/correlate/protocol.ts';
import { DecodedPacket, IpProtocol } from '../../../agent/decode/packet.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';

/** Capture time of `at: 0`; `at` values are nanoseconds after it. */
export const kEpochSeconds = 1_700_000_000;
const kPayloadOffset = 66;

/** Big-endian 32-bit words of an address text (IPv4 in word 0), parsed independently of the code under test. */
export function words(address: string): [number, number, number, number] {
  if (!address.includes(':')) {
    const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
    return [((a << 24) | (b << 16) | (c << 8) | d) >>> 0, 0, 0, 0];
  }
  const [head = '', tail] = address.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) out[i] = (((groups[2 * i] ?? 0) << 16) | (groups[2 * i + 1] ?? 0)) >>> 0;
  return out;
}

/** Adjusts the default options before the matcher is created. */
export type Configure = (options: CorrelateOptions) => void;

export interface PacketSpec {
  /** Capture time as nanoseconds after kEpochSeconds... */
  at?: number;
  /** ...or as [seconds, nanos] (real capture times). */
  time?: readonly [number, number];
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** TcpFlag bits; only for tcp(). */
  flags?: number;
  seq?: number;
  ack?: number;
  payload?: string | Uint8Array;
  /** Payload length on the wire when larger than the captured payload (snaplen cut). */
  wireLength?: number;
  fragment?: boolean;
  fileId?: number;
}

export class Harness {
  readonly options: CorrelateOptions;
  readonly skips = new SkipCounters();
  readonly pairs: Pair[] = [];
  readonly matcher: Matcher;
  readonly #view = new PacketView();
  readonly #packet = new DecodedPacket();
  readonly #data = new Uint8Array(4096);
  readonly #packetNumbers = new Map<number, number>();

  constructor(descriptor: MatcherDescriptor, configure?: Configure) {
    this.options = defaultCorrelateOptions();
    configure?.(this.options);
    this.matcher = descriptor.create!({
      options: this.options,
      skips: this.skips,
      sink: { emit: (pair) => this.pairs.push(pair) },
    });
    this.#view.packet = this.#packet;
    this.#view.data = this.#data;
  }

  /** Feeds a TCP segment; returns its packet number. */
  tcp(spec: PacketSpec): number {
    return this.#feed(IpProtocol.Tcp, spec);
  }

  /** Feeds a UDP datagram; returns its packet number. */
  udp(spec: PacketSpec): number {
    return this.#feed(IpProtocol.Udp, spec);
  }

  expire(at: number): void {
    this.matcher.expire(kEpochSeconds + Math.floor(at / 1e9), at % 1e9);
  }

  flush(): void {
    this.matcher.flush();
  }

  /** Count of a skip reason. */
  skip(name: string): number {
    return this.skips.get(skipReason(name));
  }

  #feed(transport: number, spec: PacketSpec): number {
    const fileId = spec.fileId ?? 0;
    const packetNumber = (this.#packetNumbers.get(fileId) ?? 0) + 1;
    this.#packetNumbers.set(fileId, packetNumber);
    const payload = typeof spec.payload === 'string' ? new TextEncoder().encode(spec.payload) : spec.payload;
    const length = payload?.length ?? 0;
    // Scribble over the previous packet's bytes: a matcher must have copied what it keeps.
    this.#data.fill(0xee);
    if (payload !== undefined) this.#data.set(payload, kPayloadOffset);

    const p = this.#packet;
    const src = words(spec.src);
    const dst = words(spec.dst);
    p.ipVersion = spec.src.includes(':') ? 6 : 4;
    [p.src0, p.src1, p.src2, p.src3] = src;
    [p.dst0, p.dst1, p.dst2, p.dst3] = dst;
    p.ipProtocol = transport;
    p.isFragment = spec.fragment ?? false;
    p.srcPort = spec.sport;
    p.dstPort = spec.dport;
    p.tcpFlags = transport === IpProtocol.Tcp ? (spec.flags ?? 0) : 0;
    p.tcpSeq = (spec.seq ?? 0) >>> 0;
    p.tcpAck = (spec.ack ?? 0) >>> 0;
    p.payloadOffset = kPayloadOffset;
    p.payloadLength = length;
    p.payloadWireLength = spec.wireLength ?? length;

    const view = this.#view;
    const at = spec.at ?? 0;
    [view.seconds, view.nanos] = spec.time ?? [kEpochSeconds + Math.floor(at / 1e9), at % 1e9];
    view.fileId = fileId;
    view.packetNumber = packetNumber;
    this.matcher.onPacket?.(view);
    return packetNumber;
  }
}

/** Nanoseconds from the request's first packet to the response's first packet. */
export function firstToFirstNs(pair: Pair): number {
  const response = pair.response;
  if (response === null) throw new Error('pair has no response');
  return diffNanos(
    pair.request.firstSeconds,
    pair.request.firstNanos,
    response.firstSeconds,
    response.firstNanos,
  );
}

/** Nanoseconds from the request's last packet to the response's first (tshark's ack_rtt / dns.time view). */
export function lastToFirstNs(pair: Pair): number {
  const response = pair.response;
  if (response === null) throw new Error('pair has no response');
  return diffNanos(
    pair.request.lastSeconds,
    pair.request.lastNanos,
    response.firstSeconds,
    response.firstNanos,
  );
}
