/**
 * Crafted TCP captures for the hostile-traffic suite (issue 11): each writer streams a classic
 * pcap (Ethernet/IPv4/TCP, microseconds) to a file, so the full sizes (millions of packets,
 * hundreds of MB) never sit in memory. Sizes are parameters: the tests use small ones, the bench
 * (`npm run bench -- --hostile`) the full ones.
 *
 * Every flood attacks the out-of-order buffer of TCP reassembly: segments that arrive after a
 * hole (sequence numbers the capture never shows) wait there until the hole fills or is given up.
 */
import { kTcpFlags, PcapStreamWriter } from './pcap-stream-writer.ts';

export { PcapStreamWriter };

const kFin = kTcpFlags.fin;
const kSyn = kTcpFlags.syn;
const kPsh = kTcpFlags.psh;
const kAck = kTcpFlags.ack;

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

export const kCraftedTcpFlags = kTcpFlags;
