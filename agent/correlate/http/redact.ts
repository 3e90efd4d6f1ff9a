/**
 * Redaction of HTTP request targets, applied once at parse time (parse.ts) so that spans, JSONL
 * and the HTML report all get the same redacted target:
 *
 * - URL userinfo (`http://alice:P4ssw0rd@proxy/x`, absolute-form targets sent to proxies, and
 *   the authority-form of CONNECT) becomes `REDACTED:REDACTED@`, always (also with
 *   --http-keep-query), as the OpenTelemetry semantic conventions require for `url.full`
 *   ("url.full MUST NOT contain credentials passed via URL ... the attribute's value SHOULD be
 *   https://REDACTED:REDACTED@www.example.com/", stable attribute `url.full`, semantic
 *   conventions v1.45.0 as shipped in @opentelemetry/semantic-conventions 1.45.0).
 * - Path parameters (`;jsessionid=...` and any other `;...` up to the next `/`) become
 *   `;REDACTED`, and the query becomes `?REDACTED` (the fragment, never sent by browsers, goes
 *   with it) by default; --http-keep-query keeps both, as both carry the same kind of data
 *   (session ids, tokens, search terms).
 */

const kUserinfo = 'REDACTED:REDACTED@';
const QUESTION = 0x3f;
const SEMICOLON = 0x3b;
const AT = 0x40;

/**
 * Whether bytes[start, end) (a request target) has `@` (userinfo) or, unless keepQuery, `;`
 * (path parameters) before its query: the targets redactTarget() must see. The others (with or
 * without a query) the parser handles on the bytes. `@`, `;` and `?` are ASCII, never part of a
 * UTF-8 sequence.
 */
export function targetNeedsRedaction(
  bytes: Uint8Array,
  start: number,
  end: number,
  keepQuery: boolean,
): boolean {
  for (let k = start; k < end; k++) {
    const b = bytes[k]!;
    if (b === QUESTION) return false;
    if (b === AT || (b === SEMICOLON && !keepQuery)) return true;
  }
  return false;
}

/** Index where the authority of `target` starts, or -1 for origin-form (`/...`) and `*`. */
function authorityStart(target: string): number {
  if (target === '' || target[0] === '/' || target === '*') return -1;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(target);
  return scheme === null ? 0 : scheme[0].length;
}

/** End of the authority starting at `from`: the first `/`, `?` or `#`, else the end. */
function authorityEnd(target: string, from: number): number {
  for (let k = from; k < target.length; k++) {
    const c = target.charCodeAt(k);
    if (c === 0x2f || c === QUESTION || c === 0x23) return k;
  }
  return target.length;
}

/** The target with userinfo replaced by `REDACTED:REDACTED@` (unchanged when it has none). */
export function redactUserinfo(target: string): string {
  const start = authorityStart(target);
  if (start < 0) return target;
  const end = authorityEnd(target, start);
  const at = target.lastIndexOf('@', end - 1);
  if (at < start) return target;
  return `${target.slice(0, start)}${kUserinfo}${target.slice(at + 1)}`;
}

/** Replaces every path parameter (`;...` up to the next `/`) of `path` with `;REDACTED`. */
function redactPathParameters(path: string): string {
  let semicolon = path.indexOf(';');
  if (semicolon < 0) return path;
  let out = '';
  let from = 0;
  while (semicolon >= 0) {
    const slash = path.indexOf('/', semicolon);
    out += `${path.slice(from, semicolon)};REDACTED`;
    from = slash < 0 ? path.length : slash;
    semicolon = slash < 0 ? -1 : path.indexOf(';', slash);
  }
  return out + path.slice(from);
}

/**
 * The request target as exported: userinfo always redacted; path parameters and the query
 * redacted unless keepQuery.
 */
export function redactTarget(target: string, keepQuery: boolean): string {
  const withoutUserinfo = redactUserinfo(target);
  if (keepQuery) return withoutUserinfo;
  const start = authorityStart(withoutUserinfo);
  // Without a scheme (authority-form, or a malformed target) everything counts as path.
  const pathStart = start <= 0 ? 0 : authorityEnd(withoutUserinfo, start);
  let pathEnd = withoutUserinfo.indexOf('?', pathStart);
  const query = pathEnd >= 0;
  if (!query) pathEnd = withoutUserinfo.length;
  const path = redactPathParameters(withoutUserinfo.slice(pathStart, pathEnd));
  return `${withoutUserinfo.slice(0, pathStart)}${path}${query ? '?REDACTED' : ''}`;
}
