/**
 * What `wirespan report` shows, gathered from the pairs as the correlator emits them: a
 * columnar store of every matched pair (start, duration, server, protocol, error flag: 22 bytes
 * per pair, so 5M pairs are ~110 MB), the unanswered requests' start times, per-server counts,
 * and the N slowest pairs in full (their JSONL objects). `build()` turns it into the bounded
 * `ReportData` the HTML embeds: the scatter is thinned to one point per (time, log-latency)
 * cell, percentiles and CDFs are exact (sorted durations per server).
 */

import type { CaptureStatistics } from '../capture/pcapng.ts';
import type { CaptureLossCountsData } from '../correlate/capture-loss/observer.ts';
import type { Pair, PairSink } from '../correlate/pair.ts';
import { diffNanos, Outcome, UnansweredReasonNames } from '../correlate/pair.ts';
import { descriptorOf, type ProtocolRegistry, protocolIdOf } from '../correlate/protocol.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import { formatIp } from '../decode/format.ts';
import { pairToObject } from '../output/pair-json.ts';
import { formatTimestamp } from '../output/time.ts';
import { grown } from '../shared/typed-arrays.ts';
import { CaptureGapTimes, type CaptureLossReport } from './capture-loss-chart.ts';
import { isErrorPair } from './latency-summary.ts';

export interface ReportLimits {
  /** Servers (by matched pairs) that get a CDF and a percentile row. */
  topServers: number;
  /** Rows of the slowest-pairs table. */
  slowest: number;
  /** Scatter thinning grid: columns over the capture's time range, rows over log latency. */
  gridColumns: number;
  gridRows: number;
  /** Bins of the unanswered-over-time chart. */
  unansweredBins: number;
}

export const kDefaultReportLimits: ReportLimits = {
  topServers: 8,
  slowest: 50,
  gridColumns: 800,
  gridRows: 160,
  unansweredBins: 100,
};

export interface FileSummary {
  file: string;
  format: string | null;
  packets: number;
  bytes: number;
  error: string | null;
  /** pcapng files: the capture's own counts (Interface Statistics Blocks). */
  captureStatistics?: CaptureStatistics | null;
}

export interface ProtocolSummary {
  protocol: string;
  matched: number;
  unanswered: number;
  /** DNS rcode other than NOERROR, HTTP 5xx. */
  errors: number;
  unansweredBy: Record<string, number>;
  p50Ns: number | null;
  p90Ns: number | null;
  p99Ns: number | null;
  maxNs: number | null;
}

export interface ServerSummary extends ProtocolSummary {
  server: string;
  /** [duration ns, cumulative fraction] points, ascending. */
  cdf: [number, number][];
}

export interface ScatterSeries {
  protocol: string;
  /** Matched pairs of this protocol (all of them, before thinning). */
  pairs: number;
  /** Thinned points: start (seconds from `timeBase`), duration ns, 1 = error. */
  t: number[];
  d: number[];
  e: number[];
}

export interface SlowPair {
  rank: number;
  protocol: string;
  client: string;
  server: string;
  what: string;
  start: string;
  durationNs: number;
  request: { file: string | null; packet: number };
  response: { file: string | null; packet: number } | null;
  /** The pair's JSONL object (the `replay --output jsonl` line). */
  json: Record<string, unknown>;
}

export interface ReportData {
  title: string;
  files: FileSummary[];
  packets: number;
  decoded: number;
  bytes: number;
  /** First and last decoded packet (RFC 3339), null without packets. */
  firstPacket: string | null;
  lastPacket: string | null;
  /** Whole seconds (epoch) that relative times count from. */
  timeBase: number;
  /** Time range of the charts, seconds from timeBase. */
  t0: number;
  t1: number;
  protocols: ProtocolSummary[];
  servers: ServerSummary[];
  scatter: { grid: [number, number]; series: ScatterSeries[] };
  unanswered: { t0: number; binSeconds: number; series: { protocol: string; counts: number[] }[] };
  /** The capture's loss estimate and the pairs that crossed a gap, over time (capture-loss-chart.ts). */
  captureLoss: CaptureLossReport;
  slowest: SlowPair[];
}

