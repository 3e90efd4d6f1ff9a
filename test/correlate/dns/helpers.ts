/**
 * Test helpers for the DNS matcher: a DNS message builder, and a Wire that offers packets and
 * TCP bytes the way the correlator and the TCP reassembly do (one reused PacketView and one
 * reused record buffer, overwritten with junk after every call, so a matcher that keeps a
 * reference to packet bytes fails the tests).
 */
import { DnsMatcher } from '../../../agent/correlate/dns/matcher.ts';
import { PacketView } from '../../../agent/correlate/matcher.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import type { Pair, PairSink } from '../../../agent/correlate/pair.ts';
import { type StreamConsumer, TcpConnectionInfo } from '../../../agent/correlate/tcp-stream/consumer.ts';
import { DecodedPacket, IpProtocol } from '../../../agent/decode/packet.ts';
import { SkipCounters } from '../../../agent/shared/skips.ts';

export const Type = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, OPT: 41, ANY: 255 } as const;

/** Encodes a dotted name as uncompressed labels; '' is the root. */
export function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.')) {
    if (label === '') continue;
    const bytes = Buffer.from(label, 'latin1');
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

export function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

export interface RecordSpec {
  /** Encoded owner name; default: a pointer to the first question's name (offset 12). */
  name?: number[];
  type: number;
  class?: number;
  /** TTL as its 4 bytes (OPT keeps extended rcode, version and flags there). */
  ttlBytes?: number[];
  data?: number[];
}

export interface MessageSpec {
  id: number;
  response?: boolean;
  opcode?: number;
  rcode?: number;
  /** One question by name; use questionBytes for raw (malformed) question bytes. */
  question?: { name: string; type?: number; class?: number } | null;
  questionBytes?: number[];
  /** QDCOUNT to write (default: 1 with a question, else 0). */
  questionCount?: number;
  answers?: RecordSpec[];
  authority?: RecordSpec[];
  additional?: RecordSpec[];
}

function encodeRecord(record: RecordSpec): number[] {
  const data = record.data ?? [];
  return [
    ...(record.name ?? [0xc0, 12]),
    ...u16(record.type),
    ...u16(record.class ?? 1),
    ...(record.ttlBytes ?? [0, 0, 0x0e, 0x10]),
    ...u16(data.length),
    ...data,
  ];
}

/** An OPT pseudo-record (EDNS) carrying the upper 8 bits of a 12-bit rcode. */
export function optRecord(extendedRcode: number): RecordSpec {
  return { name: [0], type: Type.OPT, class: 1232, ttlBytes: [extendedRcode, 0, 0, 0] };
}

export function aRecord(a: number, b: number, c: number, d: number): RecordSpec {
  return { type: Type.A, data: [a, b, c, d] };
}

export function dnsMessage(spec: MessageSpec): Uint8Array {
  const question =
    spec.questionBytes ??
    (spec.question === null
      ? []
      : [
          ...encodeName(spec.question?.name ?? 'www.example.test'),
          ...u16(spec.question?.type ?? Type.A),
          ...u16(spec.question?.class ?? 1),
        ]);
  const questionCount = spec.questionCount ?? (spec.question === null ? 0 : 1);
  const flags = (spec.response ? 0x8000 : 0) | ((spec.opcode ?? 0) << 11) | 0x0100 | (spec.rcode ?? 0);
  const answers = spec.answers ?? [];
  const authority = spec.authority ?? [];
  const additional = spec.additional ?? [];
  return Uint8Array.from([
    ...u16(spec.id),
    ...u16(flags),
    ...u16(questionCount),
    ...u16(answers.length),
    ...u16(authority.length),
    ...u16(additional.length),
    ...question,
    ...answers.flatMap(encodeRecord),
    ...authority.flatMap(encodeRecord),
    ...additional.flatMap(encodeRecord),
  ]);
}

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

