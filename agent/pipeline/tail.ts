/**
 * `wirespan run`: tails one rotation directory while tcpdump writes it. Files are read in
 * rotation order through the ordinary streaming CaptureReader; the newest file is read while
 * it grows (a partial record at its end is waited for, not an error). A file is finished
 * when a newer capture file exists and it has not been written for the grace period, counted
 * from its mtime (a backlog of finished files is read at full speed, not one per grace).
 *
 * A file deleted or renamed away while it is read is read to its end through the descriptor
 * still open on it (nothing is lost; a file read to its end and then removed is simply done).
 * A file truncated in place (a -W ring overwriting it, `truncate`) loses what was not read
 * yet: counted as lost with its unread bytes and logged once. What then stands under the name
 * is compared with the first bytes the file had: the same bytes (a truncation) are not read
 * again; different bytes (the ring's new content) are read as a new file.
 * Waiting uses the wall clock (grace period, polling): it is about the file system, never
 * about capture times, which only the correlator sees.
 *
 * Records go to the RecordLoop on this thread (`--workers 0`, record-loop.ts), or, with
 * workers, to a RangeSink: this thread still reads every record (for the file-level decisions above and the
 * checkpoint offsets, which are record boundaries) but does not decode it; at the end of each
 * step the bytes read since the last step, [published, reader.position), are handed to the
 * sink, which publishes them to the workers (tail-publisher.ts). A file's first range opens
 * it in the workers, its last (at finish, loss or stop) closes it there.
 */
import fs from 'node:fs';
import { FileByteSource } from '../capture/byte-source.ts';
import { CaptureReader } from '../capture/reader.ts';
import { ReadResult } from '../capture/record.ts';
import { type CaptureFileInfo, kProcessedSuffix, RotationDirectory } from '../capture/rotation.ts';
import { SkipCounters } from '../shared/skips.ts';
import type { DirectoryCheckpoint, FileMark, FilePosition } from './checkpoint.ts';
import { isLater, RecordLoop } from './record-loop.ts';

export type OnDone = 'keep' | 'delete' | 'rename';

/** Where the byte ranges of the files read go when workers decode and correlate them. */
export interface RangeSink {
  /**
   * Bytes [from, to) of file `fileId`, read through `source` (positional reads: the tail's
   * reader is not disturbed). Records ending at or before `skipBelow` were processed before a
   * restart; those ending at or before `quietBelow` are read again to rebuild the requests
   * pending at the checkpoint (correlated quietly). `first`: the file's first range; `last`: its
   * last (the file is finished).
   */
  range(
    fileId: number,
    path: string,
    source: FileByteSource,
    from: number,
    to: number,
    skipBelow: number,
    quietBelow: number,
    first: boolean,
    last: boolean,
  ): void;
  /** The tail is done with `source`: close it once its ranges were published. */
  closeSource(source: FileByteSource): void;
}

export interface TailOptions {
  /** A file with a newer successor is finished once it has not grown for this long. */
  graceMillis: number;
  onDone: OnDone;
  /** Longest wait between looks at a quiet directory (chokidar events wake it earlier). */
  pollMillis: number;
  /** Records read between yields to the event loop (and to the exporter's backpressure). */
  recordsPerStep: number;
  /**
   * Seconds of capture time before a checkpoint in which a request still pending at it can have
   * been read: the longest --timeout, plus 2 (expiry runs once per second of capture time). A
   * checkpoint's rebuildFrom is a position before which every record is older than that.
   */
  pendingWindowSeconds: number;
}

/** What the tail read (decoding is counted by the RecordLoop, or the workers' loops). */
export interface TailCounters {
  packets: number;
  bytes: number;
  filesDone: number;
  filesLost: number;
  filesError: number;
  /** Bytes of lost files that were never read. */
  lostBytes: number;
  newestCapture: { seconds: number; nanos: number } | null;
}

/** The counters before anything was read. */
export function emptyTailCounters(): TailCounters {
  return {
    packets: 0,
    bytes: 0,
    filesDone: 0,
    filesLost: 0,
    filesError: 0,
    lostBytes: 0,
    newestCapture: null,
  };
}

export type Log = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

