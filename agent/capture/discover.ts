/**
 * Expands the command line's files and directories into capture files in the order a
 * rotation wrote them. A directory contributes every regular file directly in it whose magic
 * bytes are a capture format's (names do not matter), sorted naturally: digit runs compare
 * as numbers, so strftime names (`cap-20261128230000.pcap`) sort by time and tcpdump -C
 * suffixes (`cap`, `cap1`, ..., `cap10`) sort numerically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isCaptureFile } from './open.ts';

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
}

export function discoverCaptureFiles(inputs: readonly string[]): DiscoveredInputs {
  const files: string[] = [];
  const errors: string[] = [];
  let ignored = 0;
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
      try {
        if (!fs.statSync(file).isFile()) continue;
        if (isCaptureFile(file)) files.push(file);
        else ignored++;
      } catch {
        // Vanished or unreadable between readdir and stat: not a capture we can read; skip it.
      }
    }
  }
  return { files, errors, ignored };
}
