/**
 * wirespan's metrics: latency histograms (one point per matched pair: sampling never thins them;
 * explicit buckets aggregated in latency-histograms.ts, exponential ones by the SDK) and
 * pipeline-health instruments observed at collection time from counters kept elsewhere (no
 * per-packet and no per-span record() calls). Names and attributes: docs/output.md "Metrics".
 */
import type {
  Attributes,
  BatchObservableResult,
  Histogram,
  Meter,
  ObservableCounter,
} from '@opentelemetry/api';
import type { ProtocolRegistry } from '../../correlate/protocol.ts';
import { matcherRegistry } from '../../correlate/registry.ts';
import type { PipelineStatsSnapshot } from '../pipeline-stats.ts';
import {
  ATTR_WIRESPAN_OUTCOME,
  ATTR_WIRESPAN_PROTOCOL,
  ATTR_WIRESPAN_QUEUE,
  ATTR_WIRESPAN_REASON,
  ATTR_WIRESPAN_SIGNAL,
  ATTR_WIRESPAN_STATE,
  METRIC_WIRESPAN_BUFFER_POOL_SLOTS,
  METRIC_WIRESPAN_BYTES_READ,
  METRIC_WIRESPAN_EXPORT_ERRORS,
  METRIC_WIRESPAN_FILES,
  METRIC_WIRESPAN_LAG,
  METRIC_WIRESPAN_PACKETS,
  METRIC_WIRESPAN_PAIR_DURATION,
  METRIC_WIRESPAN_PAIRS,
  METRIC_WIRESPAN_PAIRS_IGNORED,
  METRIC_WIRESPAN_PENDING,
  METRIC_WIRESPAN_QUEUE_CAPACITY,
  METRIC_WIRESPAN_QUEUE_DEPTH,
  METRIC_WIRESPAN_SPANS_DROPPED,
  METRIC_WIRESPAN_SPANS_EXPORTED,
  METRIC_WIRESPAN_SPANS_QUEUED,
  METRIC_WIRESPAN_SPANS_SAMPLED_OUT,
  METRIC_WIRESPAN_TRACEPARENT_INVALID,
} from './attributes.ts';
import { CaptureLossMetrics } from './capture-loss-metrics.ts';
import type { LatencyHistograms } from './latency-histograms.ts';
import type { MetricPoint } from './span-mapper.ts';
import type { LatencyPoints } from './span-request-encoder.ts';

/**
 * Default latency buckets (seconds): 50 µs to 10 s. The semantic conventions' advice starts at
 * 5 ms, which puts most in-cluster latencies seen on the wire into the first bucket; the finer
 * head here resolves them. SLO thresholds are added as exact boundaries.
 */
export const kDefaultLatencyBoundaries: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1,
  0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** The latency histogram instruments: those the registry's protocols feed, then wirespan.pair.duration. */
export function latencyHistograms(registry: ProtocolRegistry = matcherRegistry): string[] {
  const names: string[] = [];
  for (const descriptor of registry) {
    for (const name of descriptor.spans?.histograms ?? []) if (!names.includes(name)) names.push(name);
  }
  names.push(METRIC_WIRESPAN_PAIR_DURATION);
  return names;
}

/** A latency histogram's name and description. */
export function latencyHistogramDescriptions(
  registry: ProtocolRegistry = matcherRegistry,
): { name: string; description: string }[] {
  return latencyHistograms(registry).map((name) => ({
    name,
    description:
      name === METRIC_WIRESPAN_PAIR_DURATION
        ? 'Duration of request/response pairs seen on the wire (request first byte to response last byte)'
        : `Duration of ${name.split('.')[0]} requests seen on the wire (request first byte to response last byte)`,
  }));
}

/** The production registry's latency histograms (the dashboard test reads them). */
export const kLatencyHistograms: readonly string[] = latencyHistograms();

