/**
 * The reference tools from ../shared/bench (built into bench-out/, never copied into the
 * repository) and the synthetic capture they generate.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runToCompletion } from './children.ts';

/** A fatal setup problem: printed without a stack trace, exit 1. */
export class SetupError extends Error {}

export function which(program: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Compiles `source` into `binary` with gcc -O2 unless the binary is newer than the source.
 * Returns true when it (re)built.
 */
export async function compile(source: string, binary: string, libs: readonly string[]): Promise<boolean> {
  if (!fs.existsSync(source)) throw new SetupError(`reference source not found: ${source}`);
  try {
    if (fs.statSync(binary).mtimeMs >= fs.statSync(source).mtimeMs) return false;
  } catch {
    // no binary yet
  }
  const gcc = which('gcc');
  if (!gcc)
    throw new SetupError(
      'gcc not found on PATH: it is needed to build the reference tools in ../shared/bench ' +
        '(Debian: apt-get install gcc)',
    );
  const done = await runToCompletion(gcc, ['-O2', '-o', binary, source, ...libs]);
  if (done.code !== 0)
    throw new SetupError(`gcc failed for ${source} (exit ${done.code ?? done.signal}):\n${done.stderr}`);
  return true;
}

export interface Capture {
  pcap: string;
  truth: string;
  packets: number;
  seed: number;
  bytes: number;
  /** The generator's own summary line ("wrote ... truth pairs ... total=N"). */
  generatorSummary: string;
  generated: boolean;
}

interface Stamp {
  packets: number;
  seed: number;
  bytes: number;
  truthBytes: number;
  generatorSha256: string;
  generatorSummary: string;
}

/** "5m" for 5,000,000, "500k" for 500,000, else the number. */
export function sizeLabel(packets: number): string {
  if (packets % 1_000_000 === 0) return `${packets / 1_000_000}m`;
  if (packets % 1_000 === 0) return `${packets / 1_000}k`;
  return String(packets);
}

/**
 * Generates `gen-pcap OUT PACKETS SEED [MIX]` once and reuses it: a stamp file written after a
 * successful generation records the sizes and the generator source hash; any mismatch
 * (missing file, other size, changed generator) regenerates.
 */
export async function ensureCapture(
  genBinary: string,
  genSource: string,
  outDir: string,
  packets: number,
  seed: number,
  mix: string | null = null,
): Promise<Capture> {
  const mixLabel = mix === null ? '' : `-${mix.replaceAll('=', '').replaceAll(',', '-')}`;
  const pcap = path.join(outDir, `bench-${sizeLabel(packets)}${mixLabel}.pcap`);
  const truth = `${pcap}.truth.tsv`;
  const stampFile = `${pcap}.stamp.json`;
  const generatorSha256 = crypto.createHash('sha256').update(fs.readFileSync(genSource)).digest('hex');
  try {
    const stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as Stamp;
    if (
      stamp.packets === packets &&
      stamp.seed === seed &&
      stamp.generatorSha256 === generatorSha256 &&
      fs.statSync(pcap).size === stamp.bytes &&
      fs.statSync(truth).size === stamp.truthBytes
    )
      return {
        pcap,
        truth,
        packets,
        seed,
        bytes: stamp.bytes,
        generatorSummary: stamp.generatorSummary,
        generated: false,
      };
  } catch {
    // no usable stamp: generate
  }
  fs.rmSync(stampFile, { force: true });
  process.stderr.write(`bench: generating ${pcap} (${packets} packets, seed ${seed}) ...\n`);
  const tmp = `${pcap}.tmp`;
  const done = await runToCompletion(genBinary, [tmp, String(packets), String(seed), ...(mix ? [mix] : [])]);
  if (done.code !== 0)
    throw new SetupError(`gen-pcap failed (exit ${done.code ?? done.signal}):\n${done.stderr}`);
  fs.renameSync(tmp, pcap);
  fs.renameSync(`${tmp}.truth.tsv`, truth);
  const stamp: Stamp = {
    packets,
    seed,
    bytes: fs.statSync(pcap).size,
    truthBytes: fs.statSync(truth).size,
    generatorSha256,
    generatorSummary: done.stderr.trim(),
  };
  fs.writeFileSync(stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
  return {
    pcap,
    truth,
    packets,
    seed,
    bytes: stamp.bytes,
    generatorSummary: stamp.generatorSummary,
    generated: true,
  };
}

/** Reads the whole file once so that every timed tool starts with it in the page cache. */
export async function warmPageCache(file: string): Promise<void> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 << 20);
    while ((await handle.read(buffer, 0, buffer.length, null)).bytesRead > 0) {
      // discard
    }
  } finally {
    await handle.close();
  }
}

/** First line of `program --version`-style output, or null. */
export function versionOf(program: string, args: readonly string[]): string | null {
  try {
    const text = execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return text.split('\n')[0]?.trim() ?? null;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr;
    return stderr?.split('\n')[0]?.trim() ?? null;
  }
}
