import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { type Chunk, ChunkConsumer, ChunkProducer } from '../../agent/pipeline/chunk-ring.ts';
import { allocatePipelineMemory, kFlagEndOfInput } from '../../agent/pipeline/layout.ts';

test('slots are handed out until the pool is full, and come back when every worker released them', () => {
  const memory = allocatePipelineMemory(2, 3, 64);
  const producer = new ChunkProducer(memory);
  const consumers = [new ChunkConsumer(memory, 0), new ChunkConsumer(memory, 1)];
  const taken = [producer.acquireSlot(), producer.acquireSlot(), producer.acquireSlot()];
  for (const [i, slot] of taken.entries()) producer.publish(slot, 10, i, 0);
  assert.deepEqual([...taken].sort(), [0, 1, 2]);
  assert.equal(producer.acquireSlot(), -1, 'pool full: the reader must wait');
  assert.equal(producer.usedSlots(), 3);
  assert.equal(producer.ringDepth(0), 3);
  const chunk: Chunk = { slot: 0, length: 0, fileId: 0, flags: 0 };
  // Worker 0 takes and releases the first chunk: still in use by worker 1.
  consumers[0]!.next(chunk);
  assert.equal(chunk.fileId, 0);
  consumers[0]!.release(chunk.slot);
  assert.equal(producer.acquireSlot(), -1);
  consumers[1]!.next(chunk);
  consumers[1]!.release(chunk.slot);
  assert.equal(producer.acquireSlot(), taken[0], 'free once the last worker released it');
  assert.equal(producer.ringDepth(0), 2);
  assert.equal(producer.ringDepth(1), 2);
});

async function runConsumers(
  workers: number,
  slots: number,
  chunks: number[],
  slowEvery: number,
): Promise<{ received: number; errors: string[] }[]> {
  const memory = allocatePipelineMemory(workers, slots, 256);
  const producer = new ChunkProducer(memory);
  const results = Array.from({ length: workers }, (_, worker) => {
    const thread = new Worker(new URL('./fixtures/ring-consumer.ts', import.meta.url), {
      workerData: { memory, worker, slowEvery },
    });
    return new Promise<{ received: number; errors: string[] }>((resolve, reject) => {
      thread.once('message', resolve);
      thread.once('error', reject);
    });
  });
  const acquire = async (): Promise<number> => {
    for (;;) {
      const slot = producer.acquireSlot();
      if (slot >= 0) return slot;
      await producer.waitForRelease(50);
    }
  };
  for (const [sequence, length] of chunks.entries()) {
    const slot = await acquire();
    const bytes = producer.slotBytes(slot);
    for (let i = 0; i < length; i++) bytes[i] = (sequence * 31 + i) & 0xff;
    producer.publish(slot, length, sequence, 0);
  }
  producer.publish(await acquire(), 0, 0, kFlagEndOfInput);
  return Promise.all(results);
}

test('concurrent consumers see every chunk, in order, with the bytes written (fast-check)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.integer({ min: 0, max: 256 }), { minLength: 1, maxLength: 400 }),
      fc.constantFrom(0, 7),
      async (workers, slots, chunks, slowEvery) => {
        const results = await runConsumers(workers, slots, chunks, slowEvery);
        for (const result of results) {
          assert.deepEqual(result.errors, []);
          assert.equal(result.received, chunks.length);
        }
      },
    ),
    { numRuns: 12 },
  );
});
