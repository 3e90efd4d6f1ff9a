/**
 * W3C Trace Context `traceparent` parsing (https://www.w3.org/TR/trace-context/#traceparent-header),
 * strict as the spec's "MUST" rules say: a header that fails them is ignored (the span starts a
 * new trace) and counted. Called once per HTTP pair that carries the header.
 */

export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero: the caller's span, our span's parent. */
  parentSpanId: string;
  /** The trace-flags byte (bit 0: sampled). */
  flags: number;
}

const kHex = /^[0-9a-f]+$/;

/**
 * The parsed header, or null when it is not a valid traceparent. Version 00 must be exactly
 * `00-<32 hex>-<16 hex>-<2 hex>`; a higher version (not ff) may carry more fields after a dash,
 * which are ignored, as the spec asks of version-00 parsers. Surrounding whitespace (optional
 * whitespace in an HTTP field value) is trimmed.
 */
export function parseTraceParent(header: unknown): TraceParent | null {
  if (typeof header !== 'string') return null;
  const text = header.trim();
  if (text.length < 55) return null;
  const version = text.slice(0, 2);
  if (!kHex.test(version) || version === 'ff') return null;
  if (version === '00' ? text.length !== 55 : text.length > 55 && text[55] !== '-') return null;
  if (text[2] !== '-' || text[35] !== '-' || text[52] !== '-') return null;
  const traceId = text.slice(3, 35);
  const parentSpanId = text.slice(36, 52);
  const flags = text.slice(53, 55);
  if (!kHex.test(traceId) || !kHex.test(parentSpanId) || !kHex.test(flags)) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentSpanId)) return null;
  return { traceId, parentSpanId, flags: Number.parseInt(flags, 16) };
}
