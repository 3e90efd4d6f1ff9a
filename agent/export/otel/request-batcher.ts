/**
 * The queue of ENCODED export requests: the main-thread half of the worker span path. Workers
 * map, sample and encode their spans into finished `ExportTraceServiceRequest` bytes (each
 * with its span count); this queue sends them through an exporter that passes the bytes
 * through (otlp-bytes-exporter.ts), with the SpanBatcher's semantics (span-batcher.ts):
 *
 * - bounded, counted in spans: a request that would take the queue beyond its cap is dropped
 *   whole and its spans counted (droppedQueueFull); whenRoom() resolves once the queue is back
 *   at half its size (backpressure into reading);
 * - at most `maxConcurrentExports` requests in flight; offer() never exports synchronously;
 * - every span ends in exactly one counter: exported, dropped (queue full / after shutdown) or
 *   failed (its request failed, or shutdown gave up on it);
 * - default policy (`replay`): a failed request's spans are counted failed; shutdown drains
 *   until its deadline and stops at the first failure;
 * - `retryUntilExported` (`run`): a failed request goes back to the head of the queue (in
 *   arrival order) and is retried with exponential backoff (1 s doubling to 30 s, ±20 %
 *   jitter), one probe at a time, until the collector accepts it; INVALID_ARGUMENT and
 *   RESOURCE_EXHAUSTED "larger than max" are permanent (counted failed): the bytes cannot
 *   change. There is no halving as in SpanBatcher: the workers cap each request's encoded size
 *   well under gRPC's default 4 MiB receive limit by construction (span-request-encoder.ts),
 *   so a request is never split.
 *
 * Requests are not merged: a worker's request already holds up to its batch size of spans.
 */
import { ExportResultCode } from '@opentelemetry/core';
import { ExportOutage } from './export-outage.ts';
import type { ExportState, ExportStateDetail } from './span-batcher.ts';

/** One encoded ExportTraceServiceRequest and the number of spans in it. */
export interface EncodedRequest {
  bytes: Uint8Array;
  spans: number;
}

/** Sends one encoded request (the OTLP exporter with a pass-through serializer). */
export interface RequestExporter {
  export(
    request: EncodedRequest,
    resultCallback: (result: { code: ExportResultCode; error?: Error }) => void,
  ): void;
  shutdown(): Promise<void>;
}

export interface RequestBatcherOptions {
  /** Spans that may wait (queued, not yet in flight); a request beyond it is dropped (counted). */
  maxQueueSize: number;
  /** Requests in flight at once; keep below the exporter's concurrencyLimit. */
  maxConcurrentExports: number;
  retryUntilExported?: boolean;
  /** Default 1000. */
  retryInitialMillis?: number;
  /** Default 30000. */
  retryMaxMillis?: number;
  /** retryUntilExported: spans accepted beyond maxQueueSize before drops. Default 8192; otherwise 0. */
  maxQueueOverflow?: number;
  onStateChange?: ((state: ExportState, detail: ExportStateDetail) => void) | null;
}

export interface RequestBatcherCounters {
  /** Spans accepted into the queue. */
  accepted: number;
  exported: number;
  droppedQueueFull: number;
  droppedAfterShutdown: number;
  /** Includes abandoned. */
  failed: number;
  abandoned: number;
  /** Failed export requests (each attempt). */
  exportErrors: number;
  /** Requests that re-sent a failed request (retryUntilExported). */
  retries: number;
}

const kDefaultRetryInitialMillis = 1000;
const kDefaultRetryMaxMillis = 30_000;
const kDefaultQueueOverflow = 8192;
const kGrpcInvalidArgument = 3;
const kGrpcResourceExhausted = 8;

