/**
 * The end-of-run latency summary of `wirespan replay`: per protocol and per server, requests,
 * unanswered, error statuses (DNS rcode other than NOERROR, HTTP 5xx) and p50/p90/p99/max of
 * the matched pairs' `duration_ns`.
 *
 * Percentiles use HDR histogram buckets (the bucket layout and percentile rule of
 * hdr-histogram-js 3.x at 3 significant digits, reimplemented here on typed arrays: a reported
 * percentile is the top of the bucket holding the nearest-rank value, at most ~0.1 % above
 * it, and never above the exact maximum); test/report/latency-summary.test.ts checks every
 * number against the library itself.
 *
 * Memory and speed per recorder, in three steps: the first `kExactValues` latencies are kept
 * as plain numbers (most servers of a scan or of one-off lookups never leave this: a few
 * hundred bytes, cheap to send between threads); then up to `kPackedValues` latencies in a
 * Float64Array (at most 32 KiB; percentiles by sorting a copy at report time); beyond that
 * flat bucket counts (a Uint32Array up to the highest bucket in use: ~70 KiB for latencies
 * up to 100 ms; doubles once a bucket passes 2^32 - 1), a few ns a value, fed kPackedValues
 * values at a time from the Float64Array of step 2, which step 3 keeps (~100 KiB per recorder
 * in all, for the busy servers only). Every step answers with the same buckets,
 * so the percentiles do not depend on which step a recorder is in. (hdr-histogram-js itself
 * cost ~0.5 s of CPU per million pairs: ~450 ns a value in its packed histogram.)
 *
 * Worker mode: every worker aggregates its shard's pairs and posts `snapshot()` with its
 * final stats; the main thread `merge()`s them. A server split over several shards (flow
 * sharding is per client/server pair) merges exactly: bucket counts add.
 */

import { key5, key11Out } from '../correlate/key-hash.ts';
import { NumericMap } from '../correlate/numeric-map.ts';
import type { Pair } from '../correlate/pair.ts';
import { Outcome } from '../correlate/pair.ts';
import { descriptorOf, labelOf, type ProtocolRegistry } from '../correlate/protocol.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import { formatIp } from '../decode/format.ts';
import { formatNumber } from '../shared/number-format.ts';

/** Latencies a recorder keeps as plain numbers before it switches to a histogram. */
export const kExactValues = 64;
/** Latencies a recorder keeps (as a Float64Array) before it switches to flat bucket counts. */
export const kPackedValues = 4096;
/** Significant decimal digits of the histograms (relative resolution 1/1024). */
export const kSignificantDigits = 3;
/** Initial trackable range of the reference histogram (tests): 1 ns .. 1 h (auto-resizes beyond). */
export const kHighestTrackableNanos = 3_600_000_000_000;
/**
 * Latencies above this (~52 days: a capture clock jump, or two files years apart) go into the
 * top bucket (hdr-histogram-js fails at 2^53 and beyond; kept for identical numbers).
 * maxNanos keeps the real value.
 */
export const kLargestRecordedNanos = 2 ** 52;
/** Servers listed per ranking unless `--summary-top` says otherwise. */
export const kDefaultTop = 10;
export const kPercentiles = [50, 90, 99] as const;

// HDR layout for lowest discernible value 1 and 3 significant digits: unit magnitude 0,
// 2048 sub-buckets per bucket, the upper 1024 of them used from bucket 1 on.
const kSubBucketHalfCountMagnitude = 10;
const kSubBucketHalfCount = 1 << kSubBucketHalfCountMagnitude;
const kSubBucketCount = 2 * kSubBucketHalfCount;

/** hdr-histogram-js's getBucketIndex (floating log2, as the library computes it). */
function bucketIndexOf(value: number): number {
  return Math.max(Math.floor(Math.log2(value)) - kSubBucketHalfCountMagnitude, 0);
}

/** hdr-histogram-js's countsArrayIndex, for a value in [0, 2^53). */
export function bucketSlot(value: number): number {
  if (value < 0x1_0000_0000) {
    // The same slot as the library's formula (an integer log2 that is one too high would give
    // it too: the sub-bucket index halves and the slot stays). A shift, not a division by a
    // power: `2 ** bucket` is a call to pow in optimised code.
    const bucket = Math.max(31 - Math.clz32(value) - kSubBucketHalfCountMagnitude, 0);
    return ((bucket + 1) << kSubBucketHalfCountMagnitude) + (value >>> bucket) - kSubBucketHalfCount;
  }
  const bucket = bucketIndexOf(value);
  const subBucket = Math.floor(value / 2 ** bucket);
  return (bucket + 1) * kSubBucketHalfCount + subBucket - kSubBucketHalfCount;
}

