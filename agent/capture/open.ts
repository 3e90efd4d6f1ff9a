/** Opening capture files by path: never throws, errors come back as clear messages. */
import type { SkipCounters } from '../shared/skips.ts';
import { FileByteSource } from './byte-source.ts';
import { formatOfMagic } from './magic.ts';
import { CaptureReader, type CaptureReaderOptions } from './reader.ts';

export type OpenCaptureResult = { reader: CaptureReader; source: FileByteSource } | { error: string };

/**
 * Opens `path` for streaming. The caller closes `source` when done. Missing files, directories and
 * permission problems come back as `{ error }` naming the path and the errno code.
 */
export function openCapture(
  path: string,
  skips: SkipCounters,
  options?: CaptureReaderOptions,
): OpenCaptureResult {
  let source: FileByteSource;
  try {
    source = new FileByteSource(path);
  } catch (error) {
    return { error: describeOpenError(path, error) };
  }
  return { reader: new CaptureReader(source, skips, options), source };
}

/** True when `path` starts with a pcap or pcapng magic (picks captures out of a directory). */
export function isCaptureFile(path: string): boolean {
  return classifyFile(path) === true;
}

/**
 * Whether `path` starts with a pcap or pcapng magic: true, false, or the errno code when it
 * cannot be opened or read (EACCES, EIO, ELOOP for a link with `noFollow`...). Only regular
 * files are opened (a FIFO or device gives 'ENOTREG').
 */
export function classifyFile(path: string, noFollow = false): boolean | string {
  let source: FileByteSource | undefined;
  try {
    source = new FileByteSource(path, noFollow);
    const magic = new Uint8Array(4);
    if (source.read(magic, 0, 4, 0) < 4) return false;
    return formatOfMagic(new DataView(magic.buffer).getUint32(0, false)) !== null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ?? ((error as Error).message === 'not a regular file' ? 'ENOTREG' : 'EIO');
  } finally {
    source?.close();
  }
}

function describeOpenError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : (error as Error).message;
  return `cannot open capture ${path}: ${reason}${code ? ` (${code})` : ''}`;
}