interface Entry extends EncodedRequest {
  /** Arrival order: failed requests are retried oldest first. */
  sequence: number;
  retried: boolean;
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error ?? 'export failed')).trim();
}

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export class RequestBatcher {
  readonly #exporter: RequestExporter;
  readonly #maxQueue: number;
  readonly #maxConcurrent: number;
  readonly #retry: boolean;
  readonly #hardCap: number;
  readonly #ready: Entry[] = [];
  #readyHead = 0;
  #arrived = 0;
  #queued = 0;
  #inFlight = 0;
  #inFlightSpans = 0;
  #pumpScheduled = false;
  #shuttingDown = false;
  #settled = false;
  #failedDuringDrain = false;
  #lastError: string | null = null;
  readonly #idleWaiters: (() => void)[] = [];
  readonly #roomWaiters: (() => void)[] = [];

  readonly #outage: ExportOutage;
  /** A retry request is in flight (while failing, nothing else is sent). */
  #probing = false;

  readonly counters: RequestBatcherCounters = {
    accepted: 0,
    exported: 0,
    droppedQueueFull: 0,
    droppedAfterShutdown: 0,
    failed: 0,
    abandoned: 0,
    exportErrors: 0,
    retries: 0,
  };

  constructor(exporter: RequestExporter, options: RequestBatcherOptions) {
    for (const key of ['maxQueueSize', 'maxConcurrentExports'] as const) {
      if (!(Number.isInteger(options[key]) && options[key] >= 1)) {
        throw new Error(`${key} must be a positive integer, got ${options[key]}`);
      }
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
    this.#maxQueue = options.maxQueueSize;
    this.#maxConcurrent = options.maxConcurrentExports;
    this.#retry = retry;
    this.#hardCap = options.maxQueueSize + overflow;
    this.#outage = new ExportOutage(initial, max, options.onStateChange ?? null);
  }

  /** Spans waiting now. */
  get queued(): number {
    return this.#queued;
  }

  /** Spans in flight now. */
  get inFlight(): number {
    return this.#inFlightSpans;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  get state(): ExportState {
    return this.#outage.state;
  }

  get outageError(): string | null {
    return this.#outage.failing ? this.#outage.error : null;
  }

  /**
   * Queues an encoded request of `spans` spans; false (its spans counted dropped) when the queue
   * has no room for all of them or shutdown started. Never throws, never exports synchronously.
   * An empty request (0 spans) is accepted and not sent.
   */
  offer(bytes: Uint8Array, spans: number): boolean {
    if (this.#shuttingDown) {
      this.counters.droppedAfterShutdown += spans;
      return false;
    }
    if (spans === 0) return true;
    // An empty queue always takes one request (a request larger than the whole queue is not lost).
    if (this.#queued > 0 && this.#queued + spans > this.#hardCap) {
      this.counters.droppedQueueFull += spans;
      return false;
    }
    this.counters.accepted += spans;
    this.#queued += spans;
    this.#ready.push({ bytes, spans, sequence: this.#arrived++, retried: false });
    this.#schedulePump();
    return true;
  }

  /** Resolves when the waiting spans are at most half the queue (at once if they are). */
  whenRoom(): Promise<void> {
    if (this.#hasRoom() || this.#shuttingDown) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Resolves when nothing is queued or in flight. */
  forceFlush(): Promise<void> {
    this.#pump();
    if (this.#queued === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** As SpanBatcher.drain(): stops accepting, drains until `deadline` (performance.now()), counts the rest failed. */
  async drain(deadline: number): Promise<{ complete: boolean }> {
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
      const left = this.#queued + this.#inFlightSpans;
      this.counters.abandoned += left;
      this.counters.failed += left;
      this.#queued = 0;
      this.#ready.length = 0;
      this.#readyHead = 0;
    }
    this.#settled = true;
    this.#outage.clearRetryTimer();
    return { complete };
  }

  #hasRoom(): boolean {
    return this.#queued <= this.#maxQueue / 2;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #take(): Entry {
    const entry = this.#ready[this.#readyHead]!;
    this.#readyHead++;
    if (this.#readyHead === this.#ready.length) {
      this.#ready.length = 0;
      this.#readyHead = 0;
    } else if (this.#readyHead >= 1024 && this.#readyHead * 2 >= this.#ready.length) {
      this.#ready.splice(0, this.#readyHead);
      this.#readyHead = 0;
    }
    return entry;
  }

  /** A failed request back among the other failed ones at the head, in arrival order. */
  #requeue(entry: Entry): void {
    let at = this.#readyHead;
    while (at < this.#ready.length && this.#ready[at]!.sequence < entry.sequence) at++;
    if (at === this.#readyHead && this.#readyHead > 0) this.#ready[--this.#readyHead] = entry;
    else this.#ready.splice(at, 0, entry);
    this.#queued += entry.spans;
    entry.retried = true;
  }

  #pump(): void {
    if (this.#settled) return;
    if (this.#retry && this.#outage.failing) {
      if (
        this.#outage.retryDue &&
        !this.#probing &&
        this.#inFlight < this.#maxConcurrent &&
        this.#readyHead < this.#ready.length
      ) {
        this.#outage.retryDue = false;
        this.#probing = true;
        this.#send(this.#take(), true);
      }
    } else {
      while (this.#inFlight < this.#maxConcurrent && this.#readyHead < this.#ready.length) {
        if (this.#shuttingDown && this.#failedDuringDrain) break;
        this.#send(this.#take(), false);
      }
    }
    if (this.#roomWaiters.length > 0 && this.#hasRoom()) {
      for (const resolve of this.#roomWaiters.splice(0)) resolve();
    }
    if (this.#shuttingDown && this.#failedDuringDrain && this.#inFlight === 0) this.#notifyIdle();
  }

  #send(entry: Entry, probe: boolean): void {
    this.#inFlight++;
    this.#inFlightSpans += entry.spans;
    this.#queued -= entry.spans;
    if (entry.retried) {
      this.counters.retries++;
      this.#outage.countRetry();
    }
    let done = false;
    const finish = (ok: boolean, error: unknown): void => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#inFlightSpans -= entry.spans;
      if (probe) this.#probing = false;
      if (!this.#settled) {
        if (ok) {
          this.counters.exported += entry.spans;
          if (this.#outage.failing) this.#outage.recovered(this.#queued + this.#inFlightSpans);
        } else {
          this.counters.exportErrors++;
          const message = messageOf(error);
          this.#lastError ??= message;
          if (this.#retry) {
            const code = grpcCode(error);
            const permanent =
              code === kGrpcInvalidArgument ||
              (code === kGrpcResourceExhausted && /larger than max/i.test(message));
            if (permanent) this.counters.failed += entry.spans;
            else this.#requeue(entry);
            this.#outage.failed(message, this.#queued + this.#inFlightSpans);
            if (probe || (!this.#outage.retryScheduled && !this.#probing && !this.#outage.retryDue)) {
              this.#outage.scheduleRetry(() => this.#pump());
            }
          } else {
            this.counters.failed += entry.spans;
            if (this.#shuttingDown) this.#failedDuringDrain = true;
            this.#outage.failed(message, this.#queued + this.#inFlightSpans);
          }
        }
      }
      if (this.#hasRoom()) {
        for (const resolve of this.#roomWaiters.splice(0)) resolve();
      }
      // Not synchronously: the OTLP exporter frees its concurrency slot a microtask later.
      this.#schedulePump();
      if (this.#inFlight === 0 && (this.#queued === 0 || (this.#shuttingDown && this.#failedDuringDrain))) {
        this.#notifyIdle();
      }
    };
    try {
      this.#exporter.export(entry, (result) =>
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
