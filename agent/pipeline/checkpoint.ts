/**
 * The agent's checkpoint: where each watched directory has been read up to, persisted
 * atomically (write a temporary file, fsync it, rename it over the old one, fsync the
 * directory) so a crash at any instant leaves either the old or the new checkpoint.
 *
 * The agent writes one only at a moment when every pair emitted so far has been exported
 * (or written), so resuming from it never loses a finished pair. What a restart replays is
 * in docs/operating.md. The write runs off the event loop (fs/promises): each fsync and the
 * rename took ~5-400 ms on the bench VM, a stall of the whole main thread when synchronous.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** A file identity: the same path may hold other content later (a -W ring). */
export interface FileMark {
  path: string;
  ino: number;
  size: number;
  mtimeMs: number;
}

/** A record boundary in a capture file. */
export interface FilePosition {
  path: string;
  dev: number;
  ino: number;
  offset: number;
}

export interface DirectoryCheckpoint {
  dir: string;
  /** Files read to their end (or given up) that are still in the directory. */
  done: FileMark[];
  /** The file being read: every record before `offset` has been processed. */
  current:
    | (FilePosition & {
        lastCapture: { seconds: number; nanos: number } | null;
      })
    | null;
  /**
   * Where every request still pending at this checkpoint was read, or earlier (in `current` or
   * in a `done` file before it): a restart reads the records from here up to the checkpoint
   * again, quietly, so that those requests are pending again (tail.ts). Null or absent: none.
   */
  rebuildFrom?: FilePosition | null;
}

export interface Checkpoint {
  version: 1;
  /** Wall-clock time it was written (for operators; never used for correlation). */
  writtenAt: string;
  directories: DirectoryCheckpoint[];
}

const kFileName = 'checkpoint.json';

export class CheckpointStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Makes the directory (and its missing parents) and checks it can be written: called at
   * start-up so that a bad --state-dir is one clear error naming the path and the errno, not
   * a failure at the first checkpoint. (Not `mkdirSync({ recursive: true })`: on some paths,
   * such as under /proc, Node's recursive mkdir loops forever.)
   */
  prepare(): void {
    makeDirectory(path.resolve(this.dir));
    try {
      fs.accessSync(this.dir, fs.constants.W_OK | fs.constants.X_OK);
    } catch (error) {
      throw new Error(`cannot use state directory ${this.dir}: ${describeErrno(error)}`);
    }
  }

  /** The last checkpoint, or null when there is none; throws with a clear message when it is unreadable. */
  load(): Checkpoint | null {
    const file = path.join(this.dir, kFileName);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`cannot read checkpoint ${file}: ${describeErrno(error)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw invalid(file, `not JSON: ${(error as Error).message}`);
    }
    const problem = checkpointProblem(parsed);
    if (problem !== null) throw invalid(file, problem);
    return parsed as Checkpoint;
  }

  /** Writes `checkpoint` over the last one; one save at a time (the caller waits for the previous). */
  async save(checkpoint: Checkpoint): Promise<void> {
    makeDirectory(path.resolve(this.dir));
    const file = path.join(this.dir, kFileName);
    const temporary = `${file}.tmp`;
    const handle = await fsp.open(temporary, 'w');
    try {
      await handle.writeFile(JSON.stringify(checkpoint));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(temporary, file);
    const directory = await fsp.open(this.dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}

function invalid(file: string, problem: string): Error {
  return new Error(`checkpoint ${file} is not valid (${problem}); move it away to start over`);
}

function describeErrno(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code} (${(error as Error).message})` : (error as Error).message;
}

/** mkdir -p without Node's recursive mkdir; throws naming the directory and the errno. */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`cannot use state directory ${dir}: ${at}: ${describeErrno(error)}`);
      }
    }
    if (stat !== null) {
      if (!stat.isDirectory()) throw new Error(`cannot use state directory ${dir}: ${at} is not a directory`);
      break;
    }
    missing.push(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      fs.mkdirSync(missing[i]!, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(missing[i]!).isDirectory())
        continue;
      throw new Error(`cannot use state directory ${dir}: mkdir ${missing[i]}: ${describeErrno(error)}`);
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isNumber = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/** What is wrong with a parsed checkpoint (the first problem found), or null when it has the expected shape. */
export function checkpointProblem(value: unknown): string | null {
  if (!isObject(value)) return 'expected a JSON object';
  if (value.version !== 1) return `version: expected 1, found ${JSON.stringify(value.version) ?? 'nothing'}`;
  if (!Array.isArray(value.directories)) return 'directories: expected an array';
  for (let d = 0; d < value.directories.length; d++) {
    const dir: unknown = value.directories[d];
    const at = `directories[${d}]`;
    if (!isObject(dir)) return `${at}: expected an object`;
    if (typeof dir.dir !== 'string') return `${at}.dir: expected a string`;
    if (!Array.isArray(dir.done)) return `${at}.done: expected an array of file marks`;
    for (let i = 0; i < dir.done.length; i++) {
      const mark: unknown = dir.done[i];
      if (
        !isObject(mark) ||
        typeof mark.path !== 'string' ||
        !isCount(mark.ino) ||
        !isCount(mark.size) ||
        !isNumber(mark.mtimeMs)
      ) {
        return `${at}.done[${i}]: expected {path: string, ino, size, mtimeMs: numbers}`;
      }
    }
    const current = dir.current;
    if (current !== null && current !== undefined) {
      if (!isObject(current)) return `${at}.current: expected an object or null`;
      if (typeof current.path !== 'string') return `${at}.current.path: expected a string`;
      for (const key of ['dev', 'ino', 'offset'] as const) {
        if (!isCount(current[key])) return `${at}.current.${key}: expected a non-negative integer`;
      }
      const last = current.lastCapture;
      if (
        last !== null &&
        last !== undefined &&
        (!isObject(last) || !isNumber(last.seconds) || !isNumber(last.nanos))
      ) {
        return `${at}.current.lastCapture: expected {seconds, nanos} or null`;
      }
    }
    const rebuild = dir.rebuildFrom;
    if (rebuild !== null && rebuild !== undefined) {
      if (!isObject(rebuild) || typeof rebuild.path !== 'string') {
        return `${at}.rebuildFrom: expected {path, dev, ino, offset} or null`;
      }
      for (const key of ['dev', 'ino', 'offset'] as const) {
        if (!isCount(rebuild[key])) return `${at}.rebuildFrom.${key}: expected a non-negative integer`;
      }
    }
  }
  return null;
}

/** Where --state-dir defaults to: `.wirespan-state` next to the first watched directory. */
export function defaultStateDir(firstWatchDir: string): string {
  return path.join(path.dirname(path.resolve(firstWatchDir)), '.wirespan-state');
}
