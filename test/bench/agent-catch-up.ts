/**
 * Bench row "agent: run catching up on 10 rotated files" (issue 12): the first 1,000,000
 * packets of the bench capture split into 10 classic pcap files (old mtimes, like a backlog
 * tcpdump -G left while the agent was down), `wirespan run --watch` over a fresh copy of them
 * exporting to the counting OTLP/gRPC receiver (otlp-receiver.ts, in the bench process: the
 * agent is its own process), with --workers 0, auto and 2.
 *
 * The agent starts as the Helm chart starts it: with `run`'s V8 flags on node's command line and
 * its GLIBC_TUNABLES in the environment (restart-settings.mjs, the values
 * test/ship/chart-process-settings.test.ts keeps the chart equal to), so it does not restart
 * itself to add them (~0.1 s of CPU and wall time; `docker run` without the chart still does).
 * It is the build the image runs, the bundle (run.ts builds it with agent/build-bundle.ts); the
 * row's first line names the entry timed.
 *
 * Measured per run: the catch-up time (agent spawn to the last span that arrived before the
 * stop; the target counts it whole, start-up included, and the line also shows the first span's
 * time and the rate from it on, when the receiver has every pair that the records finish, i.e. replay's pairs minus
 * those only end of input reports), spans/s over it, the agent's peak RSS (VmHWM from
 * /proc/<pid>/status just before SIGTERM), and, after SIGTERM (which reports the requests
 * still pending), whether the spans the receiver got stand for exactly replay's pairs (an
 * `unanswered flood` span stands for the pairs it counts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { restartSettings } from '../../agent/cli/restart-settings.mjs';
import { runToCompletion } from './children.ts';
import { startReceiver } from './otlp-receiver.ts';

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const kFiles = 10;
const kPackets = 1_000_000;
/** Targets (issue 12). */
const kSpansPerSecond = 100_000;
const kPeakRssMb = 400;
/** No new span for this long: the agent is stuck (or done); the run ends. */
const kQuietMillis = 15_000;
const kMaxMillis = 600_000;

export interface AgentBenchContext {
  node: string;
  /** The entry file timed, and which build it is (the rows say it). */
  main: string;
  build: string;
  pcap: string;
  outDir: string;
  udpPort: string;
  runs: number;
}

export interface AgentRunResult {
  workers: string;
  catchUpSeconds: number | null;
  /** Agent spawn to the first request received (start-up: Node, modules, workers, first request). */
  firstSpanSeconds: number | null;
  /** Pairs received by then (the receiver is polled every 20 ms). */
  pairsInFirst: number;
  /**
   * Seconds between the last two arrivals: the last request is a partial one, sent when its
   * batch delay (OTEL_BSP_SCHEDULE_DELAY, 500 ms) ran out after the agent had read everything.
   */
  lastGapSeconds: number | null;
  /** Pairs the spans received stand for (an `unanswered flood` span counts its pairs): before SIGTERM, in all. */
  pairsBeforeStop: number;
  pairsTotal: number;
  /** Spans received in all. */
  spansTotal: number;
  peakRssMb: number | null;
  exitCode: number | null;
}

/** Splits the first 1 M packets of a classic pcap into 10 files (reused when present). */
function splitCapture(pcap: string, dir: string): number {
  const stamp = path.join(dir, 'stamp.json');
  const source = fs.statSync(pcap);
  const wanted = JSON.stringify({
    pcap,
    size: source.size,
    mtimeMs: source.mtimeMs,
    files: kFiles,
    kPackets,
  });
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) {
    return JSON.parse(fs.readFileSync(path.join(dir, 'packets.json'), 'utf8')) as number;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const data = fs.readFileSync(pcap);
  const magic = data.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d)
    throw new Error(`${pcap}: not a little-endian classic pcap`);
  const header = data.subarray(0, 24);
  const offsets: number[] = [];
  for (let p = 24; p + 16 <= data.length && offsets.length < kPackets; ) {
    offsets.push(p);
    p += 16 + data.readUInt32LE(p + 8);
  }
  const packets = offsets.length;
  const end =
    packets < kPackets
      ? data.length
      : offsets[packets - 1]! + 16 + data.readUInt32LE(offsets[packets - 1]! + 8);
  const per = Math.ceil(packets / kFiles);
  const old = Date.now() / 1000 - 3600;
  for (let i = 0; i < kFiles; i++) {
    const from = offsets[i * per];
    if (from === undefined) break;
    const to = offsets[(i + 1) * per] ?? end;
    const file = path.join(dir, `cap-${String(i).padStart(2, '0')}.pcap`);
    fs.writeFileSync(file, Buffer.concat([header, data.subarray(from, to)]));
    fs.utimesSync(file, old + i, old + i);
  }
  fs.writeFileSync(path.join(dir, 'packets.json'), String(packets));
  fs.writeFileSync(stamp, wanted);
  return packets;
}

