import assert from 'node:assert/strict';
import { test } from 'node:test';
import { key11Out, keyBegin, keyEnd, keyWord } from '../../../agent/correlate/key-hash.ts';
import { Pair, setEndpoints } from '../../../agent/correlate/pair.ts';
import { hasEndpoints, setEndpointsKey } from '../../../agent/correlate/udp/endpoints.ts';
import { DecodedPacket } from '../../../agent/decode/packet.ts';

const addressFields = ['src0', 'src1', 'src2', 'src3', 'dst0', 'dst1', 'dst2', 'dst3'] as const;
const fields = [...addressFields, 'srcPort', 'dstPort', 'ipVersion'] as const;

function request(version = 6): DecodedPacket {
  const p = new DecodedPacket();
  p.ipVersion = version;
  if (version === 6) {
    [p.src0, p.src1, p.src2, p.src3, p.srcPort] = [0x20010db8, 1, 2, 3, 40000];
    [p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort] = [0x20010db8, 5, 6, 0xffffffff, 123];
  } else {
    [p.src0, p.srcPort] = [0xc0a80001, 40000];
    [p.dst0, p.dstPort] = [0xfe000002, 123];
  }
  return p;
}

/** The same exchange's answer: source and destination swapped. */
function answer(version = 6): DecodedPacket {
  const q = request(version);
  const p = new DecodedPacket();
  p.ipVersion = q.ipVersion;
  [p.src0, p.src1, p.src2, p.src3, p.srcPort] = [q.dst0, q.dst1, q.dst2, q.dst3, q.dstPort];
  [p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort] = [q.src0, q.src1, q.src2, q.src3, q.srcPort];
  return p;
}

function pairOf(p: DecodedPacket): Pair {
  const pair = new Pair();
  setEndpoints(
    pair,
    p.ipVersion,
    p.src0,
    p.src1,
    p.src2,
    p.src3,
    p.srcPort,
    p.dst0,
    p.dst1,
    p.dst2,
    p.dst3,
    p.dstPort,
    true,
  );
  return pair;
}

function keyOf(p: DecodedPacket, sourceIsClient: boolean, extra = 0): number {
  setEndpointsKey(p, sourceIsClient, extra);
  return key11Out[0]!;
}

/** The word-by-word key of these words. */
function wordsKey(...words: number[]): number {
  keyBegin();
  for (const word of words) keyWord(word);
  return keyEnd();
}

test('the key is that of the address length, the client’s then the server’s address words, the ports and the extra word', () => {
  const v6 = request(6);
  assert.equal(
    keyOf(v6, true, 77),
    wordsKey(
      4,
      v6.src0,
      v6.src1,
      v6.src2,
      v6.src3,
      v6.dst0,
      v6.dst1,
      v6.dst2,
      v6.dst3 | 0,
      (40000 << 16) | 123,
      77,
    ),
  );
  // IPv4 (and any address whose three last words are zero): one word per address.
  const v4 = request(4);
  assert.equal(keyOf(v4, true, -5), wordsKey(1, v4.src0 | 0, v4.dst0 | 0, (40000 << 16) | 123, -5));
  assert.equal(keyOf(answer(4), false, -5), keyOf(v4, true, -5));
  assert.notEqual(keyOf(v4, true, 1), keyOf(v4, true, 0));
  const twin = request(4);
  twin.ipVersion = 6;
  assert.equal(keyOf(twin, true, 3), keyOf(v4, true, 3));
});

test('a request and its answer build the same key and both match the pair', () => {
  const pair = pairOf(request());
  assert.equal(keyOf(request(), true), keyOf(answer(), false));
  assert.equal(hasEndpoints(pair, request(), true), true);
  assert.equal(hasEndpoints(pair, answer(), false), true);
  assert.equal(hasEndpoints(pair, request(), false), false);
  assert.equal(hasEndpoints(pair, answer(), true), false);
});

test('any single differing field (address word, port, IP version) fails the comparison, in both directions', () => {
  const pair = pairOf(request());
  for (const field of fields) {
    const changedRequest = request();
    changedRequest[field] = (changedRequest[field] + 1) >>> 0;
    assert.equal(hasEndpoints(pair, changedRequest, true), false, `request ${field}`);
    const changedAnswer = answer();
    changedAnswer[field] = (changedAnswer[field] + 1) >>> 0;
    assert.equal(hasEndpoints(pair, changedAnswer, false), false, `answer ${field}`);
  }
});

test('every address word and port feeds the key; swapping client and server changes it', () => {
  const base = keyOf(request(), true);
  for (const field of [...addressFields, 'srcPort', 'dstPort'] as const) {
    const changed = request();
    changed[field] = (changed[field] + 1) >>> 0;
    assert.notEqual(keyOf(changed, true), base, field);
  }
  assert.notEqual(keyOf(request(), false), base);
});
