/** The agent's checkpoint store (agent/pipeline/checkpoint.ts): atomic writes off the event loop. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type Checkpoint, CheckpointStore } from '../../agent/pipeline/checkpoint.ts';

const checkpoint = (offset: number): Checkpoint => ({
  version: 1,
  writtenAt: new Date(0).toISOString(),
  directories: [
    {
      dir: '/captures',
      done: [],
      current: { path: '/captures/a.pcap', dev: 1, ino: 2, offset, lastCapture: null },
    },
  ],
});

test('save writes the checkpoint while the event loop goes on, and load reads it back', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-checkpoint-'));
  try {
    const store = new CheckpointStore(path.join(dir, 'state'));
    store.prepare();
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    await store.save(checkpoint(1));
    assert.ok(turned, 'the event loop stood still while the checkpoint was written');
    await store.save(checkpoint(2));
    assert.deepEqual(store.load(), checkpoint(2));
    assert.deepEqual(fs.readdirSync(path.join(dir, 'state')), ['checkpoint.json']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
