/** Small readers shared by the database framers (PostgreSQL, MySQL): per message, never per byte. */
import type { PacketView } from '../matcher.ts';
import type { MessageEdges } from '../pair.ts';

/** Bytes `n` of a message arrived in `view`'s packet: extends `edges` (one packet counted once). */
export function addBytes(edges: MessageEdges, n: number, view: PacketView): void {
  if (edges.lastPacket !== view.packetNumber || edges.lastFileId !== view.fileId) {
    edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, n);
  } else {
    edges.bytes += n;
  }
}

/** The NUL-terminated string at `from` in body[0, kept) as UTF-8 text, and where the next one starts. */
export function cString(body: Uint8Array, from: number, kept: number): { text: string; next: number } {
  let end = from;
  while (end < kept && body[end] !== 0) end++;
  return {
    text: Buffer.from(body.buffer, body.byteOffset + from, end - from).toString('utf8'),
    next: end + 1,
  };
}
