/**
 * Allocation guard: decoding and the raw flow hash allocate nothing per packet. Runs alloc-probe.ts in a child
 * process with a 64 MB young generation, so no GC runs during the measured loop and heap growth
 * equals what the loop allocated. One 12-byte object per packet would grow it by ~2.4 MB.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const kMaxGrowthBytes = 256 * 1024;

test('decoding 200k packets, and their raw flow shard, allocates (next to) nothing', () => {
  const probe = path.join(import.meta.dirname, 'alloc-probe.ts');
  const flags = ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'];
  const output = execFileSync(process.execPath, [...flags, probe], { encoding: 'utf8' });
  const result = JSON.parse(output) as {
    packets: number;
    decoded: number;
    classified: number;
    heapGrowthBytes: number;
    gcs: number;
  };
  console.log(result);
  assert.equal(result.gcs, 0, 'a GC during the measured loop would hide allocations');
  assert.ok(result.decoded > 0);
  assert.ok(result.classified > 0);
  assert.ok(result.heapGrowthBytes < kMaxGrowthBytes, `heap grew ${result.heapGrowthBytes} bytes`);
});
