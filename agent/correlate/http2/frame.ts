/** HTTP/2 framing constants (RFC 9113 section 4 and 6) and the plausibility test used to recognise frames without a preface. */

export const FrameType = {
  Data: 0,
  Headers: 1,
  Priority: 2,
  RstStream: 3,
  Settings: 4,
  PushPromise: 5,
  Ping: 6,
  GoAway: 7,
  WindowUpdate: 8,
  Continuation: 9,
} as const;

export const Flag = { EndStream: 0x1, EndHeaders: 0x4, Padded: 0x8, Priority: 0x20 } as const;

export const kFrameHeaderBytes = 9;
/** The client connection preface (RFC 9113 3.4). */
export const kPreface = Uint8Array.from(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));
/** SETTINGS_MAX_FRAME_SIZE's initial value: frames recognised without a preface may not be larger. */
export const kDefaultMaxFrameBytes = 16_384;

/** RFC 9113 section 7 error codes, by value. */
export const kErrorNames = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
] as const;

export function errorName(code: number): string {
  return kErrorNames[code] ?? `0x${code.toString(16)}`;
}

/** Whether `data[offset, offset + length)` starts the client preface (or is a prefix of it, at least "PRI "). */
export function startsPreface(data: Uint8Array, offset: number, length: number): boolean {
  if (length < 4) return false;
  const n = Math.min(length, kPreface.length);
  for (let i = 0; i < n; i++) if (data[offset + i] !== kPreface[i]) return false;
  return true;
}

/** Whether a frame header at data[at] is one a real peer could send (type known, sizes and stream id consistent). */
export function plausibleFrameHeader(data: Uint8Array, at: number): boolean {
  const length = (data[at]! << 16) | (data[at + 1]! << 8) | data[at + 2]!;
  const type = data[at + 3]!;
  if (length > kDefaultMaxFrameBytes || type > FrameType.Continuation || data[at + 5]! & 0x80) return false;
  const streamId =
    ((data[at + 5]! & 0x7f) << 24) | (data[at + 6]! << 16) | (data[at + 7]! << 8) | data[at + 8]!;
  switch (type) {
    case FrameType.Settings:
      return streamId === 0 && length % 6 === 0;
    case FrameType.Ping:
      return streamId === 0 && length === 8;
    case FrameType.GoAway:
      return streamId === 0 && length >= 8;
    case FrameType.WindowUpdate:
      return length === 4;
    case FrameType.RstStream:
      return streamId !== 0 && length === 4;
    case FrameType.Priority:
      return streamId !== 0 && length === 5;
    default:
      return streamId !== 0;
  }
}

/** What bytes that may be HTTP/2 frames say about themselves (frameEvidence). */
export const Evidence = {
  /** Not HTTP/2 frames from the first byte on. */
  None: 0,
  /** Plausible frames, but none tells which side sent them. */
  Frames: 1,
  /** A HEADERS frame whose first field is a request pseudo-header: the client's bytes. */
  Request: 2,
  /** A HEADERS frame whose first field is :status: the server's bytes. */
  Response: 3,
} as const;
export type Evidence = (typeof Evidence)[keyof typeof Evidence];

/**
 * Whether the bytes are HTTP/2 frames from their first byte on (a connection whose preface was
 * not captured): every whole frame header in them must be plausible. Which side sent them comes
 * from the first HEADERS frame that starts with a static-table pseudo-header (RFC 9113 8.3:
 * pseudo-headers come first): request ones (:authority, :method, :path, :scheme) or :status.
 * Fields from the dynamic table (unknown here) and trailers decide nothing.
 */
export function frameEvidence(data: Uint8Array, offset: number, length: number): Evidence {
  const end = offset + length;
  let at = offset;
  let frames = 0;
  let side: Evidence = Evidence.Frames;
  while (at + kFrameHeaderBytes <= end) {
    if (!plausibleFrameHeader(data, at)) return Evidence.None;
    const frameLength = (data[at]! << 16) | (data[at + 1]! << 8) | data[at + 2]!;
    if (side === Evidence.Frames && data[at + 3] === FrameType.Headers) {
      const flags = data[at + 4]!;
      const block = at + kFrameHeaderBytes + (flags & Flag.Padded ? 1 : 0) + (flags & Flag.Priority ? 5 : 0);
      side = firstFieldEvidence(data, block, Math.min(end, at + kFrameHeaderBytes + frameLength));
    }
    frames++;
    at += kFrameHeaderBytes + frameLength;
  }
  return frames > 0 ? side : Evidence.None;
}

/** The first field of a header block (after dynamic table size updates) as evidence. */
function firstFieldEvidence(data: Uint8Array, at: number, end: number): Evidence {
  // Dynamic table size updates (001xxxxx, then 1xxxxxxx continuation bytes) may come first.
  while (at < end && (data[at]! & 0xe0) === 0x20) {
    if ((data[at++]! & 0x1f) === 0x1f) while (at < end && data[at++]! & 0x80);
  }
  if (at >= end) return Evidence.Frames;
  const first = data[at]!;
  // Indexed (1xxxxxxx) or literal with a 6-bit (01xxxxxx) or 4-bit (000xxxxx) static name index.
  const index =
    first & 0x80 ? first & 0x7f : first & 0x40 ? first & 0x3f : (first & 0xe0) === 0 ? first & 0x0f : 0;
  if (index >= 1 && index <= 7) return Evidence.Request;
  if (index >= 8 && index <= 14) return Evidence.Response;
  return Evidence.Frames;
}
