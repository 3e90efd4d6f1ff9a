/**
 * Hand-built TCP segments for reassembly and stream-protocol tests (no decoder or capture needed).
 *
 * A TcpConversation hands out segments with the sequence numbers a real sender would use; a
 * Feeder turns each one into a DecodedPacket + record bytes + PacketView at a chosen capture
 * time. The feeder reuses ONE view and ONE record buffer and poisons the buffer after every
 * packet, as the real reader does, so a consumer that keeps bytes without copying them fails.
 */

import { PacketView } from '../../../agent/correlate/matcher.ts';
import { setConnectionKey } from '../../../agent/correlate/tcp-stream/connection.ts';
import type {
  StreamConsumer,
  StreamProtocol,
  TcpConnectionInfo,
} from '../../../agent/correlate/tcp-stream/consumer.ts';
import { DecodedPacket, IpProtocol, TcpFlag } from '../../../agent/decode/packet.ts';

export { TcpFlag };

/** Capture time of t = 0 in tests (whole seconds since the epoch). */
export const kBaseSeconds = 1_700_000_000;
export const kMs = 1_000_000;
export const kSecond = 1_000_000_000;
/** Where the payload starts in the record (after fake link/IP/TCP headers). */
const kPayloadOffset = 54;

/** (seconds, nanos) of the capture time `nanos` after kBaseSeconds, as expire() takes them. */
export function captureTime(nanos: number): [number, number] {
  return [kBaseSeconds + Math.floor(nanos / kSecond), nanos % kSecond];
}

export function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('latin1');

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function latin1(data: Uint8Array, offset = 0, length = data.length - offset): string {
  return decoder.decode(data.subarray(offset, offset + length));
}

export class Segment {
  fromClient: boolean;
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
  /** Payload length on the wire (larger than payload.length for a snaplen-cut packet). */
  wireLength: number;
  conversation: TcpConversation;

  constructor(
    conversation: TcpConversation,
    fromClient: boolean,
    seq: number,
    ack: number,
    flags: number,
    payload: Uint8Array,
  ) {
    this.conversation = conversation;
    this.fromClient = fromClient;
    this.seq = seq >>> 0;
    this.ack = ack >>> 0;
    this.flags = flags;
    this.payload = payload;
    this.wireLength = payload.length;
  }

  /** A copy of this segment (a retransmission, possibly with other flags). */
  copy(): Segment {
    const segment = new Segment(
      this.conversation,
      this.fromClient,
      this.seq,
      this.ack,
      this.flags,
      this.payload,
    );
    segment.wireLength = this.wireLength;
    return segment;
  }

  /** Splits the payload at `at` bytes: two segments covering the same sequence range. */
  split(at: number): [Segment, Segment] {
    const first = new Segment(
      this.conversation,
      this.fromClient,
      this.seq,
      this.ack,
      this.flags & ~TcpFlag.Fin,
      this.payload.slice(0, at),
    );
    const second = new Segment(
      this.conversation,
      this.fromClient,
      this.seq + at,
      this.ack,
      this.flags,
      this.payload.slice(at),
    );
    return [first, second];
  }
}

export interface ConversationOptions {
  client?: number;
  clientPort?: number;
  server?: number;
  serverPort?: number;
  clientIsn?: number;
  serverIsn?: number;
  /** IPv6: addresses become 4 words (client/server put in word 3, words 0..2 a fixed prefix). */
  ipv6?: boolean;
}

/** One TCP connection's two senders: each call returns the next segment a real stack would send. */
export class TcpConversation {
  readonly clientAddress: number;
  readonly clientPort: number;
  readonly serverAddress: number;
  readonly serverPort: number;
  readonly ipv6: boolean;
  clientIsn: number;
  serverIsn: number;
  /** Next sequence number of each side. */
  clientNext: number;
  serverNext: number;