class Growable {
  t = new Float64Array(1024);
  d = new Float64Array(1024);
  server = new Uint32Array(1024);
  proto = new Uint8Array(1024);
  err = new Uint8Array(1024);
  length = 0;

  push(t: number, d: number, server: number, proto: number, err: number): void {
    if (this.length === this.t.length) {
      const grow = <T extends Float64Array | Uint32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.t = grow(this.t);
      this.d = grow(this.d);
      this.server = grow(this.server);
      this.proto = grow(this.proto);
      this.err = grow(this.err);
    }
    const i = this.length++;
    this.t[i] = t;
    this.d[i] = d;
    this.server[i] = server;
    this.proto[i] = proto;
    this.err[i] = err;
  }
}

interface Counts {
  matched: number;
  unanswered: number;
  errors: number;
  unansweredBy: Record<string, number>;
}

interface Slow {
  durationNs: number;
  seconds: number;
  nanos: number;
  fileId: number;
  packet: number;
  pair: SlowPair;
}

/** True when `a` ranks before `b` in the slowest table: longer first, then earlier start, file, packet. */
function slowerThan(a: Slow, b: Slow): boolean {
  if (a.durationNs !== b.durationNs) return a.durationNs > b.durationNs;
  if (a.seconds !== b.seconds) return a.seconds < b.seconds;
  if (a.nanos !== b.nanos) return a.nanos < b.nanos;
  if (a.fileId !== b.fileId) return a.fileId < b.fileId;
  return a.packet < b.packet;
}

function percentile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Collects pairs (a PairSink) and packet times (call `packet()` for every decoded packet). */
export class ReportCollector implements PairSink {
  readonly #files: readonly string[];
  readonly #limits: ReportLimits;
  readonly #registry: ProtocolRegistry;
  readonly #matched = new Growable();
  #unansweredT = new Float64Array(256);
  #unansweredProto = new Uint8Array(256);
  #unansweredCount = 0;
  readonly #gapTimes = new CaptureGapTimes();
  readonly #protocols: string[] = [];
  readonly #protocolIds = new Map<string, number>();
  readonly #protocolCounts: Counts[] = [];
  readonly #serverIds = new Map<string, number>();
  readonly #serverNames: string[] = [];
  readonly #serverProtocol: number[] = [];
  readonly #serverCounts: Counts[] = [];
  readonly #slowest: Slow[] = [];
  #timeBase = Number.NaN;
  #firstS = Number.POSITIVE_INFINITY;
  #firstN = 0;
  #lastS = Number.NEGATIVE_INFINITY;
  #lastN = 0;

  constructor(
    files: readonly string[],
    limits: Partial<ReportLimits> = {},
    registry: ProtocolRegistry = matcherRegistry,
  ) {
    this.#registry = registry;
    this.#files = files;
    this.#limits = { ...kDefaultReportLimits, ...limits };
  }

