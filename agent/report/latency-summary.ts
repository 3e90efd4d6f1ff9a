/**
 * The end-of-run latency summary of `wirespan replay`: per protocol and per server, requests,
 * unanswered, error statuses (DNS rcode other than NOERROR, HTTP 5xx) and p50/p90/p99/max of
 * the matched pairs' `duration_ns`.
 *
 * Percentiles come from HDR histograms (hdr-histogram-js, 3 significant digits: a reported
 * percentile is the top of the bucket holding the nearest-rank value, at most ~0.1 % above
 * it, and never above the exact maximum); latencies are never kept and sorted. Only the
 * library's pure-JS histogram classes are loaded (not its index, which pulls in the
 * WebAssembly build and the compressed encoding: half the import time).
 *
 * Memory and speed per recorder, in three steps: the first `kExactValues` latencies are kept
 * as plain numbers (most servers of a scan or of one-off lookups never leave this: a few
 * hundred bytes, cheap to send between threads); then a `PackedHistogram` (memory grows
 * with the buckets in use, ~450 ns a value); beyond `kPackedValues` an `Int32Histogram`
 * (~65 ns a value; tens of KiB, amortised over that many pairs). Every step has the same
 * buckets, so the percentiles do not depend on which step a recorder is in.
 *
 * Worker mode: every worker aggregates its shard's pairs and posts `snapshot()` with its
 * final stats; the main thread `merge()`s them. A server split over several shards (flow
 * sharding is per client/server pair) merges exactly: bucket counts add.
 */
import Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';
import PackedHistogramModule from 'hdr-histogram-js/dist/PackedHistogram.js';
import type { Pair } from '../correlate/pair.ts';
import { Outcome } from '../correlate/pair.ts';
import { formatIp } from '../decode/format.ts';

type Histogram =
  | InstanceType<typeof PackedHistogramModule.default>
  | InstanceType<typeof Int32HistogramModule.default>;
const PackedHistogram = PackedHistogramModule.default;
const Int32Histogram = Int32HistogramModule.default;

/** Latencies a recorder keeps as plain numbers before it switches to a histogram. */
export const kExactValues = 64;
/** Latencies a recorder keeps in a packed histogram before it switches to a flat (faster) one. */
export const kPackedValues = 4096;
/** Significant decimal digits of the histograms (relative resolution 1/1024). */
export const kSignificantDigits = 3;
/** Initial trackable range: 1 ns .. 1 h (auto-resizes beyond). */
const kHighestTrackableNanos = 3_600_000_000_000;
/**
 * Latencies above this (~52 days: a capture clock jump, or two files years apart) go into the
 * top bucket: hdr-histogram-js fails at 2^53 and beyond. maxNanos keeps the real value.
 */
const kLargestRecordedNanos = 2 ** 52;
/** Servers listed per ranking unless `--summary-top` says otherwise. */
export const kDefaultTop = 10;
export const kPercentiles = [50, 90, 99] as const;

/** A latency histogram with wirespan's settings (tests use it to recompute percentiles). */
export function latencyHistogram(packed = true): Histogram {
  const histogram = packed
    ? new PackedHistogram(1, kHighestTrackableNanos, kSignificantDigits)
    : new Int32Histogram(1, kHighestTrackableNanos, kSignificantDigits);
  histogram.autoResize = true;
  return histogram;
}

/** Used only for its bucket arithmetic (highestEquivalentValue), never recorded into. */
const reference = latencyHistogram();

/** Counts and latencies of one protocol or server. */
class LatencyStats {
  requests = 0;
  unanswered = 0;
  errors = 0;
  /** Matched pairs (= latencies recorded). */
  matched = 0;
  maxNanos = 0;
  values: number[] | null = [];
  histogram: Histogram | null = null;
  packed = true;

