import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PayloadHash } from '../../../agent/correlate/relay/payload-hash.ts';

function hashOf(bytes: Uint8Array, offset = 0, length = bytes.length): [number, number, number] {
  const hash = new PayloadHash();
  hash.compute(bytes, offset, length);
  return [hash.laneA, hash.laneB, hash.length];
}

const text = (s: string) => new TextEncoder().encode(s);

test('lane A is MurmurHash3_x86_32 with seed 0x9747b28c (published test vectors, every tail length)', () => {
  const vectors: [string, number][] = [
    ['', 0xebb6c228],
    ['a', 0x7fa09ea6],
    ['ab', 0x74875592],
    ['abc', 0xc84a62dd],
    ['abcd', 0xf0478627],
    ['aaaa', 0x5a97808a],
    ['Hello, world!', 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x2fa826cd],
  ];
  for (const [input, expected] of vectors) assert.equal(hashOf(text(input))[0], expected, input);
});

test('lane B is pinned (a change of constants breaks stored expectations, not silently the matching)', () => {
  assert.deepEqual(hashOf(text('The quick brown fox jumps over the lazy dog')), [0x2fa826cd, 0x3fc26448, 43]);
  assert.deepEqual(hashOf(text('abc')), [0xc84a62dd, 0xe36deec2, 3]);
});

test('hashes only the given range, wherever it sits in the buffer', () => {
  const payload = text('relayed payload bytes');
  const framed = new Uint8Array(payload.length + 70).fill(0xee);
  framed.set(payload, 54);
  assert.deepEqual(hashOf(framed, 54, payload.length), hashOf(payload));
});

test('every single-bit flip changes both lanes; trailing zero bytes change the hash', () => {
  const payload = text('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
  const [a, b] = hashOf(payload);
  for (let i = 0; i < payload.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const flipped = payload.slice();
      flipped[i]! ^= 1 << bit;
      const [fa, fb] = hashOf(flipped);
      assert.ok(fa !== a && fb !== b, `byte ${i} bit ${bit}`);
    }
  }
  assert.notDeepEqual(hashOf(new Uint8Array(4)), hashOf(new Uint8Array(5)));
  assert.notDeepEqual(hashOf(new Uint8Array(5)), hashOf(new Uint8Array(6)));
});

test('no collision in either lane, nor between lanes, over 5,000 distinct short payloads', () => {
  const seenA = new Set<number>();
  const seenB = new Set<number>();
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 5_000; i++) {
    bytes[0] = i & 0xff;
    bytes[1] = i >>> 8;
    const [a, b] = hashOf(bytes, 0, 2 + (i % 3));
    assert.notEqual(a, b);
    seenA.add(a);
    seenB.add(b);
  }
  assert.equal(seenA.size, 5_000);
  assert.equal(seenB.size, 5_000);
});
