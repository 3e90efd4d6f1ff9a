/**
 * Capture-loss instruments (correlate/capture-loss/observer.ts), observed at collection time from
 * the pipeline snapshot's cumulative counts: TCP bytes and segments the capture saw and missed,
 * and the share missed since the previous collection. Alert on the counters' rates
 * (config/prometheus-rules.yaml WirespanCaptureLossHigh); the gauge is for dashboards and logs.
 */
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { PipelineStatsSnapshot } from '../pipeline-stats.ts';
import { ATTR_WIRESPAN_OUTCOME } from './attributes.ts';

export const METRIC_WIRESPAN_CAPTURE_TCP_BYTES = 'wirespan.capture.tcp.bytes';
export const METRIC_WIRESPAN_CAPTURE_TCP_SEGMENTS = 'wirespan.capture.tcp.segments';
export const METRIC_WIRESPAN_CAPTURE_LOSS_RATIO = 'wirespan.capture.loss.ratio';

type CaptureLoss = NonNullable<PipelineStatsSnapshot['captureLoss']>;

export class CaptureLossMetrics {
  readonly instruments: Observable[];
  readonly #bytes;
  readonly #segments;
  readonly #ratio;
  /** The counts at the previous collection (the ratio is of the bytes since). */
  #previousMissing = 0;
  #previousObserved = 0;

  constructor(meter: Meter) {
    this.#bytes = meter.createObservableCounter(METRIC_WIRESPAN_CAPTURE_TCP_BYTES, {
      unit: 'By',
      description:
        'TCP payload bytes the capture saw (wirespan.outcome=seen) and missed although the connection shows they were sent (missing)',
    });
    this.#segments = meter.createObservableCounter(METRIC_WIRESPAN_CAPTURE_TCP_SEGMENTS, {
      unit: '{segment}',
      description: 'TCP segments with payload the capture saw (seen) and missed (missing, estimated)',
    });
    this.#ratio = meter.createObservableGauge(METRIC_WIRESPAN_CAPTURE_LOSS_RATIO, {
      unit: '1',
      description: 'Share of TCP bytes the capture missed since the previous collection (0 without traffic)',
    });
    this.instruments = [this.#bytes, this.#segments, this.#ratio];
  }

  observe(result: BatchObservableResult, loss: CaptureLoss | undefined): void {
    if (loss === undefined) return;
    result.observe(this.#bytes, loss.observedBytes, { [ATTR_WIRESPAN_OUTCOME]: 'seen' });
    result.observe(this.#bytes, loss.missingBytes, { [ATTR_WIRESPAN_OUTCOME]: 'missing' });
    result.observe(this.#segments, loss.observedSegments, { [ATTR_WIRESPAN_OUTCOME]: 'seen' });
    result.observe(this.#segments, loss.missingSegments, { [ATTR_WIRESPAN_OUTCOME]: 'missing' });
    const missing = loss.missingBytes - this.#previousMissing;
    const observed = loss.observedBytes - this.#previousObserved;
    this.#previousMissing = loss.missingBytes;
    this.#previousObserved = loss.observedBytes;
    result.observe(this.#ratio, missing + observed > 0 ? missing / (missing + observed) : 0);
  }
}
