/**
 * Heuristic HTTP route templating: when no `--http-route` template matches a request's path
 * (query string already removed), path segments that look like identifiers become placeholders,
 * so `http.route`/`url.template`, the span name `{method} {route}` and the latency metric keep a
 * low cardinality. On by default; `--http-route-heuristics false` turns it off.
 *
 * The rules, per "/"-separated segment, first match wins (a segment that matches none is kept):
 * 1. `{email}`: contains "@" (or its escape "%40") with a "." after it (`ann@example.com`);
 * 2. `{uuid}`: 8-4-4-4-12 hex digits, any case (`3f2504e0-4f89-11d3-9a0c-0305e82c3301`);
 * 3. `{date}`: `YYYY-MM-DD` (`2024-05-01`);
 * 4. `{id}`: digits only (`42`, `20240501`);
 * 5. `{hash}`: at least 16 hex digits (`9f86d081884c7d65`, git or SHA digests);
 * 6. `{token}`: at least 20 characters of base64/base64url (`A-Z a-z 0-9 _ - + =`) with a digit
 *    and a letter, unless it is a slug: every `-`/`_`-separated word is all letters or all digits
 *    (`release-notes-2024-version-11` is kept, `aZ3kP9qLm2Xv7TbQ4wR8` is a token);
 * 7. a segment with a "." (a file name): each "."-separated part of at least 8 hex digits with a
 *    digit in it becomes `{hash}` (fingerprinted assets: `main.3f9a8b7c.js` -> `main.{hash}.js`).
 * Everything else (`/healthz`, `/static/app.css`, `v1`, words) stays as it is.
 */

const kEmail = /^[^@]+(?:@|%40)[^@]+\.[^@]+$/;
const kUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const kDate = /^\d{4}-\d{2}-\d{2}$/;
/** Words of a slug: each all letters or all digits, joined by "-" or "_". */
const kSlug = /^(?:[A-Za-z]+|\d+)(?:[-_](?:[A-Za-z]+|\d+))*$/;
const kAssetHash = /^(?=[0-9a-f]*\d)[0-9a-f]{8,}$/i;

// One pass over a segment's characters tells which rules can match at all, so most segments
// (words, numbers) are decided without a regular expression or a substring. By ASCII code:
/** The character sets a rule wants every character of a segment in (a bit each). */
const kSetOf = new Uint8Array(128);
const kInHex = 1; // [0-9a-fA-F]: {hash}
const kInHexDash = 2; // and "-": {uuid}
const kInDigits = 4; // [0-9]: {id}
const kInDigitsDash = 8; // and "-": {date}
const kInBase64 = 16; // [A-Za-z0-9_+=-]: {token}
const kAllSets = 31;
/** What a rule needs somewhere in a segment (a bit each). */
const kMarkOf = new Uint8Array(128);
const kHasDigit = 1;
const kHasLetter = 2;
const kHasAt = 4; // "@" or "%" (of "%40"): {email}
const kHasDot = 8;
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const digit = c >= 0x30 && c <= 0x39;
  const letter = /[A-Za-z]/.test(ch);
  const hex = digit || /[a-fA-F]/.test(ch);
  kSetOf[c] =
    (hex ? kInHex | kInHexDash : 0) |
    (digit ? kInDigits | kInDigitsDash : 0) |
    (ch === '-' ? kInHexDash | kInDigitsDash : 0) |
    (digit || letter || '_+=-'.includes(ch) ? kInBase64 : 0);
  kMarkOf[c] =
    (digit ? kHasDigit : 0) |
    (letter ? kHasLetter : 0) |
    (ch === '@' || ch === '%' ? kHasAt : 0) |
    (ch === '.' ? kHasDot : 0);
}

/** The placeholder for the segment path[start, end) (not empty), or null to keep it. */
function placeholder(path: string, start: number, end: number): string | null {
  let sets = kAllSets;
  let marks = 0;
  for (let i = start; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c < 128) {
      sets &= kSetOf[c]!;
      marks |= kMarkOf[c]!;
    } else {
      sets = 0;
    }
  }
  const n = end - start;
  if ((marks & kHasAt) !== 0 && kEmail.test(path.slice(start, end))) return '{email}';
  if (n === 36 && (sets & kInHexDash) !== 0 && kUuid.test(path.slice(start, end))) return '{uuid}';
  if (n === 10 && (sets & kInDigitsDash) !== 0 && kDate.test(path.slice(start, end))) return '{date}';
  if ((sets & kInDigits) !== 0) return '{id}';
  if (n >= 16 && (sets & kInHex) !== 0) return '{hash}';
  if (
    n >= 20 &&
    (sets & kInBase64) !== 0 &&
    (marks & kHasDigit) !== 0 &&
    (marks & kHasLetter) !== 0 &&
    !kSlug.test(path.slice(start, end))
  ) {
    return '{token}';
  }
  if ((marks & kHasDot) !== 0) {
    const parts = path.slice(start, end).split('.');
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      if (kAssetHash.test(parts[i]!)) {
        parts[i] = '{hash}';
        changed = true;
      }
    }
    if (changed) return parts.join('.');
  }
  return null;
}

/** The path with identifier-like segments replaced (rules above); the same string when none is. */
export function heuristicRoute(path: string): string {
  let start = 0;
  let result: string | null = null; // built only once a segment changes
  while (start <= path.length) {
    let end = path.indexOf('/', start);
    if (end < 0) end = path.length;
    const replacement = end > start ? placeholder(path, start, end) : null;
    if (replacement !== null) {
      result = (result ?? path.slice(0, start)) + replacement;
    } else if (result !== null) {
      result += path.slice(start, end);
    }
    if (end === path.length) break;
    if (result !== null) result += '/';
    start = end + 1;
  }
  return result ?? path;
}