  record(nanos: number, count: number): void {
    this.matched += count;
    if (nanos > this.maxNanos) this.maxNanos = nanos;
    const values = this.values;
    if (values !== null && values.length + count <= kExactValues) {
      for (let i = 0; i < count; i++) values.push(nanos);
      return;
    }
    let histogram = this.histogram;
    if (histogram === null) {
      histogram = latencyHistogram();
      for (const value of values ?? []) histogram.recordValue(Math.min(value, kLargestRecordedNanos));
      this.histogram = histogram;
      this.values = null;
    } else if (this.packed && this.matched > kPackedValues) {
      const flat = latencyHistogram(false);
      flat.add(histogram);
      histogram.destroy();
      histogram = flat;
      this.histogram = flat;
      this.packed = false;
    }
    histogram.recordValueWithCount(Math.min(nanos, kLargestRecordedNanos), count);
  }

  /** Value at a percentile with HDR semantics (nearest rank, top of its bucket), capped at the maximum; null when nothing matched. */
  percentile(p: number): number | null {
    if (this.matched === 0) return null;
    if (this.histogram !== null) return Math.min(this.histogram.getValueAtPercentile(p), this.maxNanos);
    // At most kExactValues numbers: sorting these is bounded work.
    const sorted = Float64Array.from(this.values ?? []).sort();
    const rank = Math.max(Math.ceil((p / 100) * sorted.length - 1e-9), 1);
    return Math.min(reference.highestEquivalentValue(sorted[rank - 1]!), this.maxNanos);
  }

  snapshot(): LatencyStatsSnapshot {
    const snapshot: LatencyStatsSnapshot = {
      requests: this.requests,
      unanswered: this.unanswered,
      errors: this.errors,
      matched: this.matched,
      maxNanos: this.maxNanos,
      values: this.values === null ? null : [...this.values],
      buckets: null,
    };
    const histogram = this.histogram;
    if (histogram !== null) {
      // Non-empty buckets as (value, count) pairs, up to the maximum's bucket.
      const buckets: number[] = [];
      const last = histogram.countsArrayIndex(histogram.maxValue);
      for (let i = 0; i <= last; i++) {
        const count = histogram.getCountAtIndex(i);
        if (count > 0) buckets.push(histogram.valueFromIndex(i), count);
      }
      snapshot.buckets = buckets;
    }
    return snapshot;
  }

  merge(from: LatencyStatsSnapshot): void {
    this.requests += from.requests;
    this.unanswered += from.unanswered;
    this.errors += from.errors;
    const maxNanos = Math.max(this.maxNanos, from.maxNanos);
    for (const value of from.values ?? []) this.record(value, 1);
    const buckets = from.buckets ?? [];
    for (let i = 0; i < buckets.length; i += 2) this.record(buckets[i]!, buckets[i + 1]!);
    // Bucket values stand for their bucket's lowest value: the exact maximum comes from the snapshot.
    this.maxNanos = maxNanos;
  }
}

/** What a worker posts (structured-clone friendly). */
export interface LatencyStatsSnapshot {
  requests: number;
  unanswered: number;
  errors: number;
  matched: number;
  maxNanos: number;
  /** Exact latencies (small recorders), or null when `buckets` holds them. */
  values: number[] | null;
  /** Flat (bucket value, count) pairs of a histogram recorder. */
  buckets: number[] | null;
}

export interface LatencySummarySnapshot {
  protocols: [protocol: string, stats: LatencyStatsSnapshot][];
  servers: [protocol: string, address: string, port: number, stats: LatencyStatsSnapshot][];
}

/** One row of the summary: a protocol or a server. */
export interface LatencyRow {
  protocol: string;
  /** Server rows only. */
  server?: { address: string; port: number };
  requests: number;
  matched: number;
  unanswered: number;
  errors: number;
  /** Nanoseconds; null when nothing matched. */
  p50_ns: number | null;
  p90_ns: number | null;
  p99_ns: number | null;
  max_ns: number | null;
}

