/**
 * Expands the command line's files and directories into capture files in the order a
 * rotation wrote them. A directory contributes every regular file directly in it whose magic
 * bytes are a capture format's (names do not matter), sorted naturally: digit runs compare
 * as numbers, so strftime names (`cap-20261128230000.pcap`) sort by time and tcpdump -C
 * suffixes (`cap`, `cap1`, ..., `cap10`) sort numerically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { classifyFile } from './open.ts';

/** Natural order: "cap2" < "cap10"; equal numbers with different zero padding fall back to text order. */
export function compareRotationNames(a: string, b: string): number {
  const partsA = a.match(/\d+|\D+/g) ?? [];
  const partsB = b.match(/\d+|\D+/g) ?? [];
  const n = Math.min(partsA.length, partsB.length);
  for (let i = 0; i < n; i++) {
    const x = partsA[i]!;
    const y = partsB[i]!;
    if (x === y) continue;
    const xIsNumber = x.charCodeAt(0) <= 57 && x.charCodeAt(0) >= 48;
    const yIsNumber = y.charCodeAt(0) <= 57 && y.charCodeAt(0) >= 48;
    if (xIsNumber && yIsNumber) {
      const diff = Number(x) - Number(y);
      if (diff !== 0) return diff;
    }
    return x < y ? -1 : 1;
  }
  return partsA.length - partsB.length || (a < b ? -1 : a > b ? 1 : 0);
}

export interface DiscoveredInputs {
  files: string[];
  /** Inputs that could not be used, with the reason (missing path, unreadable directory...). */
  errors: string[];
  /** Files in the given directories that are not captures (by their magic bytes). */
  ignored: number;
  /** FIFOs, devices and sockets in the given directories (skipped, never opened for reading). */
  special: number;
}

export function discoverCaptureFiles(inputs: readonly string[]): DiscoveredInputs {
  const files: string[] = [];
  const errors: string[] = [];
  let ignored = 0;
  let special = 0;
  for (const input of inputs) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input);
    } catch (error) {
      errors.push(
        `${input}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`,
      );
      continue;
    }
    if (!stat.isDirectory()) {
      // Only regular files are read: a FIFO would block and /dev/zero never end.
      if (!stat.isFile()) {
        errors.push(`${input}: not a regular file (a FIFO, device or socket is not read)`);
        continue;
      }
      // An explicitly named file is always attempted: if it is not a capture, the reader says why.
      files.push(input);
      continue;
    }
    let names: string[];
    try {
      names = fs.readdirSync(input);
    } catch (error) {
      errors.push(`${input}: cannot list directory (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    names.sort(compareRotationNames);
    for (const name of names) {
      const file = path.join(input, name);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch {
        continue; // vanished between readdir and stat
      }
      if (stat.isDirectory()) continue;
      if (!stat.isFile()) {
        special++;
        continue;
      }
      const kind = classifyFile(file);
      if (kind === true) files.push(file);
      else if (kind === false) ignored++;
      else if (kind === 'ENOTREG') special++;
      else if (kind !== 'ENOENT') errors.push(`${file}: cannot open (${kind})`);
    }
  }
  return { files, errors, ignored, special };
}
