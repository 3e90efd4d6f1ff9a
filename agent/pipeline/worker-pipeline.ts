/**
 * The worker side of the pipeline, shared by `replay --workers N` (parallel-replay.ts) and
 * `run --workers N` (run-command.ts, fed by tail.ts): the shared buffer pool, the broadcast
 * chunk ring (layout.ts has the picture) and N workers, each running worker-main.ts (the one
 * read -> decode -> correlate loop of its shard). Two steps: the constructor spawns the workers,
 * which load their modules and build their loops; configure() then tells them where their pairs
 * go (the sinks: output, pair objects, or the exporter's span configuration). `run` builds its
 * exporter in between, so the workers' start (~0.35 s each to their first record) overlaps the
 * main thread's; replay and report configure at once. The caller publishes chunks of capture
 * bytes; what comes back (output bytes, pair objects, stats, file reports) goes to the sinks.
 * Nothing is dropped: a full pool makes the caller wait (acquire()), and a worker whose output
 * is not written yet (or whose pairs the exporter has no room for) waits too.
 *
 * The checkpoint watermark (`run`): every publication gets a sequence number (0, 1, 2, ... in
 * ring order, which every worker counts the same way). With `reportProcessed`, a worker posts
 * a chunk's output and pairs and then `processed(seq)`; the messages of one worker arrive in
 * order, so once processedThrough() >= S (the minimum over workers), every pair any worker made
 * from the records of chunks 0..S has reached the sinks (written, or handed to the exporter).
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { CorrelateOptions } from '../correlate/options.ts';
import type { Pair } from '../correlate/pair.ts';
import type { EncodedSpans, SpanEncoderConfig } from '../export/otel/span-request-encoder.ts';
import { LatencySummary } from '../report/latency-summary.ts';
import { ChunkProducer } from './chunk-ring.ts';
import { allocatePipelineMemory, kFlagEndOfInput, kFlagQuietRecords, type PipelineMemory } from './layout.ts';
import {
  compileCacheDirForWorkers,
  type FileReport,
  kPairBacklogWeight,
  type WorkerConfig,
  type WorkerMessage,
  type WorkerSinkConfig,
  type WorkerStats,
} from './messages.ts';

/**
 * Young generation of each worker's heap. Floods make short-lived pairs by the million (every
 * eviction is one); with V8's default young generation (tens of MiB per isolate, sized for
 * throughput) a 1 M-query DNS flood reached 633 MiB RSS with two workers, 419 MiB with this,
 * at the same speed on normal captures (measured with npm run bench -- --hostile). Under
 * `run` the restart's process-wide `--max-semi-space-size=4` (cli/restart-settings.mjs) decides
 * instead: the agent row's workers made 85 scavenges each with this at 12, 24 or 36.
 */
const kWorkerYoungGenerationMb = 12;
const kDefaultSlots = 16;
const kDefaultSlotBytes = 1 << 20;
const kWaitMillis = 100;

/** What the workers are spawned with (see configure() for where their pairs go). */
export interface WorkerPipelineOptions {
  workers: number;
  options: CorrelateOptions;
  /** Milliseconds between the workers' stats messages (0 = only at the end). */
  statsIntervalMillis: number;
  /** Workers aggregate latency summaries, merged into `latency`. */
  latencySummary?: boolean;
  /** `report`: workers track the time range of the records counted decoded (WorkerStats.decodedRange). */
  decodedTimes?: boolean;
  /** `run`: workers report each chunk once its pairs are posted (the checkpoint watermark). */
  reportProcessed?: boolean;
  /** A file's report from worker 0 (format, records, reader error). */
  onFile?: ((report: FileReport) => void) | null;
  /** A worker failed: the pipeline is aborted; the message says which and why. */
  onFailure?: ((message: string) => void) | null;
  /** Pool geometry (defaults: 16 slots of 1 MiB). */
  slots?: number;
  slotBytes?: number;
}