interface OpenFile {
  info: CaptureFileInfo;
  /** Resuming from a checkpoint: records ending at or before this offset were processed before. */
  skipTo: number;
  fileId: number;
  reader: CaptureReader;
  source: FileByteSource;
  /** Size when it last grew, and when (wall clock; at first its mtime). */
  lastSize: number;
  lastGrowth: number;
  /** The file's first bytes when opened: tells a truncation from new content under the same name. */
  head: Uint8Array;
  /** Deleted or replaced under its name while open: read to the end through the open descriptor. */
  detached: boolean;
  /** With workers: the checkpoint offset resumed from (records before it are not processed again). */
  skipBelow: number;
  /**
   * Records ending at or before this offset are read again to rebuild the requests pending at
   * the checkpoint: correlated quietly, not counted (0: none; Infinity: the whole file).
   */
  quietBelow: number;
  /** A done file read again to rebuild pending requests: at its end it is closed, not finished again. */
  rereading: boolean;
  /** With workers: bytes handed to the RangeSink, and whether its first range was. */
  published: number;
  started: boolean;
}

/** Bytes kept of each file's beginning (its header and first record or so). */
const kHeadBytes = 256;

interface DoneMark {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** A position read up to, with the newest capture second of the records before it (-1: none). */
interface Reached extends FilePosition {
  newestSeconds: number;
}

/** Positions kept for rebuildFrom; beyond it every second one is dropped (coarser, still safe). */
const kMaxReached = 256;

export class DirectoryTail {
  readonly directory: RotationDirectory;
  readonly #loop: RecordLoop | null;
  readonly #ranges: RangeSink | null;
  /** The readers' skips: the loop's, or (with workers, who count them again) not reported. */
  readonly #skips: SkipCounters;
  readonly #options: TailOptions;
  readonly #log: Log;
  readonly #fileNames: string[];
  readonly counters: TailCounters;
  /** Files read to their end (or given up), by path, with the identity they had then. */
  readonly #done = new Map<string, DoneMark>();
  /** Files read to their end whose --on-done waits for a saved checkpoint that no longer needs them, oldest first. */
  readonly #awaitingOnDone: FileMark[] = [];
  /** The first bytes of the files in #done that were read in this run, by path. */
  readonly #heads = new Map<string, Uint8Array>();
  #current: OpenFile | null = null;
  /** Where the checkpoint says to resume, until that file is opened (or found gone). */
  #resume: DirectoryCheckpoint['current'];
  /**
   * Rebuilding after a restart: the checkpoint resumed from, which stays this directory's
   * checkpoint until the records up to it have been read again (null: not rebuilding).
   */
  #rebuildOf: DirectoryCheckpoint | null = null;
  /** Rebuilding: the next done file to read again, from its offset (null: none). */
  #rebuildNext: FilePosition | null = null;
  /** Rebuilding: where in the resume file to start reading again (null: at the checkpoint). */
  #resumeQuietFrom: number | null = null;
  /** Positions read up to, oldest first, for the checkpoint's rebuildFrom (see #rebuildFrom()). */
  readonly #reached: Reached[] = [];
  /** The newest capture second of this directory's records read (-1: none yet). */
  #newestSeconds = -1;
  /** Records read again (quietly) to rebuild the requests pending at the checkpoint. */
  #readAgain = 0;
  #wake: (() => void) | null = null;
  #stopping = false;
  /** The checkpoint taken when run() ended, before the current file was closed. */
  #final: DirectoryCheckpoint | null = null;
  /** True once the directory is watched and scanned at least once. */
  ready = false;

