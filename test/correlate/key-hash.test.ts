/**
 * The key builders agree: key11() and key5() (locals, the per-packet TCP connection and DNS keys)
 * leave in key11Out the key of keyBegin/keyWord/keyEnd over the same eleven or five words, and a
 * connection has one key whichever way its packets go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { key5, key11, key11Out, keyBegin, keyEnd, keyWord } from '../../agent/correlate/key-hash.ts';
import { PacketView } from '../../agent/correlate/matcher.ts';
import { buildConnectionKey, setConnectionKey } from '../../agent/correlate/tcp-stream/connection.ts';
import { DecodedPacket } from '../../agent/decode/packet.ts';
import { sampledBytes } from '../helpers/allocation.ts';

let seed = 7;
function randomWord(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed ^ Math.imul(seed >>> 13, 0x9e3779b1)) >>> 0;
}

test('key11() equals the word-by-word key of the same eleven words', () => {
  for (let round = 0; round < 1000; round++) {
    const words = Array.from({ length: 11 }, (_, i) => (round % 3 === 0 && i % 2 === 1 ? 0 : randomWord()));
    keyBegin();
    for (const word of words) keyWord(word);
    const expected = keyEnd();
    const [w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10] = words as [number, ...number[]];
    key11(w0, w1!, w2!, w3!, w4!, w5!, w6!, w7!, w8!, w9!, w10!);
    const key = key11Out[0]!;
    assert.equal(key, expected);
    assert.ok(Number.isSafeInteger(key) && key >= 0);
  }
});

test('key5() equals the word-by-word key of the same five words', () => {
  for (let round = 0; round < 1000; round++) {
    const words = Array.from({ length: 5 }, (_, i) => (round % 3 === 0 && i % 2 === 1 ? 0 : randomWord()));
    keyBegin();
    for (const word of words) keyWord(word);
    const expected = keyEnd();
    const [w0, w1, w2, w3, w4] = words as [number, number, number, number, number];
    key5(w0, w1, w2, w3, w4);
    const key = key11Out[0]!;
    assert.equal(key, expected);
    assert.ok(Number.isSafeInteger(key) && key >= 0);
  }
});

/** setConnectionKey() of the packet. */
function packetConnectionKey(packet: DecodedPacket): number {
  const view = new PacketView();
  view.packet = packet;
  setConnectionKey(view);
  return view.connectionKey;
}

test('a TCP connection has one key in both directions, and another tuple another key', () => {
  const packet = new DecodedPacket();
  for (const version of [4, 6]) {
    packet.ipVersion = version;
    packet.src0 = 0xc0a80001;
    packet.dst0 = 0xc0a80002;
    [packet.src1, packet.src2, packet.src3] = version === 6 ? [0, 0, 0x1000c] : [0, 0, 0];
    [packet.dst1, packet.dst2, packet.dst3] = version === 6 ? [0, 0, 0x2000c] : [0, 0, 0];
    packet.srcPort = 40000;
    packet.dstPort = 80;
    const forward = packetConnectionKey(packet);
    buildConnectionKey(
      version,
      false,
      0xc0a80002,
      packet.dst1,
      packet.dst2,
      packet.dst3,
      80,
      0xc0a80001,
      packet.src1,
      packet.src2,
      packet.src3,
      40000,
    );
    const fromPair = key11Out[0]!;
    [packet.src0, packet.dst0] = [packet.dst0, packet.src0];
    [packet.src1, packet.dst1] = [packet.dst1, packet.src1];
    [packet.src2, packet.dst2] = [packet.dst2, packet.src2];
    [packet.src3, packet.dst3] = [packet.dst3, packet.src3];
    [packet.srcPort, packet.dstPort] = [packet.dstPort, packet.srcPort];
    assert.equal(packetConnectionKey(packet), forward);
    assert.equal(fromPair, forward);
    packet.srcPort = 81;
    assert.notEqual(packetConnectionKey(packet), forward);
  }
});

test('the per-packet connection key allocates nothing (no heap number per key)', async () => {
  const packet = new DecodedPacket();
  packet.ipVersion = 6;
  [packet.src0, packet.src1, packet.src2, packet.src3] = [0xfd000000, 1, 2, 0xc0a80001];
  [packet.dst0, packet.dst1, packet.dst2, packet.dst3] = [0xfd000000, 1, 2, 0xc0a80002];
  packet.dstPort = 443;
  const view = new PacketView();
  view.packet = packet;
  let sum = 0;
  const keys = (count: number) => {
    for (let i = 0; i < count; i++) {
      packet.srcPort = i & 0xffff;
      setConnectionKey(view);
      sum += view.connectionKey;
    }
  };
  keys(200_000); // optimised before sampling
  // A heap number per key would be 16 bytes each: 16 MB.
  const bytes = await sampledBytes('key-hash.ts', () => keys(1_000_000));
  assert.ok(sum > 0);
  assert.ok(bytes < 256 * 1024, `${bytes} bytes allocated by key-hash.ts for 1,000,000 keys`);
});
