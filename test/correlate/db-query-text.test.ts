/** The shared --db-query-text setting reaches every database protocol's detail (and so db.query.text). */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { CorrelateOptions } from '../../agent/correlate/options.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

const fixtures = path.join(import.meta.dirname, '../fixtures/protocols');

const captures: { protocol: string; file: string; configure: (options: CorrelateOptions) => void }[] = [
  { protocol: 'redis', file: 'redis/redis.pcap', configure: (o) => (o.redisPorts = [16379]) },
  { protocol: 'memcached', file: 'memcached/memcached.pcap', configure: (o) => (o.memcachedPorts = [11311]) },
];

for (const { protocol, file, configure } of captures) {
  test(`${protocol}: query text by default, none with --db-query-text off, same pairs`, () => {
    const on = replayPairs([path.join(fixtures, file)], configure);
    const off = replayPairs([path.join(fixtures, file)], (options) => {
      configure(options);
      options.dbQueryText = 'off';
    });
    const queries = (pairs: typeof on.pairs) =>
      pairs.filter(
        (p) => p.protocol === protocol && (p.detail as { query?: string } | null)?.query !== undefined,
      );
    assert.ok(queries(on.pairs).length > 10, 'the default exports (sanitized) query text');
    assert.equal(queries(off.pairs).length, 0);
    assert.equal(off.pairs.length, on.pairs.length);
  });
}
