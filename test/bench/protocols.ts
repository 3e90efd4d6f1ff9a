/**
 * `npm run bench -- --protocols [--protocol-packets N] [--runs K]` (issues 13 and 14): packets/s
 * per protocol on real captures. Each committed capture below (tcpdump on real servers and
 * clients) is replicated to about N packets (replicate-capture.ts: copies one after another,
 * each copy's clients on their own address) into bench-out/protocols/, then replayed by the CLI
 * with `--output none`, `--workers 0` and `--workers auto`, K runs each (median wall time,
 * highest peak RSS). The HTTP/1 row is made the same way, so the rows compare like with like.
 *
 * Truth check: every protocol's matched pairs in the big capture must equal copies x the
 * source's (replayed once with the same flags); a row that differs says FAIL, so a row cannot
 * be fast and silently wrong. Exit status 1 when any check fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeMachine, formatMachine } from './machine.ts';
import { type Measured, measure, type RssMethod } from './measure.ts';
import { parseWirespanSummary } from './parse-output.ts';
import { countRecords, replicateCapture } from './replicate-capture.ts';

export interface ProtocolSource {
  label: string;
  /** The capture, relative to the repository. */
  file: string;
  /** The ports its servers listen on (the other side is the client, moved per copy). */
  serverPorts: number[];
  /** Extra replay flags (ports off the defaults). */
  flags: string[];
  /** Protocols whose matched pairs make the row's pairs column. */
  protocols: string[];
}

export const kProtocolSources: readonly ProtocolSource[] = [
  {
    label: 'HTTP/1.1',
    file: 'test/fixtures/corpus/http/pcapplusplus--http-packets2.pcap',
    serverPorts: [80],
    flags: [],
    protocols: ['http'],
  },
  {
    label: 'HTTP/2 (h2c)',
    file: 'test/fixtures/protocols/http2/h2c.pcap',
    serverPorts: [18080],
    flags: [],
    protocols: ['http'],
  },
  {
    label: 'gRPC',
    file: 'test/fixtures/protocols/http2/grpc.pcap',
    serverPorts: [18081],
    flags: [],
    protocols: ['grpc'],
  },
  {
    label: 'TLS handshakes',
    file: 'test/fixtures/protocols/tls/handshakes.pcap',
    serverPorts: [443, 8443],
    flags: [],
    protocols: ['tls'],
  },
  {
    label: 'PostgreSQL',
    file: 'test/fixtures/protocols/postgresql/postgresql.pcap',
    serverPorts: [55432],
    flags: ['--postgresql-ports', '55432'],
    protocols: ['postgresql'],
  },
  {
    label: 'MySQL',
    file: 'test/fixtures/protocols/mysql/mysql.pcap',
    serverPorts: [53306],
    flags: ['--mysql-ports', '53306'],
    protocols: ['mysql'],
  },
  {
    label: 'Redis',
    file: 'test/fixtures/protocols/redis/redis.pcap',
    serverPorts: [16379],
    flags: ['--redis-ports', '16379'],
    protocols: ['redis'],
  },
  {
    label: 'memcached',
    file: 'test/fixtures/protocols/memcached/memcached.pcap',
    serverPorts: [11311],
    flags: ['--memcached-ports', '11311'],
    protocols: ['memcached'],
  },
];

