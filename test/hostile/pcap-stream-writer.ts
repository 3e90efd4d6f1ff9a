/**
 * Streams a classic pcap (Ethernet/IPv4, microsecond timestamps, packets 1 µs apart) to a file
 * through one reused buffer, so the hostile suite's full sizes (millions of packets, hundreds of
 * MB) never sit in memory. Used by every crafted capture of test/hostile/.
 */
import fs from 'node:fs';

const kEthernet = 14;
const kIpv4 = 20;
const kTcp = 20;
const kUdp = 8;

/** TCP flag bits. */
export const kTcpFlags = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

/** Capture time of the first packet (seconds since the epoch). */
export const kStartSeconds = 1_700_000_000;

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
   * One IPv4 TCP packet. `payload`: the bytes, or a count of 'x' bytes. `wireLength` (default:
   * the payload's length) is the payload length the IP header claims: larger makes a snaplen cut.
   */
  tcp(
    src: number,
    srcPort: number,
    dst: number,
    dstPort: number,
    seq: number,
    ack: number,
    flags: number,
    payload: Buffer | number = 0,
    wireLength = typeof payload === 'number' ? payload : payload.length,
  ): void {
    const at = this.#ip(6, src, dst, kTcp, payload, wireLength);
    const b = this.#buffer;
    b.writeUInt16BE(srcPort, at);
    b.writeUInt16BE(dstPort, at + 2);
    b.writeUInt32BE(seq >>> 0, at + 4);
    b.writeUInt32BE(ack >>> 0, at + 8);
    b[at + 12] = 5 << 4;
    b[at + 13] = flags;
    b.writeUInt16BE(65_535, at + 14);
    b.writeUInt32BE(0, at + 16);
  }

  udp(src: number, srcPort: number, dst: number, dstPort: number, payload: Buffer): void {
    const at = this.#ip(17, src, dst, kUdp, payload, payload.length);
    const b = this.#buffer;
    b.writeUInt16BE(srcPort, at);
    b.writeUInt16BE(dstPort, at + 2);
    b.writeUInt16BE(kUdp + payload.length, at + 4);
    b.writeUInt16BE(0, at + 6);
  }

  close(): void {
    this.#flush();
    fs.closeSync(this.#fd);
  }

  /** Writes the record header, Ethernet and IPv4 headers and the payload; returns where the transport header goes. */
  #ip(
    protocol: number,
    src: number,
    dst: number,
    transport: number,
    payload: Buffer | number,
    wireLength: number,
  ): number {
    const payloadLength = typeof payload === 'number' ? payload : payload.length;
    const captured = kEthernet + kIpv4 + transport + payloadLength;
    if (captured + 16 > this.#buffer.length) throw new RangeError(`packet of ${captured} bytes`);
    if (this.#length + 16 + captured > this.#buffer.length) this.#flush();
    const b = this.#buffer;
    let at = this.#length;
    const micros = this.packets++;
    b.writeUInt32LE(kStartSeconds + Math.floor(micros / 1_000_000), at);
    b.writeUInt32LE(micros % 1_000_000, at + 4);
    b.writeUInt32LE(captured, at + 8);
    b.writeUInt32LE(kEthernet + kIpv4 + transport + wireLength, at + 12);
    at += 16;
    // Ethernet: dst MAC, src MAC, IPv4.
    b.fill(0, at, at + 12);
    b[at + 1] = 2;
    b[at + 7] = 1;
    b.writeUInt16BE(0x0800, at + 12);
    at += kEthernet;
    b[at] = 0x45;
    b[at + 1] = 0;
    b.writeUInt16BE(kIpv4 + transport + wireLength, at + 2);
    b.writeUInt32BE(0, at + 4);
    b[at + 8] = 64;
    b[at + 9] = protocol;
    b.writeUInt16BE(0, at + 10);
    b.writeUInt32BE(src >>> 0, at + 12);
    b.writeUInt32BE(dst >>> 0, at + 16);
    at += kIpv4;
    const data = at + transport;
    if (typeof payload === 'number') b.fill(0x78, data, data + payload);
    else payload.copy(b, data);
    this.#length = data + payloadLength;
    return at;
  }

  #flush(): void {
    let done = 0;
    while (done < this.#length) done += fs.writeSync(this.#fd, this.#buffer, done, this.#length - done);
    this.#length = 0;
  }
}
