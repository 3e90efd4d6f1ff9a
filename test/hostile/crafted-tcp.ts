/**
 * Crafted TCP captures for the hostile-traffic suite (issue 11): each writer streams a classic
 * pcap (Ethernet/IPv4/TCP, microseconds) to a file, so the full sizes (millions of packets,
 * hundreds of MB) never sit in memory. Sizes are parameters: the tests use small ones, the bench
 * (`npm run bench -- --hostile`) the full ones.
 *
 * Every flood attacks the out-of-order buffer of TCP reassembly: segments that arrive after a
 * hole (sequence numbers the capture never shows) wait there until the hole fills or is given up.
 */
import fs from 'node:fs';

const kEthernet = 14;
const kIpv4 = 20;
const kTcp = 20;
const kHeaders = kEthernet + kIpv4 + kTcp;
const kFin = 0x01;
const kSyn = 0x02;
const kPsh = 0x08;
const kAck = 0x10;

/** Capture time of the first packet (seconds since the epoch); packets are 1 µs apart. */
const kStartSeconds = 1_700_000_000;

/** Streams pcap records to a file through one reused buffer. */
export class PcapStreamWriter {
  readonly #fd: number;
  readonly #buffer = Buffer.alloc(1 << 20);
  #length = 0;
  /** Packets written (also the capture time in µs after kStartSeconds). */
  packets = 0;

  constructor(file: string) {
    this.#fd = fs.openSync(file, 'w');
    const b = this.#buffer;
    b.writeUInt32LE(0xa1b2c3d4, 0);
    b.writeUInt16LE(2, 4);
    b.writeUInt16LE(4, 6);
    b.writeUInt32LE(0, 8);
    b.writeUInt32LE(0, 12);
    b.writeUInt32LE(262_144, 16);
    b.writeUInt32LE(1, 20);
    this.#length = 24;
  }

