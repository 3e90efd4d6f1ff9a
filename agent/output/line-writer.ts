/**
 * Buffered, synchronous line output to a file descriptor (stdout or a file), so millions of
 * JSONL lines cost a few large writes instead of one syscall each. A closed pipe (EPIPE,
 * e.g. `wirespan replay ... | head`) ends output quietly: `closed` turns true and further
 * lines are discarded, which the caller may use to stop early.
 */
import fs from 'node:fs';

const kFlushBytes = 1 << 16;

export class LineWriter {
  readonly #fd: number;
  readonly #ownsFd: boolean;
  #chunks: string[] = [];
  #pendingBytes = 0;
  closed = false;

  private constructor(fd: number, ownsFd: boolean) {
    this.#fd = fd;
    this.#ownsFd = ownsFd;
  }

  static stdout(): LineWriter {
    return new LineWriter(1, false);
  }

  /** Opens (truncates) a file for writing; throws a clear error on failure. */
  static file(path: string): LineWriter {
    try {
      return new LineWriter(fs.openSync(path, 'w'), true);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new Error(`cannot open output file ${path}: ${code}`);
    }
  }

  write(line: string): void {
    if (this.closed) return;
    this.#chunks.push(line, '\n');
    this.#pendingBytes += line.length + 1;
    if (this.#pendingBytes >= kFlushBytes) this.flush();
  }

  /** Writes bytes that already are whole lines (each ending in a newline), now. */
  writeBytes(bytes: Uint8Array): void {
    if (this.closed) return;
    this.flush();
    this.#writeAll(bytes);
  }

  flush(): void {
    if (this.closed || this.#chunks.length === 0) return;
    const text = this.#chunks.join('');
    this.#chunks = [];
    this.#pendingBytes = 0;
    this.#writeAll(Buffer.from(text, 'utf8'));
  }

  #writeAll(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += fs.writeSync(this.#fd, bytes, offset, bytes.length - offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue; // non-blocking stdout (a pipe in some shells): retry
        if (code === 'EPIPE') {
          this.closed = true;
          return;
        }
        throw error;
      }
    }
  }

  close(): void {
    this.flush();
    if (this.#ownsFd) fs.closeSync(this.#fd);
    this.closed = true;
  }
}