/** Prepends the 2-byte length used by DNS over TCP. */
export function framed(message: Uint8Array): Uint8Array {
  return Uint8Array.from([...u16(message.length), ...message]);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

export interface Endpoint {
  ipVersion: 4 | 6;
  /** Address as big-endian 32-bit words (IPv4 in word 0). */
  words: [number, number, number, number];
  port: number;
}

export function v4(address: string, port: number): Endpoint {
  const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
  return { ipVersion: 4, words: [((a << 24) | (b << 16) | (c << 8) | d) >>> 0, 0, 0, 0], port };
}

/** IPv6 from 8 hextets (no '::' shorthand, to keep the helper trivial). */
export function v6(hextets: number[], port: number): Endpoint {
  const h = (i: number) => hextets[i] ?? 0;
  const word = (i: number) => ((h(i) << 16) | h(i + 1)) >>> 0;
  return { ipVersion: 6, words: [word(0), word(2), word(4), word(6)], port };
}

export const client = v4('10.0.0.1', 63688);
export const server = v4('10.0.0.138', 53);

export class CollectingSink implements PairSink {
  readonly pairs: Pair[] = [];
  emit(pair: Pair): void {
    this.pairs.push(pair);
  }
}

export interface Harness {
  matcher: DnsMatcher;
  pairs: Pair[];
  skips: SkipCounters;
  wire: Wire;
}

export function harness(change?: (options: CorrelateOptions) => void): Harness {
  const options = defaultCorrelateOptions();
  change?.(options);
  const sink = new CollectingSink();
  const skips = new SkipCounters();
  const matcher = new DnsMatcher({ options, sink, skips });
  return { matcher, pairs: sink.pairs, skips, wire: new Wire(matcher) };
}

const kJunk = 0xee;
/** Where the payload starts in the record buffer (Ethernet + IPv4 + UDP headers). */
const kPayloadOffset = 42;

export class Wire {
  readonly view = new PacketView();
  readonly packet = new DecodedPacket();
  readonly buffer = new Uint8Array(70_000).fill(kJunk);
  readonly #matcher: DnsMatcher;
  fileId = 0;
  packetNumber = 0;

  constructor(matcher: DnsMatcher) {
    this.#matcher = matcher;
    this.view.packet = this.packet;
    this.view.data = this.buffer;
  }

  /** Sets the view's time and the next packet number, and returns it (for TCP deliveries). */
  at(seconds: number, nanos: number): PacketView {
    const view = this.view;
    view.seconds = seconds;
    view.nanos = nanos;
    view.fileId = this.fileId;
    view.packetNumber = ++this.packetNumber;
    return view;
  }

  /** Offers one UDP datagram from `from` to `to` to the matcher's onPacket. */
  udp(
    from: Endpoint,
    to: Endpoint,
    payload: Uint8Array,
    seconds: number,
    nanos: number,
    fragment = false,
  ): void {
    this.#offer(IpProtocol.Udp, from, to, payload, seconds, nanos, fragment);
  }

  /** Offers a TCP segment to onPacket (the matcher must leave TCP to its stream). */
  tcpSegment(from: Endpoint, to: Endpoint, payload: Uint8Array, seconds: number, nanos: number): void {
    this.#offer(IpProtocol.Tcp, from, to, payload, seconds, nanos, false);
  }

  #offer(
    protocol: number,
    from: Endpoint,
    to: Endpoint,
    payload: Uint8Array,
    seconds: number,
    nanos: number,
    fragment: boolean,
  ): void {
    const p = this.packet;
    p.ipVersion = from.ipVersion;
    p.ipProtocol = protocol;
    p.isFragment = fragment;
    [p.src0, p.src1, p.src2, p.src3] = from.words;
    [p.dst0, p.dst1, p.dst2, p.dst3] = to.words;
    p.srcPort = from.port;
    p.dstPort = to.port;
    p.payloadOffset = kPayloadOffset;
    p.payloadLength = payload.length;
    p.payloadWireLength = payload.length;
    this.buffer.set(payload, kPayloadOffset);
    this.#matcher.onPacket(this.at(seconds, nanos));
    this.buffer.fill(kJunk);
  }

  /** Delivers in-order TCP bytes as the reassembly would, then overwrites them. */
  tcpData(
    consumer: StreamConsumer,
    fromClient: boolean,
    bytes: Uint8Array,
    seconds: number,
    nanos: number,
  ): void {
    this.buffer.set(bytes, kPayloadOffset);
    consumer.onData(fromClient, this.buffer, kPayloadOffset, bytes.length, this.at(seconds, nanos));
    this.buffer.fill(kJunk);
  }
}

export function connectionInfo(clientSide: Endpoint, serverSide: Endpoint): TcpConnectionInfo {
  const info = new TcpConnectionInfo();
  info.ipVersion = clientSide.ipVersion;
  [info.client0, info.client1, info.client2, info.client3] = clientSide.words;
  info.clientPort = clientSide.port;
  [info.server0, info.server1, info.server2, info.server3] = serverSide.words;
  info.serverPort = serverSide.port;
  return info;
}

/** Opens a TCP connection on the harness's stream protocol (claim, as the reassembly does). */
export function openTcp(h: Harness, clientSide: Endpoint, serverSide: Endpoint): StreamConsumer {
  const consumer = h.matcher.stream.claim(
    connectionInfo(clientSide, serverSide),
    true,
    h.wire.buffer,
    0,
    0,
    h.wire.view,
  );
  if (consumer === null) throw new Error('the DNS stream protocol did not claim the connection');
  return consumer;
}

/** Response latency in ns: response last byte − request first byte (DESIGN.md). */
export function latencyNanos(pair: Pair): number {
  const response = pair.response!;
  return (
    (response.lastSeconds - pair.request.firstSeconds) * 1_000_000_000 +
    (response.lastNanos - pair.request.firstNanos)
  );
}