/** hdr-histogram-js's valueFromIndex: the lowest value of a slot. */
export function slotValue(slot: number): number {
  let bucket = Math.floor(slot / kSubBucketHalfCount) - 1;
  let subBucket = (slot % kSubBucketHalfCount) + kSubBucketHalfCount;
  if (bucket < 0) {
    subBucket -= kSubBucketHalfCount;
    bucket = 0;
  }
  return subBucket * 2 ** bucket;
}

/** hdr-histogram-js's highestEquivalentValue: the top of the value's bucket. */
export function highestEquivalentValue(value: number): number {
  const bucket = bucketIndexOf(value);
  const subBucket = Math.floor(value / 2 ** bucket);
  const lowest = subBucket * 2 ** bucket;
  const size = 2 ** (subBucket >= kSubBucketCount ? bucket + 1 : bucket);
  return lowest + size - 1;
}

/** hdr-histogram-js's getValueAtPercentile rank: the count to reach (1-based). */
function rankAtPercentile(p: number, total: number): number {
  const fp = (Math.min(p, 100) / 100) * total;
  const ulp = 2 ** (Math.floor(Math.log2(fp)) - 52);
  return Math.max(Math.ceil(fp - ulp), 1);
}

/** Counts and latencies of one protocol or server. */
class LatencyStats {
  requests = 0;
  unanswered = 0;
  errors = 0;
  /** Matched pairs (= latencies recorded). */
  matched = 0;
  maxNanos = 0;
  /** Step 1: exact latencies (unclamped). */
  values: number[] | null = [];
  /**
   * Step 2: latencies clamped to kLargestRecordedNanos, `packedCount` of them. In step 3 it
   * gathers the newest ones and counts them when full (or read): a run of writes in a row, then
   * one pass over the counts, where counting each pair at once was a cache miss per pair in the
   * counts of every server (~1 % of a one-thread replay, perf samples).
   */
  packed: Float64Array | null = null;
  packedCount = 0;
  /** Step 3: counts per HDR slot (Uint32Array: half the cache footprint of doubles)... */
  counts: Uint32Array | null = null;
  /** ...until a slot would pass 2^32 - 1: then doubles. */
  wideCounts: Float64Array | null = null;

  record(nanos: number, count: number): void {
    this.matched += count;
    if (nanos > this.maxNanos) this.maxNanos = nanos;
    const values = this.values;
    if (values !== null) {
      if (values.length + count <= kExactValues) {
        for (let i = 0; i < count; i++) values.push(nanos);
        return;
      }
      this.values = null;
      this.packed = new Float64Array(2 * kExactValues);
      for (const value of values) this.#recordClamped(Math.min(value, kLargestRecordedNanos), 1);
    }
    this.#recordClamped(Math.min(nanos, kLargestRecordedNanos), count);
  }