  /** A decoded packet's capture time (for the time range). */
  packet(seconds: number, nanos: number): void {
    if (Number.isNaN(this.#timeBase)) this.#timeBase = seconds;
    if (seconds < this.#firstS || (seconds === this.#firstS && nanos < this.#firstN)) {
      this.#firstS = seconds;
      this.#firstN = nanos;
    }
    if (seconds > this.#lastS || (seconds === this.#lastS && nanos > this.#lastN)) {
      this.#lastS = seconds;
      this.#lastN = nanos;
    }
  }

  #rel(seconds: number, nanos: number): number {
    if (Number.isNaN(this.#timeBase)) this.#timeBase = seconds;
    return seconds - this.#timeBase + nanos / 1e9;
  }

  #protocol(name: string): number {
    let id = this.#protocolIds.get(name);
    if (id === undefined) {
      id = this.#protocols.length;
      this.#protocols.push(name);
      this.#protocolIds.set(name, id);
      this.#protocolCounts.push({ matched: 0, unanswered: 0, errors: 0, unansweredBy: {} });
    }
    return id;
  }

  #server(pair: Pair, proto: number): number {
    const address = formatIp(pair.ipVersion, pair.server0, pair.server1, pair.server2, pair.server3);
    const name = `${pair.protocol}://${pair.ipVersion === 6 ? `[${address}]` : address}:${pair.serverPort}`;
    let id = this.#serverIds.get(name);
    if (id === undefined) {
      id = this.#serverNames.length;
      this.#serverNames.push(name);
      this.#serverIds.set(name, id);
      this.#serverProtocol.push(proto);
      this.#serverCounts.push({ matched: 0, unanswered: 0, errors: 0, unansweredBy: {} });
    }
    return id;
  }

  emit(pair: Pair): void {
    const proto = this.#protocol(pair.protocol);
    const server = this.#server(pair, proto);
    const request = pair.request;
    const pc = this.#protocolCounts[proto]!;
    const sc = this.#serverCounts[server]!;
    const t = this.#rel(request.firstSeconds, request.firstNanos);
    if (pair.captureGap) this.#gapTimes.add(t);
    const response = pair.response;
    if (pair.outcome !== Outcome.Matched || response === null) {
      pc.unanswered++;
      sc.unanswered++;
      const reason = UnansweredReasonNames[pair.unansweredReason];
      pc.unansweredBy[reason] = (pc.unansweredBy[reason] ?? 0) + 1;
      sc.unansweredBy[reason] = (sc.unansweredBy[reason] ?? 0) + 1;
      if (this.#unansweredCount === this.#unansweredT.length) {
        this.#unansweredT = grown(this.#unansweredT, this.#unansweredT.length * 2);
        this.#unansweredProto = grown(this.#unansweredProto, this.#unansweredT.length);
      }
      this.#unansweredT[this.#unansweredCount] = t;
      this.#unansweredProto[this.#unansweredCount++] = proto;
      return;
    }
    const durationNs = diffNanos(
      request.firstSeconds,
      request.firstNanos,
      response.lastSeconds,
      response.lastNanos,
    );
    // Pairs in the error colour: the protocol's isError (DNS rcode other than NOERROR, HTTP 5xx).
    const err = isErrorPair(pair, this.#registry) ? 1 : 0;
    pc.matched++;
    sc.matched++;
    pc.errors += err;
    sc.errors += err;
    this.#matched.push(t, durationNs, server, proto, err);
    this.#considerSlow(pair, durationNs);
  }

  #considerSlow(pair: Pair, durationNs: number): void {
    const slowest = this.#slowest;
    const limit = this.#limits.slowest;
    if (limit <= 0) return;
    const request = pair.request;
    const candidate: Slow = {
      durationNs,
      seconds: request.firstSeconds,
      nanos: request.firstNanos,
      fileId: request.fileId,
      packet: request.packet,
      pair: null as unknown as SlowPair,
    };
    if (slowest.length >= limit && !slowerThan(candidate, slowest[slowest.length - 1]!)) return;
    const json = pairToObject(pair, this.#files);
    const source = json.source as {
      request: { file: string | null; packet: number };
      response?: { file: string | null; packet: number };
    };
    const client = json.client as { address: string; port: number };
    const server = json.server as { address: string; port: number };
    candidate.pair = {
      rank: 0,
      protocol: pair.protocol,
      client: `${client.address}:${client.port}`,
      server: `${server.address}:${server.port}`,
      what: descriptorOf(this.#registry, pair)?.report?.what(pair.detail) ?? '',
      start: json.start as string,
      durationNs,
      request: { file: source.request.file, packet: source.request.packet },
      response: source.response ? { file: source.response.file, packet: source.response.packet } : null,
      json,
    };
    let at = slowest.length;
    while (at > 0 && slowerThan(candidate, slowest[at - 1]!)) at--;
    slowest.splice(at, 0, candidate);
    if (slowest.length > limit) slowest.pop();
  }

  /** Protocols in registry order; others (not in the registry) follow by name. */
  #order(): number[] {
    const ids = this.#protocols.map((_, i) => i);
    const registry = this.#registry;
    const rank = (name: string) => {
      const i = protocolIdOf(registry, name);
      return i < 0 ? registry.length : i;
    };
    return ids.sort(
      (a, b) =>
        rank(this.#protocols[a]!) - rank(this.#protocols[b]!) ||
        (this.#protocols[a]! < this.#protocols[b]! ? -1 : 1),
    );
  }

  build(input: {
    title: string;
    files: FileSummary[];
    packets: number;
    decoded: number;
    bytes: number;
    /** The correlators' capture-loss counts, all shards together. */
    captureLoss?: CaptureLossCountsData;
  }): ReportData {
    const limits = this.#limits;
    const m = this.#matched;
    const n = m.length;
    const hasPackets = Number.isFinite(this.#firstS);
    const timeBase = Number.isNaN(this.#timeBase) ? 0 : this.#timeBase;
    let t0 = hasPackets ? this.#firstS - timeBase + this.#firstN / 1e9 : 0;
    let t1 = hasPackets ? this.#lastS - timeBase + this.#lastN / 1e9 : 1;
    for (let i = 0; i < n; i++) {
      const t = m.t[i]!;
      if (t < t0) t0 = t;
      if (t > t1) t1 = t;
    }
    for (let i = 0; i < this.#unansweredCount; i++) {
      const t = this.#unansweredT[i]!;
      if (t < t0) t0 = t;
      if (t > t1) t1 = t;
    }
    if (t1 <= t0) t1 = t0 + 1;

    // Durations per protocol and per server, sorted: exact percentiles and CDFs.
    const byProto: number[] = new Array(this.#protocols.length).fill(0);
    for (let i = 0; i < n; i++) byProto[m.proto[i]!]!++;
    const protoDurations = byProto.map((count) => new Float64Array(count));
    const protoFill = new Array(this.#protocols.length).fill(0);
    for (let i = 0; i < n; i++) {
      const p = m.proto[i]!;
      protoDurations[p]![protoFill[p]++] = m.d[i]!;
    }
    for (const durations of protoDurations) durations.sort();

    const order = this.#order();
    const protocols: ProtocolSummary[] = order.map((p) => {
      const c = this.#protocolCounts[p]!;
      const sorted = protoDurations[p]!;
      return {
        protocol: this.#protocols[p]!,
        matched: c.matched,
        unanswered: c.unanswered,
        errors: c.errors,
        unansweredBy: c.unansweredBy,
        p50Ns: percentile(sorted, 0.5),
        p90Ns: percentile(sorted, 0.9),
        p99Ns: percentile(sorted, 0.99),
        maxNs: sorted.length > 0 ? sorted[sorted.length - 1]! : null,
      };
    });

    const topIds = this.#serverNames
      .map((_, i) => i)
      .filter((i) => this.#serverCounts[i]!.matched > 0)
      .sort(
        (a, b) =>
          this.#serverCounts[b]!.matched - this.#serverCounts[a]!.matched ||
          (this.#serverNames[a]! < this.#serverNames[b]! ? -1 : 1),
      )
      .slice(0, limits.topServers);
    const slot = new Map(topIds.map((id, i) => [id, i]));
    const serverDurations = topIds.map((id) => new Float64Array(this.#serverCounts[id]!.matched));
    const serverFill = new Array(topIds.length).fill(0);
    for (let i = 0; i < n; i++) {
      const s = slot.get(m.server[i]!);
      if (s !== undefined) serverDurations[s]![serverFill[s]++] = m.d[i]!;
    }
    const servers: ServerSummary[] = topIds.map((id, s) => {
      const sorted = serverDurations[s]!.sort();
      const c = this.#serverCounts[id]!;
      const cdf: [number, number][] = [];
      const steps = Math.min(200, sorted.length);
      for (let k = 1; k <= steps; k++) {
        const index = Math.max(0, Math.ceil((k / steps) * sorted.length) - 1);
        cdf.push([sorted[index]!, round((index + 1) / sorted.length, 6)]);
      }
      return {
        server: this.#serverNames[id]!,
        protocol: this.#protocols[this.#serverProtocol[id]!]!,
        matched: c.matched,
        unanswered: c.unanswered,
        errors: c.errors,
        unansweredBy: c.unansweredBy,
        p50Ns: percentile(sorted, 0.5),
        p90Ns: percentile(sorted, 0.9),
        p99Ns: percentile(sorted, 0.99),
        maxNs: sorted.length > 0 ? sorted[sorted.length - 1]! : null,
        cdf,
      };
    });

    // Scatter thinning: one point per (column, log-latency row) cell and per error flag, the
    // slowest of the cell. Every occupied pixel-sized cell stays drawn (outliers included),
    // while the point count is bounded by the grid whatever the number of pairs.
    let dMin = Number.POSITIVE_INFINITY;
    let dMax = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.max(1, m.d[i]!);
      if (d < dMin) dMin = d;
      if (d > dMax) dMax = d;
    }
    const lMin = n > 0 ? Math.log10(dMin) : 0;
    const lSpan = n > 0 ? Math.max(1e-9, Math.log10(dMax) - lMin) : 1;
    const cols = limits.gridColumns;
    const rows = limits.gridRows;
    const cells = cols * rows * 2;
    const series: ScatterSeries[] = [];
    for (const p of order) {
      if (byProto[p] === 0) continue;
      const best = new Int32Array(cells).fill(-1);
      for (let i = 0; i < n; i++) {
        if (m.proto[i] !== p) continue;
        const col = Math.min(cols - 1, Math.floor(((m.t[i]! - t0) / (t1 - t0)) * cols));
        const row = Math.min(
          rows - 1,
          Math.floor(((Math.log10(Math.max(1, m.d[i]!)) - lMin) / lSpan) * rows),
        );
        const cell = (col * rows + row) * 2 + m.err[i]!;
        const held = best[cell]!;
        // Equal durations: the earlier start, so the point kept does not depend on the order
        // pairs arrived in (workers post them shard by shard).
        if (held < 0 || m.d[i]! > m.d[held]! || (m.d[i]! === m.d[held]! && m.t[i]! < m.t[held]!))
          best[cell] = i;
      }
      const s: ScatterSeries = { protocol: this.#protocols[p]!, pairs: byProto[p]!, t: [], d: [], e: [] };
      for (let cell = 0; cell < cells; cell++) {
        const i = best[cell]!;
        if (i < 0) continue;
        s.t.push(round(m.t[i]!, 6));
        s.d.push(m.d[i]!);
        s.e.push(m.err[i]!);
      }
      series.push(s);
    }

    const bins = limits.unansweredBins;
    const binSeconds = (t1 - t0) / bins;
    const unansweredSeries: { protocol: string; counts: number[] }[] = [];
    for (const p of order) {
      if (this.#protocolCounts[p]!.unanswered === 0) continue;
      const counts = new Array<number>(bins).fill(0);
      for (let i = 0; i < this.#unansweredCount; i++) {
        if (this.#unansweredProto[i] !== p) continue;
        counts[Math.min(bins - 1, Math.max(0, Math.floor((this.#unansweredT[i]! - t0) / binSeconds)))]!++;
      }
      unansweredSeries.push({ protocol: this.#protocols[p]!, counts });
    }

    return {
      title: input.title,
      files: input.files,
      packets: input.packets,
      decoded: input.decoded,
      bytes: input.bytes,
      firstPacket: hasPackets ? formatTimestamp(this.#firstS, this.#firstN) : null,
      lastPacket: hasPackets ? formatTimestamp(this.#lastS, this.#lastN) : null,
      timeBase,
      t0: round(t0, 6),
      t1: round(t1, 6),
      protocols,
      servers,
      scatter: { grid: [cols, rows], series },
      unanswered: { t0: round(t0, 6), binSeconds, series: unansweredSeries },
      captureLoss: this.#gapTimes.build(
        round(t0, 6),
        binSeconds,
        bins,
        (count) => {
          for (let i = 0; i < n; i++) count(m.t[i]!);
          for (let i = 0; i < this.#unansweredCount; i++) count(this.#unansweredT[i]!);
        },
        input.captureLoss ?? null,
      ),
      slowest: this.#slowest.map((s, i) => ({ ...s.pair, rank: i + 1 })),
    };
  }
}
