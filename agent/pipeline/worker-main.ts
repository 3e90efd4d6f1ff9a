/**
 * A pipeline worker: reads every chunk the main thread publishes (the whole capture, in
 * order), and correlates the packets of its own shard. A record whose raw flow hash
 * (decode/flow-hash.ts) names another shard is not decoded: it only moves this worker's
 * capture clock, so expiry (and therefore the output) is identical whatever the worker count.
 * The records the hash cannot classify, and every record when relay matching shards by
 * payload, are decoded as with --workers 0. No decoded-packet traffic between threads.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { CaptureReader } from '../capture/reader.ts';
import { ReadResult } from '../capture/record.ts';
import { Correlator } from '../correlate/correlator.ts';
import { shareForWorker } from '../correlate/memory-budget.ts';
import type { Pair } from '../correlate/pair.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import { decodePacket } from '../decode/decoder.ts';
import { kUnclassified, rawFlowShard } from '../decode/flow-hash.ts';
import { DecodedPacket, Layer } from '../decode/packet.ts';
import { ByteBuffer } from '../output/byte-buffer.ts';
import { PairRenderer } from '../output/pair-output.ts';
import { LatencySummary } from '../report/latency-summary.ts';
import { SkipCounters } from '../shared/skips.ts';
import { type Chunk, ChunkConsumer } from './chunk-ring.ts';
import { ChunkSource } from './chunk-source.ts';
import { kFlagEndOfInput, kFlagFileEnd, kFlagFileStart, kFlagSkipRecords } from './layout.ts';
import {
  type FileReport,
  kPairBacklogWeight,
  type WorkerConfig,
  type WorkerMessage,
  type WorkerStats,
} from './messages.ts';

/** Output bytes batched per message: large enough to amortise a message, small enough to stream. */
const kOutputBatchBytes = 256 * 1024;
/** Unwritten output a worker may have in flight before it waits for main to catch up. */
const kOutputBacklogBytes = 16 * 1024 * 1024;
const kPairBatch = 2048;

const config = workerData as WorkerConfig;
const port = parentPort!;
const consumer = new ChunkConsumer(config.memory, config.worker);
const inputSkips = new SkipCounters();
const correlatorSkips = new SkipCounters();
const isReporter = config.worker === 0;

// Each shard gets its share of the pending and reassembly caps, so the total bound stays the configured one.
const options = structuredClone(config.options);
shareForWorker(options, config.workers);

let output = new ByteBuffer(kOutputBatchBytes * 2);
let pairBatch: Pair[] = [];

/** Hands the output bytes to main (transferred, not copied) and starts a new buffer. */
function flushOutput(): void {
  const length = output.length;
  if (length === 0) return;
  const data = output.bytes.subarray(0, length);
  port.postMessage({ type: 'output', data } satisfies WorkerMessage, [data.buffer as ArrayBuffer]);
  output = new ByteBuffer(kOutputBatchBytes * 2);
  consumer.postedOutput(length, kOutputBacklogBytes);
}

function flushPairs(): void {
  spanEncoder?.flush();
  if (pairBatch.length === 0) return;
  const count = pairBatch.length;
  port.postMessage({ type: 'pairs', pairs: pairBatch } satisfies WorkerMessage);
  pairBatch = [];
  consumer.postedOutput(count * kPairBacklogWeight, kOutputBacklogBytes);
}

/** The file table (grows in `run`: names arrive on namesPort before a file's first chunk). */
const files: string[] = [...config.files];
function receiveNames(): void {
  if (config.namesPort === null) return;
  for (;;) {
    const received = receiveMessageOnPort(config.namesPort);
    if (received === undefined) return;
    const { fileId, path } = received.message as { fileId: number; path: string };
    files[fileId] = path;
  }
}

