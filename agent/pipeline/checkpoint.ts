/**
 * The agent's checkpoint: where each watched directory has been read up to, persisted
 * atomically (write a temporary file, fsync it, rename it over the old one, fsync the
 * directory) so a crash at any instant leaves either the old or the new checkpoint.
 *
 * The agent writes one only at a moment when every pair emitted so far has been exported
 * (or written), so resuming from it never loses a finished pair. What a restart replays is
 * in README.md ("Checkpoints").
 */
import fs from 'node:fs';
import path from 'node:path';

/** A file identity: the same path may hold other content later (a -W ring). */
export interface FileMark {
  path: string;
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface DirectoryCheckpoint {
  dir: string;
  /** Files read to their end (or given up) that are still in the directory. */
  done: FileMark[];
  /** The file being read: every record before `offset` has been processed. */
  current: {
    path: string;
    dev: number;
    ino: number;
    offset: number;
    lastCapture: { seconds: number; nanos: number } | null;
  } | null;
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

  /** The last checkpoint, or null when there is none; throws with a clear message when it is unreadable. */
  load(): Checkpoint | null {
    const file = path.join(this.dir, kFileName);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`cannot read checkpoint ${file}: ${(error as Error).message}`);
    }
    const parsed = JSON.parse(text) as Checkpoint;
    if (parsed.version !== 1 || !Array.isArray(parsed.directories)) {
      throw new Error(`checkpoint ${file} has an unknown format; move it away to start from scratch`);
    }
    return parsed;
  }

  save(checkpoint: Checkpoint): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, kFileName);
    const temporary = `${file}.tmp`;
    const fd = fs.openSync(temporary, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(checkpoint));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
    const dirFd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  }
}

/** Where --state-dir defaults to: `.wirespan-state` next to the first watched directory. */
export function defaultStateDir(firstWatchDir: string): string {
  return path.join(path.dirname(path.resolve(firstWatchDir)), '.wirespan-state');
}
