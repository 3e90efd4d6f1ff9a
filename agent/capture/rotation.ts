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
 */
import fs from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import { compareRotationNames } from './discover.ts';
import { isCaptureFile } from './open.ts';

export interface CaptureFileInfo {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

const kMagicBytes = 4;
const kProcessedSuffix = '.processed';

export class RotationDirectory {
  readonly dir: string;
  #watcher: FSWatcher | null = null;

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
    const files: CaptureFileInfo[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (name.endsWith(kProcessedSuffix)) continue;
      const file = path.join(this.dir, name);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch {
        continue; // vanished between readdir and stat
      }
      if (!stat.isFile() || stat.size < kMagicBytes || !isCaptureFile(file)) continue;
      files.push({ path: file, dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs });
    }
    files.sort(
      (a, b) => a.mtimeMs - b.mtimeMs || compareRotationNames(path.basename(a.path), path.basename(b.path)),
    );
    return files;
  }
}

export { kProcessedSuffix };
