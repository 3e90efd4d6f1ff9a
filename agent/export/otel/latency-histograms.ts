/**
 * The latency histograms (explicit buckets) aggregated here, and handed to the SDK's metric
 * readers at collection time as a MetricProducer: one record per matched pair, so the SDK's
 * Histogram.record() cost the main thread more than the rest of the metrics path (it hashes
 * the attribute object of every call: sorted keys and JSON; measured on `replay --otlp
 * --workers 0`, 368,810 pairs: hashAttributes 399 ms, HashMap.get 120, the SDK's record path
 * ~240 more, plus its garbage).
 *
 * Series: one per (histogram, attribute set), found by the point's service.name and compared
 * key by key (no key string is built); each series is a row of typed arrays (bucket counts,
 * count, sum, min, max). A worker's batch (LatencyPoints) names each attribute set once, so its
 * sets are looked up once per batch and its points only index a row.
 *
 * The SDK's semantics are kept (sdk-metrics 3.1: SyncMetricStorage, DeltaMetricProcessor,
 * TemporalMetricProcessor, HistogramAggregator): a value lands in the first bucket whose
 * boundary is >= it; negative values are dropped; a point's start time is the wall-clock time of
 * its series' first record (cumulative: ever; delta: since the reader's previous collection, or
 * that collection's time when the series was in it); at most kCardinalityLimit - 1 series of a
 * histogram take records between two collections, later new ones go to one overflow series
 * (`otel.metric.overflow: true`). Records accumulate in an active row set that every
 * collection, by any reader, adds into each reader's own rows (readers may differ in
 * temporality: OTLP as OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE selects, Prometheus
 * cumulative). Exponential histograms (`--histogram exponential`) stay with the SDK (metrics.ts).
 *
 * Series are freed, so that a sidecar in a churning cluster (pod IPs, peer names, routes) does not
 * keep every attribute set it ever saw: at the first collection after which no reader holds
 * anything of a series (no records it has not reported, and not in its last delta report, whose
 * time would be the next start time), its id is freed for reuse, its attributes and lookup
 * entries dropped (its rows are empty by then). That is when the SDK forgets a series of DELTA
 * readers (DeltaMetricProcessor starts an empty map every collection, a delta reader's
 * TemporalMetricProcessor keeps only its last report), so one that records again starts fresh as
 * the SDK reports it. A CUMULATIVE reader's rows keep every series it was given (the SDK keeps
 * them all too), so with one of them nothing is freed. Past the cardinality limit a new set gets
 * no series: one interval cannot outgrow the limit either.
 */