  constructor(options: ConversationOptions = {}) {
    this.clientAddress = options.client ?? ipv4(10, 0, 0, 1);
    this.clientPort = options.clientPort ?? 40_000;
    this.serverAddress = options.server ?? ipv4(10, 0, 0, 2);
    this.serverPort = options.serverPort ?? 80;
    this.ipv6 = options.ipv6 ?? false;
    this.clientIsn = (options.clientIsn ?? 1000) >>> 0;
    this.serverIsn = (options.serverIsn ?? 5000) >>> 0;
    this.clientNext = (this.clientIsn + 1) >>> 0;
    this.serverNext = (this.serverIsn + 1) >>> 0;
  }

  syn(): Segment {
    return new Segment(this, true, this.clientIsn, 0, TcpFlag.Syn, new Uint8Array(0));
  }

  synAck(): Segment {
    return new Segment(
      this,
      false,
      this.serverIsn,
      this.clientNext,
      TcpFlag.Syn | TcpFlag.Ack,
      new Uint8Array(0),
    );
  }

  /** SYN, SYN-ACK, ACK. */
  handshake(): Segment[] {
    return [this.syn(), this.synAck(), this.ack(true)];
  }

  ack(fromClient: boolean): Segment {
    return new Segment(
      this,
      fromClient,
      fromClient ? this.clientNext : this.serverNext,
      fromClient ? this.serverNext : this.clientNext,
      TcpFlag.Ack,
      new Uint8Array(0),
    );
  }

  /** The side's next data segment (its sequence number advances by the payload). */
  data(fromClient: boolean, payload: string | Uint8Array, extraFlags = 0): Segment {
    const body = typeof payload === 'string' ? bytes(payload) : payload;
    const segment = new Segment(
      this,
      fromClient,
      fromClient ? this.clientNext : this.serverNext,
      fromClient ? this.serverNext : this.clientNext,
      TcpFlag.Ack | TcpFlag.Psh | extraFlags,
      body,
    );
    const consumed = body.length + ((extraFlags & TcpFlag.Fin) !== 0 ? 1 : 0);
    if (fromClient) this.clientNext = (this.clientNext + consumed) >>> 0;
    else this.serverNext = (this.serverNext + consumed) >>> 0;
    return segment;
  }

  client(payload: string | Uint8Array): Segment {
    return this.data(true, payload);
  }

  server(payload: string | Uint8Array): Segment {
    return this.data(false, payload);
  }

  /** A FIN (optionally with data). */
  fin(fromClient: boolean, payload: string | Uint8Array = ''): Segment {
    return this.data(fromClient, payload, TcpFlag.Fin);
  }

  rst(fromClient: boolean): Segment {
    return new Segment(
      this,
      fromClient,
      fromClient ? this.clientNext : this.serverNext,
      fromClient ? this.serverNext : this.clientNext,
      TcpFlag.Rst | TcpFlag.Ack,
      new Uint8Array(0),
    );
  }

  /** Consecutive segments of the side's stream carrying `payload`, cut after each of `lengths` bytes. */
  cut(fromClient: boolean, payload: string, ...lengths: number[]): Segment[] {
    const all = bytes(payload);
    const segments: Segment[] = [];
    let at = 0;
    for (const length of [...lengths, all.length]) {
      const end = Math.min(at + length, all.length);
      if (end > at) segments.push(this.data(fromClient, all.slice(at, end)));
      at = end;
    }
    return segments;
  }
}

/** Builds packets from segments and hands them to `target`, with increasing packet numbers. */
export class Feeder {
  readonly #target: { onPacket(view: PacketView): void };
  readonly #view = new PacketView();
  readonly #packet = new DecodedPacket();
  readonly #record = new Uint8Array(kPayloadOffset + 70_000);
  packetNumber = 0;
  fileId = 0;

  constructor(target: { onPacket(view: PacketView): void }) {
    this.#target = target;
    this.#view.packet = this.#packet;
    this.#view.data = this.#record;
  }

