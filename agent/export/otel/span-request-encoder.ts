/**
 * Pairs -> finished OTLP `ExportTraceServiceRequest` bytes, where the pairs are made (a pipeline
 * worker): PairSpanBuilder (the exporter's own mapping, sampling, flood guard, resources) then
 * OtlpTraceEncoder, span by span as they are made (add(): the span objects die young instead
 * of waiting, a request's worth at a time, to be encoded together). What it produces is an
 * EncodedSpans batch, posted to the main thread (its request bytes and latency points
 * transferred, not copied), where `OtelExporter.offerEncoded()` queues the requests for the gRPC
 * transport (request-batcher.ts) and takes over the counts and latency points; exported /
 * dropped / failed are decided there. The main thread makes its own spans (`--workers 0`, and the
 * workers' unanswered pairs below) with the same PairSpanBuilder and CappedRequestEncoder, its
 * requests going straight into that queue (sdk.ts): one span path for every worker count.
 *
 * Unanswered pairs, while the flood guard is on (unansweredSpansPerSecond > 0), are not mapped
 * here: they travel as pair objects (`unanswered`) and the main thread's exporter maps them
 * behind its one flood guard, so the per-source and per-protocol limits hold for the whole
 * agent, not per worker (a source's flows are spread over the shards), and the aggregates are
 * those of `--workers 0`. They are few unless there is a flood, and then the guard aggregates
 * them cheaply.
 *
 * Request size: at most `maxSpansPerRequest` spans, and a request is closed before a span would
 * take its bytes past `maxRequestBytes` (a span larger than that goes alone), so every request
 * stays under collectors' default 4 MiB gRPC receive limit by construction: the main thread
 * never has to split one (it cannot: the bytes are final).
 */
import type { Attributes } from '@opentelemetry/api';
import type { Pair } from '../../correlate/pair.ts';
import type { AddressLookup } from '../../enrich/kubernetes/address-table.ts';
import { grown } from '../../shared/typed-arrays.ts';
import { OtlpTraceEncoder } from './otlp-encode.ts';
import type { PairSpan } from './pair-span.ts';
import { PairSpanBuilder, type PairSpanConfig } from './pair-span-builder.ts';
import type { EncodedRequest } from './request-batcher.ts';
import type { RequestBufferPool } from './request-buffers.ts';
import { ATTR_SERVICE_NAME } from './semconv-stable.ts';
import type { MetricPoint, PairData } from './span-mapper.ts';

/** Default spans per request (as the SpanBatcher's maxExportBatchSize). */
export const kDefaultSpansPerRequest = 2048;
/**
 * Default byte cap per request: a quarter under the collectors' default 4 MiB receive limit
 * (`max_recv_msg_size_mib: 4`), room for gRPC framing.
 */
export const kDefaultMaxRequestBytes = 3 << 20;

export interface SpanEncoderConfig extends PairSpanConfig {
  maxSpansPerRequest: number;
  maxRequestBytes: number;
}

/** Pair counts by protocol, as the exporter's pair tally (metrics.ts ExporterCountsSource.pairs). */
export type PairTally = Record<
  string,
  { matched: number; unanswered: number; unansweredBy: Record<string, number> }
>;

/** One batch for the main thread: requests and the counts since the previous batch. */
export interface EncodedSpans {
  requests: EncodedRequest[];
  /** Pairs given to emit(). */
  pairs: number;
  tally: PairTally;
  sampledOut: number;
  ignored: number;
  invalidTraceparents: number;
  droppedMappingError: number;
  /** The first mapping error since the previous batch. */
  mappingError: string | null;
  /** Latency points of matched pairs (recorded into the histograms on the main thread). */
  latency: LatencyPoints;
  /** Unanswered pairs for the main thread's flood guard (already counted in `pairs` and `tally`). */
  unanswered: PairData[];
}

/**
 * Latency points in typed arrays: each distinct (histogram, attributes) set once, then per point
 * its set's index and its value. A batch of pairs has few distinct sets (a service, method,
 * status...), so the main thread no longer receives, and collects, three cloned objects per
 * pair (measured: ~1 us of the main thread per point for the clone, before the SDK's record()).
 */
export interface LatencyPoints {
  sets: { name: string; attributes: Attributes }[];
  /** Per point: the index of its set. */
  set: Uint32Array<ArrayBuffer>;
  /** Per point: the latency in seconds. */
  values: Float64Array<ArrayBuffer>;
}

/** A service's distinct sets compared one by one, at most this many (beyond: a set per point). */
const kSetsPerService = 32;

/**
 * Collects latency points into LatencyPoints. A point's set is found among the sets of its
 * service name (every protocol's latency points carry service.name) by comparing names and
 * attributes, so no key is built per point (JSON keys measured ~6 % of a worker).
 */