/** Default boundaries plus the SLO thresholds, sorted, without duplicates. Throws on a bad threshold. */
export function latencyBoundaries(sloBoundaries: readonly number[]): number[] {
  for (const value of sloBoundaries) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new Error(`sloBoundaries: ${JSON.stringify(value)} is not a positive number of seconds`);
    }
  }
  return [...new Set([...kDefaultLatencyBoundaries, ...sloBoundaries])].sort((a, b) => a - b);
}

/** The exporter's own counts, read at collection time. */
export interface ExporterCountsSource {
  exported: number;
  droppedQueueFull: number;
  droppedAfterShutdown: number;
  droppedMappingError: number;
  exportFailed: number;
  sampledOut: number;
  /** Pairs matching an ignore rule (pair-ignore.ts). */
  ignored: number;
  queued: number;
  invalidTraceparents: number;
  traceExportErrors: number;
  metricExportErrors: number;
  /** Pairs seen by emit(), per protocol: used for wirespan.pairs when the pipeline gives none. */
  pairs: Record<string, { matched: number; unanswered: number; unansweredBy: Record<string, number> }>;
}

export interface WirespanMetricsOptions {
  meter: Meter;
  boundaries: readonly number[];
  counts: () => ExporterCountsSource;
  stats: () => PipelineStatsSnapshot | null;
  /** Wall clock in ms since the epoch (Date.now): used for wirespan.lag only. */
  now: () => number;
  /** Called with an error thrown by the stats source (the observation is skipped). */
  onStatsError: (error: unknown) => void;
  /** The protocols whose latency histograms are made (default: registry.ts). */
  registry?: ProtocolRegistry;
  /**
   * The explicit-bucket latency histograms, whose MetricProducer every reader has; null: the
   * SDK's own histogram instruments (exponential aggregation, exponentialLatencyViews()).
   */
  latency: LatencyHistograms | null;
}

export class WirespanMetrics {
  /** Where latency points go: latency-histograms.ts, or the SDK's instruments. */
  readonly #latency: Pick<LatencyHistograms, 'recordPoint' | 'recordPoints'>;

