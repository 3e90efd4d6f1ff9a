/**
 * The span queue between emit() and the OTLP exporter: wirespan's replacement for the SDK's
 * BatchSpanProcessor (see agent/export/README-otel.md "Why not the SDK's Tracer and
 * BatchSpanProcessor"). Differences that matter here:
 * - a full queue drops the newest span and COUNTS it (the BSP drops silently);
 * - up to `maxConcurrentExports` batches are in flight (the BSP has one, which caps throughput at
 *   batch size / round trip), never more than the exporter's concurrency limit, also on flush
 *   (the BSP's flush starts every batch at once and trips "Concurrent export limit reached");
 * - offer() is O(1) and never calls into the exporter synchronously: exports start from a
 *   macrotask, so serialisation never runs inside a caller's emit();
 * - every span ends in exactly one counter: exported, dropped (queue full / after shutdown) or
 *   failed (its export failed, or shutdown gave up on it).
 *
 * Batches are arrays filled in place; sealed batches wait in a FIFO. Shutdown drains with a
 * deadline and stops at the first failed export (the transport already retried for the whole
 * export timeout, so the collector is down: the rest are reported failed instead of each waiting
 * a full timeout).
 */
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

export interface SpanBatcherOptions {
  /** Spans that may wait (queued, not yet in flight); beyond it, new spans are dropped. */
  maxQueueSize: number;
  /** Spans per export request. */
  maxExportBatchSize: number;
  /** A partly filled batch is sent this long after its first span arrived. */
  scheduledDelayMillis: number;
  /** Export requests in flight at once; keep ≤ the exporter's concurrencyLimit. */
  maxConcurrentExports: number;
}

export interface SpanBatcherCounters {
  /** Spans accepted into the queue. */
  accepted: number;
  /** Spans the collector acknowledged. */
  exported: number;
  /** Spans refused because the queue was full. */
  droppedQueueFull: number;
  /** Spans offered after shutdown started. */
  droppedAfterShutdown: number;
  /** Spans whose export request failed. */
  failed: number;
  /** Spans still queued when shutdown gave up (deadline or collector down); also counted in failed. */
  abandoned: number;
  /** Failed export requests. */
  exportErrors: number;
  /** Spans waiting now. */
  queued: number;
  /** Spans in flight now. */
  inFlight: number;
}

export interface DrainResult {
  /** True when every accepted span was exported or counted before the deadline. */
  complete: boolean;
}

export class SpanBatcher {
  readonly #exporter: SpanExporter;
  readonly #options: SpanBatcherOptions;
  /** Sealed batches waiting for an export slot, oldest first. */
  readonly #ready: ReadableSpan[][] = [];
  #readyHead = 0;
  #open: ReadableSpan[] = [];
  #queued = 0;
  #inFlight = 0;
  #inFlightSpans = 0;
  #timer: NodeJS.Timeout | null = null;
  #pumpScheduled = false;
  #shuttingDown = false;
  /** Set by shutdown when it gives up: later completions are no longer counted. */
  #settled = false;
  readonly #idleWaiters: (() => void)[] = [];
  readonly #roomWaiters: (() => void)[] = [];
  #lastError: string | null = null;
  #failedDuringDrain = false;

  readonly counters: Omit<SpanBatcherCounters, 'queued' | 'inFlight'> = {
    accepted: 0,
    exported: 0,
    droppedQueueFull: 0,
    droppedAfterShutdown: 0,
    failed: 0,
    abandoned: 0,
    exportErrors: 0,
  };

  constructor(exporter: SpanExporter, options: SpanBatcherOptions) {
    for (const key of ['maxQueueSize', 'maxExportBatchSize', 'maxConcurrentExports'] as const) {
      if (!(Number.isInteger(options[key]) && options[key] >= 1)) {
        throw new Error(`${key} must be a positive integer, got ${options[key]}`);
      }
    }
    if (!(options.scheduledDelayMillis >= 0)) {
      throw new Error(`scheduledDelayMillis must be >= 0, got ${options.scheduledDelayMillis}`);
    }
    this.#exporter = exporter;
    this.#options = {
      ...options,
      maxExportBatchSize: Math.min(options.maxExportBatchSize, options.maxQueueSize),
    };
  }

  get queued(): number {
    return this.#queued;
  }

  get inFlight(): number {
    return this.#inFlightSpans;
  }

  /** The first export error's message (with the number of requests that failed), or null. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** Queues a span; false (and counted) when it was dropped. Never throws, never exports synchronously. */
  offer(span: ReadableSpan): boolean {
    if (this.#shuttingDown) {
      this.counters.droppedAfterShutdown++;
      return false;
    }
    if (this.#queued >= this.#options.maxQueueSize) {
      this.counters.droppedQueueFull++;
      return false;
    }
    this.counters.accepted++;
    this.#queued++;
    const open = this.#open;
    open.push(span);
    if (open.length >= this.#options.maxExportBatchSize) {
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
   * has): lets an asynchronous pipeline pause reading instead of losing spans.
   */
  whenRoom(): Promise<void> {
    if (this.#queued <= this.#options.maxQueueSize / 2 || this.#shuttingDown) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Exports everything queued now and resolves when nothing is queued or in flight. */
  forceFlush(): Promise<void> {
    this.#seal();
    this.#pump();
    if (this.#queued === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops accepting spans, drains the queue until `deadline` (a performance.now() value) or
   * the first failed export, then counts whatever is left as failed (abandoned).
   */
  async drain(deadline: number): Promise<DrainResult> {
    this.#shuttingDown = true;
    for (const resolve of this.#roomWaiters.splice(0)) resolve();
    this.#failedDuringDrain = false;
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
    }
    this.#settled = true;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    return { complete };
  }

  #seal(): void {
    if (this.#open.length === 0) return;
    this.#ready.push(this.#open);
    this.#open = [];
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
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
    while (this.#inFlight < this.#options.maxConcurrentExports && this.#readyHead < this.#ready.length) {
      if (this.#shuttingDown && this.#failedDuringDrain) break;
      const batch = this.#ready[this.#readyHead]!;
      this.#ready[this.#readyHead] = [];
      this.#readyHead++;
      if (this.#readyHead === this.#ready.length) {
        this.#ready.length = 0;
        this.#readyHead = 0;
      }
      this.#send(batch);
    }
    if (this.#roomWaiters.length > 0 && this.#queued <= this.#options.maxQueueSize / 2) {
      for (const resolve of this.#roomWaiters.splice(0)) resolve();
    }
    if (this.#shuttingDown && this.#failedDuringDrain && this.#inFlight === 0) {
      // Collector down during shutdown: give up on the rest now (counted by drain()).
      this.#notifyIdle();
    }
  }

  #send(batch: ReadableSpan[]): void {
    this.#inFlight++;
    this.#inFlightSpans += batch.length;
    this.#queued -= batch.length;
    let done = false;
    const finish = (ok: boolean, error: unknown): void => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#inFlightSpans -= batch.length;
      if (!this.#settled) {
        if (ok) this.counters.exported += batch.length;
        else {
          this.counters.failed += batch.length;
          this.counters.exportErrors++;
          const message = (error instanceof Error ? error.message : String(error ?? 'export failed')).trim();
          this.#lastError ??= message;
          if (this.#shuttingDown) this.#failedDuringDrain = true;
        }
      }
      if (this.#queued <= this.#options.maxQueueSize / 2) {
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
      this.#exporter.export(batch, (result) =>
        finish(result.code === ExportResultCode.SUCCESS, result.error),
      );
    } catch (error) {
      finish(false, error);
    }
  }

  #notifyIdle(): void {
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