class LatencyPointBuffer {
  #sets: LatencyPoints['sets'] = [];
  /** Set indexes by service name. */
  readonly #byService = new Map<unknown, number[]>();
  #set = new Uint32Array(1024);
  #values = new Float64Array(1024);
  #count = 0;

  add(point: MetricPoint): void {
    const attributes = point.attributes;
    const service = attributes[ATTR_SERVICE_NAME];
    let candidates = this.#byService.get(service);
    if (candidates === undefined) {
      candidates = [];
      this.#byService.set(service, candidates);
    }
    let index = -1;
    for (let c = 0; c < candidates.length; c++) {
      const set = this.#sets[candidates[c]!]!;
      if (set.name === point.name && sameAttributes(set.attributes, attributes)) {
        index = candidates[c]!;
        break;
      }
    }
    if (index < 0) {
      index = this.#sets.length;
      this.#sets.push({ name: point.name, attributes });
      if (candidates.length < kSetsPerService) candidates.push(index);
    }
    const count = this.#count;
    if (count === this.#values.length) {
      this.#set = grown(this.#set, count * 2);
      this.#values = grown(this.#values, count * 2);
    }
    this.#set[count] = index;
    this.#values[count] = point.value;
    this.#count = count + 1;
  }

  /** The points since the last take() (arrays of their own, for the transfer list). */
  take(): LatencyPoints {
    const points: LatencyPoints = {
      sets: this.#sets,
      set: this.#set.slice(0, this.#count),
      values: this.#values.slice(0, this.#count),
    };
    this.#sets = [];
    this.#byService.clear();
    this.#count = 0;
    return points;
  }
}

/** The same keys with the same (primitive) values, in any order (as the SDK's attribute hash: order ignored). */
export function sameAttributes(a: Attributes, b: Attributes): boolean {
  if (a === b) return true; // a server's shared wirespan.pair.duration attributes (service-map.ts)
  let keys = 0;
  for (const key in a) {
    if (a[key] !== b[key]) return false;
    keys++;
  }
  for (const _ in b) keys--;
  return keys === 0;
}

const kUnansweredReasons = ['expired', 'evicted', 'end_of_input', 'connection_closed', 'capture_gap'];

/** Adds one pair to a tally (the same rule as the exporter's). */
export function tallyPair(tally: PairTally, pair: PairData | Pair): void {
  let entry = tally[pair.protocol];
  if (entry === undefined) {
    entry = { matched: 0, unanswered: 0, unansweredBy: {} };
    tally[pair.protocol] = entry;
  }
  if (pair.outcome === 0) entry.matched++;
  else {
    entry.unanswered++;
    const reason = kUnansweredReasons[pair.unansweredReason] ?? 'unknown';
    entry.unansweredBy[reason] = (entry.unansweredBy[reason] ?? 0) + 1;
  }
}

/** Adds `delta` into `into`. */
export function mergeTally(into: PairTally, delta: PairTally): void {
  for (const protocol in delta) {
    const d = delta[protocol]!;
    let entry = into[protocol];
    if (entry === undefined) {
      entry = { matched: 0, unanswered: 0, unansweredBy: {} };
      into[protocol] = entry;
    }
    entry.matched += d.matched;
    entry.unanswered += d.unanswered;
    for (const reason in d.unansweredBy) {
      entry.unansweredBy[reason] = (entry.unansweredBy[reason] ?? 0) + d.unansweredBy[reason]!;
    }
  }
}

/** Request caps (SpanEncoderConfig's). */
export type RequestLimits = Pick<SpanEncoderConfig, 'maxSpansPerRequest' | 'maxRequestBytes'>;

/**
 * Spans -> finished requests, each span encoded at once (so it dies young); a request closes at
 * its span count, or before a span would take its bytes past the byte cap (a span larger than
 * the cap goes alone). The one rule for both span paths: the workers' SpanRequestEncoder and
 * the main thread's exporter (sdk.ts). add() throws what the encoder throws (not expected: the
 * builder makes valid spans), with the span left out; PairSpanBuilder counts it.
 */
export class CappedRequestEncoder {
  readonly #limits: RequestLimits;
  readonly #encoder: OtlpTraceEncoder;
  readonly #onRequest: (request: EncodedRequest) => void;

  /** `requestBuffers`: where the request buffers come from (null: fresh ones). */
  constructor(
    limits: RequestLimits,
    onRequest: (request: EncodedRequest) => void,
    requestBuffers: RequestBufferPool | null = null,
  ) {
    if (!(Number.isInteger(limits.maxSpansPerRequest) && limits.maxSpansPerRequest >= 1)) {
      throw new Error(`maxSpansPerRequest must be a positive integer, got ${limits.maxSpansPerRequest}`);
    }
    this.#limits = limits;
    this.#onRequest = onRequest;
    this.#encoder = new OtlpTraceEncoder(requestBuffers);
  }

  /** Spans in the request being built. */
  get open(): number {
    return this.#encoder.added;
  }