  #recordClamped(value: number, count: number): void {
    let packed = this.packed!;
    const n = this.packedCount;
    if (n + count <= kPackedValues) {
      if (n + count > packed.length) {
        const grown = new Float64Array(Math.min(kPackedValues, Math.max(2 * packed.length, n + count)));
        grown.set(packed.subarray(0, n));
        this.packed = packed = grown;
      }
      for (let i = 0; i < count; i++) packed[n + i] = value;
      this.packedCount = n + count;
      return;
    }
    this.#settle();
    this.#count(value, count);
  }

  /** Moves the packed values into the flat counts (made at the first time). */
  #settle(): void {
    const packed = this.packed!;
    const n = this.packedCount;
    this.packedCount = 0;
    for (let i = 0; i < n; i++) this.#count(packed[i]!, 1);
  }

  /** The flat counts with every value recorded so far in them; null before the step to counts. */
  #settledCounts(): Uint32Array | Float64Array | null {
    if (this.counts === null && this.wideCounts === null) return null;
    this.#settle();
    return this.wideCounts ?? this.counts;
  }

  #count(value: number, count: number): void {
    const slot = bucketSlot(value);
    if (this.wideCounts !== null) {
      this.#countWide(slot, count);
      return;
    }
    let counts = this.counts;
    if (counts === null || slot >= counts.length) {
      let length = counts === null ? 4 * kSubBucketHalfCount : counts.length;
      while (length <= slot) length *= 2;
      const grown = new Uint32Array(length);
      if (counts !== null) grown.set(counts);
      this.counts = counts = grown;
    }
    const next = counts[slot]! + count;
    if (next > 0xffffffff) {
      this.wideCounts = Float64Array.from(counts);
      this.counts = null;
      this.#countWide(slot, count);
      return;
    }
    counts[slot] = next;
  }

  #countWide(slot: number, count: number): void {
    let counts = this.wideCounts!;
    if (slot >= counts.length) {
      let length = counts.length;
      while (length <= slot) length *= 2;
      const grown = new Float64Array(length);
      grown.set(counts);
      this.wideCounts = counts = grown;
    }
    counts[slot]! += count;
  }

  /**
   * Values at ascending percentiles `ps` with HDR semantics (nearest rank, top of its bucket),
   * capped at the maximum; nulls when nothing matched. One walk or sort serves every percentile.
   */
  percentiles(ps: readonly number[]): (number | null)[] {
    if (this.matched === 0) return ps.map(() => null);
    const counts = this.#settledCounts();
    if (counts !== null) {
      const values: number[] = [];
      let total = 0;
      let slot = 0;
      for (const p of ps) {
        const rank = rankAtPercentile(p, this.matched);
        while (slot < counts.length && total + counts[slot]! < rank) total += counts[slot++]!;
        values.push(
          slot < counts.length ? Math.min(highestEquivalentValue(slotValue(slot)), this.maxNanos) : 0,
        );
      }
      return values;
    }
    if (this.packed !== null) {
      const sorted = this.packed.slice(0, this.packedCount).sort();
      return ps.map((p) => {
        const value = sorted[rankAtPercentile(p, sorted.length) - 1]!;
        return Math.min(highestEquivalentValue(slotValue(bucketSlot(value))), this.maxNanos);
      });
    }
    // At most kExactValues numbers: sorting these is bounded work.
    const sorted = Float64Array.from(this.values ?? []).sort();
    return ps.map((p) => {
      const rank = Math.max(Math.ceil((p / 100) * sorted.length - 1e-9), 1);
      return Math.min(highestEquivalentValue(sorted[rank - 1]!), this.maxNanos);
    });
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
    if (this.values === null) {
      // Non-empty buckets as (lowest value, count) pairs.
      const buckets: number[] = [];
      const counts = this.#settledCounts();
      if (counts !== null) {
        for (let slot = 0; slot < counts.length; slot++) {
          const count = counts[slot]!;
          if (count > 0) buckets.push(slotValue(slot), count);
        }
      } else if (this.packed !== null) {
        const sorted = this.packed.slice(0, this.packedCount).sort();
        for (let i = 0; i < sorted.length; ) {
          const slot = bucketSlot(sorted[i]!);
          let j = i + 1;
          while (j < sorted.length && bucketSlot(sorted[j]!) === slot) j++;
          buckets.push(slotValue(slot), j - i);
          i = j;
        }
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

/** The servers' stats (each protocol's row is their merge). */
export interface LatencySummarySnapshot {
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

/** True for matched pairs whose response reports a failure (the protocol's isError: DNS rcode other than NOERROR, HTTP 5xx). */
export function isErrorPair(pair: Pair, registry: ProtocolRegistry = matcherRegistry): boolean {
  const detail = pair.detail;
  if (detail === null || pair.outcome !== Outcome.Matched) return false;
  return descriptorOf(registry, pair)?.report?.isError(detail) ?? false;
}

/** A protocol and a server's address and port as numbers, with their stats. */
class Series {
  readonly protocol: string;
  readonly ipVersion: number;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly port: number;
  readonly stats: LatencyStats;

  constructor(pair: Pair, stats: LatencyStats) {
    this.protocol = pair.protocol;
    this.ipVersion = pair.ipVersion;
    this.w0 = pair.server0;
    this.w1 = pair.server1;
    this.w2 = pair.server2;
    this.w3 = pair.server3;
    this.port = pair.serverPort;
    this.stats = stats;
  }

  isOf(pair: Pair): boolean {
    return (
      this.w0 === pair.server0 &&
      this.port === pair.serverPort &&
      this.w3 === pair.server3 &&
      this.w1 === pair.server1 &&
      this.w2 === pair.server2 &&
      this.ipVersion === pair.ipVersion &&
      this.protocol === pair.protocol
    );
  }
}

export class LatencySummary {
  readonly #registry: ProtocolRegistry;
  /**
   * Each pair counts in its server's stats only: a protocol's row is the merge of its servers'
   * at report time (bucket counts add exactly, as for worker snapshots), half the per-pair work.
   */
  readonly #servers = new Map<string, ServerEntry>();
  /** By a numeric key of protocol, address and port: one lookup a pair, and no address text. */
  readonly #series = new NumericMap<Series>();

  constructor(registry: ProtocolRegistry = matcherRegistry) {
    this.#registry = registry;
  }

  /** Counts one pair (matched or unanswered). */
  add(pair: Pair): void {
    const stats = this.#serverOf(pair);
    stats.requests++;
    if (isErrorPair(pair, this.#registry)) stats.errors++;
    const response = pair.response;
    if (pair.outcome !== Outcome.Matched || response === null) {
      stats.unanswered++;
      return;
    }
    const request = pair.request;
    // Capture clocks can step backwards; a negative duration counts as 0.
    const nanos = Math.max(
      0,
      (response.lastSeconds - request.firstSeconds) * 1_000_000_000 +
        (response.lastNanos - request.firstNanos),
    );
    stats.record(nanos, 1);
  }

  snapshot(): LatencySummarySnapshot {
    return {
      servers: [...this.#servers.values()].map((s) => [s.protocol, s.address, s.port, s.stats.snapshot()]),
    };
  }

  merge(snapshot: LatencySummarySnapshot): void {
    for (const [protocol, address, port, stats] of snapshot.servers)
      this.#server(protocol, address, port).merge(stats);
  }

  /** The summary: every protocol, and the top `top` servers by requests and by p99. */
  report(top: number = kDefaultTop): LatencyReport {
    const protocols = [...this.#protocolStats()]
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

  /** Each protocol's stats: the merge of its servers'. */
  #protocolStats(): Map<string, LatencyStats> {
    const byProtocol = new Map<string, LatencyStats>();
    for (const { protocol, stats } of this.#servers.values()) {
      let protocolStats = byProtocol.get(protocol);
      if (protocolStats === undefined) {
        protocolStats = new LatencyStats();
        byProtocol.set(protocol, protocolStats);
      }
      protocolStats.merge(stats.snapshot());
    }
    return byProtocol;
  }

  #serverOf(pair: Pair): LatencyStats {
    // Port, protocol and IP version share a word: five words mixed in locals (key5), not six
    // through the module-level builder. A key that two series share is resolved below.
    key5(
      (pair.serverPort << 16) | ((pair.protocolId & 0xff) << 8) | pair.ipVersion,
      pair.server0,
      pair.server1,
      pair.server2,
      pair.server3,
    );
    const key = key11Out[0]!;
    const known = this.#series.get(key);
    if (known?.isOf(pair)) return known.stats;
    const address = formatIp(pair.ipVersion, pair.server0, pair.server1, pair.server2, pair.server3);
    const stats = this.#server(pair.protocol, address, pair.serverPort);
    // A key collision (another series under this key) keeps the first one: the other takes this path.
    if (known === undefined) this.#series.set(key, new Series(pair, stats));
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
  const [p50_ns = null, p90_ns = null, p99_ns = null] = stats.percentiles(kPercentiles);
  return {
    protocol,
    ...(server ? { server: { address: server.address, port: server.port } } : {}),
    requests: stats.requests,
    matched: stats.matched,
    unanswered: stats.unanswered,
    errors: stats.errors,
    p50_ns,
    p90_ns,
    p99_ns,
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

/** The human table printed after the summary lines (protocols by their labels). */
export function formatLatencyReport(
  report: LatencyReport,
  registry: ProtocolRegistry = matcherRegistry,
): string {
  if (report.protocols.length === 0) return '';
  const header = ['', 'requests', 'unanswered', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'];
  const cells = (name: string, r: LatencyRow): string[] => [
    name,
    formatNumber(r.requests),
    formatNumber(r.unanswered),
    formatNumber(r.errors),
    millis(r.p50_ns),
    millis(r.p90_ns),
    millis(r.p99_ns),
    millis(r.max_ns),
  ];
  const sections: [string, string[][]][] = [
    ['latency by protocol', report.protocols.map((r) => cells(labelOf(registry, r.protocol), r))],
    [
      `top ${report.top} servers by requests (of ${formatNumber(report.servers_total)})`,
      report.servers_by_requests.map((r) =>
        cells(`${labelOf(registry, r.protocol)} ${serverName(r.server!)}`, r),
      ),
    ],
    [
      `top ${report.top} servers by p99`,
      report.servers_by_p99.map((r) => cells(`${labelOf(registry, r.protocol)} ${serverName(r.server!)}`, r)),
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
