/**
 * `wirespan replay`'s progress bar on stderr: bytes read of the inputs' total, packets/s,
 * pairs so far, ETA. Only when stderr is a TTY (and not --quiet): a pipe or a log file gets
 * nothing unless `--progress` asks for it. Drawn by cli-progress (one small dependency, string-width) at up to 10 frames a
 * second; updates during a synchronous replay step redraw in place (synchronousUpdate).
 */
import fs from 'node:fs';
import module from 'node:module';
import { formatNumber } from '../shared/number-format.ts';

/**
 * cli-progress is loaded only for a bar (its ~20 modules were in every start: `run` included); in
 * the bundle this require() is esbuild's (agent/build-bundle.ts).
 */
const require = module.createRequire(import.meta.url);

export interface ProgressState {
  /** Bytes of the input files read so far (file bytes, headers included). */
  bytesRead: number;
  packets: number;
  pairs: number;
}

export interface Progress {
  update(state: ProgressState): void;
  /** Removes the bar (before the summary is printed). */
  stop(): void;
}

const mib = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

/** Total size of the files (unreadable ones count 0). */
export function totalBytes(files: readonly string[]): number {
  let total = 0;
  for (const file of files) {
    try {
      total += fs.statSync(file).size;
    } catch {
      // reported by the replay itself
    }
  }
  return total;
}

/**
 * A progress bar when `stream` is a TTY, else null; `force` (`--progress`) draws on other
 * streams too, as one plain line every 2 seconds (CI logs).
 */
export function createProgress(
  files: readonly string[],
  force = false,
  stream: NodeJS.WriteStream = process.stderr,
): Progress | null {
  if (!stream.isTTY && !force) return null;
  const total = Math.max(1, totalBytes(files));
  const started = performance.now();
  const cliProgress: typeof import('cli-progress') = require('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        'wirespan {bar} {percentage}% | {read}/{total_mib} MiB | {rate} packets/s | {pairs} pairs | ETA {eta_formatted}',
      fps: 10,
      etaBuffer: 20,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
      synchronousUpdate: true,
      noTTYOutput: force,
      notTTYSchedule: 2000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { read: mib(0), total_mib: mib(total), rate: '0', pairs: '0' });
  return {
    update(state: ProgressState): void {
      const seconds = (performance.now() - started) / 1000;
      bar.update(Math.min(total, state.bytesRead), {
        read: mib(Math.min(total, state.bytesRead)),
        rate: formatNumber(seconds > 0 ? Math.round(state.packets / seconds) : 0),
        pairs: formatNumber(state.pairs),
      });
    },
    stop(): void {
      bar.stop();
    },
  };
}
