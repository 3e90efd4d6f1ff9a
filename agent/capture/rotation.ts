/**
 * One directory that a capture rotation writes into (tcpdump -G strftime names, -C numbered
 * files, or a -C -W ring that reuses names), seen as an ordered list of capture files.
 *
 * Order: by modification time, then by name (digit runs as numbers). Every finished file was
 * last written before the next one was first written, so mtime order is rotation order for
 * all three naming schemes (name order alone breaks when a ring wraps around). A file is a
 * capture when its first four bytes are a pcap or pcapng magic, whatever its name; files
 * shorter than that are not listed yet. Names ending in `.processed` (--on-done rename) are
 * never listed.
 *
 * chokidar events are only hints to look again (they may be coalesced or missed on some
 * filesystems); `scan()` reads the directory itself.
 *
 * What is opened: only regular files, never through a symbolic link (lstat, then O_NOFOLLOW).
 * Every symbolic link is ignored, wherever it points: tcpdump never makes one, a link can
 * point out of the directory (`/etc/shadow`) and one that points inside could be swapped
 * between a check and the open. FIFOs, devices, sockets and subdirectories are ignored too;
 * files that cannot be opened (EACCES, EIO...) are reported. Each is counted once per
 * identity (onSkip). A file's classification is remembered by (dev, ino, size, mtime), so a
 * quiet directory of 10,000 other files is not reopened at every look; while the directory
 * itself is unchanged (same mtime/ctime) only the capture files and files still too short to
 * classify are stat'ed again, with a full listing every kFullScanEvery scans as a safety net.
 */
import fs from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import { compareRotationNames } from './discover.ts';
import { classifyFile } from './open.ts';

export interface CaptureFileInfo {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

const kMagicBytes = 4;
const kProcessedSuffix = '.processed';
/** Full listings at least this often (in scans) even when the directory's own times did not change. */
const kFullScanEvery = 20;

export type SkipReason = 'symlink' | 'special' | 'unreadable';

const Kind = {
  Capture: 0,
  Other: 1,
  /** Shorter than a magic: classified again when it grows. */
  Short: 2,
  Symlink: 3,
  Special: 4,
  Unreadable: 5,
} as const;
type Kind = (typeof Kind)[keyof typeof Kind];

interface Entry {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  kind: Kind;
}

export interface SkipCounts {
  symlink: number;
  special: number;
  unreadable: number;
}

export class RotationDirectory {
  readonly dir: string;
  /** Entries ignored (counted once per identity): symbolic links, special files, unreadable files. */
  readonly skipped: SkipCounts = { symlink: 0, special: 0, unreadable: 0 };
  /** Called once per newly ignored entry (same identity: once). */
  onSkip: ((file: string, reason: SkipReason, detail: string) => void) | null = null;
  #watcher: FSWatcher | null = null;
  #entries = new Map<string, Entry>();
  #dirMtime = -1;
  #dirCtime = -1;
  #scans = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Starts watching; `onHint` is called (often) when something in the directory changed. */
  async watch(onHint: () => void): Promise<void> {
    const watcher = chokidar.watch(this.dir, {
      depth: 0,
      ignoreInitial: true,
      // tcpdump truncates and rewrites files in place: no unlink+add coalescing, and we want
      // events for the growing file (we tail it ourselves).
      atomic: false,
      awaitWriteFinish: false,
      followSymlinks: false,
    });
    watcher.on('all', onHint);
    watcher.on('error', onHint);
    this.#watcher = watcher;
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    await this.#watcher?.close();
    this.#watcher = null;
  }

  /** Capture files now in the directory, in rotation order. Throws when the directory cannot be read. */
  scan(): CaptureFileInfo[] {
    const dirStat = fs.statSync(this.dir);
    const unchanged =
      dirStat.mtimeMs === this.#dirMtime &&
      dirStat.ctimeMs === this.#dirCtime &&
      ++this.#scans % kFullScanEvery !== 0;
    const previous = this.#entries;
    const entries = new Map<string, Entry>();
    const files: CaptureFileInfo[] = [];
    if (unchanged) {
      for (const [name, entry] of previous) {
        // Other files, links, special and unreadable entries keep their classification.
        if (entry.kind !== Kind.Capture && entry.kind !== Kind.Short) {
          entries.set(name, entry);
          continue;
        }
        this.#look(name, entry, entries, files);
      }
    } else {
      this.#dirMtime = dirStat.mtimeMs;
      this.#dirCtime = dirStat.ctimeMs;
      for (const name of fs.readdirSync(this.dir)) {
        if (name.endsWith(kProcessedSuffix)) continue;
        this.#look(name, previous.get(name), entries, files);
      }
    }
    this.#entries = entries;
    files.sort(
      (a, b) => a.mtimeMs - b.mtimeMs || compareRotationNames(path.basename(a.path), path.basename(b.path)),
    );
    return files;
  }

  #look(name: string, known: Entry | undefined, entries: Map<string, Entry>, files: CaptureFileInfo[]): void {
    const file = path.join(this.dir, name);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      return; // vanished between readdir and stat
    }
    const same =
      known !== undefined &&
      known.dev === stat.dev &&
      known.ino === stat.ino &&
      known.size === stat.size &&
      known.mtimeMs === stat.mtimeMs;
    let kind: Kind;
    if (same && known.kind !== Kind.Short) kind = known.kind;
    else if (stat.isSymbolicLink())
      kind = this.#skip(file, Kind.Symlink, 'symlink', 'symbolic links are not followed');
    else if (!stat.isFile()) {
      kind = stat.isDirectory()
        ? Kind.Other
        : this.#skip(file, Kind.Special, 'special', 'not a regular file');
    } else if (stat.size < kMagicBytes) kind = Kind.Short;
    else if (
      known !== undefined &&
      known.kind === Kind.Capture &&
      known.dev === stat.dev &&
      known.ino === stat.ino
    ) {
      kind = Kind.Capture; // grew or was rewritten: the tail decides what the new content is
    } else {
      const result = classifyFile(file, true);
      if (result === true) kind = Kind.Capture;
      else if (result === false) kind = Kind.Other;
      else if (result === 'ELOOP')
        kind = this.#skip(file, Kind.Symlink, 'symlink', 'symbolic links are not followed');
      else if (result === 'ENOTREG') kind = this.#skip(file, Kind.Special, 'special', 'not a regular file');
      else if (result === 'ENOENT') return;
      else kind = this.#skip(file, Kind.Unreadable, 'unreadable', result);
    }
    entries.set(name, { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, kind });
    if (kind === Kind.Capture) {
      files.push({ path: file, dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs });
    }
  }

  #skip(file: string, kind: Kind, reason: SkipReason, detail: string): Kind {
    this.skipped[reason]++;
    this.onSkip?.(file, reason, detail);
    return kind;
  }
}

export { kProcessedSuffix };
