/**
 * Child processes of the benchmark, and their cleanup.
 *
 * Every child is spawned `detached`, i.e. as the leader of its own process group, so that
 * killing the group also kills what it started (`/usr/bin/time` runs the measured program
 * as its own child and does not forward signals). On Ctrl-C (SIGINT), SIGTERM or SIGHUP
 * the runner kills the groups it started, by their ids, waits up to 2 s for them to go,
 * then SIGKILLs the rest and exits 130. Nothing else is touched.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;
let stopping = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function killAll(signal: NodeJS.Signals): void {
  for (const child of live) killGroup(child, signal);
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\nbench: ${signal}: stopping ${live.size} child process(es)\n`);
  killAll('SIGTERM');
  const deadline = Date.now() + 2000;
  const poll = setInterval(() => {
    if (live.size > 0 && Date.now() < deadline) return;
    clearInterval(poll);
    killAll('SIGKILL');
    process.exit(130);
  }, 50);
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Last resort on any other exit path (uncaught error, process.exit): no orphans.
  process.on('exit', () => killAll('SIGKILL'));
}

/** Installs the signal handlers early (before any long non-child work). */
export function installCleanup(): void {
  installHandlers();
}

/** Spawns a tracked child in its own process group. */
function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  installHandlers();
  const child = spawn(command, args, { ...options, detached: true });
  live.add(child);
  const forget = () => live.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
  return child;
}

export interface Completed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, nanoseconds. */
  wallNs: bigint;
}

/** Long outputs keep their head and tail (summaries come last); 1 MiB each. */
const keepChars = 1 << 20;

function collect(stream: NodeJS.ReadableStream | null, into: { text: string }): void {
  if (!stream) return;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    into.text += chunk;
    if (into.text.length > 2 * keepChars)
      into.text = into.text.slice(0, keepChars) + into.text.slice(-keepChars);
  });
}

/**
 * Runs a command to completion, capturing (bounded) stdout/stderr and the wall time from
 * spawn to exit. `onSpawn` gets the pid right after the spawn (to poll /proc). Once a
 * stop signal arrived, the returned promise never settles: the process is exiting.
 */
export function runToCompletion(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void } = {},
): Promise<Completed> {
  if (stopping) return new Promise(() => {});
  return new Promise((resolve, reject) => {
    const out = { text: '' };
    const err = { text: '' };
    const start = process.hrtime.bigint();
    const child = spawnTracked(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let wallNs = 0n;
    collect(child.stdout, out);
    collect(child.stderr, err);
    child.once('error', (error) => {
      if (!stopping) reject(error);
    });
    child.once('exit', () => {
      wallNs = process.hrtime.bigint() - start;
    });
    child.once('close', (code, signal) => {
      if (!stopping) resolve({ code, signal, stdout: out.text, stderr: err.text, wallNs });
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
  });
}