export interface ProtocolBenchContext {
  node: string;
  nodeVersion: string;
  entry: string;
  repoRoot: string;
  outDir: string;
  /** Packets per replicated capture (rounded up to whole copies). */
  packets: number;
  runs: number;
  rssMethod: RssMethod;
  scratch: string;
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Matched pairs by protocol from one replay's stderr summary. */
function matchedOf(run: Measured): Map<string, number> {
  return parseWirespanSummary(run.stderr).matched;
}

function replayArgs(
  context: ProtocolBenchContext,
  file: string,
  source: ProtocolSource,
  workers: string,
): string[] {
  return [
    context.entry,
    'replay',
    file,
    ...source.flags,
    '--output',
    'none',
    '--summary',
    'none',
    '--workers',
    workers,
  ];
}

/** Writes the replicated capture once; reused while the source, the copies and the writer are unchanged. */
function ensureReplica(context: ProtocolBenchContext, source: ProtocolSource, copies: number): string {
  const dir = path.join(context.outDir, 'protocols');
  fs.mkdirSync(dir, { recursive: true });
  const sourceFile = path.join(context.repoRoot, source.file);
  const file = path.join(dir, `${path.basename(source.file, '.pcap')}-x${copies}.pcap`);
  const stampFile = `${file}.stamp.json`;
  const stamp = JSON.stringify({
    sourceBytes: fs.statSync(sourceFile).size,
    writerBytes: fs.statSync(path.join(import.meta.dirname, 'replicate-capture.ts')).size,
    serverPorts: source.serverPorts,
  });
  if (fs.existsSync(file) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp)
    return file;
  process.stderr.write(`bench: writing ${path.relative(context.repoRoot, file)}\n`);
  const written = replicateCapture(sourceFile, file, copies, source.serverPorts);
  if (written.unshifted > 0)
    process.stderr.write(
      `bench:   ${written.unshifted} record(s) of each copy without a client side, kept as they are\n`,
    );
  fs.writeFileSync(stampFile, stamp);
  return file;
}

/** "" when equal, else what differs (protocol: got vs expected). */
function compareMatched(got: Map<string, number>, expected: Map<string, number>): string {
  const differences: string[] = [];
  for (const protocol of new Set([...got.keys(), ...expected.keys()])) {
    const g = got.get(protocol) ?? 0;
    const e = expected.get(protocol) ?? 0;
    if (g !== e) differences.push(`${protocol} ${fmt.format(g)} vs ${fmt.format(e)}`);
  }
  return differences.join(', ');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs the protocol rows and prints the table; returns false when a truth check failed. */
export async function runProtocolsBench(context: ProtocolBenchContext): Promise<boolean> {
  const start = describeMachine(context.nodeVersion);
  const header = [
    'protocol',
    'workers',
    'copies',
    'packets',
    'pairs',
    'wall s',
    'packets/s',
    'pairs/s',
    'peak RSS MB',
    'check',
  ];
  const rows: string[][] = [];
  const failures: string[] = [];
  for (const source of kProtocolSources) {
    const sourceFile = path.join(context.repoRoot, source.file);
    if (!fs.existsSync(sourceFile)) {
      failures.push(`${source.label}: ${source.file} missing`);
      continue;
    }
    const original = await measure(
      context.node,
      replayArgs(context, sourceFile, source, '0'),
      'none',
      context.scratch,
    );
    if (original.code !== 0) {
      failures.push(
        `${source.label}: replay of the source failed: ${original.stderr.trim().split('\n').at(-1)}`,
      );
      continue;
    }
    const sourceRecords = countRecords(sourceFile);
    const copies = Math.ceil(context.packets / sourceRecords);
    const expected = new Map([...matchedOf(original)].map(([protocol, n]) => [protocol, n * copies]));
    const replica = ensureReplica(context, source, copies);
    const packets = copies * sourceRecords;
    for (const workers of ['0', 'auto']) {
      const runs: Measured[] = [];
      for (let run = 0; run < context.runs; run++)
        runs.push(
          await measure(
            context.node,
            replayArgs(context, replica, source, workers),
            context.rssMethod,
            context.scratch,
          ),
        );
      const failed = runs.find((run) => run.code !== 0);
      if (failed) {
        const reason = `exit ${failed.code ?? failed.signal}: ${failed.stderr.trim().split('\n').at(-1)}`;
        rows.push([
          source.label,
          workers,
          fmt.format(copies),
          fmt.format(packets),
          '-',
          '-',
          '-',
          '-',
          '-',
          'FAIL',
        ]);
        failures.push(`${source.label}, workers ${workers}: ${reason}`);
        continue;
      }
      const difference =
        runs.map((run) => compareMatched(matchedOf(run), expected)).find((d) => d !== '') ?? '';
      if (difference !== '')
        failures.push(
          `${source.label}, workers ${workers}: matched pairs (got vs ${copies} x the source's): ${difference}`,
        );
      const matched = matchedOf(runs[0]!);
      const pairs = source.protocols.reduce((total, protocol) => total + (matched.get(protocol) ?? 0), 0);
      const wallS = median(runs.map((run) => Number(run.wallNs) / 1e9));
      const peaks = runs.map((run) => run.peakRssKb).filter((kb): kb is number => kb !== null);
      rows.push([
        source.label,
        workers,
        fmt.format(copies),
        fmt.format(packets),
        fmt.format(pairs),
        wallS.toFixed(3),
        fmt.format(packets / wallS),
        fmt.format(pairs / wallS),
        peaks.length > 0 ? (Math.max(...peaks) / 1024).toFixed(1) : 'n/a',
        difference === '' ? 'PASS' : 'FAIL',
      ]);
    }
  }
  const end = describeMachine(context.nodeVersion);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    ...formatMachine(start),
    `load average at the end: ${end.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
    `each capture replicated to ~${fmt.format(context.packets)} packets (bench-out/protocols/); replay --output none; median wall time of ${context.runs} run(s), highest peak RSS`,
    "pairs = matched pairs of the row's protocol; check = every protocol's matched pairs == copies x the source capture's",
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    ...(failures.length > 0 ? ['', 'failures:', ...failures.map((f) => `  ${f}`)] : []),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  fs.writeFileSync(path.join(context.outDir, 'protocols-results.txt'), `${out.join('\n')}\n`);
  return failures.length === 0;
}
