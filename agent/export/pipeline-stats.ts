/**
 * What the pipeline tells the exporters about its own health, as one plain object read at
 * metric-collection time (every export interval, not per packet). The pipeline fills it from
 * counters it keeps anyway (the reader, the decoder workers' skip counters, the correlator's
 * pair counts and pending tables, the buffer pool and ring headers); the OTel exporter turns it
 * into observable instruments (agent/export/otel/metrics.ts, names in docs/output.md "Metrics").
 *
 * Plain data only (numbers, strings, records, arrays): it may be built from values that worker
 * threads posted, and it must not hold class instances. Every count is cumulative since the
 * process started (monotonic), except the fields documented as gauges.
 */

/** Pairs passed on by the correlator for one protocol (same shape as the correlator's PairCounts). */
export interface PipelinePairCounts {
  matched: number;
  unanswered: number;
  /** Unanswered pairs by reason: expired, evicted, end_of_input, connection_closed. */
  unansweredBy: Record<string, number>;
}

/** One bounded queue between two stages (a worker ring, the pair queue...). Gauges. */
export interface PipelineQueueStats {
  /** Low-cardinality queue name, e.g. "decode.0", "pairs". */
  name: string;
  /** Items in the queue now. */
  depth: number;
  /** Items the queue can hold. */
  capacity: number;
}

export interface PipelineStatsSnapshot {
  /** Packets handed on decoded (cumulative). */
  packetsDecoded: number;
  /** Packets skipped, by reason, e.g. {"ipv4.fragment": 3} (cumulative; the SkipCounters names). */
  packetsSkipped: Record<string, number>;
  /** Capture bytes read from files (cumulative). */
  bytesRead: number;
  /** Capture files finished, lost (overwritten by the rotation before they were read) or failed (cumulative). */
  files: { done: number; lost: number; error: number };
  /** Requests waiting for their response now, per protocol (gauge). */
  pending: Record<string, number>;
  /** Pairs by protocol and outcome (cumulative): the correlator's counts. */
  pairs: Record<string, PipelinePairCounts>;
  /** Shared buffer pool slots now (gauge); null when the pipeline has no pool (single-threaded replay). */
  bufferPool: { free: number; used: number } | null;
  /** Bounded queues now (gauges). */
  queues: PipelineQueueStats[];
  /**
   * Capture time of the newest packet processed, exact (seconds + nanoseconds since the epoch);
   * null before the first packet. The exporter reports `wirespan.lag` = wall clock − this, at
   * collection time: the only place wirespan reads the wall clock (everything else is capture time).
   */
  newestCapture: { seconds: number; nanos: number } | null;
  /**
   * Spans exported or dropped by span exporters other than the one reading this snapshot (e.g.
   * per-worker exporters). Added to that exporter's own counts; leave it out (or zero) when the
   * exporter reading the snapshot is the only one, so nothing is counted twice.
   */
  spans?: { exported: number; dropped: number };
}

/** A snapshot with nothing in it (all zeros), e.g. for a pipeline that has not started. */
export function emptyPipelineStats(): PipelineStatsSnapshot {
  return {
    packetsDecoded: 0,
    packetsSkipped: {},
    bytesRead: 0,
    files: { done: 0, lost: 0, error: 0 },
    pending: {},
    pairs: {},
    bufferPool: null,
    queues: [],
    newestCapture: null,
  };
}
