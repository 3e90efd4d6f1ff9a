/**
 * The bench's sharding ceiling (run.ts): a capture split into one file per flow shard, by the
 * same raw flow hash the worker pipeline shards with (agent/decode/flow-hash.ts), so that N
 * independent `--workers 0` processes, one per file, do the work of `--workers N` with nothing
 * shared. Records the hash cannot place (kUnclassified: fragments, non-TCP/UDP) go to every
 * file, as every worker decodes them. Their time, run at once, is the best any sharded pipeline
 * can do on the machine: it shows how much of `--workers auto`'s shortfall is the host's.
 *
 * Read with wirespan's own reader (pcap or pcapng); written as nanosecond pcaps (same times,
 * same bytes), reused while newer than the capture.
 */
import fs from 'node:fs';
import { openCapture } from '../../agent/capture/open.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { kUnclassified, rawFlowShard } from '../../agent/decode/flow-hash.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import {
  kPcapHeaderBytes,
  kPcapRecordHeaderBytes,
  putNanosecondPcapHeader,
  putPcapRecordHeader,
} from '../helpers/pcap-writer.ts';

/** Output written in batches of up to this size (a longer record: on its own). */
const kFlushBytes = 4 << 20;

/** Paths of the shard files of `pcap`: `<pcap>.shard-<i>-of-<n>.pcap`. */
export function shardPaths(pcap: string, shards: number): string[] {
  return Array.from({ length: shards }, (_, i) => `${pcap}.shard-${i}-of-${shards}.pcap`);
}

/** One shard's nanosecond pcap, buffered. */
class ShardWriter {
  readonly #fd: number;
  readonly #out = Buffer.allocUnsafe(kFlushBytes);
  #fill = 0;

  constructor(file: string, linkType: number) {
    this.#fd = fs.openSync(file, 'w');
    putNanosecondPcapHeader(this.#take(kPcapHeaderBytes), 0, linkType);
  }

  record(seconds: number, nanos: number, originalLength: number, bytes: Uint8Array): void {
    putPcapRecordHeader(this.#take(kPcapRecordHeaderBytes), 0, seconds, nanos, bytes.length, originalLength);
    if (bytes.length > kFlushBytes) {
      this.#flush();
      fs.writeSync(this.#fd, bytes);
    } else this.#take(bytes.length).set(bytes);
  }

  close(): void {
    this.#flush();
    fs.closeSync(this.#fd);
  }

  /** The next `length` bytes of the buffer (written out first when they do not fit). */
  #take(length: number): Buffer {
    if (this.#fill + length > kFlushBytes) this.#flush();
    this.#fill += length;
    return this.#out.subarray(this.#fill - length, this.#fill);
  }

  #flush(): void {
    fs.writeSync(this.#fd, this.#out, 0, this.#fill);
    this.#fill = 0;
  }
}

/**
 * Splits the capture `pcap` into `shards` files; returns their paths. Throws with the reader's
 * message on a file it cannot read (no partial shard file is left); a record cut short at the
 * end is left out, as replay leaves it.
 */
export function splitByShard(pcap: string, shards: number): string[] {
  const outputs = shardPaths(pcap, shards);
  const inputTime = fs.statSync(pcap).mtimeMs;
  if (outputs.every((file) => fs.existsSync(file) && fs.statSync(file).mtimeMs > inputTime)) return outputs;
  const opened = openCapture(pcap, new SkipCounters());
  if ('error' in opened) throw new Error(opened.error);
  const { reader } = opened;
  let writers: ShardWriter[] | null = null;
  try {
    for (let result = reader.next(); result !== ReadResult.Failed; result = reader.next()) {
      if (result !== ReadResult.Record) {
        reader.finish();
        break;
      }
      const r = reader.record;
      writers ??= outputs.map((file) => new ShardWriter(`${file}.part`, r.linkType));
      const bytes = r.data.subarray(r.offset, r.offset + r.capturedLength);
      const shard = rawFlowShard(r.data, r.offset, r.capturedLength, r.linkType, shards);
      for (let i = 0; i < shards; i++) {
        if (shard === kUnclassified || shard === i)
          writers[i]!.record(r.seconds, r.nanos, r.originalLength, bytes);
      }
    }
    if (reader.error !== null) throw new Error(`${pcap}: ${reader.error}`);
    if (writers === null) throw new Error(`${pcap}: no record to split`);
  } catch (error) {
    for (const writer of writers ?? []) writer.close();
    for (const file of outputs) fs.rmSync(`${file}.part`, { force: true });
    throw error;
  } finally {
    opened.source.close();
  }
  for (const writer of writers) writer.close();
  for (const file of outputs) fs.renameSync(`${file}.part`, file);
  return outputs;
}
