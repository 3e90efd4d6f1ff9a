/**
 * Crafted request floods for the matchers (issue 11): each writer streams a classic pcap
 * (Ethernet/IPv4, microsecond timestamps, 1 µs apart) to a file through one reused buffer, so
 * the full sizes never sit in memory. Sizes are parameters: test/hostile/matcher-floods.test.ts
 * uses small ones; the bench's full sizes are 1 M SYNs, 1 M DNS queries, 100 k and 1 M
 * pipelined requests, and a header storm of 100 k requests.
 *
 * Every writer returns the packets written.
 */
import { kTcpFlags, PcapStreamWriter } from './pcap-stream-writer.ts';

const kSyn = kTcpFlags.syn;
const kAck = kTcpFlags.ack;
const kPsh = kTcpFlags.psh;
const kServer = 0x0a000002;

/** Client number i as an address in 10.128.0.0/9 and a port: every i below 2^23 x 60,000 is a distinct flow. */
function client(i: number): { address: number; port: number } {
  return { address: (0x0a800000 + Math.floor(i / 60_000)) >>> 0, port: 1024 + (i % 60_000) };
}

/** SYN flood: `count` SYNs from distinct clients to 10.0.0.2:443, never answered. */
export function writeSynFlood(file: string, count: number): number {
  const w = new PcapStreamWriter(file);
  for (let i = 0; i < count; i++) {
    const c = client(i);
    w.tcp(c.address, c.port, kServer, 443, 1000 + i, 0, kSyn);
  }
  w.close();
  return w.packets;
}

/** A DNS query (RD set) for `name`, type A, class IN. */
function dnsQuery(id: number, name: string): Buffer {
  const labels = name.split('.').filter(Boolean);
  const question = Buffer.alloc(labels.reduce((n, l) => n + 1 + l.length, 1) + 4);
  let at = 0;
  for (const label of labels) {
    question[at++] = label.length;
    at += question.write(label, at, 'latin1');
  }
  question[at++] = 0;
  question.writeUInt16BE(1, at);
  question.writeUInt16BE(1, at + 2);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, question]);
}

/**
 * DNS query flood: `count` queries from distinct clients to 10.0.0.2:53, never answered.
 * `longNames`: every name is 253 characters (the most a name holds), else ~20.
 */
export function writeDnsQueryFlood(file: string, count: number, longNames = false): number {
  const w = new PcapStreamWriter(file);
  const long = Array.from({ length: 4 }, () => 'a'.repeat(62)).join('.');
  for (let i = 0; i < count; i++) {
    const c = client(i);
    const name = longNames
      ? `${String(i % 1_000_000).padStart(6, '0')}${long.slice(6)}`
      : `q${i}.flood.example`;
    w.udp(c.address, c.port, kServer, 53, dnsQuery(i, name));
  }
  w.close();
  return w.packets;
}

/** SYN, SYN-ACK, ACK between the client and 10.0.0.2:80; returns the client's next sequence number. */
function handshake(w: PcapStreamWriter, address: number, port: number, serverPort = 80): number {
  w.tcp(address, port, kServer, serverPort, 1000, 0, kSyn);
  w.tcp(kServer, serverPort, address, port, 5000, 1001, kSyn | kAck);
  w.tcp(address, port, kServer, serverPort, 1001, 5001, kAck);
  return 1001;
}

/** Bytes of client data per segment. */
const kSegmentBytes = 1400;

/** Sends `text` as in-order client segments of at most kSegmentBytes; returns the next sequence number. */
function sendClient(
  w: PcapStreamWriter,
  address: number,
  port: number,
  seq: number,
  data: Buffer,
  serverPort = 80,
): number {
  for (let at = 0; at < data.length; at += kSegmentBytes) {
    const part = data.subarray(at, Math.min(data.length, at + kSegmentBytes));
    w.tcp(address, port, kServer, serverPort, seq, 5001, kAck | kPsh, part);
    seq += part.length;
  }
  return seq;
}

/** HTTP pipelining: `count` GET requests on one connection, never answered (~20 per segment). */
export function writePipelineFlood(file: string, count: number): number {
  const w = new PcapStreamWriter(file);
  const c = client(0);
  let seq = handshake(w, c.address, c.port);
  const batch: string[] = [];
  let batchBytes = 0;
  for (let i = 0; i < count; i++) {
    const request = `GET /item/${i} HTTP/1.1\r\nHost: flood.example\r\n\r\n`;
    if (batchBytes + request.length > kSegmentBytes) {
      seq = sendClient(w, c.address, c.port, seq, Buffer.from(batch.join(''), 'latin1'));
      batch.length = 0;
      batchBytes = 0;
    }
    batch.push(request);
    batchBytes += request.length;
  }
  if (batch.length > 0) sendClient(w, c.address, c.port, seq, Buffer.from(batch.join(''), 'latin1'));
  w.close();
  return w.packets;
}

/**
 * Header storm: `count` connections, each sending one request that is never answered, whose
 * head holds `headers` extra fields (~40 bytes each) and an 8 KB target and User-Agent (heads
 * just under 64 KiB at the default 1,000 fields: parsed, and every long field clipped).
 * `oversize`: every head has 2,000 fields (~80 KB, over the 64 KiB head cap: never parsed).
 */
export function writeHeaderStorm(file: string, count: number, headers = 1000, oversize = false): number {
  const w = new PcapStreamWriter(file);
  const fields = Array.from(
    { length: oversize ? 2000 : headers },
    (_, k) => `X-Storm-${String(k).padStart(5, '0')}: ${'v'.repeat(24)}\r\n`,
  ).join('');
  const long = 'p'.repeat(8000);
  for (let i = 0; i < count; i++) {
    const c = client(i);
    const seq = handshake(w, c.address, c.port);
    const head = `GET /${long}/${i} HTTP/1.1\r\nHost: storm.example\r\nUser-Agent: ${long}\r\n${fields}\r\n`;
    sendClient(w, c.address, c.port, seq, Buffer.from(head, 'latin1'));
  }
  w.close();
  return w.packets;
}

/**
 * Partial heads: `count` connections, each sending a request line and `bytes` of header fields
 * and never the empty line that ends the head (a slowloris): every connection holds an
 * incomplete head in its parser. No connection passes the 64 KiB head cap on its own.
 */
export function writePartialHeads(file: string, count: number, bytes: number): number {
  const w = new PcapStreamWriter(file);
  const fields = `X-Slow: ${'s'.repeat(40)}\r\n`.repeat(Math.ceil(bytes / 50)).slice(0, bytes);
  for (let i = 0; i < count; i++) {
    const c = client(i);
    const seq = handshake(w, c.address, c.port);
    sendClient(w, c.address, c.port, seq, Buffer.from(`GET /slow/${i} HTTP/1.1\r\n${fields}`, 'latin1'));
  }
  w.close();
  return w.packets;
}

/**
 * DNS over TCP whose length prefixes announce 65,535 bytes: `count` connections to port 53,
 * each sending the 2-byte prefix and then `bytes` of the body, never the rest.
 */
export function writeDnsPrefixFlood(file: string, count: number, bytes: number): number {
  const w = new PcapStreamWriter(file);
  const body = Buffer.alloc(2 + bytes, 0x41);
  body.writeUInt16BE(0xffff, 0);
  for (let i = 0; i < count; i++) {
    const c = client(i);
    const seq = handshake(w, c.address, c.port, 53);
    sendClient(w, c.address, c.port, seq, body, 53);
  }
  w.close();
  return w.packets;
}
