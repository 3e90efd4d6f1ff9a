/**
 * The export state both batchers share (span-batcher.ts for span objects, request-batcher.ts
 * for the workers' encoded requests): whether the collector is failing, the outage reported
 * once each way through onStateChange (never per request), and the retry backoff (1 s doubling
 * to 30 s, ±20 % jitter) that paces the one probe request sent while failing.
 */
import type { ExportState, ExportStateDetail } from './span-batcher.ts';

const kJitter = 0.2;

export class ExportOutage {
  state: ExportState = 'ok';
  /** The newest failure's message while failing. */
  error = '';
  /** The backoff timer fired: the next probe may go. */
  retryDue = false;
  readonly #retryInitial: number;
  readonly #retryMax: number;
  readonly #onStateChange: ((state: ExportState, detail: ExportStateDetail) => void) | null;
  #started = 0;
  #failures = 0;
  #retries = 0;
  #backoffStep = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    retryInitialMillis: number,
    retryMaxMillis: number,
    onStateChange: ((state: ExportState, detail: ExportStateDetail) => void) | null,
  ) {
    this.#retryInitial = retryInitialMillis;
    this.#retryMax = retryMaxMillis;
    this.#onStateChange = onStateChange;
  }

  get failing(): boolean {
    return this.state === 'failing';
  }

  /** A backoff timer is pending. */
  get retryScheduled(): boolean {
    return this.#timer !== null;
  }

  /** A retried request is being sent (counted into the outage's report). */
  countRetry(): void {
    if (this.state === 'failing') this.#retries++;
  }

  /** A request failed: starts an outage (reported once) or counts into the current one. */
  failed(message: string, pendingSpans: number): void {
    if (this.state === 'failing') {
      this.#failures++;
      this.error = message;
      return;
    }
    this.state = 'failing';
    this.#started = performance.now();
    this.error = message;
    this.#failures = 1;
    this.#retries = 0;
    this.#backoffStep = 0;
    this.retryDue = false;
    this.#report('failing', {
      error: message,
      durationMillis: 0,
      retries: 0,
      failedRequests: 1,
      pendingSpans,
    });
  }

  /** A request succeeded while failing: the outage is over (reported once). */
  recovered(pendingSpans: number): void {
    this.state = 'ok';
    this.clearRetryTimer();
    this.retryDue = false;
    this.#backoffStep = 0;
    this.#report('ok', {
      error: this.error,
      durationMillis: Math.round(performance.now() - this.#started),
      retries: this.#retries,
      failedRequests: this.#failures,
      pendingSpans,
    });
  }

  /** Sets retryDue and calls `onDue` after the next backoff delay. */
  scheduleRetry(onDue: () => void): void {
    this.clearRetryTimer();
    const base = Math.min(this.#retryMax, this.#retryInitial * 2 ** Math.min(this.#backoffStep++, 30));
    const delay = base * (1 - kJitter + 2 * kJitter * Math.random());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.retryDue = true;
      onDue();
    }, delay);
    this.#timer.unref();
  }

  /** Draining while failing: no more waiting, the next probe may go at once (unless one is out). */
  retryNow(probing: boolean): void {
    if (this.state !== 'failing') return;
    this.clearRetryTimer();
    this.#backoffStep = 0;
    if (!probing) this.retryDue = true;
  }

  clearRetryTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #report(state: ExportState, detail: ExportStateDetail): void {
    try {
      this.#onStateChange?.(state, detail);
    } catch {
      // A logging hook must not break the export.
    }
  }
}
