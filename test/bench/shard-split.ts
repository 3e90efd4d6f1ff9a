/**
 * The bench's sharding ceiling (run.ts): a classic pcap split into one file per flow shard, by
 * the same raw flow hash the worker pipeline shards with (agent/decode/flow-hash.ts), so that N
 * independent `--workers 0` processes, one per file, do the work of `--workers N` with nothing
 * shared. Records the hash cannot place (kUnclassified: fragments, non-TCP/UDP) go to every
 * file, as every worker decodes them. Their time, run at once, is the best any sharded pipeline
 * can do on the machine: it shows how much of `--workers auto`'s shortfall is the host's.
 *
 * Streams the input (a 16 MiB window) and reuses the split while it is newer than the capture.
 */
import fs from 'node:fs';
import { kUnclassified, rawFlowShard } from '../../agent/decode/flow-hash.ts';

const kWindowBytes = 16 << 20;
const kFileHeaderBytes = 24;
const kRecordHeaderBytes = 16;
/** No real capture has records this long: a corrupt length stops the split. */
const kMaxRecordBytes = 1 << 26;
/** Output written in batches of up to this size. */
const kFlushBytes = 4 << 20;

/** Paths of the shard files of `pcap`: `<pcap>.shard-<i>-of-<n>.pcap`. */
export function shardPaths(pcap: string, shards: number): string[] {
  return Array.from({ length: shards }, (_, i) => `${pcap}.shard-${i}-of-${shards}.pcap`);
}

/**
 * Splits the classic pcap `pcap` (either byte order, µs or ns) into `shards` files; returns their
 * paths. Throws on a pcapng or a truncated file header; a record cut short at the end is dropped.
 */
export function splitByShard(pcap: string, shards: number, windowBytes = kWindowBytes): string[] {
  const outputs = shardPaths(pcap, shards);
  const inputTime = fs.statSync(pcap).mtimeMs;
  if (outputs.every((file) => fs.existsSync(file) && fs.statSync(file).mtimeMs > inputTime)) return outputs;
  const fd = fs.openSync(pcap, 'r');
  const outFds = outputs.map((file) => fs.openSync(`${file}.part`, 'w'));
  try {
    let window = Buffer.allocUnsafe(Math.max(windowBytes, kFileHeaderBytes));
    let filled = fs.readSync(fd, window, 0, window.length, null);
    if (filled < kFileHeaderBytes) throw new Error(`${pcap}: not a classic pcap (file header cut short)`);
    const magic = window.readUInt32LE(0);
    const littleEndian = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
    if (!littleEndian && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1)
      throw new Error(`${pcap}: not a classic pcap (magic ${magic.toString(16)})`);
    const u32 = (at: number) => (littleEndian ? window.readUInt32LE(at) : window.readUInt32BE(at));
    const linkType = u32(20);
    // One output buffer per shard, written out when full (a record longer than it: on its own).
    const out = outputs.map(() => Buffer.allocUnsafe(kFlushBytes));
    const outFill = outputs.map(() => 0);
    const write = (shard: number, bytes: Uint8Array) => {
      if (outFill[shard]! + bytes.length > kFlushBytes) {
        fs.writeSync(outFds[shard]!, out[shard]!, 0, outFill[shard]!);
        outFill[shard] = 0;
      }
      if (bytes.length > kFlushBytes) fs.writeSync(outFds[shard]!, bytes);
      else {
        out[shard]!.set(bytes, outFill[shard]!);
        outFill[shard]! += bytes.length;
      }
    };
    for (let shard = 0; shard < shards; shard++) write(shard, window.subarray(0, kFileHeaderBytes));
    let pos = kFileHeaderBytes;
    for (;;) {
      while (pos + kRecordHeaderBytes <= filled) {
        const captured = u32(pos + 8);
        if (captured > kMaxRecordBytes) throw new Error(`${pcap}: a record of ${captured} bytes: corrupt`);
        const end = pos + kRecordHeaderBytes + captured;
        if (end > filled) break;
        const record = window.subarray(pos, end);
        const shard = rawFlowShard(
          window,
          pos + kRecordHeaderBytes,
          end - pos - kRecordHeaderBytes,
          linkType,
          shards,
        );
        if (shard !== kUnclassified) write(shard, record);
        else for (let i = 0; i < shards; i++) write(i, record);
        pos = end;
      }
      // Keep the record cut by the window's end and read on after it.
      const rest = filled - pos;
      if (pos === 0 && rest === window.length) window = Buffer.concat([window, Buffer.alloc(window.length)]);
      else window.copy(window, 0, pos, filled);
      const read = fs.readSync(fd, window, rest, window.length - rest, null);
      filled = rest + read;
      pos = 0;
      if (read === 0) break;
    }
    for (let shard = 0; shard < shards; shard++)
      fs.writeSync(outFds[shard]!, out[shard]!, 0, outFill[shard]!);
  } catch (error) {
    for (const file of outputs) fs.rmSync(`${file}.part`, { force: true });
    throw error;
  } finally {
    fs.closeSync(fd);
    for (const outFd of outFds) fs.closeSync(outFd);
  }
  for (const file of outputs) fs.renameSync(`${file}.part`, file);
  return outputs;
}
