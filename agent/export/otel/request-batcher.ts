/**
 * The queue of ENCODED export requests: the main-thread half of the span path. The workers, and
 * the main thread itself for the pairs it is given (`--workers 0`), map, sample and encode their
 * spans into finished `ExportTraceServiceRequest` bytes (each with its span count); this queue
 * sends them through an exporter that passes the bytes through (otlp-bytes-exporter.ts). It is the SpanBatcher's queue (span-batcher.ts: bounded
 * and counted in spans, whenRoom() backpressure, at most `maxConcurrentExports` in flight,
 * both failure policies, the export state) over requests instead of span objects:
 *
 * - a request that would take the queue beyond its cap is dropped whole and its spans counted;
 * - requests are not merged (a worker's request already holds up to its batch size of spans)
 *   and never split: RESOURCE_EXHAUSTED "larger than max" is permanent (counted failed), as
 *   every request's encoded size is capped well under gRPC's default 4 MiB receive limit
 *   by construction (span-request-encoder.ts).
 */
import { ExportResultCode } from '@opentelemetry/core';
import { Batcher, type BatcherCounters, type SpanBatcherOptions } from './span-batcher.ts';

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

export type RequestBatcherOptions = Omit<
  SpanBatcherOptions,
  'maxExportBatchSize' | 'scheduledDelayMillis'
> & {
  /** Called with each request the collector accepted (its bytes may be reused: request-buffers.ts). */
  onExported?: ((request: EncodedRequest) => void) | null;
};

export type RequestBatcherCounters = BatcherCounters;

export class RequestBatcher extends Batcher<EncodedRequest> {
  constructor(exporter: RequestExporter, options: RequestBatcherOptions) {
    const { onExported = null, ...batcherOptions } = options;
    super(
      // Every batch is one request (a batch of one span or more is sealed at once).
      {
        export: (requests, done) =>
          exporter.export(
            requests[0]!,
            onExported === null
              ? done
              : (result) => {
                  done(result);
                  if (result.code === ExportResultCode.SUCCESS) onExported(requests[0]!);
                },
          ),
      },
      { ...batcherOptions, maxExportBatchSize: 1, scheduledDelayMillis: 0 },
      (request) => request.spans,
    );
  }

  /**
   * Queues an encoded request of `spans` spans; false (its spans counted dropped) when the queue
   * has no room for all of them or shutdown started. Never throws, never exports synchronously.
   * An empty request (0 spans) is accepted and not sent.
   */
  offer(bytes: Uint8Array, spans: number): boolean {
    return this.offerItem({ bytes, spans }, spans);
  }
}