/** Where the workers' pairs go (configure()). */
export interface WorkerPipelineSinks {
  /** The file table as far as known: complete for replay; for `run` it grows (announceFile()). */
  files: readonly string[];
  output: 'none' | 'jsonl' | 'text';
  /** Receives output bytes (whole lines). */
  writeOutput: (bytes: Uint8Array) => void;
  /** Receives pair objects (structured clones: fields only, no methods) when set. */
  onPairs: ((pairs: Pair[]) => void) | null;
  /** Resolves when onPairs' consumer has room again (its backpressure); null (or returning null) = room. */
  exporterRoom?: (() => Promise<void> | null) | null;
  /**
   * OTLP spans made in the workers: each worker maps, samples and encodes its pairs with this
   * configuration and onSpans receives the encoded batches (OtelExporter.offerEncoded); then
   * onPairs receives nothing. Backpressure: exporterRoom, as for pairs.
   */
  spanEncoder?: SpanEncoderConfig | null;
  onSpans?: ((batch: EncodedSpans) => void) | null;
  /** A new port of Kubernetes address identities for each worker that encodes spans (OtelExporter.kubernetesPort). */
  kubernetesPort?: (() => MessagePort) | null;
}

export class WorkerPipeline {
  readonly memory: PipelineMemory;
  readonly producer: ChunkProducer;
  readonly workerCount: number;
  /** Latest stats of each worker (cumulative). */
  readonly latest: WorkerStats[] = [];
  /** Final stats of each worker (null until it finished). */
  readonly done: (WorkerStats | null)[];
  /** The workers' merged latency summary (null unless `latencySummary`). */
  readonly latency: LatencySummary | null;
  failure: string | null = null;
  readonly #workers: Worker[] = [];
  /** Main's ends of the workers' names ports (`reportProcessed`: the file table grows). */
  readonly #names: MessagePort[] = [];
  /** The workers' ends, posted to them by configure(). */
  readonly #workerNames: (MessagePort | null)[] = [];
  readonly #exited: Promise<void>[] = [];
  /** Highest chunk sequence each worker reported processed (-1: none yet). */
  readonly #processed: number[];
  /** Where the workers' messages go: null until configure(). */
  #sinks: WorkerPipelineSinks | null = null;
  /** Chunks published so far (the next chunk's sequence number). */
  #published = 0;
  #ended = false;
  /** terminate() was called: a worker's exit is no failure. */
  #terminated = false;

