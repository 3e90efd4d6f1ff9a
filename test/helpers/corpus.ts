/**
 * The test corpus: real public captures with tshark's pairing as the oracle, copied from the
 * team's shared corpus into test/fixtures/corpus so a clean clone tests the same bytes
 * (sources, licences and how the oracle was made: test/fixtures/corpus/MANIFEST.md).
 */
import fs from 'node:fs';
import path from 'node:path';

export const corpusDir = path.resolve(import.meta.dirname, '../fixtures/corpus');

export const corpusFolders = ['formats', 'linktypes', 'dns', 'http', 'tcp', 'malformed'] as const;

/** Capture files (not oracle files) in one corpus folder, sorted. */
export function corpusCaptures(folder: string): string[] {
  const dir = path.join(corpusDir, folder);
  return fs
    .readdirSync(dir)
    .filter((name) => /\.(pcap|pcapng|cap)$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

/** capinfos' "Number of packets" for a capture, or null when capinfos could not count them. */
export function capinfosPacketCount(capture: string): number | null {
  const text = fs.readFileSync(`${capture}.info.txt`, 'utf8').trim().split('\n');
  if (text.length < 2) return null;
  const header = text[0]!.split(',');
  const values = text[1]!.split(',');
  const column = header.indexOf('Number of packets');
  const value = values[column];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}
