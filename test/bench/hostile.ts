/**
 * `npm run bench -- --hostile [--budget MIB]` (issue 11): every crafted flood of test/hostile/ at
 * its full size, replayed by the real CLI with the default workers, next to a normal capture
 * (gen-pcap's default mix) of the same packet count. Per flood it prints the wall time, µs per
 * packet, peak RSS, the time ratio to the normal capture, and the growth from a quarter of the
 * size to the full size (linear time ≈ 4x minus start-up; quadratic ≈ 16x). PASS/MISS per flood:
 * peak RSS within the memory budget and growth ≤ 6x. A miss never fails the run.
 *
 * Captures are written once into bench-out/hostile/ and reused (stamped with the writer's size).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  writeDnsPrefixFlood,
  writeDnsQueryFlood,
  writeHeaderStorm,
  writePartialHeads,
  writePipelineFlood,
  writeSynFlood,
} from '../hostile/crafted-flows.ts';
import { writeFinFlood, writeManyHoles, writeOneByteFlood } from '../hostile/crafted-tcp.ts';
import { describeMachine, formatMachine } from './machine.ts';
import { type Measured, measure, type RssMethod } from './measure.ts';
import { ensureCapture } from './tools.ts';

export interface HostileBenchContext {
  node: string;
  nodeVersion: string;
  entry: string;
  outDir: string;
  gen: string;
  genSource: string;
  seed: number;
  rssMethod: RssMethod;
  scratch: string;
  /** --memory-budget given to wirespan, MiB (its default when null). */
  budgetMiB: number | null;
}

interface Flood {
  name: string;
  /** Writes the flood at `scale` (1 = full size, 0.25 = a quarter); returns the packets written. */
  write: (file: string, scale: number) => number;
}

const floods: Flood[] = [
  { name: 'SYN flood, 1 M SYNs', write: (f, s) => writeSynFlood(f, 1_000_000 * s) },
  { name: 'DNS query flood, 1 M queries', write: (f, s) => writeDnsQueryFlood(f, 1_000_000 * s) },
  {
    name: 'DNS query flood, 1 M 253-char names',
    write: (f, s) => writeDnsQueryFlood(f, 1_000_000 * s, true),
  },
  { name: 'HTTP pipelining, 1 M requests', write: (f, s) => writePipelineFlood(f, 1_000_000 * s) },
  {
    name: 'header storm, 5 k x 1,000 headers',
    write: (f, s) => writeHeaderStorm(f, 5_000 * s, 1000),
  },
  {
    name: 'header storm, 5 k heads > 64 KiB',
    write: (f, s) => writeHeaderStorm(f, 5_000 * s, 0, true),
  },
  {
    name: 'partial heads (slowloris), 40 k x 6 KB',
    write: (f, s) => writePartialHeads(f, 40_000 * s, 6000),
  },
  {
    name: 'DNS/TCP 64 KiB prefixes, 40 k x 1 KB',
    write: (f, s) => writeDnsPrefixFlood(f, 40_000 * s, 1000),
  },
  { name: 'TCP FIN/zero-length OOO, 3 M', write: (f, s) => writeFinFlood(f, 3_000_000 * s) },
  { name: 'TCP 1-byte OOO ascending, 1 M', write: (f, s) => writeOneByteFlood(f, 1_000_000 * s) },
  {
    name: 'TCP 1-byte OOO descending, 1 M',
    write: (f, s) => writeOneByteFlood(f, 1_000_000 * s, true),
  },
  {
    name: 'TCP many holes, 20 k conns x 16',
    write: (f, s) => writeManyHoles(f, 20_000 * s, 16, 1000),
  },
];

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** Writes the flood capture once per scale; returns its path and packet count. */
function floodCapture(dir: string, flood: Flood, scale: number): { file: string; packets: number } {
  const file = path.join(dir, `${slug(flood.name)}-${scale}.pcap`);
  const stamp = `${file}.packets`;
  if (fs.existsSync(file) && fs.existsSync(stamp)) {
    return { file, packets: Number(fs.readFileSync(stamp, 'utf8')) };
  }
  process.stderr.write(`bench: writing ${path.basename(file)}\n`);
  const packets = flood.write(file, scale);
  fs.writeFileSync(stamp, String(packets));
  return { file, packets };
}

