/**
 * The span queue between emit() and the OTLP exporter: wirespan's replacement for the SDK's
 * BatchSpanProcessor (see docs/architecture.md "Why spans bypass the SDK's Tracer and BatchSpanProcessor").
 * Differences that matter here:
 * - a full queue drops the newest span and COUNTS it (the BSP drops silently);
 * - up to `maxConcurrentExports` batches are in flight (the BSP has one, which caps throughput at
 *   batch size / round trip), never more than the exporter's concurrency limit, also on flush
 *   (the BSP's flush starts every batch at once and trips "Concurrent export limit reached");
 * - offer() is O(1) and never calls into the exporter synchronously: exports start from a
 *   macrotask, so serialisation never runs inside a caller's emit();
 * - every span ends in exactly one counter: exported, dropped (queue full / after shutdown) or
 *   failed (its export failed, or shutdown gave up on it).
 *
 * Batches are arrays filled in place; sealed batches wait in a FIFO.
 *
 * The queue is generic over its items, each of which carries a span count (Batcher<T>): the
 * RequestBatcher's (request-batcher.ts) are encoded OTLP requests, the span path of every worker
 * count (their span count each, never merged: every request is a batch of its own, and one
 * cannot be halved); the SpanBatcher's are span objects (one span each, batched up to
 * maxExportBatchSize), for OTEL_TRACES_EXPORTER=console only.
 *
 * Two failure policies:
 * - default (`replay`): a failed request's spans are counted failed and the queue moves on.
 *   Shutdown drains with a deadline and stops at the first failed export (the collector is down:
 *   the rest are reported failed instead of each waiting a full timeout).
 * - `retryUntilExported` (the `run` agent, whose capture files are the durable buffer): a failed
 *   batch goes back to the head of the queue and is retried with exponential backoff (1 s
 *   doubling to 30 s, ±20 % jitter) until the collector accepts it. While failing, one request
 *   at a time probes the collector and nothing else is sent, so the queue fills up, whenRoom()
 *   stays pending and the pipeline stops reading. offer() still accepts spans up to
 *   maxQueueSize + maxQueueOverflow (the overshoot of the step the pipeline is in when the queue
 *   fills); beyond that, drops are counted (droppedQueueFull). Permanent rejections cannot be
 *   retried into success: INVALID_ARGUMENT is counted failed, and a batch over the collector's
 *   message size limit (RESOURCE_EXHAUSTED "received message larger than max") is split in
 *   halves, down to single spans, and a single span still too large is counted failed. Every
 *   other error (UNAVAILABLE, DEADLINE_EXCEEDED, a memory limiter's RESOURCE_EXHAUSTED, auth
 *   errors that need the operator) is retried. Shutdown keeps retrying until its deadline and
 *   counts what is left as failed (abandoned).
 *
 * Both report the export state once per transition (onStateChange 'failing' / 'ok'), never
 * per batch; the batcher itself never logs.
 *
 * The settled prefix (`settledThrough`, for `run`'s checkpoints): accepted spans are numbered
 * 1, 2, 3, ... in the order offered (counters.accepted is the newest number); every batch covers
 * a contiguous range of them. Requests finish out of order (several in flight, failed batches
 * retried from the head), so the mark is the highest N such that spans 1..N are all settled
 * (exported or counted failed): the span before the oldest batch still open, waiting or in
 * flight. Spans refused by offer() get no number (they are counted dropped at once). The mark
 * costs a field per batch and a scan of the few batches in flight when it is read.
 */
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ExportOutage } from './export-outage.ts';

export interface SpanBatcherOptions {
  /** Spans that may wait (queued, not yet in flight); beyond it, new spans are dropped. */
  maxQueueSize: number;
  /** Spans per export request. */
  maxExportBatchSize: number;
  /** A partly filled batch is sent this long after its first span arrived. */
  scheduledDelayMillis: number;
  /** Export requests in flight at once; keep ≤ the exporter's concurrencyLimit. */
  maxConcurrentExports: number;
  /** Keep failed batches and retry them until the collector accepts them (see the file comment). Default false. */
  retryUntilExported?: boolean;
  /** retryUntilExported: first retry delay; it doubles per failed retry up to retryMaxMillis, ±20 % jitter. Default 1000. */
  retryInitialMillis?: number;
  /** retryUntilExported: longest retry delay (before jitter). Default 30000. */
  retryMaxMillis?: number;
  /**
   * retryUntilExported: spans accepted beyond maxQueueSize before new ones are dropped (counted):
   * room for the step the pipeline is in when the queue fills (it awaits whenRoom() between
   * steps). Default 8192 (two `run` steps of 4096 records). Without retryUntilExported: 0.
   */
  maxQueueOverflow?: number;
  /** Called once when exports start failing and once when one succeeds again; exceptions are ignored. */
  onStateChange?: ((state: ExportState, detail: ExportStateDetail) => void) | null;
}

