/**
 * Where pairs go as lines: one renderer for both formats (JSONL, or the original engine's
 * text blocks) into bytes, and a batched writer to stdout or a file. `replay`, `run` and the
 * pipeline's workers all render through PairRenderer, so the formats stay the same everywhere.
 */
import type { Pair } from '../correlate/pair.ts';
import { ByteBuffer } from './byte-buffer.ts';
import { LineWriter } from './line-writer.ts';
import { PairJsonWriter, pairToText } from './pair-json.ts';

export type PairFormat = 'jsonl' | 'text';

export class PairRenderer {
  readonly #format: PairFormat;
  readonly #json: PairJsonWriter;

  /** `fileNames` is the file table pairs' file ids index; it may grow while rendering. */
  constructor(format: PairFormat, fileNames: readonly string[]) {
    this.#format = format;
    this.#json = new PairJsonWriter(fileNames);
  }

  /** Appends the pair's line(s), each ending in a newline. */
  render(out: ByteBuffer, pair: Pair): void {
    if (this.#format === 'jsonl') {
      this.#json.write(out, pair);
      return;
    }
    out.text(pairToText(pair));
    out.byte(0x0a);
  }
}

/** Bytes gathered before a write. */
const kFlushBytes = 256 * 1024;

export class PairOutput {
  readonly #writer: LineWriter;
  readonly #renderer: PairRenderer;
  readonly #batch = new ByteBuffer(kFlushBytes * 2);

  private constructor(writer: LineWriter, renderer: PairRenderer) {
    this.#writer = writer;
    this.#renderer = renderer;
  }

  /** Opens stdout (path null) or the file (throws a clear error when it cannot be opened). */
  static open(format: PairFormat, path: string | null, fileNames: readonly string[]): PairOutput {
    const writer = path ? LineWriter.file(path) : LineWriter.stdout();
    return new PairOutput(writer, new PairRenderer(format, fileNames));
  }

  /** True once the reader went away (a closed pipe): further output is discarded. */
  get closed(): boolean {
    return this.#writer.closed;
  }

  write(pair: Pair): void {
    this.#renderer.render(this.#batch, pair);
    if (this.#batch.length >= kFlushBytes) this.flush();
  }

  /** Lines rendered elsewhere (a worker's batch, a `--packets` line). */
  writeBytes(bytes: Uint8Array): void {
    this.flush();
    this.#writer.writeBytes(bytes);
  }

  writeLine(line: string): void {
    this.flush();
    this.#writer.write(line);
  }

  /** Writes what is batched (call before a checkpoint or a pause). */
  flush(): void {
    if (this.#batch.length === 0) return;
    this.#writer.writeBytes(this.#batch.view());
    this.#batch.clear();
  }

  close(): void {
    this.flush();
    this.#writer.close();
  }
}
