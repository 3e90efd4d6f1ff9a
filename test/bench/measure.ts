/**
 * Whole-process measurement: wall time (spawn to exit, process.hrtime.bigint) and peak
 * resident set size of the measured program.
 *
 * Peak RSS comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`: the kernel's
 * ru_maxrss of the child, exact) when it works, otherwise from polling the child's
 * /proc/<pid>/status VmHWM every 10 ms (may miss growth in the last few ms), otherwise
 * it is not reported. Note that RSS counts file pages a program maps (the C reference
 * mmaps the whole capture, so its RSS includes the file size).
 */
import fs from 'node:fs';
import { type Completed, runToCompletion } from './children.ts';

export type RssMethod = 'gnu-time' | 'proc-vmhwm' | 'none';

export const rssMethodNames: Record<RssMethod, string> = {
  'gnu-time': '/usr/bin/time -f %M (ru_maxrss)',
  'proc-vmhwm': 'polling /proc/<pid>/status VmHWM every 10 ms',
  none: 'not available (no /usr/bin/time, no /proc)',
};

const gnuTime = '/usr/bin/time';

/** Picks the best available peak-RSS method; `scratch` is a writable temporary file. */
export async function detectRssMethod(scratch: string): Promise<RssMethod> {
  if (fs.existsSync(gnuTime)) {
    try {
      fs.rmSync(scratch, { force: true });
      const done = await runToCompletion(gnuTime, ['-f', '%M', '-o', scratch, 'true']);
      if (done.code === 0 && readTimeOutput(scratch) !== null) return 'gnu-time';
    } catch {
      // fall through
    }
  }
  if (fs.existsSync(`/proc/${process.pid}/status`)) return 'proc-vmhwm';
  return 'none';
}

function readTimeOutput(file: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  // "Command exited with non-zero status N" may precede the value.
  const lines = text.trim().split('\n');
  const kb = Number(lines[lines.length - 1]);
  return Number.isInteger(kb) && kb > 0 ? kb : null;
}

function readVmHwm(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export interface Measured extends Completed {
  /** Peak RSS in KiB, or null when unknown. */
  peakRssKb: number | null;
}

/** Runs `command args` once, measuring wall time and peak RSS. */
export async function measure(
  command: string,
  args: readonly string[],
  method: RssMethod,
  scratch: string,
  env?: NodeJS.ProcessEnv,
): Promise<Measured> {
  if (method === 'gnu-time') {
    fs.rmSync(scratch, { force: true });
    const done = await runToCompletion(gnuTime, ['-f', '%M', '-o', scratch, command, ...args], { env });
    return { ...done, peakRssKb: readTimeOutput(scratch) };
  }
  if (method === 'proc-vmhwm') {
    let peak: number | null = null;
    let timer: NodeJS.Timeout | undefined;
    const done = await runToCompletion(command, args, {
      env,
      onSpawn: (pid) => {
        const poll = () => {
          const kb = readVmHwm(pid);
          if (kb !== null && (peak === null || kb > peak)) peak = kb;
        };
        poll();
        timer = setInterval(poll, 10);
      },
    });
    clearInterval(timer);
    return { ...done, peakRssKb: peak };
  }
  return { ...(await runToCompletion(command, args, { env })), peakRssKb: null };
}