  constructor(options: WirespanMetricsOptions) {
    const meter = options.meter;
    this.#latency = options.latency ?? new SdkLatencyHistograms(meter, options.boundaries, options.registry);

    const pairs = meter.createObservableCounter(METRIC_WIRESPAN_PAIRS, {
      unit: '{pair}',
      description: 'Pairs by protocol and outcome (unanswered ones by reason)',
    });
    const packets = meter.createObservableCounter(METRIC_WIRESPAN_PACKETS, {
      unit: '{packet}',
      description: 'Packets decoded, and skipped by reason',
    });
    const bytesRead = meter.createObservableCounter(METRIC_WIRESPAN_BYTES_READ, {
      unit: 'By',
      description: 'Capture bytes read',
    });
    const files = meter.createObservableCounter(METRIC_WIRESPAN_FILES, {
      unit: '{file}',
      description: 'Capture files done, lost to rotation, or failed',
    });
    const pending = meter.createObservableGauge(METRIC_WIRESPAN_PENDING, {
      unit: '{request}',
      description: 'Requests waiting for their response, per protocol',
    });
    const poolSlots = meter.createObservableGauge(METRIC_WIRESPAN_BUFFER_POOL_SLOTS, {
      unit: '{slot}',
      description: 'Shared buffer pool slots by state (free, used)',
    });
    const queueDepth = meter.createObservableGauge(METRIC_WIRESPAN_QUEUE_DEPTH, {
      unit: '{item}',
      description: 'Items waiting in each pipeline queue',
    });
    const queueCapacity = meter.createObservableGauge(METRIC_WIRESPAN_QUEUE_CAPACITY, {
      unit: '{item}',
      description: 'Capacity of each pipeline queue',
    });
    const lag = meter.createObservableGauge(METRIC_WIRESPAN_LAG, {
      unit: 's',
      description: 'Wall clock minus the capture time of the newest packet processed',
    });
    const spansExported = meter.createObservableCounter(METRIC_WIRESPAN_SPANS_EXPORTED, {
      unit: '{span}',
      description: 'Spans the collector acknowledged',
    });
    const spansDropped = meter.createObservableCounter(METRIC_WIRESPAN_SPANS_DROPPED, {
      unit: '{span}',
      description: 'Spans not delivered, by reason (queue_full, export_failed, shutdown, mapping_error)',
    });
    const spansSampledOut = meter.createObservableCounter(METRIC_WIRESPAN_SPANS_SAMPLED_OUT, {
      unit: '{span}',
      description: 'Spans not exported because head sampling left them out (their latency is still recorded)',
    });
    const pairsIgnored = meter.createObservableCounter(METRIC_WIRESPAN_PAIRS_IGNORED, {
      unit: '{pair}',
      description: 'Pairs that matched an ignore rule: no span, no latency point (JSONL still lists them)',
    });
    const spansQueued = meter.createObservableGauge(METRIC_WIRESPAN_SPANS_QUEUED, {
      unit: '{span}',
      description: 'Spans waiting in the export queue or in flight',
    });
    const invalidTraceparents = meter.createObservableCounter(METRIC_WIRESPAN_TRACEPARENT_INVALID, {
      unit: '{header}',
      description: 'HTTP traceparent headers ignored because they were not valid W3C Trace Context',
    });
    const exportErrors = meter.createObservableCounter(METRIC_WIRESPAN_EXPORT_ERRORS, {
      unit: '{request}',
      description: 'Failed OTLP export requests, by signal',
    });

    const captureLoss = new CaptureLossMetrics(meter);
    meter.addBatchObservableCallback(
      (result) => {
        const counts = options.counts();
        let stats: PipelineStatsSnapshot | null = null;
        try {
          stats = options.stats();
        } catch (error) {
          options.onStatsError(error);
        }
        const extraSpans = stats?.spans;
        result.observe(spansExported, counts.exported + (extraSpans?.exported ?? 0));
        result.observe(spansDropped, counts.droppedQueueFull + (extraSpans?.dropped ?? 0), {
          [ATTR_WIRESPAN_REASON]: 'queue_full',
        });
        result.observe(spansDropped, counts.exportFailed, { [ATTR_WIRESPAN_REASON]: 'export_failed' });
        result.observe(spansDropped, counts.droppedAfterShutdown, { [ATTR_WIRESPAN_REASON]: 'shutdown' });
        result.observe(spansDropped, counts.droppedMappingError, { [ATTR_WIRESPAN_REASON]: 'mapping_error' });
        result.observe(spansSampledOut, counts.sampledOut);
        result.observe(pairsIgnored, counts.ignored);
        result.observe(spansQueued, counts.queued);
        result.observe(invalidTraceparents, counts.invalidTraceparents);
        result.observe(exportErrors, counts.traceExportErrors, { [ATTR_WIRESPAN_SIGNAL]: 'traces' });
        result.observe(exportErrors, counts.metricExportErrors, { [ATTR_WIRESPAN_SIGNAL]: 'metrics' });
        observePairs(result, pairs, stats?.pairs ?? counts.pairs);
        if (stats === null) return;
        result.observe(packets, stats.packetsDecoded, { [ATTR_WIRESPAN_OUTCOME]: 'decoded' });
        for (const [reason, count] of Object.entries(stats.packetsSkipped)) {
          result.observe(packets, count, {
            [ATTR_WIRESPAN_OUTCOME]: 'skipped',
            [ATTR_WIRESPAN_REASON]: reason,
          });
        }
        result.observe(bytesRead, stats.bytesRead);
        captureLoss.observe(result, stats.captureLoss);
        result.observe(files, stats.files.done, { [ATTR_WIRESPAN_OUTCOME]: 'done' });
        result.observe(files, stats.files.lost, { [ATTR_WIRESPAN_OUTCOME]: 'lost' });
        result.observe(files, stats.files.error, { [ATTR_WIRESPAN_OUTCOME]: 'error' });
        for (const [protocol, count] of Object.entries(stats.pending)) {
          result.observe(pending, count, { [ATTR_WIRESPAN_PROTOCOL]: protocol });
        }
        if (stats.bufferPool !== null) {
          result.observe(poolSlots, stats.bufferPool.free, { [ATTR_WIRESPAN_STATE]: 'free' });
          result.observe(poolSlots, stats.bufferPool.used, { [ATTR_WIRESPAN_STATE]: 'used' });
        }
        for (const queue of stats.queues) {
          result.observe(queueDepth, queue.depth, { [ATTR_WIRESPAN_QUEUE]: queue.name });
          result.observe(queueCapacity, queue.capacity, { [ATTR_WIRESPAN_QUEUE]: queue.name });
        }
        if (stats.newestCapture !== null) {
          // The one wall-clock reading in wirespan: how far behind real time the pipeline is.
          const nowMs = options.now();
          const captureMs = stats.newestCapture.seconds * 1000 + stats.newestCapture.nanos / 1e6;
          result.observe(lag, (nowMs - captureMs) / 1000);
        }
      },
      [
        pairs,
        packets,
        bytesRead,
        files,
        pending,
        poolSlots,
        queueDepth,
        queueCapacity,
        lag,
        spansExported,
        spansDropped,
        spansSampledOut,
        pairsIgnored,
        spansQueued,
        invalidTraceparents,
        exportErrors,
        ...captureLoss.instruments,
      ],
    );
  }

