/**
 * The one setting for query text in every database protocol (PostgreSQL, MySQL, Redis,
 * memcached): `--db-query-text sanitized|raw|off`, default sanitized. Queries are user data: a
 * literal is exported (in JSONL details and db.query.text) only when the user asks for raw.
 * The PostgreSQL descriptor lists the option (a flag is declared once); every database
 * protocol reads options.dbQueryText.
 */
import type { ProtocolOption } from '../protocol.ts';
import { type SqlDialect, sanitizeSql } from './sanitize.ts';

export type DbQueryText = 'sanitized' | 'raw' | 'off';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** db.query.text and the details' query: literals replaced (sanitized), as sent (raw), or left out (off). */
    dbQueryText: DbQueryText;
  }
}

/** Query bytes a matcher keeps from the wire per message (the rest is framed, not kept): db.query.text's cap. */
export const kMaxQueryBytes = 2048;

export const dbQueryTextOption: ProtocolOption = {
  flag: 'db-query-text',
  describe: `database query text in details and db.query.text (PostgreSQL, MySQL, Redis, memcached): sanitized (literals replaced by ?), raw (as sent: may export user data) or off; first ${kMaxQueryBytes} bytes`,
  type: 'choice',
  choices: ['sanitized', 'raw', 'off'],
  default: 'sanitized',
  apply: (options, mode) => {
    options.dbQueryText = mode as DbQueryText;
  },
};

/** The query text to keep for `mode` (undefined: a registry without the option, so sanitized); null when off. */
export function sqlQueryText(raw: string, mode: DbQueryText | undefined, dialect: SqlDialect): string | null {
  if (mode === 'off') return null;
  return mode === 'raw' ? raw : sanitizeSql(raw, dialect);
}