async function replay(context: HostileBenchContext, file: string): Promise<Measured> {
  const args = [context.entry, 'replay', file, '--output', 'none', '--summary', 'none', '--quiet'];
  if (context.budgetMiB !== null) args.push('--memory-budget', String(context.budgetMiB));
  return measure(context.node, args, context.rssMethod, context.scratch);
}

function wallMs(run: Measured): number {
  return Number(run.wallNs) / 1e6;
}

function mib(kb: number | null): string {
  return kb === null ? 'n/a' : (kb / 1024).toFixed(0);
}

export async function runHostileBench(context: HostileBenchContext): Promise<void> {
  const dir = path.join(context.outDir, 'hostile');
  fs.mkdirSync(dir, { recursive: true });
  const budget = context.budgetMiB ?? 512;
  const start = describeMachine(context.nodeVersion);
  const rows: string[][] = [];
  const verdicts: string[] = [];
  const normals = new Map<number, Measured>();
  for (const flood of floods) {
    const quarter = floodCapture(dir, flood, 0.25);
    const full = floodCapture(dir, flood, 1);
    const small = await replay(context, quarter.file);
    const big = await replay(context, full.file);
    // The normal capture of the same size, to the nearest 100 k packets (gen-pcap's default mix).
    const normalPackets = Math.max(100_000, Math.round(full.packets / 100_000) * 100_000);
    let normal = normals.get(normalPackets);
    if (normal === undefined) {
      const capture = await ensureCapture(
        context.gen,
        context.genSource,
        context.outDir,
        normalPackets,
        context.seed,
      );
      normal = await replay(context, capture.pcap);
      normals.set(normalPackets, normal);
    }
    const failed = [small, big, normal].find((run) => run.code !== 0);
    if (failed) {
      rows.push([
        flood.name,
        `failed: exit ${failed.code ?? failed.signal}: ${failed.stderr.trim().split('\n').at(-1)}`,
      ]);
      verdicts.push(`MISS ${flood.name}: a run failed`);
      continue;
    }
    const growth = wallMs(big) / wallMs(small);
    const normalPerPacket = wallMs(normal) / normalPackets;
    const perPacket = wallMs(big) / full.packets;
    rows.push([
      flood.name,
      full.packets.toLocaleString('en-US'),
      (wallMs(big) / 1000).toFixed(2),
      Math.round(perPacket * 1e6).toLocaleString('en-US'),
      mib(big.peakRssKb),
      `${(perPacket / normalPerPacket).toFixed(2)}x`,
      `${mib(normal.peakRssKb)}`,
      `${growth.toFixed(2)}x`,
    ]);
    const rssOk = big.peakRssKb !== null && big.peakRssKb / 1024 <= budget;
    verdicts.push(
      `${rssOk ? 'PASS' : 'MISS'} peak RSS <= ${budget} MiB (${mib(big.peakRssKb)}); ` +
        `${growth <= 6 ? 'PASS' : 'MISS'} growth 1/4 -> full <= 6x (${growth.toFixed(2)}x): ${flood.name}`,
    );
  }
  const end = describeMachine(context.nodeVersion);
  const header = [
    'flood (default workers)',
    'packets',
    'wall s',
    'ns/pkt',
    'peak MiB',
    'x normal',
    'normal MiB',
    'growth',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    ...formatMachine(start),
    `load average at the end: ${end.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
    `memory budget: ${budget} MiB${context.budgetMiB === null ? ' (wirespan default)' : ''}; x normal = ns/packet / ns/packet of a gen-pcap capture of the same packet count`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    ...verdicts,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
