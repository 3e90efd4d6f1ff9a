/**
 * A pipeline worker: reads every chunk the main thread publishes (the whole capture, in
 * order) and runs every record through its RecordLoop (record-loop.ts, the same loop as
 * --workers 0), which correlates the packets of this worker's shard and only moves the
 * capture clock for the others. No decoded-packet traffic between threads.
 *
 * It starts from its workerData (WorkerConfig: loads its modules, builds its loop), then waits
 * for the one message that says where its pairs go (WorkerSinkConfig), before its first chunk:
 * `run` spawns its workers before it builds the exporter whose configuration that message holds.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { ChunkWindow } from '../capture/chunk-window.ts';
import { CaptureReader } from '../capture/reader.ts';
import { ReadResult } from '../capture/record.ts';
import { shareForWorker } from '../correlate/memory-budget.ts';
import type { Pair } from '../correlate/pair.ts';
import type { SpanRequestEncoder } from '../export/otel/span-request-encoder.ts';
import { ByteBuffer } from '../output/byte-buffer.ts';
import type { PairRenderer } from '../output/pair-output.ts';
import { type Chunk, ChunkConsumer } from './chunk-ring.ts';
import {
  kFlagEndOfInput,
  kFlagFileEnd,
  kFlagFileStart,
  kFlagQuietRecords,
  kFlagSkipRecords,
} from './layout.ts';
import {
  type FileReport,
  kPairBacklogWeight,
  type WorkerConfig,
  type WorkerMessage,
  type WorkerSinkConfig,
} from './messages.ts';
import { RecordLoop } from './record-loop.ts';

/** Output bytes batched per message: large enough to amortise a message, small enough to stream. */
const kOutputBatchBytes = 256 * 1024;
/** Unwritten output a worker may have in flight before it waits for main to catch up. */
const kOutputBacklogBytes = 16 * 1024 * 1024;
const kPairBatch = 2048;

const config = workerData as WorkerConfig;
const port = parentPort!;
const consumer = new ChunkConsumer(config.memory, config.worker);
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

// Where the pairs go, set once the sinks' configuration arrives (below). The loop is built
// before it: its start overlaps the main thread's (which builds the exporter meanwhile), and
// a correlator that cannot be built fails the worker before then.
let renderer: PairRenderer | null = null;
let spanEncoder: SpanRequestEncoder | null = null;
let postPairs = false;
// Loaded only when used, like the pieces below (the agent's workers keep no summary).
const latency = config.latencySummary
  ? await import('../report/latency-summary.ts').then(({ LatencySummary }) => new LatencySummary())
  : null;
const loop = RecordLoop.correlating(
  options,
  {
    emit(pair: Pair): void {
      latency?.add(pair);
      if (renderer !== null) {
        renderer.render(output, pair);
        if (output.length >= kOutputBatchBytes) flushOutput();
      }
      if (spanEncoder !== null) spanEncoder.emit(pair);
      else if (postPairs) {
        pairBatch.push(pair);
        if (pairBatch.length >= kPairBatch) flushPairs();
      }
    },
  },
  { shard: { index: config.worker, count: config.workers }, decodedTimes: config.decodedTimes === true },
);

const sinks = await new Promise<WorkerSinkConfig>((resolve) => port.once('message', resolve));
postPairs = sinks.postPairs;
/** The file table (grows in `run`: names arrive on namesPort before a file's first chunk). */
const files: string[] = [...sinks.files];
const namesPort = sinks.namesPort;
function receiveNames(): void {
  if (namesPort === null) return;
  for (;;) {
    const received = receiveMessageOnPort(namesPort);
    if (received === undefined) return;
    const { fileId, path } = received.message as { fileId: number; path: string };
    files[fileId] = path;
  }
}

// Loaded only when used (the agent's workers render no lines).
const format = sinks.output;
renderer =
  format === 'none'
    ? null
    : await import('../output/pair-output.ts').then(({ PairRenderer }) => new PairRenderer(format, files));
// Kubernetes identities (--kubernetes) from the main thread's watches, applied before each chunk.
const kubernetesPort = sinks.kubernetesPort;
const kubernetes = kubernetesPort
  ? await import('../enrich/kubernetes/address-table.ts').then(
      ({ FedAddressTable }) => new FedAddressTable(kubernetesPort),
    )
  : null;
// OTLP spans made here (span-request-encoder.ts), loaded only when asked for.
const spanConfig = sinks.spanEncoder;
spanEncoder = spanConfig
  ? await import('../export/otel/span-request-encoder.ts').then(
      ({ SpanRequestEncoder, transferList }) =>
        new SpanRequestEncoder(
          spanConfig,
          (fileId) => files[fileId],
          (batch) => {
            port.postMessage({ type: 'spans', batch } satisfies WorkerMessage, transferList(batch));
            consumer.postedOutput(batch.pairs * kPairBacklogWeight, kOutputBacklogBytes);
          },
          kubernetes,
        ),
    )
  : null;

const release = (slot: number): void => consumer.release(slot);
let source: ChunkWindow | null = null;
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
    if (!loop.quiet) {
      report.packets++;
      report.bytes += record.capturedLength;
    }
    loop.record(fileId, record);
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
    loop.quiet = (flags & kFlagQuietRecords) !== 0;
    consumer.release(slot);
    break;
  }
  if ((flags & kFlagFileStart) !== 0) {
    receiveNames();
    source = new ChunkWindow();
    reader = new CaptureReader(source, loop.inputSkips);
    report = { fileId, format: null, packets: 0, bytes: 0, error: null };
  }
  if (source !== null && reader !== null && reader.error === null && length > 0) {
    source.push(consumer.slotBytes(slot).subarray(0, length), slot);
    loop.quiet = (flags & kFlagQuietRecords) !== 0;
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
  // Every interval while busy, and once before waiting for more input: the stats main shows
  // (the run stats line, the metrics) must not stay behind while the input is quiet.
  if (
    config.statsIntervalMillis > 0 &&
    (Date.now() - lastStats >= config.statsIntervalMillis || !consumer.hasNext())
  ) {
    lastStats = Date.now();
    port.postMessage({ type: 'stats', stats: loop.stats(isReporter) } satisfies WorkerMessage);
  }
}

loop.finish();
spanEncoder?.finish();
// The Kubernetes lookups of the last pairs (end of input included), before 'done'.
kubernetes?.drain();
flushOutput();
flushPairs();
port.postMessage({
  type: 'done',
  stats: loop.stats(isReporter),
  latency: latency?.snapshot() ?? null,
} satisfies WorkerMessage);
