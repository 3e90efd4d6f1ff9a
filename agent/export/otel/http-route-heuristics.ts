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
const kDigits = /^\d+$/;
const kHash = /^[0-9a-f]{16,}$/i;
const kBase64 = /^[A-Za-z0-9_+=-]{20,}$/;
const kHasDigit = /\d/;
const kHasLetter = /[A-Za-z]/;
/** Words of a slug: each all letters or all digits, joined by "-" or "_". */
const kSlug = /^(?:[A-Za-z]+|\d+)(?:[-_](?:[A-Za-z]+|\d+))*$/;
const kAssetHash = /^(?=[0-9a-f]*\d)[0-9a-f]{8,}$/i;

/** The placeholder for one segment, or null to keep it. */
function placeholder(segment: string): string | null {
  if (kEmail.test(segment)) return '{email}';
  if (kUuid.test(segment)) return '{uuid}';
  if (kDate.test(segment)) return '{date}';
  if (kDigits.test(segment)) return '{id}';
  if (kHash.test(segment)) return '{hash}';
  if (kBase64.test(segment) && kHasDigit.test(segment) && kHasLetter.test(segment) && !kSlug.test(segment)) {
    return '{token}';
  }
  if (segment.includes('.')) {
    const parts = segment.split('.');
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
    const replacement = end > start ? placeholder(path.slice(start, end)) : null;
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