export type ExportState = 'ok' | 'failing';

export interface ExportStateDetail {
  /** 'failing': the error of the request that started the outage; 'ok': the last error before it ended. */
  error: string;
  /** 'ok': from the first failed request to the first accepted one, in ms; 'failing': 0. */
  durationMillis: number;
  /** Requests re-sent during the outage (retryUntilExported; 'failing': 0). */
  retries: number;
  /** Requests that failed during the outage ('failing': 1). */
  failedRequests: number;
  /** Spans waiting or in flight now. */
  pendingSpans: number;
}

/** Every span offered ends in exactly one of accepted's outcomes, or in a drop counter. */
export type BatcherCounters = Omit<SpanBatcherCounters, 'queued' | 'inFlight'>;

export interface SpanBatcherCounters {
  /** Spans accepted into the queue. */
  accepted: number;
  /** Spans the collector acknowledged. */
  exported: number;
  /** Spans refused because the queue was full (retryUntilExported: beyond maxQueueSize + maxQueueOverflow). */
  droppedQueueFull: number;
  /** Spans offered after shutdown started. */
  droppedAfterShutdown: number;
  /** Spans whose export request failed (retryUntilExported: rejected permanently); includes abandoned. */
  failed: number;
  /** Spans still queued when shutdown gave up (deadline or collector down); also counted in failed. */
  abandoned: number;
  /** Failed export requests (retryUntilExported: each failed attempt, retried or not). */
  exportErrors: number;
  /** retryUntilExported: requests that re-sent a batch whose export had failed. */
  retries: number;
  /** Spans waiting now. */
  queued: number;
  /** Spans in flight now. */
  inFlight: number;
}

export interface DrainResult {
  /** True when every accepted span was exported or counted before the deadline. */
  complete: boolean;
}

const kDefaultRetryInitialMillis = 1000;
const kDefaultRetryMaxMillis = 30_000;
const kDefaultQueueOverflow = 8192;
/** gRPC status codes (the OTLP/gRPC exporter passes the ServiceError through). */
const kGrpcInvalidArgument = 3;
const kGrpcResourceExhausted = 8;

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error ?? 'export failed')).trim();
}

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Sends one batch of items and calls back once with the result (a SpanExporter for spans). */
export interface BatchExporter<T> {
  export(items: T[], resultCallback: (result: { code: ExportResultCode; error?: Error }) => void): void;
}

/** A sealed batch: its items, their span count, and its place in the queue's seal order. */
interface Batch<T> {
  items: T[];
  spans: number;
  /** Spans accepted before its first one (its spans are numbered before + 1 .. before + spans). */
  before: number;
  /** Seal order: failed batches are retried oldest first. */
  sequence: number;
  /** Its export failed once (its next send counts as a retry). */
  retried: boolean;
}

/** The queue, for items that each carry a span count (see the file comment). */
export class Batcher<T> {
  readonly #exporter: BatchExporter<T>;
  readonly #spansOf: (item: T) => number;
  readonly #options: Required<Omit<SpanBatcherOptions, 'onStateChange'>>;
  /** The queue size beyond which offer() drops. */
  readonly #hardCap: number;
  /** Sealed batches waiting for an export slot, oldest first (failed batches go back to the head). */
  readonly #ready: (Batch<T> | null)[] = [];
  #readyHead = 0;
  #open: T[] = [];
  #openSpans = 0;
  #sealed = 0;
  #queued = 0;
  #inFlight = 0;
  #inFlightSpans = 0;
  /** The batches in flight (at most maxConcurrentExports): the settled prefix ends before the oldest. */
  readonly #sent: Batch<T>[] = [];
  #timer: NodeJS.Timeout | null = null;
  #pumpScheduled = false;
  #shuttingDown = false;
  /** Set by shutdown when it gives up: later completions are no longer counted. */
  #settled = false;
  readonly #idleWaiters: (() => void)[] = [];
  readonly #roomWaiters: (() => void)[] = [];
  #lastError: string | null = null;
  #failedDuringDrain = false;