  constructor(
    dir: string,
    /** The record loop on this thread, or the RangeSink of the workers. */
    target: RecordLoop | RangeSink,
    options: TailOptions,
    fileNames: string[],
    counters: TailCounters,
    log: Log,
    resume: DirectoryCheckpoint | null = null,
  ) {
    this.directory = new RotationDirectory(dir);
    this.directory.onSkip = (file, reason, detail) => {
      if (reason === 'unreadable') {
        this.counters.filesError++;
        this.#log('error', 'cannot read capture directory entry; skipping it', { file, error: detail });
      } else {
        this.#log(
          'warn',
          `ignoring ${reason === 'symlink' ? 'symbolic link' : 'special file'} in the capture directory`,
          {
            file,
            reason: detail,
          },
        );
      }
    };
    this.#loop = target instanceof RecordLoop ? target : null;
    this.#ranges = target instanceof RecordLoop ? null : target;
    this.#skips = this.#loop?.inputSkips ?? new SkipCounters();
    this.#options = options;
    this.#fileNames = fileNames;
    this.counters = counters;
    this.#log = log;
    this.#resume = resume?.current ?? null;
    const rebuildFrom = resume?.rebuildFrom ?? null;
    if (resume !== null && rebuildFrom !== null) {
      this.#rebuildOf = resume;
      if (this.#resume !== null && rebuildFrom.path === this.#resume.path)
        this.#resumeQuietFrom = rebuildFrom.offset;
      else this.#rebuildNext = rebuildFrom;
    }
    for (const mark of resume?.done ?? []) {
      this.#done.set(mark.path, { ino: mark.ino, size: mark.size, mtimeMs: mark.mtimeMs });
      // Done before a crash, their --on-done may not have been applied yet.
      if (options.onDone !== 'keep') this.#awaitingOnDone.push({ ...mark });
    }
  }