  add(span: PairSpan): void {
    const encoder = this.#encoder;
    encoder.add(span);
    if (encoder.requestBound > this.#limits.maxRequestBytes && encoder.added > 1) this.#take(true);
    else if (encoder.added >= this.#limits.maxSpansPerRequest) this.#take(false);
  }

  /** Closes the request being built (nothing when it is empty). */
  close(): void {
    this.#take(false);
  }

  /** Closes the request being built (with `leaveLast`, without the span added last). */
  #take(leaveLast: boolean): void {
    const spans = leaveLast ? this.#encoder.added - 1 : this.#encoder.added;
    if (spans === 0) return;
    this.#onRequest({ bytes: this.#encoder.take(leaveLast), spans });
  }
}

export class SpanRequestEncoder {
  readonly #config: SpanEncoderConfig;
  readonly #builder: PairSpanBuilder;
  readonly #encoder: CappedRequestEncoder;
  readonly #post: (batch: EncodedSpans) => void;
  #requests: EncodedRequest[] = [];
  readonly #latency = new LatencyPointBuffer();
  #unanswered: PairData[] = [];
  readonly #floodOnMain: boolean;
  #tally: PairTally = {};
  #pairs = 0;
  /** Builder counts already posted. */
  #postedSampledOut = 0;
  #postedIgnored = 0;
  #postedInvalid = 0;
  #postedMappingErrors = 0;
  #mappingErrorPosted = false;

  /** `post` receives each batch (the caller transfers `requests[i].bytes.buffer`). */
  constructor(
    config: SpanEncoderConfig,
    sourceFiles: ((fileId: number) => string | undefined) | null,
    post: (batch: EncodedSpans) => void,
    kubernetes: AddressLookup | null = null,
  ) {
    this.#config = config;
    this.#post = post;
    this.#floodOnMain = config.traces && config.unansweredSpansPerSecond > 0;
    this.#encoder = new CappedRequestEncoder(config, (request) => this.#requests.push(request));
    this.#builder = new PairSpanBuilder(
      config,
      sourceFiles,
      (span) => this.#encoder.add(span),
      (metric) => this.#latency.add(metric),
      kubernetes,
    );
  }

  /** Maps one pair (its span encoded at once); a request closed by it is posted at once. */
  emit(pair: PairData): void {
    this.#pairs++;
    tallyPair(this.#tally, pair);
    if (this.#floodOnMain && pair.outcome !== 0) {
      this.#unanswered.push(pair);
      if (this.#unanswered.length >= this.#config.maxSpansPerRequest) this.flush();
      return;
    }
    this.#builder.emit(pair);
    // A request was closed: post it now (the spans after it stay in the one being built).
    if (this.#requests.length > 0) this.#postBatch();
  }

  /** Closes the request being built and posts everything (nothing when there is nothing new). */
  flush(): void {
    this.#encoder.close();
    this.#postBatch();
  }

  /** Posts the closed requests, latency points and counts (nothing when there is nothing new). */
  #postBatch(): void {
    const counts = this.#builder.counts;
    if (
      this.#requests.length === 0 &&
      this.#pairs === 0 &&
      counts.droppedMappingError === this.#postedMappingErrors
    ) {
      return;
    }
    const batch: EncodedSpans = {
      requests: this.#requests,
      pairs: this.#pairs,
      tally: this.#tally,
      sampledOut: counts.sampledOut - this.#postedSampledOut,
      ignored: counts.ignored - this.#postedIgnored,
      invalidTraceparents: counts.invalidTraceparents - this.#postedInvalid,
      droppedMappingError: counts.droppedMappingError - this.#postedMappingErrors,
      mappingError: this.#mappingErrorPosted ? null : counts.lastMappingError,
      latency: this.#latency.take(),
      unanswered: this.#unanswered,
    };
    if (counts.lastMappingError !== null) this.#mappingErrorPosted = true;
    this.#postedSampledOut = counts.sampledOut;
    this.#postedIgnored = counts.ignored;
    this.#postedInvalid = counts.invalidTraceparents;
    this.#postedMappingErrors = counts.droppedMappingError;
    this.#requests = [];
    this.#unanswered = [];
    this.#tally = {};
    this.#pairs = 0;
    this.#post(batch);
  }

  /** End of input: the open flood aggregates become spans, then everything is posted. */
  finish(): void {
    this.#builder.flush();
    this.flush();
  }
}

/** The ArrayBuffers of a batch's requests and latency points, for postMessage's transfer list. */
export function transferList(batch: EncodedSpans): ArrayBuffer[] {
  const list: ArrayBuffer[] = [batch.latency.set.buffer, batch.latency.values.buffer];
  for (const request of batch.requests) {
    const buffer = request.bytes.buffer;
    // Only a buffer the request owns whole (OtlpTraceEncoder allocates one per request).
    if (buffer instanceof ArrayBuffer && request.bytes.byteLength === buffer.byteLength) list.push(buffer);
  }
  return list;
}