export interface LatencyReport {
  unit: 'ns';
  top: number;
  servers_total: number;
  protocols: LatencyRow[];
  servers_by_requests: LatencyRow[];
  servers_by_p99: LatencyRow[];
}

interface ServerEntry {
  protocol: string;
  address: string;
  port: number;
  stats: LatencyStats;
}

/** True for pairs whose response reports a failure: DNS rcode other than NOERROR, HTTP 5xx. */
export function isErrorPair(pair: Pair): boolean {
  const detail = pair.detail;
  if (detail === null || pair.outcome !== Outcome.Matched) return false;
  if (pair.protocol === 'dns') return typeof detail.rcode === 'string' && detail.rcode !== 'NOERROR';
  if (pair.protocol === 'http') return typeof detail.status === 'number' && detail.status >= 500;
  return false;
}

export class LatencySummary {
  readonly #protocols = new Map<string, LatencyStats>();
  readonly #servers = new Map<string, ServerEntry>();
  /** Per protocol: IPv4 servers by address × 65536 + port, so a pair needs no address text. */
  readonly #ipv4 = new Map<string, Map<number, LatencyStats>>();

  /** Counts one pair (matched or unanswered). */
  add(pair: Pair): void {
    const protocolStats = this.#protocol(pair.protocol);
    const serverStats = this.#serverOf(pair);
    protocolStats.requests++;
    serverStats.requests++;
    if (isErrorPair(pair)) {
      protocolStats.errors++;
      serverStats.errors++;
    }
    const response = pair.response;
    if (pair.outcome !== Outcome.Matched || response === null) {
      protocolStats.unanswered++;
      serverStats.unanswered++;
      return;
    }
    const request = pair.request;
    // Capture clocks can step backwards; a negative duration counts as 0.
    const nanos = Math.max(
      0,
      (response.lastSeconds - request.firstSeconds) * 1_000_000_000 +
        (response.lastNanos - request.firstNanos),
    );
    protocolStats.record(nanos, 1);
    serverStats.record(nanos, 1);
  }

