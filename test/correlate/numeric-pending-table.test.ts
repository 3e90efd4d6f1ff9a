import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NumericPendingTable, type PendingEntry, PendingTable } from '../../agent/correlate/pending-table.ts';

class Entry implements PendingEntry {
  key: number;
  seconds: number;
  nanos: number;
  older: PendingEntry | null = null;
  newer: PendingEntry | null = null;
  word: number;
  constructor(key: number, seconds: number, nanos: number, word: number) {
    this.key = key;
    this.seconds = seconds;
    this.nanos = nanos;
    this.word = word;
  }
}

/** The object PendingTable is the reference: same operations, same surviving keys and words. */
function check(seed: number, capacity: number, keySpace: number, steps: number): void {
  let state = seed;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const timeout = 50;
  const reference = new PendingTable<Entry>(capacity, timeout);
  const table = new NumericPendingTable(capacity, timeout, 2);
  let now = 0;
  for (let step = 0; step < steps; step++) {
    // Keys above 2^32 too, as key-hash.ts makes them.
    const key = random(keySpace) * 0x1_0000_0001;
    const op = random(10);
    if (op < 5) {
      now += random(4);
      const word = random(1000);
      reference.insert(new Entry(key, now, 0, word));
      const slot = table.insert(key, now, 0);
      table.data[slot * 2] = word;
      table.data[slot * 2 + 1] = -word;
    } else if (op < 7) {
      assert.equal(table.delete(key), reference.delete(key));
    } else if (op < 9) {
      for (;;) {
        const expired = reference.popExpired(now, 0) !== undefined;
        assert.equal(table.popExpired(now, 0), expired);
        if (!expired) break;
      }
    } else {
      assert.equal(table.popOldest(), reference.popOldest() !== undefined);
    }
    assert.equal(table.size, reference.size);
    const probe = random(keySpace) * 0x1_0000_0001;
    const expected = reference.get(probe);
    const slot = table.find(probe);
    assert.equal(slot >= 0, expected !== undefined);
    if (expected !== undefined) {
      assert.equal(table.data[slot * 2], expected.word);
      assert.equal(table.data[slot * 2 + 1], -expected.word);
    }
  }
  // Same capture order to the end.
  for (;;) {
    const oldest = reference.peekOldest();
    if (oldest !== undefined) assert.ok(table.find(oldest.key) >= 0);
    const popped = reference.popOldest() !== undefined;
    assert.equal(table.popOldest(), popped);
    if (!popped) break;
  }
  assert.equal(table.size, 0);
}

test('NumericPendingTable behaves as a PendingTable: insert, replace, delete, expiry, cap, order', () => {
  for (let seed = 1; seed <= 20; seed++) {
    check(seed, 1, 4, 500);
    check(seed, 7, 20, 2000);
    check(seed, 3000, 5000, 20000); // grows its ring and map several times
  }
});

test('NumericPendingTable clear() empties it and it stays usable', () => {
  const table = new NumericPendingTable(10, 5);
  table.insert(1, 0, 0);
  table.insert(2, 0, 0);
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(table.find(1), -1);
  assert.equal(table.popOldest(), false);
  table.insert(3, 1, 0);
  assert.equal(table.size, 1);
  assert.equal(table.popExpired(100, 0), true);
});

test('PendingTable insert: a same-key entry is replaced and moves to the newest end; at the cap the oldest is returned', () => {
  const table = new PendingTable<Entry>(3, 1000);
  const order = () => [...table.values()].map((entry) => entry.word);
  const [a, b, c] = [new Entry(1, 0, 0, 10), new Entry(2, 0, 1, 20), new Entry(3, 0, 2, 30)];
  assert.equal(table.insert(a), undefined);
  assert.equal(table.insert(b), undefined);
  assert.equal(table.insert(c), undefined);
  // Re-inserting an entry moves it; replacing one under its key leaves the size as it is.
  assert.equal(table.insert(a), undefined);
  assert.deepEqual(order(), [20, 30, 10]);
  const b2 = new Entry(2, 0, 3, 21);
  assert.equal(table.insert(b2), undefined);
  assert.deepEqual(order(), [30, 10, 21]);
  assert.equal(table.get(2), b2);
  assert.equal(table.evictions, 0);
  // Full: the oldest goes, never the new one.
  assert.equal(table.insert(new Entry(4, 0, 4, 40)), c);
  assert.deepEqual(order(), [10, 21, 40]);
  assert.equal(table.get(3), undefined);
  assert.deepEqual([table.size, table.evictions], [3, 1]);
});
