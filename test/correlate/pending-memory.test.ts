/**
 * Memory per pending request stays under the bounds the README documents, measured with the
 * real Correlator on 50,000 requests that never get an answer (test/tools/pending-memory.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

/** README "Memory": documented upper bounds in bytes per pending request. */
const documentedBounds = { dns: 1024, udp: 1024, tcp: 1536, http: 6144 };

test('bytes per pending request stay under the documented bounds', () => {
  const tool = path.resolve(import.meta.dirname, '../tools/pending-memory.ts');
  const run = spawnSync(process.execPath, ['--expose-gc', tool, '50000'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(run.status, 0, run.stderr);
  const measured = JSON.parse(run.stdout) as Record<keyof typeof documentedBounds, number>;
  console.log(`bytes per pending request: ${JSON.stringify(measured)}`);
  for (const [protocol, bound] of Object.entries(documentedBounds)) {
    const bytes = measured[protocol as keyof typeof documentedBounds];
    assert.ok(
      bytes > 0 && bytes < bound,
      `${protocol}: ${bytes} B per pending request, documented bound ${bound} B`,
    );
  }
});
