/**
 * The one benchmark runner (docs/performance.md): `npm run bench [-- --packets N --runs K --spans]`
 * times whole processes; `npm run bench -- --<stage> [args]` runs one stage's single-thread
 * measurement instead (kStageBenchmarks). Not part of `npm test`.
 *
 * In one run it:
 *   1. builds ../shared/bench/{gen-pcap,ref-correlate}.c into bench-out/ (when out of date)
 *      and generates bench-out/bench-<N>.pcap + truth once (seed 43), then reuses them;
 *   2. reads the capture once to warm the page cache, then times, K rounds in this order,
 *      each as a whole process: the C reference, `tcpdump -r F -w /dev/null`, and wirespan
 *      `replay F --udp-ports 9000` with `--output none` and `--output jsonl:/dev/null`,
 *      each with `--workers 0` and `--workers auto` (when the flag exists), and, on 2 cores or
 *      more, one `--workers 0` process per flow shard of the capture at once (shard-split.ts:
 *      what sharding can give on the machine);
 *   3. prints the machine, a table (median wall time, packets/s, pairs/s, peak RSS, ratio
 *      to the C reference) and PASS/MISS per issue-4 target: a miss never fails the run;
 *   4. checks wirespan's JSONL pairs against the generator's truth file;
 *   5. with --spans, measures spans/s into a local OTLP receiver (when `--otlp` exists);
 *   6. the agent row (issue 12, agent-catch-up.ts): `run` catching up on the first 1 M packets
 *      split into 10 rotated files, into a counting OTLP/gRPC receiver, workers 0 and auto
 *      (`--agent`: only this row), timing the bundle the image runs (built into bench-out/bundle/
 *      by agent/build-bundle.ts, like the C reference is built).
 * `--protocols` (protocols.ts) instead times replays of committed real HTTP/1.1, HTTP/2, gRPC, TLS,
 * PostgreSQL and MySQL captures, each replicated to a large capture, with a pair-count check.
 * Exit status: 0 when everything ran (targets may be missed), 1 when setup failed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildBundle } from '../../agent/build-bundle.ts';
import { measureAgentCatchUp } from './agent-catch-up.ts';
import { installCleanup, runToCompletion } from './children.ts';
import { runHostileBench } from './hostile.ts';
import { describeMachine, formatMachine } from './machine.ts';
import { detectRssMethod, type Measured, measure, type RssMethod, rssMethodNames } from './measure.ts';
import { startReceiver } from './otlp-receiver.ts';
import { parseReferenceOutput, parseWirespanSummary, sum } from './parse-output.ts';
import { runProtocolsBench } from './protocols.ts';
import { splitByShard } from './shard-split.ts';
import { compile, ensureCapture, SetupError, versionOf, warmPageCache, which } from './tools.ts';
import { checkAgainstTruth, loadTruth } from './truth-check.ts';

const usage = `usage: npm run bench -- [--packets N] [--mix SPEC] [--runs K] [--spans] [--agent] [--skip-check]
       npm run bench -- --protocols [--protocol-packets N] [--runs K]
       npm run bench -- --decode|--otlp-encode|--span-path|--span-throughput [that stage's arguments]

  --packets N    capture size in packets (default 5000000; e.g. 500000 for a quick run)
  --mix SPEC     generator traffic mix, e.g. dns=50,http=35,udp=15,v6=20 (default: gen-pcap's)
  --runs K       timed runs per row, the median is reported (default 3)
  --spans        also measure spans/s into a local OTLP receiver (needs replay --otlp)
  --agent        only the agent row: run catching up on 10 rotated files (1 M packets of
                 the capture) into a counting OTLP/gRPC receiver, workers 0 and auto
  --hostile      instead: the crafted floods of test/hostile/ at full size (time, peak RSS,
                 growth from 1/4 size) next to normal captures; see test/bench/hostile.ts
  --protocols    instead: HTTP/1.1, HTTP/2, gRPC, TLS, PostgreSQL, MySQL, Redis and memcached rows, each a
                 committed real capture replicated to --protocol-packets packets, replayed
                 with workers 0 and auto, pairs checked against copies x the source's; see
                 test/bench/protocols.ts
  --protocol-packets N  with --protocols: packets per replicated capture (default 300000)
  --budget MIB   with --hostile: wirespan's --memory-budget (default: its own)
  --skip-check   skip the correctness check against the truth file
  --help         this text

One stage on one thread (the script's header lists its arguments):
  --decode [iterations]                                  decode.ts: ns per packet
  --otlp-encode [spans] [batch] [rounds]                 otlp-encode.ts: wirespan's encoder vs the SDK's
  --span-path [spans]                                    span-path.ts: SDK Tracer vs direct ReadableSpan
  --span-throughput [pairs] [ratio] [raw,decoding] [emit|encoded]
                                                         span-throughput.ts: spans/s into a local receiver
`;

/** Stage benchmarks: scripts in this folder, run as a child with the arguments after the mode. */
const kStageBenchmarks: Record<string, string> = {
  '--decode': 'decode.ts',
  '--otlp-encode': 'otlp-encode.ts',
  '--span-path': 'span-path.ts',
  '--span-throughput': 'span-throughput.ts',
};

