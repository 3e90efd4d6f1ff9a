/**
 * gRPC over HTTP/2 (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): a request
 * whose content-type is application/grpc[+proto|+json|;...] is a call; its messages are
 * length-prefixed (1 byte compressed flag, 4 bytes big-endian length) across DATA frames.
 */

export function isGrpcContentType(contentType: string | null): boolean {
  if (contentType === null || !contentType.startsWith('application/grpc')) return false;
  const next = contentType.charCodeAt(16);
  return Number.isNaN(next) || next === 0x2b /* + */ || next === 0x3b /* ; */;
}

/** Counts one direction's messages as DATA bytes arrive (one per call direction; no per-chunk objects). */
export class GrpcMessageCounter {
  messages = 0;
  /** Sum of the messages' lengths (prefixes excluded). */
  bytes = 0;
  /** Prefix bytes of the next message seen so far (0-5) and its length as read so far. */
  #prefixHave = 0;
  #length = 0;
  /** Message bytes still to come. */
  #remaining = 0;

  feed(data: Uint8Array, offset: number, length: number): void {
    let at = offset;
    const end = offset + length;
    while (at < end) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, end - at);
        this.#remaining -= take;
        at += take;
        continue;
      }
      const byte = data[at++]!;
      if (this.#prefixHave > 0) this.#length = this.#length * 256 + byte; // byte 0 is the compressed flag
      if (++this.#prefixHave === 5) {
        this.messages++;
        this.bytes += this.#length;
        this.#remaining = this.#length;
        this.#prefixHave = 0;
        this.#length = 0;
      }
    }
  }
}

/** "/package.Service/Method" -> service and method; null for anything else. */
export function splitGrpcPath(path: string | null): { service: string; method: string } | null {
  if (path === null || path.charCodeAt(0) !== 0x2f) return null;
  const slash = path.indexOf('/', 1);
  if (slash < 2 || slash === path.length - 1 || path.indexOf('/', slash + 1) >= 0) return null;
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** https://grpc.github.io/grpc/core/md_doc_statuscodes.html, by value. */
export const kGrpcStatusNames = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
