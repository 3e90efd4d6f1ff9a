/**
 * `wirespan report`: replays captures (on this thread, or in the replay workers: the same
 * record loop either way, pipeline/record-loop.ts), collects the pairs (report-data.ts) and renders
 * one self-contained HTML file: inline CSS, inline SVG for the small charts (CDFs, unanswered
 * over time: a few hundred path points each), an inline script drawing the latency scatter on
 * <canvas>, and the data as embedded JSON. Nothing is fetched when the file is opened.
 *
 * Why canvas for the scatter: SVG costs one DOM node per point and browsers slow to a crawl past
 * ~10-50k nodes; a canvas draws 100k+ fillRects in milliseconds. The points are already thinned
 * to one per (time, log-latency) cell (at most 800 x 160 x 2 per protocol), so the file size and
 * drawing time are bounded whatever the number of pairs, and every slow outlier and every error
 * stays visible (a cell keeps its slowest pair; errors have their own cells).
 */
import type { CorrelateOptions } from '../correlate/options.ts';
import { colorOf, labelOf, type ProtocolRegistry } from '../correlate/protocol.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import { mergeStats, type WorkerStats } from '../pipeline/messages.ts';
import { replayCaptures } from '../pipeline/pipeline.ts';
import { RecordLoop } from '../pipeline/record-loop.ts';
import { type FileResult, ThisThreadReplay } from '../pipeline/replay.ts';
import { formatNumber } from '../shared/number-format.ts';
import { reportScript } from './report-client-script.ts';
import { ReportCollector, type ReportData, type ReportLimits, type ServerSummary } from './report-data.ts';

export interface GenerateReportInput {
  files: readonly string[];
  correlate: CorrelateOptions;
  title?: string;
  limits?: Partial<ReportLimits>;
  /** The protocols (default: registry.ts; the workers always use registry.ts). */
  registry?: ProtocolRegistry;
  /** 0 (default): this thread; else the worker pipeline. */
  workers?: number;
}

export interface GeneratedReport {
  data: ReportData;
  html: string;
  /** Per-file read errors ("file: reason"). */
  errors: string[];
  elapsedNanos: bigint;
}

/** Replays `files` through the pipeline (pipeline.ts; `workers` 0: this thread) and renders the report. */
export async function generateReport(input: GenerateReportInput): Promise<GeneratedReport> {
  const registry = input.registry ?? matcherRegistry;
  const collector = startReport(input.files, input.limits, registry);
  const run = await replayCaptures({
    files: input.files,
    workers: input.workers ?? 0,
    correlate: input.correlate,
    sinks: { output: null, exporter: null, collector, room: null },
    latencySummary: false,
    decodedTimes: true,
    ...(input.registry === undefined ? {} : { registry: input.registry }),
  });
  return finishReport(collector, {
    files: input.files,
    title: input.title,
    loops: run.loops,
    fileResults: run.files,
    elapsedNanos: run.elapsedNanos,
    failure: run.failure,
    registry,
  });
}

/**
 * A collector whose time base is the capture time of the first record that decodes to TCP/UDP,
 * in reading order, set before any pair arrives (whichever thread correlates).
 */
export function startReport(
  files: readonly string[],
  limits: Partial<ReportLimits> = {},
  registry: ProtocolRegistry = matcherRegistry,
): ReportCollector {
  const collector = new ReportCollector(files, limits, registry);
  let found = false;
  const first = new ThisThreadReplay({
    files,
    onRecord: () => !found,
    loop: new RecordLoop({
      onPacket(_fileId, _packetNumber, seconds, nanos) {
        found = true;
        collector.packet(seconds, nanos);
      },
      finish() {},
    }),
  });
  while (!first.step(Number.POSITIVE_INFINITY));
  return collector;
}