  // Export state (both policies report it; only retryUntilExported retries).
  readonly #outage: ExportOutage;
  /** A retry request is in flight (while failing, nothing else is sent). */
  #probing = false;

  readonly counters: BatcherCounters = {
    accepted: 0,
    exported: 0,
    droppedQueueFull: 0,
    droppedAfterShutdown: 0,
    failed: 0,
    abandoned: 0,
    exportErrors: 0,
    retries: 0,
  };

  constructor(exporter: BatchExporter<T>, options: SpanBatcherOptions, spansOf: (item: T) => number) {
    for (const key of ['maxQueueSize', 'maxExportBatchSize', 'maxConcurrentExports'] as const) {
      if (!(Number.isInteger(options[key]) && options[key] >= 1)) {
        throw new Error(`${key} must be a positive integer, got ${options[key]}`);
      }
    }
    if (!(options.scheduledDelayMillis >= 0)) {
      throw new Error(`scheduledDelayMillis must be >= 0, got ${options.scheduledDelayMillis}`);
    }
    const retry = options.retryUntilExported ?? false;
    const initial = options.retryInitialMillis ?? kDefaultRetryInitialMillis;
    const max = options.retryMaxMillis ?? kDefaultRetryMaxMillis;
    const overflow = retry ? (options.maxQueueOverflow ?? kDefaultQueueOverflow) : 0;
    if (!(initial > 0 && max >= initial)) {
      throw new Error(
        `retry delays must satisfy 0 < retryInitialMillis <= retryMaxMillis, got ${initial}, ${max}`,
      );
    }
    if (!(Number.isInteger(overflow) && overflow >= 0)) {
      throw new Error(`maxQueueOverflow must be a non-negative integer, got ${overflow}`);
    }
    this.#exporter = exporter;
    this.#spansOf = spansOf;
    this.#options = {
      ...options,
      maxExportBatchSize: Math.min(options.maxExportBatchSize, options.maxQueueSize),
      retryUntilExported: retry,
      retryInitialMillis: initial,
      retryMaxMillis: max,
      maxQueueOverflow: overflow,
    };
    this.#outage = new ExportOutage(initial, max, options.onStateChange ?? null);
    this.#hardCap = options.maxQueueSize + overflow;
  }

  /** Spans waiting now. */
  get queued(): number {
    return this.#queued;
  }

  /** Spans in flight now. */
  get inFlight(): number {
    return this.#inFlightSpans;
  }

  /**
   * Spans 1..settledThrough (numbered in the order accepted) are all exported or counted failed;
   * span settledThrough + 1, if accepted, is still open, waiting or in flight (see the file comment).
   */
  get settledThrough(): number {
    // Once shutdown gave up, everything accepted was counted (failed or exported).
    if (this.#settled) return this.counters.accepted;
    let oldest = this.counters.accepted - this.#openSpans;
    // Waiting batches are in seal order (failed ones are put back in their place): the head is the oldest.
    if (this.#readyHead < this.#ready.length) oldest = Math.min(oldest, this.#ready[this.#readyHead]!.before);
    for (const batch of this.#sent) oldest = Math.min(oldest, batch.before);
    return oldest;
  }

  /** The first export error's message, or null. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** 'failing' from a failed request until one succeeds. */
  get state(): ExportState {
    return this.#outage.state;
  }

  /** The latest error of the current outage, or null when exports are not failing. */
  get outageError(): string | null {
    return this.#outage.failing ? this.#outage.error : null;
  }

  /**
   * Queues an item of `spans` spans; false (its spans counted dropped) when the queue has no
   * room for all of them or shutdown started. An empty queue always takes one item (an item
   * larger than the whole queue is not lost); an item of 0 spans is accepted and not sent.
   * Never throws, never exports synchronously.
   */
  protected offerItem(item: T, spans: number): boolean {
    if (this.#shuttingDown) {
      this.counters.droppedAfterShutdown += spans;
      return false;
    }
    if (spans === 0) return true;
    if (this.#queued > 0 && this.#queued + spans > this.#hardCap) {
      this.counters.droppedQueueFull += spans;
      return false;
    }
    this.counters.accepted += spans;
    this.#queued += spans;
    const open = this.#open;
    open.push(item);
    this.#openSpans += spans;
    if (this.#openSpans >= this.#options.maxExportBatchSize) {
      this.#seal();
      this.#schedulePump();
    } else if (open.length === 1 && this.#timer === null) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#seal();
        this.#pump();
      }, this.#options.scheduledDelayMillis);
      this.#timer.unref();
    }
    return true;
  }
  /**
   * Resolves when the queue has room for at least half its capacity again (immediately if it
   * has): lets an asynchronous pipeline pause reading instead of losing spans. With
   * retryUntilExported and a failing collector, that is after the collector accepts again.
   */
  whenRoom(): Promise<void> {
    if (this.#hasRoom() || this.#shuttingDown) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /**
   * Exports everything queued now and resolves when nothing is queued or in flight (with
   * retryUntilExported and a failing collector: once the collector accepted everything).
   */
  forceFlush(): Promise<void> {
    this.#seal();
    this.#pump();
    if (this.#queued === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops accepting spans, drains the queue until `deadline` (a performance.now() value) or,
   * without retryUntilExported, the first failed export; then counts whatever is left as failed
   * (abandoned). With retryUntilExported a failing collector is retried right away, then with
   * the backoff restarted from retryInitialMillis, until the deadline.
   */
  async drain(deadline: number): Promise<DrainResult> {
    this.#shuttingDown = true;
    for (const resolve of this.#roomWaiters.splice(0)) resolve();
    this.#failedDuringDrain = false;
    this.#outage.retryNow(this.#probing);
    const idle = this.forceFlush();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - performance.now()));
    });
    const result = await Promise.race([idle.then(() => 'idle' as const), timedOut]);
    clearTimeout(timer);
    const complete = result === 'idle' && this.#queued === 0 && this.#inFlight === 0;
    if (!complete) {
      // Whatever is queued or still in flight will not be reported as exported.
      const left = this.#queued + this.#inFlightSpans;
      this.counters.abandoned += left;
      this.counters.failed += left;
      this.#queued = 0;
      this.#ready.length = 0;
      this.#readyHead = 0;
      this.#open = [];
      this.#openSpans = 0;
    }
    this.#settled = true;
    this.#outage.clearRetryTimer();
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    return { complete };
  }

  #hasRoom(): boolean {
    return this.#queued <= this.#options.maxQueueSize / 2;
  }

  #seal(): void {
    if (this.#open.length === 0) return;
    this.#ready.push({
      items: this.#open,
      spans: this.#openSpans,
      before: this.counters.accepted - this.#openSpans,
      sequence: this.#sealed++,
      retried: false,
    });
    this.#open = [];
    this.#openSpans = 0;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /**
   * Puts a failed batch back among the other failed ones at the head of the queue, in seal order
   * (batches never sent are all younger: the scan stops at the first of them).
   */
  #requeue(batch: Batch<T>): void {
    batch.retried = true;
    let at = this.#readyHead;
    while (at < this.#ready.length && this.#ready[at]!.sequence < batch.sequence) at++;
    if (at === this.#readyHead && this.#readyHead > 0) this.#ready[--this.#readyHead] = batch;
    else this.#ready.splice(at, 0, batch);
    this.#queued += batch.spans;
  }

  #takeReady(): Batch<T> {
    const batch = this.#ready[this.#readyHead]!;
    this.#ready[this.#readyHead] = null;
    this.#readyHead++;
    if (this.#readyHead === this.#ready.length) {
      this.#ready.length = 0;
      this.#readyHead = 0;
    } else if (this.#readyHead >= 1024 && this.#readyHead * 2 >= this.#ready.length) {
      this.#ready.splice(0, this.#readyHead);
      this.#readyHead = 0;
    }
    return batch;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#settled) return;
    if (this.#options.retryUntilExported && this.#outage.failing) {
      // One request at a time probes the collector, when the backoff says so.
      if (
        this.#outage.retryDue &&
        !this.#probing &&
        this.#inFlight < this.#options.maxConcurrentExports &&
        this.#readyHead < this.#ready.length
      ) {
        this.#outage.retryDue = false;
        this.#probing = true;
        this.#send(this.#takeReady(), true);
      }
    } else {
      while (this.#inFlight < this.#options.maxConcurrentExports && this.#readyHead < this.#ready.length) {
        if (this.#shuttingDown && this.#failedDuringDrain) break;
        this.#send(this.#takeReady(), false);
      }
    }
    if (this.#roomWaiters.length > 0 && this.#hasRoom()) {
      for (const resolve of this.#roomWaiters.splice(0)) resolve();
    }
    if (this.#shuttingDown && this.#failedDuringDrain && this.#inFlight === 0) {
      // Collector down during shutdown: give up on the rest now (counted by drain()).
      this.#notifyIdle();
    }
  }

  #send(batch: Batch<T>, probe: boolean): void {
    this.#inFlight++;
    this.#inFlightSpans += batch.spans;
    this.#sent.push(batch);
    this.#queued -= batch.spans;
    if (batch.retried) {
      this.counters.retries++;
      this.#outage.countRetry();
    }
    let done = false;
    const finish = (ok: boolean, error: unknown): void => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#inFlightSpans -= batch.spans;
      this.#sent.splice(this.#sent.indexOf(batch), 1);
      if (probe) this.#probing = false;
      if (!this.#settled) {
        if (ok) {
          this.counters.exported += batch.spans;
          if (this.#outage.failing) this.#outage.recovered(this.#queued + this.#inFlightSpans);
        } else {
          this.counters.exportErrors++;
          const message = messageOf(error);
          this.#lastError ??= message;
          if (this.#options.retryUntilExported) {
            this.#keepForRetry(batch, error, message);
            this.#outage.failed(message, this.#queued + this.#inFlightSpans);
            // The probe failed, or the outage just started: wait before the next attempt.
            if (probe || (!this.#outage.retryScheduled && !this.#probing && !this.#outage.retryDue)) {
              this.#outage.scheduleRetry(() => this.#pump());
            }
          } else {
            this.counters.failed += batch.spans;
            if (this.#shuttingDown) this.#failedDuringDrain = true;
            this.#outage.failed(message, this.#queued + this.#inFlightSpans);
          }
        }
      }
      if (this.#hasRoom()) {
        for (const resolve of this.#roomWaiters.splice(0)) resolve();
      }
      // Not synchronously: the OTLP exporter counts a request against its concurrencyLimit until
      // a microtask after this callback, so an export started here would be refused.
      this.#schedulePump();
      if (this.#inFlight === 0 && (this.#queued === 0 || (this.#shuttingDown && this.#failedDuringDrain))) {
        this.#notifyIdle();
      }
    };
    try {
      this.#exporter.export(batch.items, (result) =>
        finish(result.code === ExportResultCode.SUCCESS, result.error),
      );
    } catch (error) {
      finish(false, error);
    }
  }

  /** retryUntilExported: a failed request's batch goes back to the queue unless the collector rejected it for good. */
  #keepForRetry(batch: Batch<T>, error: unknown, message: string): void {
    const code = grpcCode(error);
    // "grpc: received message larger than max (5000000 vs. 4194304)": the collector's limit.
    const tooLarge = code === kGrpcResourceExhausted && /larger than max/i.test(message);
    if (tooLarge && batch.items.length > 1) {
      // Retry in two halves (the oldest first).
      const half = Math.ceil(batch.items.length / 2);
      this.#requeue(this.#part(batch, half, batch.items.length));
      this.#requeue(this.#part(batch, 0, half));
    } else if (tooLarge || code === kGrpcInvalidArgument) {
      // Resending the same bytes cannot succeed.
      this.counters.failed += batch.spans;
    } else {
      this.#requeue(batch);
    }
  }

  /** Items [from, to) of a batch, in its place in the seal order. */
  #part(batch: Batch<T>, from: number, to: number): Batch<T> {
    let before = batch.before;
    for (let i = 0; i < from; i++) before += this.#spansOf(batch.items[i]!);
    const items = batch.items.slice(from, to);
    let spans = 0;
    for (const item of items) spans += this.#spansOf(item);
    return { items, spans, before, sequence: batch.sequence, retried: true };
  }

  #notifyIdle(): void {
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}

/** The queue of span objects, for the console exporter (OTLP spans are queued encoded: request-batcher.ts). */
export class SpanBatcher extends Batcher<ReadableSpan> {
  constructor(exporter: SpanExporter, options: SpanBatcherOptions) {
    super(exporter, options, () => 1);
  }

  /** Queues a span; false (and counted) when it was dropped. Never throws, never exports synchronously. */
  offer(span: ReadableSpan): boolean {
    return this.offerItem(span, 1);
  }
}