const renderer = config.output === 'none' ? null : new PairRenderer(config.output, files);
// Kubernetes identities (--kubernetes) from the main thread's watches, applied before each chunk.
const kubernetes = config.kubernetesPort
  ? await import('../enrich/kubernetes/address-table.ts').then(
      ({ FedAddressTable }) => new FedAddressTable(config.kubernetesPort!),
    )
  : null;
// OTLP spans made here (span-request-encoder.ts), loaded only when asked for.
const spanEncoder = config.spanEncoder
  ? await import('../export/otel/span-request-encoder.ts').then(
      ({ SpanRequestEncoder, transferList }) =>
        new SpanRequestEncoder(
          config.spanEncoder!,
          (fileId) => files[fileId],
          (batch) => {
            port.postMessage({ type: 'spans', batch } satisfies WorkerMessage, transferList(batch));
            consumer.postedOutput(batch.pairs * kPairBacklogWeight, kOutputBacklogBytes);
          },
          kubernetes,
        ),
    )
  : null;
const latency = config.latencySummary ? new LatencySummary() : null;
const correlator = new Correlator(
  options,
  {
    emit(pair: Pair): void {
      latency?.add(pair);
      if (renderer !== null) {
        renderer.render(output, pair);
        if (output.length >= kOutputBatchBytes) flushOutput();
      }
      if (spanEncoder !== null) spanEncoder.emit(pair);
      else if (config.postPairs) {
        pairBatch.push(pair);
        if (pairBatch.length >= kPairBatch) flushPairs();
      }
    },
  },
  correlatorSkips,
  undefined,
  { index: config.worker, count: config.workers },
);

let packets = 0;
let decoded = 0;
let bytes = 0;
/** [oldest seconds, nanos, newest seconds, nanos] of the records counted decoded (config.decodedTimes). */
const decodedRange = new Float64Array([Number.POSITIVE_INFINITY, 0, -1, 0]);
const trackDecoded = config.decodedTimes === true;
function noteDecoded(seconds: number, nanos: number): void {
  if (seconds < decodedRange[0]! || (seconds === decodedRange[0]! && nanos < decodedRange[1]!)) {
    decodedRange[0] = seconds;
    decodedRange[1] = nanos;
  }
  if (seconds > decodedRange[2]! || (seconds === decodedRange[2]! && nanos > decodedRange[3]!)) {
    decodedRange[2] = seconds;
    decodedRange[3] = nanos;
  }
}

/** [seconds, nanos] of the newest record read; a typed array, as epoch seconds are no small integers. */
const newestCapture = new Float64Array([-1, 0]);

function stats(): WorkerStats {
  const pairs: WorkerStats['pairs'] = {};
  for (const [protocol, counts] of correlator.counts) pairs[protocol] = structuredClone(counts);
  return {
    packets,
    decoded,
    bytes,
    inputSkips: isReporter ? inputSkips.toObject() : {},
    correlatorSkips: correlatorSkips.toObject(),
    pairs,
    pending: correlator.pending(),
    captureLoss: correlator.captureLoss.counts.toData(),
    captureLossByFile: [...correlator.captureLoss.countsByFile()].flatMap(([fileId, c]) => [
      fileId,
      c.observedBytes,
      c.observedSegments,
      c.missingBytes,
      c.missingSegments,
    ]),
    newestCaptureSeconds: newestCapture[0]!,
    newestCaptureNanos: newestCapture[1]!,
    decodedRange: decodedRange[2]! >= 0 ? [...decodedRange] : null,
  };
}

/**
 * Flow sharding only: a record whose raw flow hash names another shard is not decoded, it only
 * advances the capture clock (rawFlowShard() classifies only records the decoder would take to
 * TCP/UDP, so the clock sees exactly the records it sees with --workers 0). Relay matching
 * shards by payload, which needs every record decoded.
 */
const skipOtherShards =
  config.workers > 1 && !matcherRegistry.some((d) => d.shardBy === 'payload' && d.enabled(config.options));
const shardIndex = config.worker;
const shardCount = config.workers;