  snapshot(): LatencySummarySnapshot {
    return {
      protocols: [...this.#protocols].map(([protocol, stats]) => [protocol, stats.snapshot()]),
      servers: [...this.#servers.values()].map((s) => [s.protocol, s.address, s.port, s.stats.snapshot()]),
    };
  }

  merge(snapshot: LatencySummarySnapshot): void {
    for (const [protocol, stats] of snapshot.protocols) this.#protocol(protocol).merge(stats);
    for (const [protocol, address, port, stats] of snapshot.servers)
      this.#server(protocol, address, port).merge(stats);
  }

  /** The summary: every protocol, and the top `top` servers by requests and by p99. */
  report(top: number = kDefaultTop): LatencyReport {
    const protocols = [...this.#protocols]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([protocol, stats]) => row(protocol, null, stats));
    const servers = [...this.#servers.values()].map((s) => row(s.protocol, s, s.stats));
    const byName = (a: LatencyRow, b: LatencyRow): number => {
      const ka = `${a.protocol} ${a.server?.address} ${a.server?.port}`;
      const kb = `${b.protocol} ${b.server?.address} ${b.server?.port}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    };
    const byRequests = [...servers].sort((a, b) => b.requests - a.requests || byName(a, b)).slice(0, top);
    const byP99 = servers
      .filter((r) => r.p99_ns !== null)
      .sort((a, b) => (b.p99_ns ?? 0) - (a.p99_ns ?? 0) || b.requests - a.requests || byName(a, b))
      .slice(0, top);
    return {
      unit: 'ns',
      top,
      servers_total: servers.length,
      protocols,
      servers_by_requests: byRequests,
      servers_by_p99: byP99,
    };
  }

  #protocol(protocol: string): LatencyStats {
    let stats = this.#protocols.get(protocol);
    if (stats === undefined) {
      stats = new LatencyStats();
      this.#protocols.set(protocol, stats);
    }
    return stats;
  }

  #serverOf(pair: Pair): LatencyStats {
    const address = (): string =>
      formatIp(pair.ipVersion, pair.server0, pair.server1, pair.server2, pair.server3);
    if (pair.ipVersion !== 4) return this.#server(pair.protocol, address(), pair.serverPort);
    let byKey = this.#ipv4.get(pair.protocol);
    if (byKey === undefined) {
      byKey = new Map();
      this.#ipv4.set(pair.protocol, byKey);
    }
    const key = (pair.server0 >>> 0) * 65536 + pair.serverPort;
    let stats = byKey.get(key);
    if (stats === undefined) {
      stats = this.#server(pair.protocol, address(), pair.serverPort);
      byKey.set(key, stats);
    }
    return stats;
  }

  #server(protocol: string, address: string, port: number): LatencyStats {
    const key = `${protocol} ${address} ${port}`;
    let entry = this.#servers.get(key);
    if (entry === undefined) {
      entry = { protocol, address, port, stats: new LatencyStats() };
      this.#servers.set(key, entry);
    }
    return entry.stats;
  }
}

function row(
  protocol: string,
  server: { address: string; port: number } | null,
  stats: LatencyStats,
): LatencyRow {
  return {
    protocol,
    ...(server ? { server: { address: server.address, port: server.port } } : {}),
    requests: stats.requests,
    matched: stats.matched,
    unanswered: stats.unanswered,
    errors: stats.errors,
    p50_ns: stats.percentile(50),
    p90_ns: stats.percentile(90),
    p99_ns: stats.percentile(99),
    max_ns: stats.matched > 0 ? stats.maxNanos : null,
  };
}

/** `addr:port`, IPv6 in brackets. */
export function serverName(server: { address: string; port: number }): string {
  return server.address.includes(':')
    ? `[${server.address}]:${server.port}`
    : `${server.address}:${server.port}`;
}

function millis(nanos: number | null): string {
  return nanos === null ? '-' : (nanos / 1e6).toFixed(3);
}

const number = new Intl.NumberFormat('en-US');

/** The human table printed after the summary lines. */
export function formatLatencyReport(report: LatencyReport): string {
  if (report.protocols.length === 0) return '';
  const header = ['', 'requests', 'unanswered', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'];
  const cells = (name: string, r: LatencyRow): string[] => [
    name,
    number.format(r.requests),
    number.format(r.unanswered),
    number.format(r.errors),
    millis(r.p50_ns),
    millis(r.p90_ns),
    millis(r.p99_ns),
    millis(r.max_ns),
  ];
  const sections: [string, string[][]][] = [
    ['latency by protocol', report.protocols.map((r) => cells(r.protocol, r))],
    [
      `top ${report.top} servers by requests (of ${number.format(report.servers_total)})`,
      report.servers_by_requests.map((r) => cells(`${r.protocol} ${serverName(r.server!)}`, r)),
    ],
    [
      `top ${report.top} servers by p99`,
      report.servers_by_p99.map((r) => cells(`${r.protocol} ${serverName(r.server!)}`, r)),
    ],
  ];
  const widths = header.map((h) => h.length);
  for (const [title, rows] of sections) {
    widths[0] = Math.max(widths[0]!, title.length);
    for (const cellRow of rows)
      for (const [i, c] of cellRow.entries()) widths[i] = Math.max(widths[i]!, c.length);
  }
  const line = (cellRow: string[]): string =>
    `  ${cellRow.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd();
  const lines: string[] = [];
  for (const [i, [title, rows]] of sections.entries()) {
    if (rows.length === 0) continue;
    lines.push(line([title, ...(i === 0 ? header.slice(1) : header.slice(1).map(() => ''))]));
    for (const cellRow of rows) lines.push(line(cellRow));
  }
  return `${lines.join('\n')}\n`;
}