  /**
   * Spawns the workers: each loads its modules and builds its record loop, then waits for
   * configure() before it takes its first chunk. A worker that fails meanwhile aborts the
   * pipeline (onFailure) as it would later.
   */
  constructor(input: WorkerPipelineOptions) {
    const workerCount = input.workers;
    this.workerCount = workerCount;
    this.memory = allocatePipelineMemory(
      workerCount,
      input.slots ?? kDefaultSlots,
      input.slotBytes ?? kDefaultSlotBytes,
    );
    this.producer = new ChunkProducer(this.memory);
    this.done = new Array(workerCount).fill(null);
    this.#processed = new Array(workerCount).fill(-1);
    this.latency = input.latencySummary ? new LatencySummary() : null;
    const producer = this.producer;
    const fail = (message: string): void => {
      if (this.failure === null) {
        this.failure = message;
        input.onFailure?.(message);
      }
      producer.abort();
    };
    for (let index = 0; index < workerCount; index++) {
      const config: WorkerConfig = {
        compileCacheDir: compileCacheDirForWorkers(),
        memory: this.memory,
        worker: index,
        workers: workerCount,
        options: input.options,
        statsIntervalMillis: input.statsIntervalMillis,
        latencySummary: this.latency !== null,
        reportProcessed: input.reportProcessed === true,
        decodedTimes: input.decodedTimes === true,
      };
      const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
        workerData: config,
        resourceLimits: { maxYoungGenerationSizeMb: kWorkerYoungGenerationMb },
      });
      const names = input.reportProcessed ? new MessageChannel() : null;
      if (names) this.#names.push(names.port1);
      this.#workerNames.push(names?.port2 ?? null);
      worker.on('message', (message: WorkerMessage) => {
        // Only a configured worker posts: #sinks is set.
        const sinks = this.#sinks!;
        switch (message.type) {
          case 'output':
            sinks.writeOutput(message.data);
            producer.outputWritten(index, message.data.length);
            break;
          case 'pairs': {
            sinks.onPairs?.(message.pairs);
            const weight = message.pairs.length * kPairBacklogWeight;
            const room = sinks.exporterRoom?.();
            if (room) void room.then(() => producer.outputWritten(index, weight));
            else producer.outputWritten(index, weight);
            break;
          }
          case 'spans': {
            sinks.onSpans?.(message.batch);
            const weight = message.batch.pairs * kPairBacklogWeight;
            const room = sinks.exporterRoom?.();
            if (room) void room.then(() => producer.outputWritten(index, weight));
            else producer.outputWritten(index, weight);
            break;
          }
          case 'processed':
            this.#processed[index] = message.seq;
            break;
          case 'stats':
            this.latest[index] = message.stats;
            break;
          case 'file':
            input.onFile?.(message.report);
            break;
          case 'done':
            this.latest[index] = message.stats;
            this.done[index] = message.stats;
            if (message.latency) this.latency?.merge(message.latency);
            break;
        }
      });
      worker.on('error', (error) => fail(`worker ${index} failed: ${error.stack ?? error.message}`));
      this.#exited.push(
        new Promise((resolve) => {
          worker.on('exit', (code) => {
            if (this.done[index] === null && !this.#terminated)
              fail(`worker ${index} exited (code ${code}) before finishing`);
            resolve();
          });
        }),
      );
      this.#workers.push(worker);
    }
  }

  /** Tells every worker where its pairs go (one message each); call once, before the first publish(). */
  configure(sinks: WorkerPipelineSinks): void {
    if (this.#sinks !== null) throw new Error('the worker pipeline is configured already');
    this.#sinks = sinks;
    for (const [index, worker] of this.#workers.entries()) {
      const kubernetesPort = sinks.spanEncoder ? (sinks.kubernetesPort?.() ?? null) : null;
      const namesPort = this.#workerNames[index]!;
      const config: WorkerSinkConfig = {
        files: [...sinks.files],
        output: sinks.output,
        postPairs: sinks.onPairs !== null,
        spanEncoder: sinks.spanEncoder ?? null,
        kubernetesPort,
        namesPort,
      };
      worker.postMessage(config, [
        ...(namesPort ? [namesPort] : []),
        ...(kubernetesPort ? [kubernetesPort] : []),
      ]);
    }
  }

  /** A free slot, waiting (without blocking the event loop) while the pool is full; -1 once aborted. */
  async acquire(): Promise<number> {
    const producer = this.producer;
    for (;;) {
      if (producer.aborted) return -1;
      const slot = producer.acquireSlot();
      if (slot >= 0) return slot;
      await producer.waitForRelease(kWaitMillis);
    }
  }

  /** Hands a filled slot to every worker; returns the chunk's sequence number. */
  publish(slot: number, length: number, fileId: number, flags: number): number {
    this.producer.publish(slot, length, fileId, flags);
    return this.#published++;
  }

  /** Sequence number of the last chunk published (-1: none). */
  get lastPublished(): number {
    return this.#published - 1;
  }

  /** Tells the workers a file's name (before its first chunk is published). */
  announceFile(fileId: number, path: string): void {
    for (const port of this.#names) port.postMessage({ fileId, path });
  }

  /** Every pair made from chunks 0..processedThrough() has been handed to the sinks (-1: none). */
  processedThrough(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const seq of this.#processed) min = Math.min(min, seq);
    return this.#processed.length === 0 ? this.lastPublished : min;
  }

  /** Chunks published and not yet taken, per worker. */
  queueDepths(): number[] {
    return this.#workers.map((_, i) => this.producer.ringDepth(i));
  }

  /**
   * Publishes the end of input and waits for every worker to finish (or fail). `quiet`: the
   * input ended while records were read again to rebuild pending requests (tail.ts): the
   * workers end quietly, reporting none of them.
   */
  async end(quiet = false): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      const last = await this.acquire();
      if (last >= 0) this.publish(last, 0, 0, kFlagEndOfInput | (quiet ? kFlagQuietRecords : 0));
    }
    await Promise.all(this.#exited);
    for (const port of this.#names) port.close();
    if (this.failure !== null) await this.terminate();
    // Every worker finished: every chunk's pairs (and the pending requests' final reports) are in.
    else this.#processed.fill(this.lastPublished);
  }

  /** Stops the workers where they are (after a failure, or a start that does not go on). */
  async terminate(): Promise<void> {
    this.#terminated = true;
    this.producer.abort();
    await Promise.all(this.#workers.map((w) => w.terminate()));
    for (const port of this.#names) port.close();
  }

  /** The final (or latest) stats of every worker. */
  stats(): WorkerStats[] {
    return this.done.map((stats, i) => stats ?? this.latest[i] ?? emptyWorkerStats());
  }
}

export function emptyWorkerStats(): WorkerStats {
  return {
    packets: 0,
    decoded: 0,
    bytes: 0,
    inputSkips: {},
    correlatorSkips: {},
    pairs: {},
    pending: {},
    newestCaptureSeconds: -1,
    newestCaptureNanos: 0,
    decodedRange: null,
  };
}
