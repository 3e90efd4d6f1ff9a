/** Runs the real `wirespan` CLI as a child process under the project's Node 24. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repoRoot, 'agent/cli/main.mjs');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `cli`: another entry file (the bundle's dist/main.mjs); the sources' main.mjs by default. */
export function runCli(
  args: string[],
  options: { cwd?: string; input?: string; cli?: string } = {},
): CliResult {
  // process.execPath is the Node running the tests (the node@24 devDependency under npm test).
  const result = spawnSync(process.execPath, [options.cli ?? cli, ...args], {
    cwd: options.cwd ?? repoRoot,
    encoding: 'utf8',
    input: options.input,
    maxBuffer: 512 * 1024 * 1024,
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * runCli without blocking this process's event loop (for a receiver that lives in the test
 * process); killed after `timeoutMillis` (status null) when given.
 */
export function runCliAsync(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMillis?: number; cli?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [options.cli ?? cli, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      ...(options.timeoutMillis === undefined
        ? {}
        : { timeout: options.timeoutMillis, killSignal: 'SIGKILL' as const }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * `run`'s flags in the agent tests: quick file decisions (`grace` seconds), no health port,
 * JSONL to `out`.
 */
export function jsonlAgentArgs(
  dir: string,
  state: string,
  workers: string,
  out: string,
  grace = '0.3',
): string[] {
  return [
    '--watch',
    dir,
    '--state-dir',
    state,
    '--grace',
    grace,
    '--health-port',
    '0',
    '--output',
    `jsonl:${out}`,
    '--workers',
    workers,
  ];
}

/**
 * A running `wirespan run ARGS` (extra environment on top of this process's; as user `uid` when
 * given; `launcher`: a command that execs node, e.g. `taskset -c 0`; `entry`: another entry
 * file, e.g. the bundle's), its stderr collected.
 */
export function startAgent(
  args: string[],
  env: Record<string, string> = {},
  uid?: number,
  launcher: string[] = [],
  entry = cli,
): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const command = [...launcher, process.execPath, entry, 'run', ...args];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}
