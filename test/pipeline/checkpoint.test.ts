/** The agent's checkpoint store (agent/pipeline/checkpoint.ts): atomic writes off the event loop. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type Checkpoint, CheckpointStore, checkpointProblem } from '../../agent/pipeline/checkpoint.ts';

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

test('a checkpoint with a rebuild position loads; a malformed one, or one without (older agents), is told apart', () => {
  const withRebuild: Checkpoint = checkpoint(9);
  withRebuild.directories[0]!.rebuildFrom = { path: '/captures/a.pcap', dev: 1, ino: 2, offset: 3 };
  assert.equal(checkpointProblem(JSON.parse(JSON.stringify(withRebuild))), null);
  assert.equal(checkpointProblem(checkpoint(9)), null, 'written before rebuildFrom existed');
  const bad = JSON.parse(JSON.stringify(withRebuild));
  bad.directories[0].rebuildFrom.offset = -1;
  assert.equal(checkpointProblem(bad), 'directories[0].rebuildFrom.offset: expected a non-negative integer');
  bad.directories[0].rebuildFrom = 'a.pcap';
  assert.equal(
    checkpointProblem(bad),
    'directories[0].rebuildFrom: expected {path, dev, ino, offset} or null',
  );
});