  /** Records one matched pair's latency. */
  recordPoint(point: MetricPoint): void {
    this.#latency.recordPoint(point);
  }

  /** Records a worker's latency points (span-request-encoder.ts). */
  recordPoints(points: LatencyPoints): void {
    this.#latency.recordPoints(points);
  }
}

/** The latency histograms as SDK instruments (exponential aggregation: one record() per point). */
class SdkLatencyHistograms {
  readonly #histograms = new Map<string, Histogram>();

  constructor(meter: Meter, boundaries: readonly number[], registry: ProtocolRegistry | undefined) {
    for (const { name, description } of latencyHistogramDescriptions(registry)) {
      this.#histograms.set(
        name,
        meter.createHistogram(name, {
          unit: 's',
          description,
          advice: { explicitBucketBoundaries: [...boundaries] },
        }),
      );
    }
  }

  recordPoint(point: MetricPoint): void {
    this.#histograms.get(point.name)?.record(point.value, point.attributes);
  }

  recordPoints(points: LatencyPoints): void {
    const { sets, set, values } = points;
    const histograms = sets.map((s) => this.#histograms.get(s.name));
    for (let i = 0; i < values.length; i++) {
      const index = set[i]!;
      histograms[index]?.record(values[i]!, sets[index]!.attributes);
    }
  }
}

function observePairs(
  result: BatchObservableResult,
  pairs: ObservableCounter,
  counts: ExporterCountsSource['pairs'],
): void {
  for (const [protocol, c] of Object.entries(counts)) {
    result.observe(pairs, c.matched, {
      [ATTR_WIRESPAN_PROTOCOL]: protocol,
      [ATTR_WIRESPAN_OUTCOME]: 'matched',
    });
    let byReason = 0;
    for (const [reason, count] of Object.entries(c.unansweredBy)) {
      byReason += count;
      const attributes: Attributes = {
        [ATTR_WIRESPAN_PROTOCOL]: protocol,
        [ATTR_WIRESPAN_OUTCOME]: 'unanswered',
        [ATTR_WIRESPAN_REASON]: reason,
      };
      result.observe(pairs, count, attributes);
    }
    if (c.unanswered > byReason) {
      result.observe(pairs, c.unanswered - byReason, {
        [ATTR_WIRESPAN_PROTOCOL]: protocol,
        [ATTR_WIRESPAN_OUTCOME]: 'unanswered',
        [ATTR_WIRESPAN_REASON]: 'unknown',
      });
    }
  }
}
