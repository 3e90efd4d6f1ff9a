/**
 * Minimal classic-pcap record iterator for the decoder's corpus tests (pcapng is not read).
 * Independent of agent/capture on purpose: the decoder's tests must not depend on it.
 */

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface PcapRecord {
  data: Uint8Array;
  offset: number;
  capturedLength: number;
  /** LINKTYPE_* from the file header, FCS bits included as stored. */
  linkType: number;
  /** 1-based, as tshark numbers frames. */
  packetNumber: number;
}

const kMagicMicros = 0xa1b2c3d4;
const kMagicNanos = 0xa1b23c4d;
const kFileHeaderLength = 24;
const kRecordHeaderLength = 16;

/** Byte order of a classic pcap file, or undefined when `bytes` is not one. */
function littleEndian(bytes: Uint8Array): boolean | undefined {
  if (bytes.length < kFileHeaderLength) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = view.getUint32(0, true);
  if (le === kMagicMicros || le === kMagicNanos) return true;
  const be = view.getUint32(0, false);
  if (be === kMagicMicros || be === kMagicNanos) return false;
  return undefined;
}

export function isClassicPcap(bytes: Uint8Array): boolean {
  return littleEndian(bytes) !== undefined;
}

/** Yields every complete record; stops at the first truncated one. */
export function* pcapRecords(bytes: Uint8Array): Generator<PcapRecord> {
  const le = littleEndian(bytes);
  if (le === undefined) throw new Error('not a classic pcap file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const linkType = view.getUint32(20, le);
  let at = kFileHeaderLength;
  for (let packetNumber = 1; at + kRecordHeaderLength <= bytes.length; packetNumber++) {
    const capturedLength = view.getUint32(at + 8, le);
    const offset = at + kRecordHeaderLength;
    if (offset + capturedLength > bytes.length) return;
    yield { data: bytes, offset, capturedLength, linkType, packetNumber };
    at = offset + capturedLength;
  }
}

/** Classic pcap files (by magic, not by name) directly inside `root/<subdir>`, sorted, as relative paths. */
export function classicPcapFiles(root: string, subdirs: readonly string[]): string[] {
  const files: string[] = [];
  for (const subdir of subdirs) {
    for (const name of readdirSync(path.join(root, subdir)).sort()) {
      const relative = `${subdir}/${name}`;
      if (!name.endsWith('.pcap')) continue;
      if (isClassicPcap(readFileSync(path.join(root, relative)))) files.push(relative);
    }
  }
  return files;
}