import { type Attributes, ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import type {
  CollectionResult,
  HistogramMetricData,
  MetricDescriptor,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { grown } from '../../shared/typed-arrays.ts';
import { kScope } from './pair-span.ts';
import { AggregationTemporality, DataPointType, InstrumentType } from './sdk-metrics-enums.ts';
import { ATTR_SERVICE_NAME } from './semconv-stable.ts';
import type { MetricPoint } from './span-mapper.ts';
import { type LatencyPoints, sameAttributes } from './span-request-encoder.ts';

/** The SDK's default aggregation cardinality limit per instrument (MetricReader.selectCardinalityLimit). */
export const kCardinalityLimit = 2000;

const kOverflowAttributes: Attributes = { 'otel.metric.overflow': true };

/** The histograms' instrumentation scope, as the SDK's Meter has it. */
const kMeterScope = { name: kScope.name, version: kScope.version, schemaUrl: undefined };

/** Per-series rows: bucket counts, count, sum, min, max and the start time (ms since the epoch). */
class SeriesRows {
  readonly #buckets: number;
  capacity = 0;
  counts = new Float64Array(0);
  count = new Float64Array(0);
  sum = new Float64Array(0);
  min = new Float64Array(0);
  max = new Float64Array(0);
  startMs = new Float64Array(0);

  constructor(buckets: number) {
    this.#buckets = buckets;
  }

  /** Room for `series` rows (new rows empty). */
  ensure(series: number): void {
    if (series <= this.capacity) return;
    const capacity = Math.max(64, this.capacity * 2, series);
    this.counts = grown(this.counts, capacity * this.#buckets, 0);
    this.count = grown(this.count, capacity, 0);
    this.sum = grown(this.sum, capacity, 0);
    this.min = grown(this.min, capacity, Number.POSITIVE_INFINITY);
    this.max = grown(this.max, capacity, Number.NEGATIVE_INFINITY);
    this.startMs = grown(this.startMs, capacity, 0);
    this.capacity = capacity;
  }

  /** Adds row `s` of `from` (its start time too when this row is empty). */
  add(from: SeriesRows, s: number): void {
    if (this.count[s] === 0) this.startMs[s] = from.startMs[s]!;
    const buckets = this.#buckets;
    for (let b = s * buckets, end = b + buckets; b < end; b++) this.counts[b]! += from.counts[b]!;
    this.count[s]! += from.count[s]!;
    this.sum[s]! += from.sum[s]!;
    if (from.min[s]! < this.min[s]!) this.min[s] = from.min[s]!;
    if (from.max[s]! > this.max[s]!) this.max[s] = from.max[s]!;
  }

  /** Row `s`'s bucket counts as a plain array (what the SDK's data points hold). */
  bucketCounts(s: number): number[] {
    const counts = new Array<number>(this.#buckets);
    for (let b = 0, first = s * this.#buckets; b < counts.length; b++) counts[b] = this.counts[first + b]!;
    return counts;
  }

  clear(s: number): void {
    this.counts.fill(0, s * this.#buckets, (s + 1) * this.#buckets);
    this.count[s] = 0;
    this.sum[s] = 0;
    this.min[s] = Number.POSITIVE_INFINITY;
    this.max[s] = Number.NEGATIVE_INFINITY;
  }
}

/** What one reader has not yet reported (delta) or has accumulated (cumulative). */
interface ReaderRows {
  readonly temporality: AggregationTemporality;
  readonly rows: SeriesRows;
  /** Delta: 1 for the series in the previous collection (their start time is its time). */
  inLastCollection: Uint8Array;
  lastCollectionMs: number;
}

export class LatencyHistograms {
  readonly #descriptors: MetricDescriptor[];
  readonly #histogramOf = new Map<string, number>();
  readonly #boundaries: number[];
  readonly #bounds: Float64Array;
  readonly #buckets: number;
  readonly #now: () => number;

  /** Series ids below this are in use or free (the rows' length). */
  #seriesEnd = 0;
  /** Each series' histogram, -1 while it is free. */
  #seriesHistogram = new Int32Array(64);
  /** Each series' attributes, undefined while it is free. */
  readonly #seriesAttributes: (Attributes | undefined)[] = [];
  /** Freed series ids, taken before new ones. */
  readonly #freeSeries: number[] = [];
  /** Series ids by histogram, in creation order (the order of the data points). */
  readonly #seriesOf: number[][];
  /** Series ids by their service.name (every protocol's points carry one). */
  readonly #byService = new Map<unknown, number[]>();
  /** Each histogram's overflow series, -1 until needed. */
  readonly #overflow: Int32Array;

  /** Records since the last collection by any reader. */
  readonly #active: SeriesRows;
  /** 1 for a series admitted since the last collection. */
  #admitted = new Uint8Array(64);
  readonly #admittedList: number[] = [];
  /** Series admitted since the last collection, by histogram (the cardinality limit). */
  readonly #admittedOf: Int32Array;
  readonly #readers: ReaderRows[] = [];

  /**
   * `histograms`: name and description of each histogram (unit s); `boundaries` sorted, finite;
   * `now`: the wall clock in ms (the SDK's Date.now()).
   */
  constructor(
    histograms: readonly { name: string; description: string }[],
    boundaries: readonly number[],
    now: () => number = Date.now,
  ) {
    this.#boundaries = [...boundaries];
    this.#bounds = Float64Array.from(boundaries);
    this.#buckets = boundaries.length + 1;
    this.#now = now;
    this.#descriptors = histograms.map(({ name, description }, index) => {
      this.#histogramOf.set(name, index);
      return {
        name,
        description,
        type: InstrumentType.HISTOGRAM,
        unit: 's',
        valueType: ValueType.DOUBLE,
        advice: { explicitBucketBoundaries: [...boundaries] },
      };
    });
    this.#seriesOf = histograms.map(() => []);
    this.#overflow = new Int32Array(histograms.length).fill(-1);
    this.#admittedOf = new Int32Array(histograms.length);
    this.#active = new SeriesRows(this.#buckets);
  }

  /** Series that exist (not freed): what the registry and every reader's rows hold. */
  get seriesInUse(): number {
    return this.#seriesEnd - this.#freeSeries.length;
  }

  /** Records one matched pair's latency (seconds). */
  recordPoint(point: MetricPoint): void {
    const histogram = this.#histogramOf.get(point.name);
    if (histogram === undefined || !(point.value >= 0)) return;
    this.#add(this.#admit(this.#series(histogram, point.attributes)), point.value);
  }

  /** Records a worker's latency points (span-request-encoder.ts): each set looked up once. */
  recordPoints(points: LatencyPoints): void {
    const { sets, set, values } = points;
    const seriesOfSet = new Int32Array(sets.length).fill(-1);
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (!(value >= 0)) continue;
      const index = set[i]!;
      let series = seriesOfSet[index]!;
      if (series < 0) {
        const histogram = this.#histogramOf.get(sets[index]!.name);
        if (histogram === undefined) continue;
        series = this.#series(histogram, sets[index]!.attributes);
        seriesOfSet[index] = series;
      }
      this.#add(this.#admit(series), value);
    }
  }

  /**
   * A MetricProducer for one MetricReader (its `metricProducers` option) with that reader's
   * temporality for histograms: each reader has its own rows.
   */
  producer(temporality: AggregationTemporality): MetricProducer {
    const reader: ReaderRows = {
      temporality,
      rows: new SeriesRows(this.#buckets),
      inLastCollection: new Uint8Array(0),
      lastCollectionMs: 0,
    };
    this.#readers.push(reader);
    return { collect: () => Promise.resolve(this.#collect(reader)) };
  }

  /** The series of (histogram, attributes), made on first sight unless it could only overflow. */
  #series(histogram: number, attributes: Attributes): number {
    const service = attributes[ATTR_SERVICE_NAME];
    const candidates = this.#byService.get(service);
    if (candidates !== undefined) {
      for (let c = 0; c < candidates.length; c++) {
        const series = candidates[c]!;
        if (
          this.#seriesHistogram[series] === histogram &&
          sameAttributes(this.#seriesAttributes[series]!, attributes)
        ) {
          return series;
        }
      }
    }
    // Past the limit a new set's records go to the overflow series until the next collection:
    // no series of its own, so one interval's new sets cannot outgrow the limit either.
    if (this.#admittedOf[histogram]! >= kCardinalityLimit - 1) return this.#overflowSeries(histogram);
    const series = this.#newSeries(histogram, attributes);
    if (candidates === undefined) this.#byService.set(service, [series]);
    else candidates.push(series);
    return series;
  }

  #newSeries(histogram: number, attributes: Attributes): number {
    let series = this.#freeSeries.pop();
    if (series === undefined) {
      series = this.#seriesEnd++;
      if (series === this.#seriesHistogram.length) {
        this.#seriesHistogram = grown(this.#seriesHistogram, series * 2);
        this.#admitted = grown(this.#admitted, series * 2);
      }
      this.#active.ensure(this.#seriesEnd);
    }
    this.#seriesHistogram[series] = histogram;
    this.#seriesAttributes[series] = attributes;
    this.#seriesOf[histogram]!.push(series);
    return series;
  }

  /** The series that takes the record: `series`, or its histogram's overflow series past the limit. */
  #admit(series: number): number {
    if (this.#admitted[series] === 1) return series;
    const histogram = this.#seriesHistogram[series]!;
    if (this.#admittedOf[histogram]! >= kCardinalityLimit - 1) {
      const overflow = this.#overflowSeries(histogram);
      if (this.#admitted[overflow] === 0) this.#markAdmitted(overflow);
      return overflow;
    }
    this.#admittedOf[histogram]!++;
    this.#markAdmitted(series);
    return series;
  }

  /** The histogram's overflow series, made when first needed. */
  #overflowSeries(histogram: number): number {
    let overflow = this.#overflow[histogram]!;
    if (overflow < 0) {
      overflow = this.#newSeries(histogram, kOverflowAttributes);
      this.#overflow[histogram] = overflow;
    }
    return overflow;
  }

  #markAdmitted(series: number): void {
    this.#admitted[series] = 1;
    this.#admittedList.push(series);
    this.#active.startMs[series] = this.#now();
  }

  #add(series: number, value: number): void {
    const rows = this.#active;
    // The first boundary >= value (the SDK's binarySearchUB): buckets are (previous, boundary].
    const bounds = this.#bounds;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bounds[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    rows.counts[series * this.#buckets + lo]!++;
    rows.count[series]!++;
    rows.sum[series]! += value;
    if (value < rows.min[series]!) rows.min[series] = value;
    if (value > rows.max[series]!) rows.max[series] = value;
  }

  /** Adds the active rows into every reader's rows and empties them. */
  #stash(): void {
    for (const reader of this.#readers) reader.rows.ensure(this.#seriesEnd);
    for (const series of this.#admittedList) {
      for (const reader of this.#readers) reader.rows.add(this.#active, series);
      this.#active.clear(series);
      this.#admitted[series] = 0;
    }
    this.#admittedList.length = 0;
    this.#admittedOf.fill(0);
  }

  #collect(reader: ReaderRows): CollectionResult {
    this.#stash();
    const nowMs = this.#now();
    const endTime = millisToHrTime(nowMs);
    const { rows, temporality } = reader;
    const delta = temporality === AggregationTemporality.DELTA;
    const inLast = reader.inLastCollection;
    const inThis = delta ? new Uint8Array(this.#seriesEnd) : inLast;
    const metrics: HistogramMetricData[] = [];
    for (let histogram = 0; histogram < this.#descriptors.length; histogram++) {
      const dataPoints: HistogramMetricData['dataPoints'] = [];
      for (const series of this.#seriesOf[histogram]!) {
        if (rows.count[series] === 0) continue;
        const startMs = delta && inLast[series] === 1 ? reader.lastCollectionMs : rows.startMs[series]!;
        dataPoints.push({
          attributes: this.#seriesAttributes[series]!,
          startTime: millisToHrTime(startMs),
          endTime,
          value: {
            min: rows.min[series]!,
            max: rows.max[series]!,
            sum: rows.sum[series]!,
            buckets: {
              boundaries: this.#boundaries,
              counts: rows.bucketCounts(series),
            },
            count: rows.count[series]!,
          },
        });
        if (delta) {
          inThis[series] = 1;
          rows.clear(series);
        }
      }
      if (dataPoints.length > 0) {
        metrics.push({
          descriptor: this.#descriptors[histogram]!,
          aggregationTemporality: temporality,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints,
        });
      }
    }
    reader.inLastCollection = inThis;
    reader.lastCollectionMs = nowMs;
    this.#reclaim();
    return {
      resourceMetrics: {
        // MetricReader.collect() keeps its own resource and takes only the scopes.
        resource: emptyResource(),
        scopeMetrics: metrics.length === 0 ? [] : [{ scope: kMeterScope, metrics }],
      },
      errors: [],
    };
  }

  /**
   * Frees the series no reader holds (called after a collection, when the active rows are empty):
   * nothing unreported and not in any reader's last report. The creation order of the rest is kept.
   */
  #reclaim(): void {
    let freed = false;
    for (let histogram = 0; histogram < this.#seriesOf.length; histogram++) {
      const ids = this.#seriesOf[histogram]!;
      let kept = 0;
      for (const series of ids) {
        if (this.#held(series)) {
          ids[kept++] = series;
          continue;
        }
        this.#seriesHistogram[series] = -1;
        this.#seriesAttributes[series] = undefined;
        if (this.#overflow[histogram] === series) this.#overflow[histogram] = -1;
        this.#freeSeries.push(series);
        freed = true;
      }
      ids.length = kept;
    }
    if (!freed) return;
    for (const [service, candidates] of this.#byService) {
      let kept = 0;
      for (const series of candidates) if (this.#seriesHistogram[series] !== -1) candidates[kept++] = series;
      if (kept === 0) this.#byService.delete(service);
      else candidates.length = kept;
    }
  }

  /**
   * Whether a reader still has records of `series` (always so for a cumulative one, once it has
   * any) or reported it in its last delta collection.
   */
  #held(series: number): boolean {
    for (const reader of this.#readers) {
      if (reader.rows.count[series] !== 0 || reader.inLastCollection[series] === 1) return true;
    }
    return false;
  }
}