  /**
   * One IPv4 TCP packet from src:srcPort to dst:dstPort. `payload` bytes of 'x' are captured;
   * `wireLength` (default: payload) is the payload length the IP header claims (a larger value
   * makes a snaplen-cut packet).
   */
  tcp(
    src: number,
    srcPort: number,
    dst: number,
    dstPort: number,
    seq: number,
    ack: number,
    flags: number,
    payload: number,
    wireLength = payload,
  ): void {
    const captured = kHeaders + payload;
    if (this.#length + 16 + captured > this.#buffer.length) this.#flush();
    const b = this.#buffer;
    let at = this.#length;
    const micros = this.packets++;
    b.writeUInt32LE(kStartSeconds + Math.floor(micros / 1_000_000), at);
    b.writeUInt32LE(micros % 1_000_000, at + 4);
    b.writeUInt32LE(captured, at + 8);
    b.writeUInt32LE(kHeaders + wireLength, at + 12);
    at += 16;
    // Ethernet: dst MAC, src MAC, IPv4.
    b.fill(0, at, at + 12);
    b[at + 1] = 2;
    b[at + 7] = 1;
    b.writeUInt16BE(0x0800, at + 12);
    at += kEthernet;
    b[at] = 0x45;
    b[at + 1] = 0;
    b.writeUInt16BE(kIpv4 + kTcp + wireLength, at + 2);
    b.writeUInt32BE(0, at + 4);
    b[at + 8] = 64;
    b[at + 9] = 6;
    b.writeUInt16BE(0, at + 10);
    b.writeUInt32BE(src >>> 0, at + 12);
    b.writeUInt32BE(dst >>> 0, at + 16);
    at += kIpv4;
    b.writeUInt16BE(srcPort, at);
    b.writeUInt16BE(dstPort, at + 2);
    b.writeUInt32BE(seq >>> 0, at + 4);
    b.writeUInt32BE(ack >>> 0, at + 8);
    b[at + 12] = 5 << 4;
    b[at + 13] = flags;
    b.writeUInt16BE(65_535, at + 14);
    b.writeUInt32BE(0, at + 16);
    at += kTcp;
    b.fill(0x78, at, at + payload);
    this.#length = at + payload;
  }

  close(): void {
    this.#flush();
    fs.closeSync(this.#fd);
  }

  #flush(): void {
    let done = 0;
    while (done < this.#length) done += fs.writeSync(this.#fd, this.#buffer, done, this.#length - done);
    this.#length = 0;
  }
}

const kClient = 0x0a000001;
const kServer = 0x0a000002;
const kServerPort = 80;
const kClientIsn = 1000;
const kServerIsn = 5000;

/** SYN, SYN-ACK, ACK of one connection. */
function handshake(w: PcapStreamWriter, client: number, clientPort: number): void {
  w.tcp(client, clientPort, kServer, kServerPort, kClientIsn, 0, kSyn, 0);
  w.tcp(kServer, kServerPort, client, clientPort, kServerIsn, kClientIsn + 1, kSyn | kAck, 0);
  w.tcp(client, clientPort, kServer, kServerPort, kClientIsn + 1, kServerIsn + 1, kAck, 0);
}

/**
 * (a) FIN / zero-length out-of-order flood: one connection; 1 data byte in order (a protocol may
 * claim the connection), then one missing byte (the hole), then `count` FIN-only segments with
 * rising sequence numbers (each a distinct entry for the buffer, none carrying a captured byte).
 * `count` + 4 packets, 70 bytes each: 3 M FINs make a ~210 MB capture. Returns the packets written.
 */
export function writeFinFlood(file: string, count: number, clientPort = 40_000): number {
  const w = new PcapStreamWriter(file);
  handshake(w, kClient, clientPort);
  const first = kClientIsn + 1;
  w.tcp(kClient, clientPort, kServer, kServerPort, first, kServerIsn + 1, kAck | kPsh, 1);
  for (let i = 0; i < count; i++) {
    w.tcp(kClient, clientPort, kServer, kServerPort, first + 2 + i, kServerIsn + 1, kAck | kFin, 0);
  }
  w.close();
  return w.packets;
}

/**
 * (b) 1-byte out-of-order segments: one connection; 1 data byte in order, then `count` one-byte
 * segments, each after a one-byte hole (seq first+2, first+4, ...). `descending` sends them in
 * decreasing sequence order, so each lands at the front of the buffer (a front insertion).
 * `count` + 4 packets of 71 bytes: 1 M segments make a 71 MB capture. Returns the packets written.
 */
export function writeOneByteFlood(
  file: string,
  count: number,
  descending = false,
  clientPort = 40_000,
): number {
  const w = new PcapStreamWriter(file);
  handshake(w, kClient, clientPort);
  const first = kClientIsn + 1;
  w.tcp(kClient, clientPort, kServer, kServerPort, first, kServerIsn + 1, kAck | kPsh, 1);
  for (let i = 0; i < count; i++) {
    const k = descending ? count - 1 - i : i;
    w.tcp(kClient, clientPort, kServer, kServerPort, first + 2 + 2 * k, kServerIsn + 1, kAck | kPsh, 1);
  }
  w.close();
  return w.packets;
}

/**
 * (c) Many connections, each with a hole and buffered bytes: `connections` connections (distinct
 * client addresses), each a handshake, 1 data byte in order, then `segments` out-of-order
 * segments of `segmentBytes` captured bytes after a one-byte hole. Buffered in total (without
 * bounds): connections x segments x segmentBytes; 20 k x 16 x 1000 make a 347 MB capture.
 * Returns the packets written.
 */
export function writeManyHoles(
  file: string,
  connections: number,
  segments: number,
  segmentBytes: number,
): number {
  const w = new PcapStreamWriter(file);
  for (let c = 0; c < connections; c++) {
    const client = (0x0b000000 + c) >>> 0;
    handshake(w, client, 40_000);
    w.tcp(client, 40_000, kServer, kServerPort, kClientIsn + 1, kServerIsn + 1, kAck | kPsh, 1);
    let seq = kClientIsn + 3;
    for (let s = 0; s < segments; s++) {
      w.tcp(client, 40_000, kServer, kServerPort, seq, kServerIsn + 1, kAck | kPsh, segmentBytes);
      seq += segmentBytes;
    }
  }
  w.close();
  return w.packets;
}

export const kCraftedTcpFlags = { fin: kFin, syn: kSyn, psh: kPsh, ack: kAck } as const;
