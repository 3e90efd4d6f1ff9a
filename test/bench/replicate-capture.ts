/**
 * Makes a large capture out of a small real one (`npm run bench -- --protocols`): the source's
 * records written `copies` times, one copy after the other in capture time, each copy's clients
 * moved to their own address so that no two copies share a connection (4-tuple) and every copy
 * pairs exactly like the source. Client address of copy k, client i of n: IPv4 10.0.0.0 +
 * (k * n + i + 1), IPv6 fd00::(k * n + i + 1); servers (the packets' `serverPorts` side) keep
 * theirs. Copy k is shifted by k x (the source's duration + 1 ms), in integer nanoseconds.
 *
 * The source (a few hundred records) is held in memory; the output is streamed through one
 * reused buffer as a nanosecond pcap (Ethernet, optionally one 802.1Q tag; IPv4 or IPv6).
 */
import fs from 'node:fs';
import {
  kPcapHeaderBytes,
  kPcapRecordHeaderBytes,
  putNanosecondPcapHeader,
  putPcapRecordHeader,
  readAllRecords,
} from '../helpers/pcap-writer.ts';

const kNanosPerSecond = 1_000_000_000;
const kCopyGapNanos = 1_000_000;
const kLinkTypeEthernet = 1;

export interface Replicated {
  /** Records written (copies x the source's records). */
  packets: number;
  /** Source records whose client side could not be found (no IP, no server port): written unchanged. */
  unshifted: number;
}

/** Where a source record's client address is, and which client it is. */
interface ClientSlot {
  /** Byte offset of the client address in the record, or -1 (record written unchanged). */
  offset: number;
  ipVersion: 4 | 6;
  /** Index of the client address among the source's distinct client addresses. */
  client: number;
}

function findClientSlot(
  bytes: Uint8Array,
  serverPorts: ReadonlySet<number>,
  clients: Map<string, number>,
): ClientSlot {
  const none: ClientSlot = { offset: -1, ipVersion: 4, client: 0 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 14) return none;
  let ip = 14;
  let etherType = view.getUint16(12);
  if (etherType === 0x8100 && bytes.length >= 18) {
    etherType = view.getUint16(16);
    ip = 18;
  }
  let version: 4 | 6;
  let source: number;
  let destination: number;
  let addressLength: number;
  let transport: number;
  if (etherType === 0x0800 && bytes.length >= ip + 20) {
    const fragmentOffset = view.getUint16(ip + 6) & 0x1fff;
    const protocol = bytes[ip + 9];
    if (fragmentOffset !== 0 || (protocol !== 6 && protocol !== 17)) return none;
    version = 4;
    source = ip + 12;
    destination = ip + 16;
    addressLength = 4;
    transport = ip + (bytes[ip]! & 0x0f) * 4;
  } else if (etherType === 0x86dd && bytes.length >= ip + 40) {
    const nextHeader = bytes[ip + 6];
    if (nextHeader !== 6 && nextHeader !== 17) return none;
    version = 6;
    source = ip + 8;
    destination = ip + 24;
    addressLength = 16;
    transport = ip + 40;
  } else return none;
  if (bytes.length < transport + 4) return none;
  let offset: number;
  if (serverPorts.has(view.getUint16(transport + 2))) offset = source;
  else if (serverPorts.has(view.getUint16(transport))) offset = destination;
  else return none;
  const key = Buffer.from(bytes.subarray(offset, offset + addressLength)).toString('hex');
  let client = clients.get(key);
  if (client === undefined) {
    client = clients.size;
    clients.set(key, client);
  }
  return { offset, ipVersion: version, client };
}

/** Writes `copies` copies of `sourceFile` into `targetFile`; see the header. */
export function replicateCapture(
  sourceFile: string,
  targetFile: string,
  copies: number,
  serverPorts: readonly number[],
): Replicated {
  const records = readAllRecords(sourceFile);
  if (records.length === 0) throw new Error(`${sourceFile}: no records`);
  const servers = new Set(serverPorts);
  const clients = new Map<string, number>();
  const slots: ClientSlot[] = [];
  let unshifted = 0;
  for (const record of records) {
    if (record.linkType !== kLinkTypeEthernet)
      throw new Error(`${sourceFile}: link type ${record.linkType} (only Ethernet)`);
    const slot = findClientSlot(record.bytes, servers, clients);
    if (slot.offset < 0) unshifted++;
    slots.push(slot);
  }
  if (copies * clients.size >= 1 << 24)
    throw new Error(`${copies} copies x ${clients.size} clients: more than 2^24 addresses`);
  const first = records[0]!;
  const last = records[records.length - 1]!;
  const periodNanos =
    (last.seconds - first.seconds) * kNanosPerSecond + (last.nanos - first.nanos) + kCopyGapNanos;

  const fd = fs.openSync(targetFile, 'w');
  const buffer = Buffer.alloc(1 << 20);
  let length = 0;
  const flush = () => {
    let done = 0;
    while (done < length) done += fs.writeSync(fd, buffer, done, length - done);
    length = 0;
  };
  try {
    putNanosecondPcapHeader(buffer, 0, kLinkTypeEthernet);
    length = kPcapHeaderBytes;
    for (let copy = 0; copy < copies; copy++) {
      const shift = copy * periodNanos;
      const shiftSeconds = Math.floor(shift / kNanosPerSecond);
      const shiftNanos = shift - shiftSeconds * kNanosPerSecond;
      const clientBase = copy * clients.size + 1;
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        const slot = slots[i]!;
        if (length + kPcapRecordHeaderBytes + record.bytes.length > buffer.length) flush();
        let nanos = record.nanos + shiftNanos;
        let seconds = record.seconds + shiftSeconds;
        if (nanos >= kNanosPerSecond) {
          nanos -= kNanosPerSecond;
          seconds++;
        }
        putPcapRecordHeader(buffer, length, seconds, nanos, record.bytes.length, record.originalLength);
        const data = length + kPcapRecordHeaderBytes;
        buffer.set(record.bytes, data);
        if (slot.offset >= 0) {
          const address = clientBase + slot.client;
          if (slot.ipVersion === 4) buffer.writeUInt32BE(0x0a00_0000 + address, data + slot.offset);
          else {
            buffer.fill(0, data + slot.offset, data + slot.offset + 12);
            buffer[data + slot.offset] = 0xfd;
            buffer.writeUInt32BE(address, data + slot.offset + 12);
          }
        }
        length = data + record.bytes.length;
      }
    }
    flush();
  } finally {
    fs.closeSync(fd);
  }
  return { packets: copies * records.length, unshifted };
}

/** Records in a capture (to size the copies). */
export function countRecords(file: string): number {
  return readAllRecords(file).length;
}