/** Builds and renders the report from the pipeline's loops (stats with `decodedRange`). */
export function finishReport(
  collector: ReportCollector,
  run: {
    files: readonly string[];
    title: string | undefined;
    loops: readonly WorkerStats[];
    fileResults: readonly FileResult[];
    elapsedNanos: bigint;
    /** A worker failed: the run was aborted. */
    failure: string | null;
    registry: ProtocolRegistry;
  },
): GeneratedReport {
  // Every loop reads every record: one range, from the first (all agree).
  const range = run.loops[0]?.decodedRange ?? null;
  if (range !== null) {
    collector.packet(range[0]!, range[1]!);
    collector.packet(range[2]!, range[3]!);
  }
  const merged = mergeStats(run.loops);
  const data = collector.build({
    title: run.title ?? defaultTitle(run.files),
    files: run.fileResults.map((f) => ({
      file: f.file,
      format: f.format,
      packets: f.packets,
      bytes: f.bytes,
      error: f.error,
      captureStatistics: f.captureStatistics ?? null,
    })),
    packets: merged.packets,
    decoded: merged.decoded,
    bytes: merged.bytes,
    captureLoss: merged.captureLoss.toData(),
  });
  const errors = run.fileResults.filter((f) => f.error !== null).map((f) => `${f.file}: ${f.error}`);
  if (run.failure !== null) errors.push(run.failure);
  return { data, html: renderHtmlReport(data, run.registry), errors, elapsedNanos: run.elapsedNanos };
}

export function defaultTitle(files: readonly string[]): string {
  const names = files.map((f) => baseName(f));
  if (names.length <= 3) return `wirespan report: ${names.join(', ') || 'no capture files'}`;
  return `wirespan report: ${names.length} files, ${names[0]} … ${names[names.length - 1]}`;
}

