/**
 * A fresh gRPC channel after a connection failure (`retryUntilExported` only).
 *
 * grpc-js reconnects with its own backoff: 1 s, growing ×1.6 per failed connection attempt up
 * to 120 s, and until that backoff ends every call fails at once ("14 UNAVAILABLE: No connection
 * established"), even when the collector is back. After a few minutes of outage the agent would
 * stay paused for up to two more minutes after the collector returned (measured: the first
 * export succeeded 61 s after the collector came back from a 150 s outage, with wirespan's own
 * retries every 30 s). The OTLP exporters take no gRPC channel options
 * (`grpc.max_reconnect_backoff_ms`), and a new exporter reuses the backed-off subchannel from
 * grpc-js's process-wide subchannel pool unless its channel options differ; the one option the
 * exporters let us set is the user agent. So after an UNAVAILABLE answer, the next request goes
 * through a new exporter whose user agent carries a generation number
 * (`wirespan-reconnect/traces.N OTel-OTLP-Exporter-JavaScript/...`): a new subchannel, which
 * connects at once. The retry backoff (span-batcher.ts) then decides alone how soon a returning
 * collector is seen. The old exporter is shut down: it finishes its requests in flight, then
 * closes its channel (grpc-js drops the unused subchannel within 10 s).
 */

/** gRPC UNAVAILABLE: no connection, or the connection broke. */
const kGrpcUnavailable = 14;

export interface Closable {
  shutdown(): Promise<void>;
}

export class FreshChannel<T extends Closable> {
  readonly #label: string;
  readonly #make: (userAgent: string | undefined, connectFailed: (() => void) | null) => T;
  readonly #enabled: boolean;
  #current: T;
  #generation = 0;
  #stale = false;
  readonly #closing = new Set<Promise<void>>();

  /**
   * `make(undefined, connectFailed)` builds the first exporter (the exporters' default user
   * agent); with `enabled` false this is just that one exporter. The first exporter may open its
   * connection before its first request, and call `connectFailed` when that attempt fails: the
   * first request then goes through a new exporter (a new subchannel, not one in grpc-js's
   * reconnect backoff), as after UNAVAILABLE. Later exporters are made for a request
   * (`connectFailed` null: they connect with it).
   */
  constructor(
    label: string,
    make: (userAgent: string | undefined, connectFailed: (() => void) | null) => T,
    enabled: boolean,
  ) {
    this.#label = label;
    this.#make = make;
    this.#enabled = enabled;
    this.#current = make(undefined, () => {
      if (this.#enabled) this.#stale = true;
    });
  }

  /** Exporters replaced so far. */
  get generation(): number {
    return this.#generation;
  }

  /** The exporter for the next request: a new one after a connection failure. */
  current(): T {
    if (this.#stale) {
      this.#stale = false;
      this.#generation++;
      const old = this.#current;
      this.#current = this.#make(`wirespan-reconnect/${this.#label}.${this.#generation}`, null);
      const closing: Promise<void> = old
        .shutdown()
        .catch(() => undefined)
        .finally(() => this.#closing.delete(closing));
      this.#closing.add(closing);
    }
    return this.#current;
  }

  /** Notes a failed request: after UNAVAILABLE the channel may be stuck in its reconnect backoff. */
  failed(error: unknown): void {
    if (!this.#enabled) return;
    const code = (error as { code?: unknown } | null | undefined)?.code;
    if (code === kGrpcUnavailable) this.#stale = true;
  }

  /** Shuts down the current exporter and waits for replaced ones still closing. */
  async shutdown(): Promise<void> {
    await Promise.all([this.#current.shutdown(), ...this.#closing]);
  }
}