const packet = new DecodedPacket();
const release = (slot: number): void => consumer.release(slot);
let source: ChunkSource | null = null;
let reader: CaptureReader | null = null;
let report: FileReport | null = null;

/** Reads every complete record the file's chunks hold so far; `skip`: records processed before a restart. */
function drain(fileId: number, skip: boolean): void {
  if (reader === null || source === null || report === null) return;
  for (;;) {
    const status = reader.next();
    if (status !== ReadResult.Record) break;
    if (skip) continue;
    const record = reader.record;
    report.packets++;
    report.bytes += record.capturedLength;
    packets++;
    bytes += record.capturedLength;
    if (
      record.seconds > newestCapture[0]! ||
      (record.seconds === newestCapture[0]! && record.nanos > newestCapture[1]!)
    ) {
      newestCapture[0] = record.seconds;
      newestCapture[1] = record.nanos;
    }
    if (skipOtherShards) {
      const shard = rawFlowShard(
        record.data,
        record.offset,
        record.capturedLength,
        record.linkType,
        shardCount,
      );
      if (shard !== kUnclassified && shard !== shardIndex) {
        decoded++;
        if (trackDecoded) noteDecoded(record.seconds, record.nanos);
        correlator.advanceTime(record.seconds, record.nanos);
        continue;
      }
    }
    decodePacket(record.data, record.offset, record.capturedLength, record.linkType, packet, inputSkips);
    if (packet.stopLayer === Layer.Complete) {
      decoded++;
      if (trackDecoded) noteDecoded(record.seconds, record.nanos);
      correlator.onPacket(fileId, record.packetNumber, record.seconds, record.nanos, record.data, packet);
    }
  }
  if (reader.error !== null) source.releaseAll(release);
  else source.releaseRead(release);
}

function endFile(): void {
  if (reader === null || source === null || report === null) return;
  reader.finish();
  report.format = reader.format;
  report.error = reader.error;
  report.captureStatistics = reader.captureStatistics();
  source.releaseAll(release);
  if (isReporter) port.postMessage({ type: 'file', report } satisfies WorkerMessage);
  reader = null;
  source = null;
  report = null;
}

const chunk: Chunk = { slot: 0, length: 0, fileId: 0, flags: 0 };
let lastStats = Date.now();
/** Ring sequence number of the chunk being processed (main numbers its publications the same way). */
let seq = -1;
for (;;) {
  if (consumer.next(chunk) === null) process.exit(1); // aborted by main (another worker failed)
  seq++;
  kubernetes?.drain();
  const { slot, length, fileId, flags } = chunk;
  if ((flags & kFlagEndOfInput) !== 0) {
    consumer.release(slot);
    break;
  }
  if ((flags & kFlagFileStart) !== 0) {
    receiveNames();
    source = new ChunkSource();
    reader = new CaptureReader(source, inputSkips);
    report = { fileId, format: null, packets: 0, bytes: 0, error: null };
  }
  if (source !== null && reader !== null && reader.error === null && length > 0) {
    source.push(consumer.slotBytes(slot).subarray(0, length), slot);
    drain(fileId, (flags & kFlagSkipRecords) !== 0);
  } else {
    consumer.release(slot);
  }
  if ((flags & kFlagFileEnd) !== 0) endFile();
  if (config.reportProcessed) {
    // The watermark: this chunk's pairs leave before the message that says so (one port: in order).
    flushOutput();
    flushPairs();
    port.postMessage({ type: 'processed', seq } satisfies WorkerMessage);
  }
  if (config.statsIntervalMillis > 0 && Date.now() - lastStats >= config.statsIntervalMillis) {
    lastStats = Date.now();
    port.postMessage({ type: 'stats', stats: stats() } satisfies WorkerMessage);
  }
}

correlator.finish();
spanEncoder?.finish();
flushOutput();
flushPairs();
port.postMessage({
  type: 'done',
  stats: stats(),
  latency: latency?.snapshot() ?? null,
} satisfies WorkerMessage);
