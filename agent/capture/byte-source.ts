/**
 * Where a capture reader gets its bytes: a synchronous, positioned read (pread semantics), so
 * a reader can re-read from any offset and a file that is still being written can be tailed by
 * simply asking again later.
 */
import fs from 'node:fs';

export interface ByteSource {
  /**
   * Copies up to `length` bytes starting at file offset `position` into
   * `into[intoOffset, intoOffset + length)`. Returns the number of bytes copied: fewer than asked
   * near the end, 0 at (the current) end of the data.
   */
  read(into: Uint8Array, intoOffset: number, length: number, position: number): number;
  /** Current size of the data in bytes (it may grow between calls). */
  size(): number;
}

/**
 * A regular file opened read-only. The constructor throws the fs error (ENOENT, EACCES, ...), an
 * EISDIR error for a directory (Linux opens those but cannot read them) and an error for other
 * non-regular files (pipes, devices: no positioned reads). O_NONBLOCK keeps opening a FIFO from
 * hanging until a writer appears; it changes nothing for regular files.
 */
export class FileByteSource implements ByteSource {
  readonly path: string;
  #fd: number;

  /** `noFollow`: a symbolic link is refused (ELOOP) instead of followed (watched directories). */
  constructor(path: string, noFollow = false) {
    this.path = path;
    this.#fd = fs.openSync(
      path,
      fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (noFollow ? fs.constants.O_NOFOLLOW : 0),
    );
    const stats = fs.fstatSync(this.#fd);
    if (!stats.isFile()) {
      this.close();
      throw stats.isDirectory()
        ? Object.assign(new Error('illegal operation on a directory'), { code: 'EISDIR' })
        : new Error('not a regular file');
    }
  }

  read(into: Uint8Array, intoOffset: number, length: number, position: number): number {
    return fs.readSync(this.#fd, into, intoOffset, length, position);
  }

  size(): number {
    return fs.fstatSync(this.#fd).size;
  }

  /** Closes the file; later calls do nothing. */
  close(): void {
    if (this.#fd < 0) return;
    fs.closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** Bytes in memory. `append()` simulates a file that is still being written. */
export class MemoryByteSource implements ByteSource {
  #bytes: Uint8Array;
  #length: number;

  /** Uses `initial` as is (no copy) until the first `append()`. */
  constructor(initial: Uint8Array = new Uint8Array(0)) {
    this.#bytes = initial;
    this.#length = initial.length;
  }

  append(chunk: Uint8Array): void {
    const needed = this.#length + chunk.length;
    if (needed > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2, 64));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(chunk, this.#length);
    this.#length = needed;
  }

  read(into: Uint8Array, intoOffset: number, length: number, position: number): number {
    const count = Math.min(length, this.#length - position);
    if (count <= 0) return 0;
    into.set(this.#bytes.subarray(position, position + count), intoOffset);
    return count;
  }

  size(): number {
    return this.#length;
  }
}