  /** Where this directory has been read up to (valid between steps: every record before it was processed). */
  checkpoint(): DirectoryCheckpoint {
    if (this.#final !== null) return this.#final;
    if (this.rebuilding) return this.#rebuildOf!;
    const done = [...this.#done].map(([path, mark]) => ({ path, ...mark }));
    const current = this.#current;
    return {
      dir: this.directory.dir,
      done,
      current: current
        ? {
            path: current.info.path,
            dev: current.info.dev,
            ino: current.info.ino,
            offset: Math.max(current.reader.position, current.skipTo),
            lastCapture: this.counters.newestCapture,
          }
        : // Not yet reopened after a restart: keep the old position.
          this.#resume,
      rebuildFrom: this.#rebuildFrom(),
    };
  }

  /**
   * True while records before the checkpoint resumed from are read again (quietly) to rebuild
   * the requests pending at it: until then that checkpoint stays this directory's.
   */
  get rebuilding(): boolean {
    if (this.#rebuildOf === null) return false;
    const current = this.#current;
    if (this.#rebuildNext !== null || current === null || current.rereading) return true;
    if (current.reader.position < current.quietBelow) return true;
    this.#rebuildOf = null;
    this.#log('info', 'rebuilt the requests pending at the checkpoint', {
      recordsReadAgain: this.#readAgain,
    });
    return false;
  }

  /**
   * Where a restart must start reading again so that every request pending now is read again:
   * the newest position before which every record is older than the pending window (a request
   * pending now was read within it, see TailOptions.pendingWindowSeconds); the oldest position
   * known when none is (the first this run read from). Positions before it are dropped: the
   * newest capture second only grows, so later calls never need them.
   */
  #rebuildFrom(): FilePosition | null {
    const reached = this.#reached;
    if (reached.length === 0) return null;
    const before = this.#newestSeconds - this.#options.pendingWindowSeconds;
    let at = 0;
    while (at + 1 < reached.length && reached[at + 1]!.newestSeconds < before) at++;
    if (at > 0) reached.splice(0, at);
    const { path, dev, ino, offset } = reached[0]!;
    return { path, dev, ino, offset };
  }

  /** Notes that every record before `offset` of the current file has been read. */
  #noteReached(current: OpenFile, offset: number): void {
    const reached = this.#reached;
    const last = reached.at(-1);
    const { path, dev, ino } = current.info;
    // A position with the same newest second as the last one replaces it (the later is
    // better), unless that is the first: the oldest position known stays.
    if (
      reached.length > 1 &&
      last!.path === path &&
      last!.ino === ino &&
      last!.newestSeconds === this.#newestSeconds
    ) {
      last!.offset = offset;
      return;
    }
    reached.push({ path, dev, ino, offset, newestSeconds: this.#newestSeconds });
    if (reached.length > kMaxReached) {
      // Keep the first and the last; drop every second one in between.
      let kept = 1;
      for (let i = 2; i < reached.length - 1; i += 2) reached[kept++] = reached[i]!;
      reached[kept++] = reached.at(-1)!;
      reached.length = kept;
    }
  }

  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  /**
   * Tails until stop(); `between` is awaited between steps (the exporter's backpressure), `idle`
   * called each time everything there is has been read, before waiting for more.
   */
  async run(between: () => Promise<void>, idle: () => void = () => {}): Promise<void> {
    await this.directory.watch(() => this.#wake?.());
    this.ready = true;
    try {
      while (!this.#stopping) {
        const progressed = this.#current ? this.#readCurrent() : this.#openNext();
        if (this.#stopping) break;
        if (progressed) await between();
        else {
          idle();
          await this.#sleep(this.#options.pollMillis);
        }
      }
    } finally {
      // Where reading stopped, for the final checkpoint (the file is not done: a restart resumes
      // in it). Unless still rebuilding, the end reports the requests still pending (end_of_input):
      // none is left to rebuild.
      const final = this.checkpoint();
      this.#final = this.rebuilding ? final : { ...final, rebuildFrom: null };
      this.#closeCurrent();
      await this.directory.close();
    }
  }

  #sleep(millis: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, millis);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  #scan(): CaptureFileInfo[] {
    try {
      return this.directory.scan();
    } catch (error) {
      this.#log('error', 'cannot list the capture directory', {
        dir: this.directory.dir,
        error: (error as Error).message,
      });
      return [];
    }
  }

  /** Opens the oldest capture file not read yet; false when there is none. */
  #openNext(): boolean {
    const files = this.#scan();
    if (this.#rebuildNext !== null && this.#openRereading(files)) return true;
    const resume = this.#resume;
    if (resume && !files.some((f) => f.path === resume.path)) {
      this.#resume = null;
      this.counters.filesLost++;
      this.#log('warn', 'capture file lost: it left the directory while the agent was down', {
        file: resume.path,
      });
    }
    // Forget done files that left the directory (rotated away, deleted): the map stays small.
    if (this.#done.size > files.length) {
      const present = new Set(files.map((f) => f.path));
      for (const path of this.#done.keys()) {
        if (!present.has(path)) {
          this.#done.delete(path);
          this.#heads.delete(path);
        }
      }
    }
    for (const info of files) {
      const done = this.#done.get(info.path);
      // A done file with the same identity is skipped; a ring that rewrote it is new content.
      if (done && done.ino === info.ino && done.size === info.size && done.mtimeMs === info.mtimeMs) continue;
      if (done && done.ino === info.ino && info.size < done.size && this.#sameBeginning(info.path)) {
        // Truncated in place after it was read: the same content, shorter; not read again.
        this.#done.set(info.path, { ino: info.ino, size: info.size, mtimeMs: info.mtimeMs });
        this.#log('warn', 'capture file truncated in place after it was read; not read again', {
          file: info.path,
          bytes: info.size,
        });
        continue;
      }
      let source: FileByteSource;
      try {
        source = new FileByteSource(info.path, true);
      } catch (error) {
        this.counters.filesError++;
        this.#done.set(info.path, { ino: info.ino, size: info.size, mtimeMs: info.mtimeMs });
        this.#log('error', 'cannot open capture file', { file: info.path, error: (error as Error).message });
        continue;
      }
      let skipTo = 0;
      let quietBelow = 0;
      const resume = this.#resume;
      if (resume && resume.path === info.path) {
        this.#resume = null;
        if (resume.ino === info.ino && info.size >= resume.offset) {
          skipTo = resume.offset;
          const quietFrom = this.#resumeQuietFrom;
          if (quietFrom !== null && quietFrom <= resume.offset) {
            skipTo = quietFrom;
            quietBelow = resume.offset;
          }
          this.#log('info', 'resuming capture file from the checkpoint', {
            file: info.path,
            offset: resume.offset,
            ...(quietBelow > 0 ? { rebuildFrom: skipTo } : {}),
          });
        } else {
          this.counters.filesLost++;
          this.#log('warn', 'capture file lost: replaced while the agent was down', { file: info.path });
        }
      }
      this.#open(info, source, skipTo, quietBelow, false);
      this.#log('info', 'reading capture file', { file: info.path, bytes: info.size });
      return true;
    }
    return false;
  }

  /** Makes `info` (opened as `source`) the current file, read from `skipTo`. */
  #open(
    info: CaptureFileInfo,
    source: FileByteSource,
    skipTo: number,
    quietBelow: number,
    rereading: boolean,
  ): void {
    const head = new Uint8Array(kHeadBytes);
    let headLength = 0;
    try {
      headLength = source.read(head, 0, kHeadBytes, 0);
    } catch {
      // the reader reports read errors
    }
    const fileId = this.#fileNames.length;
    this.#fileNames.push(info.path);
    const current: OpenFile = {
      skipTo,
      info,
      fileId,
      // What reading a file again meets was counted when it was first read.
      reader: new CaptureReader(source, rereading ? new SkipCounters() : this.#skips),
      source,
      lastSize: info.size,
      lastGrowth: info.mtimeMs,
      head: head.subarray(0, headLength),
      detached: false,
      skipBelow: skipTo,
      quietBelow,
      rereading,
      published: 0,
      started: false,
    };
    this.#current = current;
    this.#noteReached(current, skipTo);
  }

  /**
   * Rebuilding: opens the next done file to read again (quietly), and notes the one after it;
   * false when it is gone or changed (rotated away, `--on-done delete|rename`): the rebuild then
   * starts at the beginning of the resume file, and requests pending at the checkpoint that were
   * read before it may be lost (logged).
   */
  #openRereading(files: CaptureFileInfo[]): boolean {
    const rebuild = this.#rebuildNext!;
    this.#rebuildNext = null;
    const index = files.findIndex((f) => f.path === rebuild.path);
    const info = files[index];
    let source: FileByteSource | null = null;
    if (info !== undefined && this.#isDone(info) && info.ino === rebuild.ino && info.dev === rebuild.dev) {
      try {
        source = new FileByteSource(info.path, true);
      } catch {
        // as gone
      }
    }
    if (info === undefined || source === null) {
      this.#resumeQuietFrom = 0;
      this.#log(
        'warn',
        'cannot read again the capture file where the requests pending at the checkpoint began; those answered after it may be lost',
        {
          file: rebuild.path,
        },
      );
      return false;
    }
    this.#open(info, source, rebuild.offset, Number.POSITIVE_INFINITY, true);
    this.#log('info', 'reading capture file again to rebuild the requests pending at the checkpoint', {
      file: info.path,
      offset: rebuild.offset,
    });
    const next = files[index + 1];
    if (next !== undefined && next.path === this.#resume?.path) this.#resumeQuietFrom = 0;
    else if (next !== undefined && this.#isDone(next)) {
      this.#rebuildNext = { path: next.path, dev: next.dev, ino: next.ino, offset: 0 };
    }
    return true;
  }

  /** True when `info` is a done file with the identity it had when it was done. */
  #isDone(info: CaptureFileInfo): boolean {
    const done = this.#done.get(info.path);
    return (
      done !== undefined && done.ino === info.ino && done.size === info.size && done.mtimeMs === info.mtimeMs
    );
  }

  /** Reads a step of records; false when the file had nothing new (waiting for growth). */
  #readCurrent(): boolean {
    const current = this.#current!;
    const { reader } = current;
    const counters = this.counters;
    const loop = this.#loop;
    let records = 0;
    /** The reader's position before the last next(): the end of the last good record. */
    let before = reader.position;
    let quiet = loop?.quiet ?? false;
    while (records < this.#options.recordsPerStep) {
      before = reader.position;
      const status = reader.next();
      if (status === ReadResult.Record) {
        records++;
        if (current.skipTo > 0) {
          // Processed before the restart: read past it (the reader cannot seek: pcapng sections).
          if (reader.position <= current.skipTo) continue;
          current.skipTo = 0;
        }
        const record = reader.record;
        if (reader.position <= current.quietBelow !== quiet) {
          quiet = !quiet;
          if (loop !== null) loop.quiet = quiet;
        }
        if (record.seconds > this.#newestSeconds) this.#newestSeconds = record.seconds;
        if (quiet) this.#readAgain++;
        else {
          counters.packets++;
          counters.bytes += record.capturedLength;
        }
        const newest = counters.newestCapture;
        if (newest === null) counters.newestCapture = { seconds: record.seconds, nanos: record.nanos };
        else if (isLater(record.seconds, record.nanos, newest.seconds, newest.nanos)) {
          newest.seconds = record.seconds;
          newest.nanos = record.nanos;
        }
        // With workers, they decode the records (published at the end of the step).
        loop?.record(current.fileId, record);
        continue;
      }
      if (status === ReadResult.Failed) {
        this.#publish(current, before, false);
        if (current.rereading) {
          // Counted and logged when it was first read.
          this.#closeCurrent();
          return true;
        }
        counters.filesError++;
        this.#log('error', 'capture file is corrupt; skipping the rest of it', {
          file: current.info.path,
          error: reader.error,
        });
        this.#finishCurrent(false);
        return true;
      }
      this.#publish(current, reader.position, false);
      this.#noteReached(current, Math.max(reader.position, current.skipTo));
      return records > 0 || this.#atEndOfData(current);
    }
    this.#publish(current, reader.position, false);
    this.#noteReached(current, Math.max(reader.position, current.skipTo));
    return true;
  }

  /** With workers: hands the bytes read since the last step to the RangeSink (`last`: the file is finished). */
  #publish(current: OpenFile, to: number, last: boolean): void {
    const ranges = this.#ranges;
    if (ranges === null) return;
    const from = current.published;
    const end = Math.max(from, to);
    if (end === from && current.started && !last) return;
    ranges.range(
      current.fileId,
      current.info.path,
      current.source,
      from,
      end,
      current.skipBelow,
      current.quietBelow,
      !current.started,
      last,
    );
    current.started = true;
    current.published = end;
  }

  /** The reader wants bytes the file does not have (yet): finished, vanished, or still growing? */
  #atEndOfData(current: OpenFile): boolean {
    const position = current.reader.position;
    if (current.rereading) {
      // A done file read again: what it had then was read.
      this.#closeCurrent();
      return true;
    }
    if (current.detached) {
      // Everything the open descriptor had was read: the file is done (nobody can find it by
      // name any more, so nothing else will be written there by a rotation).
      if (current.source.size() > position) return true;
      this.#finishRead(current);
      this.#finishCurrent(false);
      return true;
    }
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(current.info.path);
    } catch {
      // deleted (or renamed away)
    }
    if (stat === null || stat.ino !== current.info.ino || stat.dev !== current.info.dev) {
      // Read the rest through the descriptor we hold; only then is it done.
      current.detached = true;
      this.#log('info', 'capture file removed or replaced while read; reading the rest of it', {
        file: current.info.path,
      });
      return true;
    }
    if (stat.size < position) {
      const unread = Math.max(0, current.lastSize - position);
      if (this.#sameBeginning(current.info.path, current.head)) {
        // Truncated in place: what is left was read already; it is not read again.
        this.counters.filesLost++;
        this.counters.lostBytes += unread;
        this.#log(
          'warn',
          'capture file lost: truncated in place; what was read is kept, it is not read again',
          {
            file: current.info.path,
            unreadBytes: unread,
          },
        );
        this.#closeCurrent();
        this.#done.set(current.info.path, { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs });
        this.#heads.set(current.info.path, current.head);
        return true;
      }
      this.#lose(current, 'the file was truncated (overwritten)');
      return true;
    }
    const now = Date.now();
    if (stat.size > current.lastSize) {
      current.lastSize = stat.size;
      current.lastGrowth = now;
      return false;
    }
    // Quiet since its last write (mtime) or the last growth seen, whichever is later.
    const quietFor = now - Math.max(current.lastGrowth, stat.mtimeMs);
    if (quietFor >= this.#options.graceMillis && this.#hasSuccessor(current, stat.mtimeMs)) {
      this.#finishRead(current);
      this.#finishCurrent(true);
      return true;
    }
    return false;
  }

  #finishRead(current: OpenFile): void {
    current.reader.finish();
    if (current.reader.truncatedBytes > 0) {
      this.#log('warn', 'capture file ends inside a record', {
        file: current.info.path,
        bytes: current.reader.truncatedBytes,
      });
    }
    this.counters.filesDone++;
  }

  /**
   * True when the file now under `path` begins with the same bytes as `head` (default: the
   * remembered beginning of the done file of that name), over the shorter of the two.
   */
  #sameBeginning(path: string, head: Uint8Array | undefined = this.#heads.get(path)): boolean {
    if (head === undefined || head.length === 0) return false;
    let source: FileByteSource | null = null;
    try {
      source = new FileByteSource(path, true);
      const now = new Uint8Array(head.length);
      const length = source.read(now, 0, head.length, 0);
      for (let i = 0; i < length; i++) if (now[i] !== head[i]) return false;
      return true;
    } catch {
      return false;
    } finally {
      source?.close();
    }
  }

  /** True when another capture file, not read yet, is newer than the current one. */
  #hasSuccessor(current: OpenFile, mtimeMs: number): boolean {
    for (const info of this.#scan()) {
      if (info.path === current.info.path) continue;
      const done = this.#done.get(info.path);
      if (done && done.ino === info.ino && done.size === info.size && done.mtimeMs === info.mtimeMs) continue;
      if (info.mtimeMs >= mtimeMs) return true;
    }
    return false;
  }

  #lose(current: OpenFile, why: string): void {
    const unread = Math.max(0, current.lastSize - current.reader.position);
    this.counters.filesLost++;
    this.counters.lostBytes += unread;
    this.#log('warn', `capture file lost: ${why}`, { file: current.info.path, unreadBytes: unread });
    this.#finishCurrent(false);
  }

  /** Closes the current file and marks it done; read to its end, its --on-done waits for checkpointSaved(). */
  #finishCurrent(readToEnd: boolean): void {
    const current = this.#current;
    if (current === null) return;
    this.#closeCurrent();
    const path = current.info.path;
    this.#heads.set(path, current.head);
    if (!readToEnd) {
      // Marked with the identity it had: whatever now stands under the name (a ring's new
      // content) differs from it and is read as a new file.
      this.#done.set(path, { ino: current.info.ino, size: current.lastSize, mtimeMs: current.info.mtimeMs });
      return;
    }
    let mark: DoneMark;
    try {
      const stat = fs.statSync(path);
      mark = { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs };
    } catch {
      return; // gone already: nothing to mark
    }
    this.#done.set(path, mark);
    if (this.#options.onDone !== 'keep') this.#awaitingOnDone.push({ path, ...mark });
  }

  /**
   * A checkpoint of this directory is on disk: --on-done applies to the files read to their end
   * that it no longer needs, those in its `done` list before the file its rebuild starts in. A
   * file is needed until then: a restart from that checkpoint would read it again (its records
   * after the checkpoint's position, or the requests pending at it).
   */
  checkpointSaved(saved: DirectoryCheckpoint): void {
    const awaiting = this.#awaitingOnDone;
    let applied = 0;
    for (const file of awaiting) {
      if (file.path === saved.rebuildFrom?.path) break;
      if (!saved.done.some((done) => done.path === file.path && done.ino === file.ino)) break;
      this.#applyOnDone(file);
      applied++;
    }
    awaiting.splice(0, applied);
  }

  /** Deletes or renames a file read to its end, unless what stands under its name changed since. */
  #applyOnDone(file: FileMark): void {
    try {
      const stat = fs.statSync(file.path);
      if (stat.ino !== file.ino || stat.size !== file.size || stat.mtimeMs !== file.mtimeMs) return;
      if (this.#options.onDone === 'delete') fs.unlinkSync(file.path);
      else fs.renameSync(file.path, `${file.path}${kProcessedSuffix}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // gone already
      this.#log('warn', `--on-done ${this.#options.onDone} failed`, {
        file: file.path,
        error: (error as Error).message,
      });
    }
  }

  #closeCurrent(): void {
    const current = this.#current;
    if (current === null) return;
    this.#current = null;
    if (this.#ranges === null) {
      current.source.close();
      return;
    }
    // Whatever the reader read and was not published yet (nothing after a failure: that was
    // published up to the last good record), then the file's end for the workers.
    this.#publish(current, current.published, true);
    this.#ranges.closeSource(current.source);
  }
}
