/**
 * Memory per pending request stays under the bounds docs/operating.md documents, measured with the
 * real Correlator on 50,000 requests that never get an answer (test/tools/pending-memory.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

/** docs/operating.md "Memory budget": documented upper bounds in bytes per pending request. */
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

test('1,000,000 unanswered requests against a cap of 100,000: the cap evicts and memory stays bounded', () => {
  const tool = path.resolve(import.meta.dirname, '../tools/pending-memory.ts');
  const run = spawnSync(process.execPath, ['--expose-gc', tool, '1000000', '--cap', '100000'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(run.status, 0, run.stderr);
  const measured = JSON.parse(run.stdout) as { pending: number; evicted: number; heapBytes: number };
  console.log(`capped table: ${JSON.stringify(measured)}`);
  assert.equal(measured.pending, 100_000);
  assert.equal(measured.evicted, 900_000, 'every request beyond the cap is evicted and reported');
  // docs/operating.md "Memory budget": a full DNS table of 100,000 costs under 100 MB of heap.
  assert.ok(
    measured.heapBytes < 100 * 1024 * 1024,
    `${measured.heapBytes} bytes of heap for 100,000 pending`,
  );
});