/** replay's pairs over the same files: all of them, and those only end of input reports. */
async function replayPairs(
  context: AgentBenchContext,
  dir: string,
): Promise<{ total: number; endOfInput: number }> {
  const done = await runToCompletion(context.node, [
    context.main,
    'replay',
    dir,
    '--udp-ports',
    context.udpPort,
    '--output',
    'none',
    '--workers',
    '0',
    '--summary',
    'none',
  ]);
  const line = done.stderr.split('\n').find((l) => /^\s*pairs:/.test(l)) ?? '';
  let total = 0;
  for (const m of line.matchAll(/(?:matched|unanswered)=([\d,]+)/g))
    total += Number(m[1]!.replaceAll(',', ''));
  let endOfInput = 0;
  for (const m of line.matchAll(/end_of_input=([\d,]+)/g)) endOfInput += Number(m[1]!.replaceAll(',', ''));
  return { total, endOfInput };
}

function peakRssMb(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function oneRun(
  context: AgentBenchContext,
  source: string,
  workers: string,
  grpcUrl: string,
  receiver: { spans: number; pairs: number; reset(): void },
  caughtUpAt: number,
): Promise<AgentRunResult> {
  const root = path.join(context.outDir, 'agent-catch-up', `run-${workers}`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  fs.cpSync(source, path.join(root, 'pcaps'), {
    recursive: true,
    preserveTimestamps: true,
    filter: (file) => !file.endsWith('.json'),
  });
  receiver.reset();
  // As the chart starts it (see the file comment).
  const deployed = restartSettings(['node', context.main, 'run'], [], {}) ?? { flags: [], env: {} };
  const started = Date.now();
  const child: ChildProcess = spawn(
    context.node,
    [
      ...deployed.flags,
      context.main,
      'run',
      '--watch',
      path.join(root, 'pcaps'),
      '--state-dir',
      path.join(root, 'state'),
      '--otlp',
      grpcUrl,
      '--udp-ports',
      context.udpPort,
      '--health-port',
      '0',
      '--stats-interval',
      '0',
      '--grace',
      '1',
      '--workers',
      workers,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...deployed.env } },
  );
  child.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let pairs = 0;
  let lastChange = started;
  let firstSpanAt: number | null = null;
  let pairsInFirst = 0;
  let changeBefore: number | null = null;
  while (
    receiver.pairs < caughtUpAt &&
    Date.now() - lastChange < kQuietMillis &&
    Date.now() - started < kMaxMillis
  ) {
    await sleep(20);
    if (receiver.pairs !== pairs) {
      pairs = receiver.pairs;
      changeBefore = lastChange;
      lastChange = Date.now();
      if (firstSpanAt === null) {
        firstSpanAt = lastChange;
        pairsInFirst = pairs;
      }
    }
  }
  const pairsBeforeStop = receiver.pairs;
  const caughtUp = pairsBeforeStop >= caughtUpAt;
  const rss = peakRssMb(child.pid!);
  child.kill('SIGTERM');
  const exitCode = await exited;
  await sleep(200);
  fs.rmSync(root, { recursive: true, force: true });
  return {
    workers,
    catchUpSeconds: caughtUp ? (lastChange - started) / 1000 : null,
    firstSpanSeconds: firstSpanAt === null ? null : (firstSpanAt - started) / 1000,
    pairsInFirst,
    lastGapSeconds:
      changeBefore === null || firstSpanAt === lastChange ? null : (lastChange - changeBefore) / 1000,
    pairsBeforeStop,
    pairsTotal: receiver.pairs,
    spansTotal: receiver.spans,
    peakRssMb: rss,
    exitCode,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Runs the row (workers 0, auto and 2, `runs` times each, interleaved); returns the report lines. */
export async function measureAgentCatchUp(context: AgentBenchContext): Promise<string[]> {
  const source = path.join(context.outDir, 'agent-catch-up', 'src');
  const packets = splitCapture(context.pcap, source);
  const expected = await replayPairs(context, source);
  const caughtUpAt = expected.total - expected.endOfInput;
  const receiver = await startReceiver();
  const lines = [
    `agent: run catching up on ${kFiles} rotated files (${fmt.format(packets)} packets, replay finds ${fmt.format(expected.total)} pairs) into a counting OTLP/gRPC receiver, started as the Helm chart starts it (run's V8 flags and GLIBC_TUNABLES given: no self-restart), ${context.build}, median of ${context.runs}:`,
  ];
  // auto is one worker per core (2 here); 2 is the same pipeline named explicitly.
  const results = new Map<string, AgentRunResult[]>([
    ['0', []],
    ['auto', []],
    ['2', []],
  ]);
  try {
    for (let round = 1; round <= context.runs; round++) {
      for (const workers of results.keys()) {
        const result = await oneRun(context, source, workers, receiver.grpcUrl, receiver, caughtUpAt);
        results.get(workers)!.push(result);
        process.stderr.write(
          `bench: agent [${round}/${context.runs}] workers ${workers}: ${result.catchUpSeconds === null ? `did not catch up (${fmt.format(result.pairsBeforeStop)} of ${fmt.format(caughtUpAt)} pairs)` : `${result.catchUpSeconds.toFixed(3)} s`}, ${fmt.format(result.spansTotal)} spans for ${fmt.format(result.pairsTotal)} pairs in all, peak RSS ${result.peakRssMb?.toFixed(1) ?? 'n/a'} MB, exit ${result.exitCode}\n`,
        );
      }
    }
  } finally {
    await receiver.close();
  }
  for (const [workers, runs] of results) {
    const failed = runs.find((r) => r.catchUpSeconds === null || r.exitCode !== 0);
    if (failed) {
      lines.push(
        `  workers ${workers}: MISS: ${failed.catchUpSeconds === null ? `did not catch up: ${fmt.format(failed.pairsBeforeStop)} of ${fmt.format(caughtUpAt)} pairs` : `exit code ${failed.exitCode}`}`,
      );
      continue;
    }
    const seconds = median(runs.map((r) => r.catchUpSeconds!));
    const rate = caughtUpAt / seconds;
    const rss = Math.max(...runs.map((r) => r.peakRssMb ?? 0));
    // The run whose catch-up time is the median: its start-up and its rate from the first span on.
    const middle = runs.find((r) => r.catchUpSeconds === seconds)!;
    const firstSpan = middle.firstSpanSeconds!;
    const rateAfterFirst = (caughtUpAt - middle.pairsInFirst) / (seconds - firstSpan);
    const complete = runs.every((r) => r.pairsTotal === expected.total);
    lines.push(
      `  workers ${workers}: ${fmt.format(caughtUpAt)} spans in ${seconds.toFixed(3)} s = ${fmt.format(rate)} spans/s ` +
        `(first span after ${firstSpan.toFixed(3)} s, then ${fmt.format(rateAfterFirst)} spans/s; the last request ${middle.lastGapSeconds?.toFixed(3) ?? 'n/a'} s after the one before it); peak RSS ${rss.toFixed(1)} MB; ` +
        `after SIGTERM ${runs.map((r) => `${fmt.format(r.spansTotal)} spans for ${fmt.format(r.pairsTotal)} pairs`).join(' / ')}`,
      `    ${rate >= kSpansPerSecond ? 'PASS' : 'MISS'}  >= ${fmt.format(kSpansPerSecond)} spans/s sustained`,
      `    ${complete ? 'PASS' : 'MISS'}  every pair delivered (pairs in spans == replay's ${fmt.format(expected.total)}; an unanswered-flood span counts its pairs)`,
      `    ${rss <= kPeakRssMb ? 'PASS' : 'MISS'}  peak RSS <= ${kPeakRssMb} MB`,
    );
  }
  return lines;
}