const kServerColors = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#F0E442',
  '#000000',
];
const kOtherColor = '#777777';

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A duration for people: 381 µs, 8.33 ms, 1.20 s. */
export function formatDuration(ns: number | null): string {
  if (ns === null) return '–';
  if (ns < 1e3) return `${ns} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function baseName(file: string | null): string {
  return file === null ? '?' : (file.split('/').pop() ?? file);
}

/** Powers of ten between lo and hi (ns) as log-axis ticks. */
function decadeTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}

function cdfSvg(servers: ServerSummary[]): string {
  const w = 760;
  const h = 300;
  const m = { l: 56, r: 16, t: 12, b: 36 };
  if (servers.length === 0)
    return `<svg id="cdf-chart" class="chart" viewBox="0 0 ${w} 60" data-series="0"><text x="10" y="30">No answered requests.</text></svg>`;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const s of servers)
    for (const [d] of s.cdf) {
      lo = Math.min(lo, Math.max(1, d));
      hi = Math.max(hi, d);
    }
  const l0 = Math.floor(Math.log10(lo));
  const l1 = Math.max(l0 + 1, Math.ceil(Math.log10(Math.max(hi, 1))));
  const x = (d: number) => m.l + ((Math.log10(Math.max(1, d)) - l0) / (l1 - l0)) * (w - m.l - m.r);
  const y = (f: number) => h - m.b - f * (h - m.t - m.b);
  const parts: string[] = [];
  for (const t of decadeTicks(10 ** l0, 10 ** l1)) {
    const px = x(t).toFixed(1);
    parts.push(
      `<line class="grid" x1="${px}" x2="${px}" y1="${m.t}" y2="${h - m.b}"/><text class="tick" x="${px}" y="${h - m.b + 16}" text-anchor="middle">${escapeHtml(formatDuration(t))}</text>`,
    );
  }
  for (const f of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) {
    const py = y(f).toFixed(1);
    parts.push(
      `<line class="grid" x1="${m.l}" x2="${w - m.r}" y1="${py}" y2="${py}"/><text class="tick" x="${m.l - 6}" y="${py}" dy="4" text-anchor="end">${f}</text>`,
    );
  }
  servers.forEach((s, i) => {
    let d = `M${x(s.cdf[0]![0]).toFixed(1)},${y(0).toFixed(1)}`;
    let prev = 0;
    for (const [ns, f] of s.cdf) {
      const px = x(ns).toFixed(1);
      d += `L${px},${y(prev).toFixed(1)}L${px},${y(f).toFixed(1)}`;
      prev = f;
    }
    parts.push(
      `<path class="series" data-server="${escapeHtml(s.server)}" stroke="${kServerColors[i % kServerColors.length]}" d="${d}"><title>${escapeHtml(s.server)}</title></path>`,
    );
  });
  parts.push(
    `<text class="axis" x="${(w + m.l) / 2}" y="${h - 4}" text-anchor="middle">latency (log scale)</text>`,
  );
  return `<svg id="cdf-chart" class="chart" viewBox="0 0 ${w} ${h}" data-series="${servers.length}" role="img" aria-label="Latency CDF per server">${parts.join('')}</svg>`;
}

function unansweredSvg(data: ReportData, color: (protocol: string) => string): string {
  const w = 760;
  const h = 220;
  const m = { l: 56, r: 16, t: 12, b: 36 };
  const series = data.unanswered.series;
  if (series.length === 0)
    return `<svg id="unanswered-chart" class="chart" viewBox="0 0 ${w} 60" data-series="0"><text x="10" y="30">No unanswered requests.</text></svg>`;
  let max = 1;
  for (const s of series) for (const c of s.counts) max = Math.max(max, c);
  const bins = series[0]!.counts.length;
  const x = (i: number) => m.l + (i / bins) * (w - m.l - m.r);
  const y = (c: number) => h - m.b - (c / max) * (h - m.t - m.b);
  const parts: string[] = [];
  for (const c of [0, Math.round(max / 2), max]) {
    const py = y(c).toFixed(1);
    parts.push(
      `<line class="grid" x1="${m.l}" x2="${w - m.r}" y1="${py}" y2="${py}"/><text class="tick" x="${m.l - 6}" y="${py}" dy="4" text-anchor="end">${c}</text>`,
    );
  }
  const span = data.t1 - data.t0;
  for (let k = 0; k <= 4; k++) {
    const px = (m.l + (k / 4) * (w - m.l - m.r)).toFixed(1);
    parts.push(
      `<text class="tick" x="${px}" y="${h - m.b + 16}" text-anchor="${k === 0 ? 'start' : k === 4 ? 'end' : 'middle'}">+${((k / 4) * span).toPrecision(3)} s</text>`,
    );
  }
  for (const s of series) {
    let d = `M${x(0).toFixed(1)},${y(0).toFixed(1)}`;
    s.counts.forEach((c, i) => {
      d += `L${x(i).toFixed(1)},${y(c).toFixed(1)}L${x(i + 1).toFixed(1)},${y(c).toFixed(1)}`;
    });
    d += `L${x(bins).toFixed(1)},${y(0).toFixed(1)}`;
    parts.push(
      `<path class="series" data-protocol="${escapeHtml(s.protocol)}" stroke="${color(s.protocol)}" d="${d}"><title>${escapeHtml(s.protocol)}</title></path>`,
    );
  }
  parts.push(
    `<text class="axis" x="${(w + m.l) / 2}" y="${h - 4}" text-anchor="middle">request start, from the first packet (bins of ${data.unanswered.binSeconds.toPrecision(3)} s)</text>`,
  );
  return `<svg id="unanswered-chart" class="chart" viewBox="0 0 ${w} ${h}" data-series="${series.length}" role="img" aria-label="Unanswered requests over time">${parts.join('')}</svg>`;
}

/** Capture loss: the estimate, and pairs vs pairs that crossed a gap over time (same bins as unanswered). */
function captureLossSection(data: ReportData): string {
  const loss = data.captureLoss;
  const totals = loss.totals;
  const summary =
    totals === null
      ? 'Not counted.'
      : `The capture missed <b id="capture-loss-ratio">${(totals.ratio! * 100).toPrecision(3)}%</b> of the TCP bytes sent ` +
        `(${formatNumber(totals.missing_bytes!)} of ${formatNumber(totals.missing_bytes! + totals.observed_bytes!)}; about ${formatNumber(totals.missing_segments!)} segments), ` +
        'judged from the traffic itself: sequence gaps and bytes acknowledged but never seen. Counts and latencies from this capture undercount by about as much.';
  const gapTotal = loss.gapPairs.reduce((a, b) => a + b, 0);
  const w = 760;
  const h = 220;
  const m = { l: 56, r: 16, t: 12, b: 36 };
  const bins = loss.pairs.length;
  let max = 1;
  for (const c of loss.pairs) max = Math.max(max, c);
  const x = (i: number) => m.l + (i / bins) * (w - m.l - m.r);
  const y = (c: number) => h - m.b - (c / max) * (h - m.t - m.b);
  const step = (counts: number[]) => {
    let d = `M${x(0).toFixed(1)},${y(0).toFixed(1)}`;
    counts.forEach((c, i) => {
      d += `L${x(i).toFixed(1)},${y(c).toFixed(1)}L${x(i + 1).toFixed(1)},${y(c).toFixed(1)}`;
    });
    return `${d}L${x(bins).toFixed(1)},${y(0).toFixed(1)}`;
  };
  const parts: string[] = [];
  for (const c of [0, Math.round(max / 2), max]) {
    const py = y(c).toFixed(1);
    parts.push(
      `<line class="grid" x1="${m.l}" x2="${w - m.r}" y1="${py}" y2="${py}"/><text class="tick" x="${m.l - 6}" y="${py}" dy="4" text-anchor="end">${c}</text>`,
    );
  }
  const span = data.t1 - data.t0;
  for (let k = 0; k <= 4; k++) {
    const px = (m.l + (k / 4) * (w - m.l - m.r)).toFixed(1);
    parts.push(
      `<text class="tick" x="${px}" y="${h - m.b + 16}" text-anchor="${k === 0 ? 'start' : k === 4 ? 'end' : 'middle'}">+${((k / 4) * span).toPrecision(3)} s</text>`,
    );
  }
  parts.push(
    `<path class="series" data-series="pairs" stroke="#4C78A8" d="${step(loss.pairs)}"><title>pairs</title></path>`,
    `<path class="series" data-series="gap" stroke="#E00000" d="${step(loss.gapPairs)}"><title>pairs that crossed a capture gap</title></path>`,
    `<text class="axis" x="${(w + m.l) / 2}" y="${h - 4}" text-anchor="middle">request start, from the first packet (bins of ${loss.binSeconds.toPrecision(3)} s)</text>`,
  );
  const statements = data.files
    .filter((f) => f.captureStatistics)
    .map((f) => {
      const s = f.captureStatistics!;
      const counts = [
        ['received', s.received],
        ['dropped by the interface', s.interfaceDropped],
        ['dropped by the OS', s.osDropped],
      ]
        .filter(([, n]) => (n as number) >= 0)
        .map(([label, n]) => `${label} ${formatNumber(n as number)}`)
        .join(', ');
      return `<li>${escapeHtml(f.file)}: ${counts || 'no counts'}</li>`;
    });
  return `<section id="capture-loss">
<h2>Capture loss</h2>
<p>${summary} <span id="capture-gap-count">${formatNumber(gapTotal)}</span> pairs crossed a gap (JSONL <code>capture_gap</code>).</p>
${legend([
  { label: 'pairs', color: '#4C78A8' },
  { label: 'pairs that crossed a capture gap', color: '#E00000' },
])}
<svg id="capture-loss-chart" class="chart" viewBox="0 0 ${w} ${h}" data-pairs="${loss.pairs.join(',')}" data-gap-pairs="${loss.gapPairs.join(',')}" data-missing-bytes="${totals?.missing_bytes ?? ''}" data-observed-bytes="${totals?.observed_bytes ?? ''}" role="img" aria-label="Pairs and pairs that crossed a capture gap over time">${parts.join('')}</svg>
${statements.length > 0 ? `<p>What the capture files state about their own drops (pcapng interface statistics, cumulative since each capture started):</p><ul id="capture-statistics">${statements.join('')}</ul>` : ''}
</section>`;
}

function legend(items: { label: string; color: string }[]): string {
  return `<ul class="legend">${items.map((i) => `<li><span class="swatch" style="background:${i.color}"></span>${escapeHtml(i.label)}</li>`).join('')}</ul>`;
}

function percentileRow(label: string, s: ReportData['protocols'][number], extra = ''): string {
  return (
    `<tr><td>${label}</td>${extra}<td class="num">${formatNumber(s.matched)}</td><td class="num">${formatNumber(s.unanswered)}</td>` +
    `<td class="num">${formatNumber(s.errors)}</td><td class="num">${formatDuration(s.p50Ns)}</td><td class="num">${formatDuration(s.p90Ns)}</td>` +
    `<td class="num">${formatDuration(s.p99Ns)}</td><td class="num">${formatDuration(s.maxNs)}</td></tr>`
  );
}

const kCss = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#fff}
body{margin:0 auto;max-width:1100px;padding:16px 24px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.86em;width:100%}
th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#666;font-size:.88em}.err{color:#b00020}
.chart{width:100%;max-width:900px;height:auto;display:block}
.chart .grid{stroke:#e5e5e5;stroke-width:1}.chart .tick{font-size:11px;fill:#555}.chart .axis{font-size:12px;fill:#333}
.chart path.series{fill:none;stroke-width:1.8}
canvas.scatter{width:100%;height:260px;display:block;border:1px solid #eee}
.legend{list-style:none;padding:0;margin:.3em 0;display:flex;flex-wrap:wrap;gap:14px;font-size:.86em}
.swatch{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
.scatter-box{margin:.6em 0 1.2em}.scatter-box h3{font-size:1em;margin:.2em 0}
td.what{max-width:320px;overflow-wrap:anywhere}
code{font-size:.92em}
`;

/** The report as one HTML document (protocols by their descriptors' labels and colours). */
export function renderHtmlReport(data: ReportData, registry: ProtocolRegistry = matcherRegistry): string {
  const color = (protocol: string) => colorOf(registry, protocol, kOtherColor);
  const label = (protocol: string) => escapeHtml(labelOf(registry, protocol));
  const colors: Record<string, string> = {};
  for (const descriptor of registry) colors[descriptor.name] = descriptor.color;
  const errorRules = registry.flatMap((d) => (d.report?.errorRule === undefined ? [] : [d.report.errorRule]));
  const totals = data.protocols.reduce(
    (acc, p) => ({ matched: acc.matched + p.matched, unanswered: acc.unanswered + p.unanswered }),
    { matched: 0, unanswered: 0 },
  );
  const files = data.files
    .map(
      (f) =>
        `<tr><td title="${escapeHtml(f.file)}">${escapeHtml(baseName(f.file))}</td><td>${escapeHtml(f.format ?? '–')}</td>` +
        `<td class="num">${formatNumber(f.packets)}</td><td class="num">${formatBytes(f.bytes)}</td>` +
        `<td class="${f.error ? 'err' : ''}">${escapeHtml(f.error ?? 'ok')}</td></tr>`,
    )
    .join('');
  const rangeSeconds =
    data.firstPacket && data.lastPacket ? `${(data.t1 - data.t0).toFixed(3)} s of capture` : '';
  const scatterBoxes = data.scatter.series
    .map(
      (s) =>
        `<div class="scatter-box"><h3>${label(s.protocol)} <span class="muted">${formatNumber(s.pairs)} answered pairs, ${formatNumber(s.t.length)} points drawn</span></h3>` +
        `<canvas class="scatter" data-protocol="${escapeHtml(s.protocol)}" data-pairs="${s.pairs}" data-points="${s.t.length}"></canvas></div>`,
    )
    .join('');
  const slowRows = data.slowest
    .map((p) => {
      const req = `${escapeHtml(baseName(p.request.file))}#${p.request.packet}`;
      const res = p.response ? `${escapeHtml(baseName(p.response.file))}#${p.response.packet}` : '–';
      return (
        `<tr class="slow" data-duration-ns="${p.durationNs}" data-start="${escapeHtml(p.start)}" data-request-file="${escapeHtml(p.request.file ?? '')}" ` +
        `data-request-packet="${p.request.packet}" data-response-packet="${p.response?.packet ?? ''}">` +
        `<td class="num">${p.rank}</td><td>${label(p.protocol)}</td><td>${escapeHtml(p.server)}</td><td>${escapeHtml(p.client)}</td>` +
        `<td class="what">${escapeHtml(p.what)}</td><td>${escapeHtml(p.start)}</td><td class="num" title="${p.durationNs} ns">${formatDuration(p.durationNs)}</td>` +
        `<td title="${escapeHtml(p.request.file ?? '')}">${req}</td><td title="${escapeHtml(p.response?.file ?? '')}">${res}</td></tr>`
      );
    })
    .join('');
  const servers = data.servers
    .map((s, i) =>
      percentileRow(
        `<span class="swatch" style="background:${kServerColors[i % kServerColors.length]}"></span>${escapeHtml(s.server)}`,
        s,
      ),
    )
    .join('');
  // `<` escaped so that no string in the data can close the script element.
  const json = JSON.stringify({
    t0: data.t0,
    t1: data.t1,
    timeBase: data.timeBase,
    series: data.scatter.series,
  }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="generator" content="wirespan">
<title>${escapeHtml(data.title)}</title><style>${kCss}</style></head>
<body>
<h1>${escapeHtml(data.title)}</h1>
<section id="overview">
<p>Capture time <b>${escapeHtml(data.firstPacket ?? '–')}</b> to <b>${escapeHtml(data.lastPacket ?? '–')}</b> ${rangeSeconds ? `(${rangeSeconds})` : ''}.
<span id="packet-count">${formatNumber(data.packets)}</span> packets (${formatNumber(data.decoded)} decoded to TCP/UDP), ${formatBytes(data.bytes)};
<span id="pair-count">${formatNumber(totals.matched)}</span> answered pairs, <span id="unanswered-count">${formatNumber(totals.unanswered)}</span> unanswered requests.</p>
<table id="files"><thead><tr><th>file</th><th>format</th><th class="num">packets</th><th class="num">bytes</th><th>read</th></tr></thead><tbody>${files}</tbody></table>
<h2>Per protocol</h2>
<table id="protocols"><thead><tr><th>protocol</th><th class="num">answered</th><th class="num">unanswered</th><th class="num">errors</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead>
<tbody>${data.protocols.map((p) => percentileRow(label(p.protocol), p)).join('')}</tbody></table>
<p class="muted">Latency = request first byte to response last byte (capture timestamps). Errors: ${escapeHtml(errorRules.join(', '))}. Percentiles are exact (nearest rank).</p>
</section>
<section id="latency-over-time">
<h2>Latency over time</h2>
${legend([
  ...data.scatter.series.map((s) => ({ label: labelOf(registry, s.protocol), color: color(s.protocol) })),
  { label: `error answer (${errorRules.join(', ')})`, color: '#E00000' },
])}
<p class="muted">Every answered pair is in these charts, thinned to the slowest pair per (time column, log-latency row) cell of a ${data.scatter.grid[0]}×${data.scatter.grid[1]} grid: every outlier stays visible. Log scale; x = request start.</p>
<div id="scatter-charts" data-series="${data.scatter.series.length}">${scatterBoxes || '<p>No answered requests.</p>'}</div>
</section>
<section id="servers">
<h2>Latency per server (top ${data.servers.length} by answered pairs)</h2>
${cdfSvg(data.servers)}
<table id="server-table"><thead><tr><th>server</th><th class="num">answered</th><th class="num">unanswered</th><th class="num">errors</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead><tbody>${servers}</tbody></table>
</section>
<section id="unanswered">
<h2>Unanswered requests over time</h2>
${legend(data.unanswered.series.map((s) => ({ label: labelOf(registry, s.protocol), color: color(s.protocol) })))}
${unansweredSvg(data, color)}
</section>
${captureLossSection(data)}
<section id="slowest">
<h2>Slowest ${data.slowest.length} pairs</h2>
<p class="muted">In Wireshark: open the file, <i>Go to packet</i> (Ctrl+G) with the number after #, or filter <code>frame.number == N</code>.</p>
<table id="slowest-table"><thead><tr><th class="num">#</th><th>protocol</th><th>server</th><th>client</th><th>request</th><th>start (UTC)</th><th class="num">latency</th><th>request packet</th><th>response packet</th></tr></thead><tbody>${slowRows}</tbody></table>
</section>
<p class="muted">Made by wirespan from ${data.files.length} capture file(s). Self-contained: no network access needed.</p>
<script type="application/json" id="report-data">${json}</script>
<script>${reportScript(colors)}</script>
</body></html>
`;
}
