/** Telling capture formats apart by their first four bytes, whatever the file is called. */

export type CaptureFormat = 'pcap' | 'pcapng';

/** Classic pcap magics as written by a big-endian host; a little-endian file has them swapped. */
export const PcapMagic = {
  Microseconds: 0xa1b2c3d4,
  Nanoseconds: 0xa1b23c4d,
  /** Kuznetzov's patched libpcap: 24-byte record headers, microseconds. */
  Modified: 0xa1b2cd34,
} as const;

/** pcapng Section Header Block type; a palindrome, so the same in both byte orders. */
export const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;

function swap32(value: number): number {
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
}

const PCAP_MAGICS: readonly number[] = Object.values(PcapMagic);

/**
 * The pcap magic in `firstWord` (read big-endian) as a big-endian writer writes it, or 0 when it
 * is none; it differs from `firstWord` exactly when the file is little-endian.
 */
export function pcapMagicBigEndian(firstWord: number): number {
  const swapped = swap32(firstWord);
  for (const magic of PCAP_MAGICS) if (firstWord === magic || swapped === magic) return magic;
  return 0;
}

/** `firstWord` is the file's first four bytes read big-endian. */
export function formatOfMagic(firstWord: number): CaptureFormat | null {
  if (firstWord === PCAPNG_SECTION_HEADER) return 'pcapng';
  return pcapMagicBigEndian(firstWord) !== 0 ? 'pcap' : null;
}

export function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
