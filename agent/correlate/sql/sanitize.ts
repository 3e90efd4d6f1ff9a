/**
 * SQL literal replacement for db.query.text: every string, number, hex/bit and dollar-quoted
 * literal becomes `?`, comments are dropped (they can hold anything, sqlcommenter tags
 * included); identifiers, keywords, placeholders ($1, ?, :name) and punctuation stay. Runs once
 * per request, never per packet.
 *
 * Safe on any input: an unterminated literal or comment (a query cut at the capture cap, or
 * garbage) is replaced up to the end, so a literal never leaks because the text was truncated.
 */

/** How the dialects differ: MySQL's double quotes are strings, PostgreSQL's are identifiers. */
export type SqlDialect = 'postgresql' | 'mysql';

const kQuote = 0x27; // '
const kDoubleQuote = 0x22; // "
const kBacktick = 0x60; // `
const kBackslash = 0x5c; // \
const kDollar = 0x24; // $

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    isDigit(c) ||
    c === 0x5f || // _
    c === kDollar ||
    c >= 0x80
  );
}

/** The index after a quoted run opened at `from` (the opening quote), doubled quotes and (if `backslash`) \x escapes kept inside. */
function quotedEnd(text: string, from: number, quote: number, backslash: boolean): number {
  let i = from + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (backslash && c === kBackslash) {
      i += 2;
    } else if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return text.length;
}

/** A PostgreSQL dollar-quote tag (`$$`, `$body$`) starting at `from`, or null. */
function dollarTag(text: string, from: number): string | null {
  let i = from + 1;
  while (i < text.length && text.charCodeAt(i) !== kDollar) {
    const c = text.charCodeAt(i);
    if (!isWordChar(c) || (i === from + 1 && isDigit(c))) return null;
    i++;
  }
  return i < text.length ? text.slice(from, i + 1) : null;
}

/** Replaces the literals of `text` by `?` and drops its comments (see the module comment). */
export function sanitizeSql(text: string, dialect: SqlDialect): string {
  const mysql = dialect === 'mysql';
  let out = '';
  let copied = 0; // text[copied, i) is still to copy
  let i = 0;
  const replace = (from: number, to: number, by: string): void => {
    out += text.slice(copied, from) + by;
    copied = to;
  };
  while (i < text.length) {
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c === kQuote) {
      // E'...' (PostgreSQL) and every MySQL string take backslash escapes.
      const escaped = mysql || (i > 0 && (text.charCodeAt(i - 1) | 0x20) === 0x65);
      const end = quotedEnd(text, i, kQuote, escaped);
      // A one-letter prefix (E'', X'', B'', N'') belongs to the literal.
      const prefixed =
        i > 0 && isWordChar(text.charCodeAt(i - 1)) && !(i > 1 && isWordChar(text.charCodeAt(i - 2)));
      replace(prefixed ? i - 1 : i, end, '?');
      i = end;
    } else if (c === kDoubleQuote) {
      const end = quotedEnd(text, i, kDoubleQuote, mysql);
      if (mysql) replace(i, end, '?');
      i = end;
    } else if (c === kBacktick) {
      i = quotedEnd(text, i, kBacktick, false);
    } else if ((c === 0x2d && next === 0x2d) || (mysql && c === 0x23)) {
      // -- or # comment: to the end of the line.
      let end = text.indexOf('\n', i);
      if (end < 0) end = text.length;
      replace(i, end, '');
      i = end;
    } else if (c === 0x2f && next === 0x2a) {
      const close = text.indexOf('*/', i + 2);
      const end = close < 0 ? text.length : close + 2;
      replace(i, end, ' ');
      i = end;
    } else if (c === kDollar && !mysql && !isDigit(next)) {
      const tag = dollarTag(text, i);
      if (tag === null || (i > 0 && isWordChar(text.charCodeAt(i - 1)))) {
        i++;
        continue;
      }
      const close = text.indexOf(tag, i + tag.length);
      const end = close < 0 ? text.length : close + tag.length;
      replace(i, end, '?');
      i = end;
    } else if (c === kDollar || c === 0x3a || c === 0x40) {
      // $1, :name, @var: placeholders and variables stay whole.
      i++;
      while (i < text.length && isWordChar(text.charCodeAt(i))) i++;
    } else if (isDigit(c) || (c === 0x2e && isDigit(next))) {
      // A number (123, 1.5e-3, 0x1F, .5), unless part of a word.
      let end = i + 1;
      while (end < text.length) {
        const d = text.charCodeAt(end);
        const sign = (d === 0x2b || d === 0x2d) && (text.charCodeAt(end - 1) | 0x20) === 0x65;
        if (isWordChar(d) || d === 0x2e || sign) end++;
        else break;
      }
      replace(i, end, '?');
      i = end;
    } else if (isWordChar(c)) {
      i++;
      while (i < text.length && isWordChar(text.charCodeAt(i))) i++;
    } else {
      i++;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * db.operation.name from query text: its first keyword, upper-cased (`SELECT`, `INSERT`, `WITH`,
 * `BEGIN`), after leading comments, spaces and parentheses; null when it starts with no word.
 */
export function sqlOperationName(text: string): string | null {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x28 || c === 0x3b) {
      i++;
    } else if (c === 0x2d && text.charCodeAt(i + 1) === 0x2d) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end + 1;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      break;
    }
  }
  let end = i;
  while (end < text.length && end - i < 32) {
    const c = text.charCodeAt(end) | 0x20;
    if (c >= 0x61 && c <= 0x7a) end++;
    else break;
  }
  return end > i ? text.slice(i, end).toUpperCase() : null;
}
