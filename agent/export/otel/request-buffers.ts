/**
 * Request buffers reused once their export succeeded. A fresh buffer per request has its pages
 * faulted in as take() first writes it (the kernel zeroes each one): measured ~3 us per KiB on
 * the bench machine, 0.8 s of the main thread in `replay --otlp --workers 0` on 1 M packets (more
 * than the encoding of the spans in it). A reused buffer's pages are already there.
 *
 * Buffers are resizable ArrayBuffers (one request's exact size each time: the gRPC transport
 * passes a request that owns its whole ArrayBuffer without a copy, otlp-transport.ts). Only a
 * SUCCESS gives a buffer back: after a failure or a timeout the transport may still hold the
 * bytes (a call waiting for its channel), and they must not be overwritten under it.
 */

/** Free buffers kept at most (each holds up to a request's pages). */
const kMaxFree = 4;

export class RequestBufferPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #maxBytes: number;

  /** `maxBytes`: the largest request a pooled buffer holds (larger ones get a buffer of their own). */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** A buffer of exactly `size` bytes (contents undefined), a free one when there is one. */
  take(size: number): Buffer {
    if (size > this.#maxBytes) return Buffer.allocUnsafeSlow(size);
    const free = this.#free.pop();
    if (free === undefined) return Buffer.from(new ArrayBuffer(size, { maxByteLength: this.#maxBytes }));
    free.resize(size);
    return Buffer.from(free);
  }

  /** Gives back the bytes of a request the collector accepted (nothing holds them any more). */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || !buffer.resizable || buffer.maxByteLength !== this.#maxBytes)
      return;
    if (this.#free.length < kMaxFree && !this.#free.includes(buffer)) this.#free.push(buffer);
  }

  /** Free buffers now (for tests). */
  get free(): number {
    return this.#free.length;
  }
}