  /** Feeds one segment captured at `atNanos` after kBaseSeconds; returns its packet number. */
  feed(segment: Segment, atNanos: number): number {
    const conversation = segment.conversation;
    const p = this.#packet;
    const fromClient = segment.fromClient;
    const src = fromClient ? conversation.clientAddress : conversation.serverAddress;
    const dst = fromClient ? conversation.serverAddress : conversation.clientAddress;
    p.ipVersion = conversation.ipv6 ? 6 : 4;
    p.ipProtocol = IpProtocol.Tcp;
    if (conversation.ipv6) {
      p.src0 = p.dst0 = 0x20010db8;
      p.src1 = p.dst1 = 0;
      p.src2 = p.dst2 = 0;
      p.src3 = src;
      p.dst3 = dst;
    } else {
      p.src0 = src;
      p.dst0 = dst;
      p.src1 = p.src2 = p.src3 = p.dst1 = p.dst2 = p.dst3 = 0;
    }
    p.srcPort = fromClient ? conversation.clientPort : conversation.serverPort;
    p.dstPort = fromClient ? conversation.serverPort : conversation.clientPort;
    p.tcpFlags = segment.flags;
    p.tcpSeq = segment.seq;
    p.tcpAck = segment.ack;
    p.payloadOffset = kPayloadOffset;
    p.payloadLength = segment.payload.length;
    p.payloadWireLength = segment.wireLength;
    this.#record.set(segment.payload, kPayloadOffset);
    const view = this.#view;
    view.seconds = kBaseSeconds + Math.floor(atNanos / kSecond);
    view.nanos = atNanos % kSecond;
    view.fileId = this.fileId;
    view.packetNumber = ++this.packetNumber;
    setConnectionKey(view);
    this.#target.onPacket(view);
    // The reader reuses its buffer: whatever was not copied is now garbage.
    this.#record.fill(0xee, kPayloadOffset, kPayloadOffset + segment.payload.length);
    return view.packetNumber;
  }

  /** Feeds segments 1 ms apart starting at `startNanos`; returns the last packet number. */
  feedAll(segments: Segment[], startNanos: number, stepNanos = kMs): number {
    let at = startNanos;
    let last = 0;
    for (const segment of segments) {
      last = this.feed(segment, at);
      at += stepNanos;
    }
    return last;
  }
}

/** A protocol that records what reassembly hands to its consumers, as readable lines. */
export class RecordingProtocol implements StreamProtocol {
  readonly name = 'recording';
  readonly events: string[] = [];
  /** First bytes offered to claim(): "C:text" / "S:text". */
  readonly offers: string[] = [];
  readonly connections: TcpConnectionInfo[] = [];
  readonly #wants: (fromClient: boolean, text: string) => boolean;

  constructor(wants: (fromClient: boolean, text: string) => boolean = () => true) {
    this.#wants = wants;
  }

  claim(
    connection: TcpConnectionInfo,
    fromClient: boolean,
    data: Uint8Array,
    offset: number,
    length: number,
  ): StreamConsumer | null {
    const text = latin1(data, offset, length);
    this.offers.push(`${fromClient ? 'C' : 'S'}:${text}`);
    if (!this.#wants(fromClient, text)) return null;
    this.connections.push(connection);
    const events = this.events;
    const tag = `#${this.connections.length}`;
    return {
      onData(client, bytes, at, count, view) {
        events.push(`${tag} ${client ? 'C' : 'S'} "${latin1(bytes, at, count)}" @${view.packetNumber}`);
      },
      onGap(client, count, view) {
        events.push(`${tag} ${client ? 'C' : 'S'} gap ${count} @${view.packetNumber}`);
      },
      onClose(client, reset, view) {
        events.push(`${tag} ${client ? 'C' : 'S'} ${reset ? 'rst' : 'fin'} @${view.packetNumber}`);
      },
    };
  }

  pendingCount(): number {
    return 0;
  }

  expire(): void {}

  flush(): void {}
}