const repoRoot = path.resolve(import.meta.dirname, '../..');
const outDir = path.join(repoRoot, 'bench-out');
const sharedBench = path.resolve(repoRoot, '../shared/bench');
const seed = 43;
/** gen-pcap's request/reply UDP port. */
const udpPort = '9000';

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

interface Options {
  packets: number;
  /** gen-pcap's MIX argument (null: its default mix). */
  mix: string | null;
  runs: number;
  spans: boolean;
  /** Only the agent row. */
  agentOnly: boolean;
  check: boolean;
  hostile: boolean;
  /** --budget MIB for the hostile floods (null: wirespan's default). */
  budgetMiB: number | null;
  /** The per-protocol rows on replicated real captures instead (protocols.ts). */
  protocols: boolean;
  protocolPackets: number;
}

function parseBenchArgs() {
  return parseArgs({
    options: {
      packets: { type: 'string', default: '5000000' },
      mix: { type: 'string' },
      runs: { type: 'string', default: '3' },
      spans: { type: 'boolean', default: false },
      agent: { type: 'boolean', default: false },
      hostile: { type: 'boolean', default: false },
      protocols: { type: 'boolean', default: false },
      'protocol-packets': { type: 'string', default: '300000' },
      budget: { type: 'string' },
      'skip-check': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
}

function parseOptions(): Options {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs();
  } catch (error) {
    throw new SetupError(`${(error as Error).message}\n${usage}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const packets = Number(values.packets.replaceAll('_', ''));
  const runs = Number(values.runs);
  if (!Number.isInteger(packets) || packets < 1000)
    throw new SetupError(`--packets must be an integer ≥ 1000, got "${values.packets}"`);
  if (!Number.isInteger(runs) || runs < 1)
    throw new SetupError(`--runs must be a positive integer, got "${values.runs}"`);
  const mix = values.mix ?? null;
  if (mix !== null && !/^([a-z0-9]+=\d+)(,[a-z0-9]+=\d+)*$/.test(mix))
    throw new SetupError(`--mix must look like dns=50,http=35,udp=15,v6=20, got "${mix}"`);
  const protocolPackets = Number(values['protocol-packets'].replaceAll('_', ''));
  if (!Number.isInteger(protocolPackets) || protocolPackets < 1)
    throw new SetupError(
      `--protocol-packets must be a positive integer, got "${values['protocol-packets']}"`,
    );
  const budgetMiB = values.budget === undefined ? null : Number(values.budget);
  if (budgetMiB !== null && !(Number.isInteger(budgetMiB) && budgetMiB > 0))
    throw new SetupError(`--budget must be a positive integer (MiB), got "${values.budget}"`);
  return {
    packets,
    mix,
    runs,
    spans: values.spans,
    agentOnly: values.agent,
    check: !values['skip-check'],
    hostile: values.hostile,
    budgetMiB,
    protocols: values.protocols,
    protocolPackets,
  };
}

/** The Node that runs wirespan: the project's Node 24 (npm puts it first on PATH). */
function wirespanNode(): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) return process.execPath;
  const local = path.join(repoRoot, 'node_modules/.bin/node');
  if (fs.existsSync(local)) return local;
  throw new SetupError(
    `wirespan needs Node ≥ 24 (this is ${process.version}); run npm install, then npm run bench`,
  );
}

/**
 * The CLI entry: package.json "bin".wirespan (the executable users run), else the
 * historical agent/cli/main.ts.
 */
function wirespanEntry(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
  };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.wirespan;
  for (const candidate of [bin, 'agent/cli/main.ts']) {
    if (candidate && fs.existsSync(path.join(repoRoot, candidate))) return path.join(repoRoot, candidate);
  }
  throw new SetupError('wirespan CLI entry not found (package.json "bin".wirespan)');
}

/**
 * The agent row times what the image runs: the bundle (agent/build-bundle.ts), built into
 * bench-out/bundle/ for every bench run (esbuild takes ~1-3 s), as the C reference is built.
 */
async function buildAgentBundle(): Promise<{ main: string; build: string }> {
  const started = performance.now();
  const { outDir: dir } = await buildBundle(path.join(outDir, 'bundle'));
  const main = path.join(dir, 'main.mjs');
  process.stderr.write(`bench: built ${main} in ${Math.round(performance.now() - started)} ms\n`);
  return {
    main,
    build: `the bundle the image runs (${path.relative(repoRoot, main)}, agent/build-bundle.ts)`,
  };
}

interface Row {
  id: string;
  label: string;
  command: string;
  args: string[];
  /** shards: N `--workers 0` processes at once, one per flow shard of the capture (shard-split.ts). */
  kind: 'reference' | 'tcpdump' | 'wirespan' | 'shards';
  /** Set for wirespan rows. */
  workers?: '0' | 'auto';
  /** Set for the shards row: how many processes. */
  shards?: number;
  output?: 'none' | 'jsonl';
  runs: Measured[];
  failure: string | null;
}

interface RowResult {
  row: Row;
  wallS: number | null;
  packets: number;
  pairs: number | null;
  /** Pairs of dns/http/udp only (comparable with the C reference). */
  corePairs: number | null;
  tcpPairs: number | null;
  peakRssMb: number | null;
  ratio: number | null;
  notes: string[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

function failureOf(run: Measured): string | null {
  if (run.code === 0) return null;
  const how = run.signal ? `signal ${run.signal}` : `exit ${run.code}`;
  return `${how}: ${lastLine(run.stderr) || lastLine(run.stdout)}`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function formatTable(results: readonly RowResult[], runs: number): string[] {
  const header = ['tool / mode', 'wall s', 'packets/s', 'pairs', 'pairs/s', 'peak RSS MB', 'x C'];
  const measured = results.filter((r) => r.wallS !== null);
  const cells = new Map(
    measured.map((r) => {
      const wall = r.wallS!;
      return [
        r,
        [
          r.row.label,
          wall.toFixed(3),
          fmt.format(r.packets / wall),
          r.pairs === null ? '-' : fmt.format(r.pairs),
          r.pairs === null ? '-' : fmt.format(r.pairs / wall),
          r.peakRssMb === null ? 'n/a' : r.peakRssMb.toFixed(1),
          r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}x`,
        ],
      ];
    }),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...[...cells.values()].map((c) => c[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => pad(c, widths[i]!, i > 0)).join('  ');
  return [
    `median wall time of ${runs} run${runs === 1 ? '' : 's'} per row; peak RSS = highest of the runs; x C = wall time / C reference wall time`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...results.map((r) => {
      const row = cells.get(r);
      return row
        ? line(row)
        : `${pad(r.row.label, widths[0]!)}  failed: ${r.row.failure ?? 'no successful run'}`;
    }),
  ];
}

function summarize(row: Row, packets: number, referenceWall: number | null): RowResult {
  const ok = row.runs.filter((r) => r.code === 0);
  const notes: string[] = [];
  if (ok.length === 0 || row.failure !== null)
    return {
      row,
      wallS: null,
      packets,
      pairs: null,
      corePairs: null,
      tcpPairs: null,
      peakRssMb: null,
      ratio: null,
      notes,
    };
  const wallS = median(ok.map((r) => Number(r.wallNs) / 1e9));
  const rss = ok.map((r) => r.peakRssKb).filter((kb): kb is number => kb !== null);
  const peakRssMb = rss.length > 0 ? Math.max(...rss) / 1024 : null;
  let pairs: number | null = null;
  let corePairs: number | null = null;
  let tcpPairs: number | null = null;
  const last = ok[ok.length - 1]!;
  if (row.kind === 'reference' || row.kind === 'wirespan') {
    const counts =
      row.kind === 'reference' ? parseReferenceOutput(last.stdout) : parseWirespanSummary(last.stderr);
    if (counts.matched.size > 0) {
      pairs = sum(counts.matched.values());
      corePairs = sum(['dns', 'http', 'udp'].map((p) => counts.matched.get(p) ?? 0));
      tcpPairs = counts.matched.get('tcp') ?? 0;
    } else notes.push(`${row.label}: no pair counts found in its output`);
    if (counts.packets !== null && counts.packets !== packets)
      notes.push(
        `${row.label}: read ${fmt.format(counts.packets)} packets, the capture has ${fmt.format(packets)}`,
      );
    const allPairs = ok.map((r) => {
      const c = row.kind === 'reference' ? parseReferenceOutput(r.stdout) : parseWirespanSummary(r.stderr);
      return sum(c.matched.values());
    });
    if (new Set(allPairs).size > 1)
      notes.push(`${row.label}: pair counts differ between runs: ${allPairs.join(', ')}`);
  }
  return {
    row,
    wallS,
    packets,
    pairs,
    corePairs,
    tcpPairs,
    peakRssMb,
    ratio: referenceWall === null ? null : wallS / referenceWall,
    notes,
  };
}

/**
 * The shards row: `sh -c SCRIPT node main port file...` runs `replay file --output none
 * --workers 0` for every file at once and fails when any of them does.
 */
const kAtOnceScript = [
  'node=$0 main=$1 port=$2; shift 2; pids=',
  'for file; do "$node" "$main" replay "$file" --udp-ports "$port" --output none --workers 0 & pids="$pids $!"; done',
  'status=0; for pid in $pids; do wait "$pid" || status=$?; done; exit $status',
].join('\n');

/** Issue 12: `replay --otlp` spans/s. */
const kReplaySpansPerSecond = 100_000;

function verdict(pass: boolean): string {
  return pass ? 'PASS' : 'MISS';
}

function targetLines(results: readonly RowResult[], workersSupported: boolean): string[] {
  const find = (workers: '0' | 'auto', output: 'none' | 'jsonl') =>
    results.find((r) => r.row.kind === 'wirespan' && r.row.workers === workers && r.row.output === output);
  const lines = ['targets (issues 4 and 12; a MISS is reported, never fatal):'];
  const auto = find('auto', 'none');
  if (!workersSupported)
    lines.push('  N/A   --workers auto, count-only <= 1.0x C: --workers not available yet');
  else if (auto?.ratio == null)
    lines.push('  N/A   --workers auto, count-only <= 1.0x C: row failed or no C reference');
  else
    lines.push(
      `  ${verdict(auto.ratio <= 1.0)}  --workers auto, count-only <= 1.0x C: ${auto.ratio.toFixed(2)}x`,
    );
  const zero = find('0', 'none');
  if (zero?.ratio == null)
    lines.push('  N/A   --workers 0, count-only <= 1.5x C: row failed or no C reference');
  else
    lines.push(
      `  ${verdict(zero.ratio <= 1.5)}  --workers 0, count-only <= 1.5x C: ${zero.ratio.toFixed(2)}x${workersSupported ? '' : ' (measured without the flag: it is not available yet)'}`,
    );
  const jsonl = results.filter((r) => r.row.output === 'jsonl' && r.wallS !== null && r.pairs !== null);
  if (jsonl.length === 0)
    lines.push('  N/A   JSONL to /dev/null >= 1,000,000 pairs/s: no JSONL row succeeded');
  else {
    const best = jsonl.reduce((a, b) => (a.pairs! / a.wallS! >= b.pairs! / b.wallS! ? a : b));
    const rate = best.pairs! / best.wallS!;
    const coreRate = (best.corePairs ?? 0) / best.wallS!;
    lines.push(
      `  ${verdict(rate >= 1_000_000)}  JSONL to /dev/null >= 1,000,000 pairs/s: ${fmt.format(rate)} pairs/s ` +
        `(best row: ${best.row.label}; all matched pairs incl. tcp handshakes; dns+http+udp only: ${fmt.format(coreRate)}/s)`,
    );
  }
  const measured = results.filter((r) => r.row.kind === 'wirespan' && r.wallS !== null);
  const rss = measured.filter((r) => r.peakRssMb !== null);
  // Issue 12's own targets for the worker pipeline (its JSONL and RSS targets are the lines above and below).
  if (workersSupported) {
    if (auto?.ratio == null)
      lines.push('  N/A   (issue 12) --workers auto, count-only <= 2.0x C: row failed or no C reference');
    else
      lines.push(
        `  ${verdict(auto.ratio <= 2.0)}  (issue 12) --workers auto, count-only <= 2.0x C: ${auto.ratio.toFixed(2)}x`,
      );
    if (auto?.wallS == null || zero?.wallS == null)
      lines.push(
        '  N/A   (issue 12) --workers auto >= 1.6x faster than --workers 0 (count-only): a row failed',
      );
    else {
      const speedup = zero.wallS / auto.wallS;
      const shards = results.find((r) => r.row.kind === 'shards' && r.wallS !== null);
      const ceiling = shards
        ? `; the capture's ${shards.row.shards} flow shards in as many --workers 0 processes at once: ${(zero.wallS / shards.wallS!).toFixed(2)}x, sharding's speed-up without any pipeline cost`
        : '';
      lines.push(
        `  ${verdict(speedup >= 1.6)}  (issue 12) --workers auto >= 1.6x faster than --workers 0 (count-only): ${speedup.toFixed(2)}x${ceiling}`,
      );
    }
  }
  if (rss.length === 0) lines.push('  N/A   peak RSS <= 400 MB: not measured');
  else {
    const worst = rss.reduce((a, b) => (a.peakRssMb! >= b.peakRssMb! ? a : b));
    lines.push(
      `  ${verdict(worst.peakRssMb! <= 400)}  peak RSS <= 400 MB (every wirespan row): highest ${worst.peakRssMb!.toFixed(1)} MB (${worst.row.label})`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const options = parseOptions();
  installCleanup();
  const startLoad = describeMachine('');
  fs.mkdirSync(outDir, { recursive: true });
  const node = wirespanNode();
  const nodeVersion = versionOf(node, ['--version']) ?? 'unknown';
  const notes: string[] = [];
  if (options.runs < 3) notes.push(`--runs ${options.runs}: fewer than the 3 runs issue 4 asks for`);

  // 1. Tools and capture.
  const scratch = path.join(outDir, 'time.out');
  const rssMethod: RssMethod = await detectRssMethod(scratch);
  if (rssMethod !== 'gnu-time')
    notes.push(`peak RSS: /usr/bin/time unusable (Debian package "time"); ${rssMethodNames[rssMethod]}`);
  if (options.protocols) {
    const passed = await runProtocolsBench({
      node,
      nodeVersion,
      entry: wirespanEntry(),
      repoRoot,
      outDir,
      packets: options.protocolPackets,
      runs: options.runs,
      rssMethod,
      scratch,
    });
    if (!passed) process.exitCode = 1;
    return;
  }
  const genSource = path.join(sharedBench, 'gen-pcap.c');
  const refSource = path.join(sharedBench, 'ref-correlate.c');
  const gen = path.join(outDir, 'gen-pcap');
  const ref = path.join(outDir, 'ref-correlate');
  if (await compile(genSource, gen, ['-lm'])) process.stderr.write(`bench: built ${gen}\n`);
  if (await compile(refSource, ref, [])) process.stderr.write(`bench: built ${ref}\n`);
  if (options.hostile) {
    await runHostileBench({
      node,
      nodeVersion,
      entry: wirespanEntry(),
      outDir,
      gen,
      genSource,
      seed,
      rssMethod,
      scratch,
      budgetMiB: options.budgetMiB,
    });
    return;
  }

  const capture = await ensureCapture(gen, genSource, outDir, options.packets, seed, options.mix);
  const rel = (file: string) => path.relative(repoRoot, file);
  const agentContext = {
    node,
    ...(await buildAgentBundle()),
    pcap: capture.pcap,
    outDir,
    udpPort,
    runs: options.runs,
  };
  if (options.agentOnly) {
    const load = describeMachine('').loadAverage.map((v) => v.toFixed(2));
    const lines = [
      `load average at start: ${load.join(' ')}`,
      ...(await measureAgentCatchUp(agentContext)),
      `load average at the end: ${describeMachine('')
        .loadAverage.map((v) => v.toFixed(2))
        .join(' ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    fs.writeFileSync(path.join(outDir, 'agent-results.txt'), `${lines.join('\n')}\n`);
    return;
  }

  // 2. What this wirespan supports.
  const main = wirespanEntry();
  const help = await runToCompletion(node, [main, 'replay', '--help']);
  const helpText = help.stdout + help.stderr;
  const workersSupported = /--workers\b/.test(helpText);
  const otlpSupported = /--otlp\b/.test(helpText);
  if (!workersSupported)
    notes.push(
      'wirespan replay has no --workers flag yet: the workers-0 rows ran without it, the auto rows are skipped',
    );

  const tcpdump =
    which('tcpdump') ?? ['/usr/sbin/tcpdump', '/usr/bin/tcpdump'].find((p) => fs.existsSync(p)) ?? null;
  if (!tcpdump) notes.push('tcpdump not installed (Debian package "tcpdump"): its row is skipped');

  // 3. Rows, in the order issue 4 lists them.
  const rows: Row[] = [];
  const addRow = (row: Omit<Row, 'runs' | 'failure'>) => rows.push({ ...row, runs: [], failure: null });
  addRow({
    id: 'c',
    label: 'C reference (ref-correlate)',
    command: ref,
    args: [capture.pcap],
    kind: 'reference',
  });
  if (tcpdump)
    addRow({
      id: 'tcpdump',
      label: 'tcpdump -r F -w /dev/null',
      command: tcpdump,
      args: ['-r', capture.pcap, '-w', '/dev/null'],
      kind: 'tcpdump',
    });
  for (const output of ['none', 'jsonl'] as const) {
    for (const workers of ['0', 'auto'] as const) {
      if (workers === 'auto' && !workersSupported) continue;
      const outputArg = output === 'none' ? 'none' : 'jsonl:/dev/null';
      const mode = output === 'none' ? 'count-only' : 'jsonl:/dev/null';
      addRow({
        id: `wirespan-${output}-${workers}`,
        label: `wirespan ${mode}, workers ${workers}${workersSupported ? '' : ' (flag not yet available)'}`,
        command: node,
        args: [
          main,
          'replay',
          capture.pcap,
          '--udp-ports',
          udpPort,
          '--output',
          outputArg,
          ...(workersSupported ? ['--workers', workers] : []),
        ],
        kind: 'wirespan',
        workers,
        output,
      });
    }
  }
  // What sharding can give on this machine: the capture split by the pipeline's flow hash, one
  // `--workers 0` process per shard (as many as --workers auto starts), all at once.
  const shardCount = os.availableParallelism();
  const shardFiles: string[] = [];
  if (workersSupported && shardCount >= 2) {
    process.stderr.write(`bench: splitting the capture into its ${shardCount} flow shards ...\n`);
    const files = splitByShard(capture.pcap, shardCount);
    shardFiles.push(...files);
    addRow({
      id: 'shards',
      label: `wirespan count-only, ${shardCount} shard processes`,
      command: '/bin/sh',
      args: ['-c', kAtOnceScript, node, main, udpPort, ...files],
      kind: 'shards',
      shards: shardCount,
    });
  }

  const machine = describeMachine(nodeVersion);
  machine.loadAverage = startLoad.loadAverage;
  const head = [
    `wirespan benchmark: ${rel(capture.pcap)} (${fmt.format(capture.packets)} packets, ${fmt.format(capture.bytes)} bytes, seed ${seed}${options.mix ? `, mix ${options.mix}` : ''}${capture.generated ? ', generated now' : ', reused'})`,
    ...formatMachine(machine),
    `cli:     ${path.basename(node)} ${rel(main)} replay ...`,
    `tools:   ${versionOf('gcc', ['--version']) ?? 'gcc ?'}; ${tcpdump ? (versionOf(tcpdump, ['--version']) ?? 'tcpdump') : 'no tcpdump'}; peak RSS via ${rssMethodNames[rssMethod]}`,
    `truth:   ${capture.generatorSummary}`,
  ];
  process.stdout.write(`${head.join('\n')}\n`);
  if (machine.loadAverage[0] > 0.5 * machine.cores)
    notes.push(
      `load average ${machine.loadAverage[0].toFixed(2)} at start on ${machine.cores} cores: other processes compete for the CPU, timings are pessimistic`,
    );
  process.stderr.write('bench: warming the page cache ...\n');
  await warmPageCache(capture.pcap);
  for (const file of shardFiles) await warmPageCache(file);

  // 4. Timed rounds: every row once per round, so slow drift hits all rows alike.
  for (let round = 1; round <= options.runs; round++) {
    for (const row of rows) {
      if (row.failure !== null) continue;
      const run = await measure(row.command, row.args, rssMethod, scratch);
      row.runs.push(run);
      row.failure = failureOf(run);
      const rss = run.peakRssKb === null ? 'n/a' : `${(run.peakRssKb / 1024).toFixed(1)} MB`;
      process.stderr.write(
        `bench: [${round}/${options.runs}] ${row.label}: ${row.failure ?? `${(Number(run.wallNs) / 1e9).toFixed(3)} s, peak RSS ${rss}`}\n`,
      );
    }
  }

  const reference = summarize(rows[0]!, capture.packets, null);
  const referenceWall = reference.wallS;
  if (referenceWall === null) notes.push('the C reference failed: no ratios');
  const results = rows.map((row) =>
    row === rows[0] ? { ...reference, ratio: 1 } : summarize(row, capture.packets, referenceWall),
  );
  if (referenceWall === null) results[0]!.ratio = null;
  for (const r of results) notes.push(...r.notes);
  const w0 = results.find((r) => r.row.kind === 'wirespan' && r.tcpPairs !== null);
  if (w0 && reference.pairs !== null)
    notes.push(
      `pairs: wirespan counts all matched pairs, incl. ${fmt.format(w0.tcpPairs!)} TCP handshakes the C reference does not pair; ` +
        `its dns+http+udp pairs = ${fmt.format(w0.corePairs!)} (C reference: ${fmt.format(reference.pairs)})`,
    );
  if (rssMethod === 'gnu-time' || rssMethod === 'proc-vmhwm')
    notes.push('peak RSS counts mapped file pages: the C reference mmaps the whole capture');

  notes.push(
    `load average after the timed runs: ${describeMachine('')
      .loadAverage.map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  const table = [...formatTable(results, options.runs), '', ...targetLines(results, workersSupported)];
  if (notes.length > 0) table.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
  process.stdout.write(`\n${table.join('\n')}\n`);

  // 5. Correctness against the truth file.
  const checkReport: string[] = [];
  const checkResults: unknown[] = [];
  if (options.check) {
    process.stderr.write('\nbench: loading the truth file ...\n');
    const truth = loadTruth(capture.truth, capture.packets);
    checkReport.push(
      `correctness vs ${rel(capture.truth)}: ${fmt.format(truth.count)} truth pairs (dns ${fmt.format(truth.countByKind[0]!)}, http ${fmt.format(truth.countByKind[1]!)}, udp ${fmt.format(truth.countByKind[2]!)})`,
    );
    for (const workers of workersSupported ? (['0', 'auto'] as const) : (['0'] as const)) {
      const jsonl = path.join(outDir, workers === '0' ? 'pairs.jsonl' : `pairs-workers-${workers}.jsonl`);
      const args = [
        main,
        'replay',
        capture.pcap,
        '--udp-ports',
        udpPort,
        '--dns-latency-from',
        'first',
        '--output',
        `jsonl:${jsonl}`,
        ...(workersSupported ? ['--workers', workers] : []),
      ];
      process.stderr.write(`bench: writing ${rel(jsonl)} (workers ${workers}) ...\n`);
      const run = await measure(node, args, rssMethod, scratch);
      const failure = failureOf(run);
      const label = `workers ${workers}${workersSupported ? '' : ' (flag not yet available)'}`;
      if (failure) {
        checkReport.push(`  ${label}: wirespan failed: ${failure}`);
        checkResults.push({ workers, failure });
        continue;
      }
      process.stderr.write(`bench: checking ${rel(jsonl)} ...\n`);
      const started = process.hrtime.bigint();
      const result = await checkAgainstTruth(jsonl, truth);
      const checkS = Number(process.hrtime.bigint() - started) / 1e9;
      const pass = result.missing === 0 && result.extra === 0;
      const outcomes = [...result.byOutcome].map(([k, v]) => `${k}=${fmt.format(v)}`).join(', ');
      checkReport.push(
        `  ${pass ? 'PASS' : 'MISS'}  ${label}: ${fmt.format(result.found)}/${fmt.format(result.truthPairs)} truth pairs found, ` +
          `${fmt.format(result.missing)} missing, ${fmt.format(result.extra)} extra dns/http/udp matched pairs ` +
          `(${fmt.format(result.extraSameRequest)} with a truth request but another response/latency/protocol, ${fmt.format(result.extraDuplicate)} duplicates)`,
        `        wirespan to ${rel(jsonl)}: ${(Number(run.wallNs) / 1e9).toFixed(3)} s, peak RSS ${run.peakRssKb === null ? 'n/a' : `${(run.peakRssKb / 1024).toFixed(1)} MB`}; ` +
          `${fmt.format(result.lines)} lines (${outcomes}); check took ${checkS.toFixed(1)} s`,
      );
      for (const e of result.missingExamples) checkReport.push(`        missing: ${e}`);
      for (const e of result.extraExamples) checkReport.push(`        extra:   ${e}`);
      checkResults.push({ workers, ...result, byOutcome: Object.fromEntries(result.byOutcome) });
    }
  } else checkReport.push('correctness: skipped (--skip-check)');
  process.stdout.write(`\n${checkReport.join('\n')}\n`);

  // 6. Spans end to end (optional).
  const spanReport: string[] = [];
  if (options.spans) {
    if (!otlpSupported) spanReport.push('spans: --otlp not available yet');
    else
      spanReport.push(
        ...(await measureSpans(
          node,
          main,
          capture.pcap,
          capture.packets,
          options.runs,
          workersSupported,
          rssMethod,
          scratch,
          helpText,
        )),
      );
    process.stdout.write(`\n${spanReport.join('\n')}\n`);
  }

  // 7. The agent catching up on a backlog (issue 12).
  const agentReport = await measureAgentCatchUp(agentContext);
  process.stdout.write(`\n${agentReport.join('\n')}\n`);

  const text = [
    ...head,
    '',
    ...table,
    '',
    ...checkReport,
    ...(spanReport.length > 0 ? ['', ...spanReport] : []),
    '',
    ...agentReport,
  ].join('\n');
  fs.writeFileSync(path.join(outDir, 'results.txt'), `${text}\n`);
  fs.writeFileSync(
    path.join(outDir, 'results.json'),
    `${JSON.stringify(
      {
        capture: { ...capture, pcap: rel(capture.pcap), truth: rel(capture.truth) },
        machine,
        rssMethod,
        workersSupported,
        rows: results.map((r) => ({
          label: r.row.label,
          command: [r.row.command, ...r.row.args],
          wallSeconds: r.row.runs.map((run) => Number(run.wallNs) / 1e9),
          medianWallSeconds: r.wallS,
          peakRssKb: r.row.runs.map((run) => run.peakRssKb),
          pairs: r.pairs,
          corePairs: r.corePairs,
          ratio: r.ratio,
          failure: r.row.failure,
        })),
        correctness: checkResults,
        notes,
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(
    `\nbench: report saved to ${rel(path.join(outDir, 'results.txt'))} and results.json\n`,
  );
}

/**
 * spans/s end to end: wirespan replays the capture exporting spans over OTLP to a receiver
 * in this process (gRPC when `replay --help` mentions grpc or port 4317, else HTTP; both
 * are listening and counted); the time runs from spawn until wirespan exits (it must flush
 * before exiting), spans are those the receiver counted. The endpoint goes in the flag
 * (`--otlp-endpoint URL` when that exists, else `--otlp URL`) and in
 * OTEL_EXPORTER_OTLP_ENDPOINT.
 */
async function measureSpans(
  node: string,
  main: string,
  pcap: string,
  packets: number,
  runs: number,
  workersSupported: boolean,
  rssMethod: RssMethod,
  scratch: string,
  helpText: string,
): Promise<string[]> {
  const receiver = await startReceiver();
  const grpc = /grpc|4317/i.test(helpText);
  const url = grpc ? receiver.grpcUrl : receiver.httpUrl;
  const lines = [`spans to a local OTLP/${grpc ? 'gRPC' : 'HTTP'} receiver (${url}), median of ${runs}:`];
  const flag = /--otlp-endpoint\b/.test(helpText) ? ['--otlp-endpoint', url] : ['--otlp', url];
  const env = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: url };
  try {
    for (const workers of workersSupported ? (['0', 'auto'] as const) : (['0'] as const)) {
      const args = [main, 'replay', pcap, '--udp-ports', udpPort, '--output', 'none', ...flag];
      if (workersSupported) args.push('--workers', workers);
      const walls: number[] = [];
      let spans = 0;
      let pairs: number | null = null;
      let rss = 0;
      let failure: string | null = null;
      for (let i = 0; i < runs && failure === null; i++) {
        receiver.reset();
        const run = await measure(node, args, rssMethod, scratch, env);
        failure = failureOf(run);
        walls.push(Number(run.wallNs) / 1e9);
        spans = receiver.spans;
        const counts = parseWirespanSummary(run.stderr);
        pairs = counts.matched.size > 0 ? sum(counts.matched.values()) : null;
        rss = Math.max(rss, run.peakRssKb ?? 0);
        if (receiver.errors > 0) failure = `${receiver.errors} OTLP requests could not be decoded`;
        else if (failure === null && spans === 0)
          failure = 'the receiver got no spans (flag or protocol mismatch?)';
        process.stderr.write(
          `bench: spans [${i + 1}/${runs}] workers ${workers}: ${failure ?? `${fmt.format(spans)} spans in ${walls[walls.length - 1]!.toFixed(3)} s`}\n`,
        );
      }
      if (failure) lines.push(`  workers ${workers}: failed: ${failure}`);
      else {
        const wall = median(walls);
        lines.push(
          `  workers ${workers}: ${fmt.format(spans)} spans in ${wall.toFixed(3)} s = ${fmt.format(spans / wall)} spans/s ` +
            `(${fmt.format(packets / wall)} packets/s; peak RSS ${rss ? (rss / 1024).toFixed(1) : 'n/a'} MB; ` +
            `wirespan matched pairs ${pairs === null ? '?' : fmt.format(pairs)})`,
          `    ${verdict(spans / wall >= kReplaySpansPerSecond)}  (issue 12) replay --otlp >= ${fmt.format(kReplaySpansPerSecond)} spans/s (wall time from spawn to exit)`,
        );
      }
    }
  } finally {
    await receiver.close();
  }
  return lines;
}

const stageScript = kStageBenchmarks[process.argv[2] ?? ''];
if (stageScript !== undefined) {
  const stage = spawnSync(
    process.execPath,
    [path.join(import.meta.dirname, stageScript), ...process.argv.slice(3)],
    {
      stdio: 'inherit',
    },
  );
  process.exit(stage.status ?? 1);
}

try {
  await main();
} catch (error) {
  if (error instanceof SetupError) {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
