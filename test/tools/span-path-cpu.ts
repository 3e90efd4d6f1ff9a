/**
 * The span path's time per pair (PairSpanBuilder -> CappedRequestEncoder with reused request
 * buffers, latency points into LatencyHistograms: what `--workers 0` and each worker do per pair),
 * this checkout against another one, in one process:
 *   node test/tools/span-path-cpu.ts OTHER_ROOT [ROUNDS=10] [CAPTURE...]
 * OTHER_ROOT: another checkout (e.g. a `git archive` of main) whose agent/ is measured alongside.
 * The captures (default: the first three files of the agent row's backlog, bench-out/agent-catch-up/src)
 * are replayed once; both builds are then fed the same pairs in turns of 256 pairs, the order
 * alternating, each turn's pairs read just before (cache-hot, as a pair the correlator has just
 * made). Whole-process CPU cannot resolve a few percent on a shared machine whose speed drifts
 * from one minute to the next; turns of ~1 ms side by side can: the result is the median of the
 * per-turn ratios (wall time: the turns are too short for thread CPU's tick accounting), with
 * its quartiles. The flood guard is off (the same pairs go round again).
 */
import path from 'node:path';
import type { Pair } from '../../agent/correlate/pair.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

const [otherRoot, roundsArg, ...captureArgs] = process.argv.slice(2);
if (otherRoot === undefined) throw new Error('usage: span-path-cpu.ts OTHER_ROOT [ROUNDS] [CAPTURE...]');
const rounds = Number(roundsArg ?? 10);
const thisRoot = path.resolve(import.meta.dirname, '../..');
const captures =
  captureArgs.length > 0
    ? captureArgs
    : [0, 1, 2].map((i) => path.join(thisRoot, `bench-out/agent-catch-up/src/cap-0${i}.pcap`));
const { pairs } = replayPairs(captures, (options) => {
  (options as { udpPorts: number[] }).udpPorts = [9000];
});
const kTurn = 256;

let sink = 0;
/** Reads every field of pairs [from, to) and of their edges and details. */
function warm(from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const pair = pairs[i] as unknown as Record<string, unknown>;
    for (const key in pair) {
      const value = pair[key];
      if (typeof value === 'object' && value !== null) {
        for (const inner in value)
          sink += typeof (value as Record<string, unknown>)[inner] === 'number' ? 1 : 0;
      } else sink += typeof value === 'number' ? 1 : 0;
    }
  }
}

interface SpanPath {
  /** Emits pairs [from, to); returns the wall time in ms. */
  run(from: number, to: number): number;
  /** Request bytes made. */
  bytes(): number;
}

async function spanPath(root: string): Promise<SpanPath> {
  const module = (file: string) => path.join(root, 'agent/export/otel', file);
  const { PairSpanBuilder } = (await import(
    module('pair-span-builder.ts')
  )) as typeof import('../../agent/export/otel/pair-span-builder.ts');
  const { CappedRequestEncoder, kDefaultMaxRequestBytes } = (await import(
    module('span-request-encoder.ts')
  )) as typeof import('../../agent/export/otel/span-request-encoder.ts');
  const { RequestBufferPool } = (await import(
    module('request-buffers.ts')
  )) as typeof import('../../agent/export/otel/request-buffers.ts');
  const { LatencyHistograms } = (await import(
    module('latency-histograms.ts')
  )) as typeof import('../../agent/export/otel/latency-histograms.ts');
  const { latencyBoundaries, latencyHistogramDescriptions } = (await import(
    module('metrics.ts')
  )) as typeof import('../../agent/export/otel/metrics.ts');
  const { detectBaseResource, sharedAttributes } = (await import(
    module('resource.ts')
  )) as typeof import('../../agent/export/otel/resource.ts');
  const { kDefaultLocalNetworks } = (await import(
    module('span-mapper.ts')
  )) as typeof import('../../agent/export/otel/span-mapper.ts');

  const pool = new RequestBufferPool(kDefaultMaxRequestBytes);
  let bytes = 0;
  const encoder = new CappedRequestEncoder(
    { maxSpansPerRequest: 2048, maxRequestBytes: kDefaultMaxRequestBytes },
    (request) => {
      bytes += request.bytes.length;
      pool.give(request.bytes); // as an exported request's
    },
    pool,
  );
  const latency = new LatencyHistograms(latencyHistogramDescriptions(), latencyBoundaries([]));
  const builder = new PairSpanBuilder(
    {
      localNetworks: kDefaultLocalNetworks,
      serviceMap: [],
      httpRoutes: [],
      httpRouteHeuristics: true,
      ignore: { paths: [], userAgents: [], cidrs: [], ports: [] },
      spansOff: [],
      sampleRatio: 1,
      slowSpanSeconds: null,
      maxServices: 1000,
      valueLengthLimit: Number.POSITIVE_INFINITY,
      unansweredSpansPerSecond: 0,
      unansweredSpansTotalPerSecond: undefined,
      unansweredLateSeconds: undefined,
      sharedResourceAttributes: sharedAttributes(await detectBaseResource({ 'k8s.node.name': 'node-1' })),
      traces: true,
    },
    (fileId) => captures[fileId],
    (span) => encoder.add(span),
    (point) => latency.recordPoint(point),
  );
  return {
    run(from, to) {
      warm(from, to);
      const start = process.hrtime.bigint();
      for (let i = from; i < to; i++) builder.emit(pairs[i] as Pair);
      return Number(process.hrtime.bigint() - start) / 1e6;
    },
    bytes: () => bytes,
  };
}

const other = await spanPath(path.resolve(otherRoot));
const here = await spanPath(thisRoot);
const ratios: number[] = [];
const totals = { other: [] as number[], here: [] as number[] };
let turn = 0;
for (let round = 0; round < rounds; round++) {
  let otherMs = 0;
  let hereMs = 0;
  for (let from = 0; from < pairs.length; from += kTurn) {
    const to = Math.min(pairs.length, from + kTurn);
    const first = turn++ % 2 === 0;
    const a = first ? other.run(from, to) : 0;
    const b = here.run(from, to);
    const c = first ? a : other.run(from, to);
    otherMs += c;
    hereMs += b;
    if (round > 0) ratios.push(b / c); // the first round warms up both
  }
  totals.other.push(otherMs);
  totals.here.push(hereMs);
}
const sorted = (values: number[]) => [...values].sort((x, y) => x - y);
const at = (values: number[], q: number) => sorted(values)[Math.floor(q * (values.length - 1))]!;
const usPerPair = (values: number[]) => ((at(values.slice(1), 0.5) * 1000) / pairs.length).toFixed(3);
console.log(
  `${pairs.length} pairs, ${rounds} rounds; request bytes equal: ${here.bytes() === other.bytes()}`,
);
console.log(`other: ${usPerPair(totals.other)} us per pair (median round)`);
console.log(`this:  ${usPerPair(totals.here)} us per pair (median round)`);
console.log(
  `this / other, median of ${ratios.length} turns: ${at(ratios, 0.5).toFixed(3)} (quartiles ${at(ratios, 0.25).toFixed(3)}-${at(ratios, 0.75).toFixed(3)})`,
);
if (sink < 0) console.log(sink);
