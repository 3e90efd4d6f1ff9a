import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyBegin, keyEnd } from '../../../agent/correlate/key-hash.ts';
import { Pair, setEndpoints } from '../../../agent/correlate/pair.ts';
import { hasEndpoints, keyEndpoints } from '../../../agent/correlate/udp/endpoints.ts';
import { DecodedPacket } from '../../../agent/decode/packet.ts';

const addressFields = ['src0', 'src1', 'src2', 'src3', 'dst0', 'dst1', 'dst2', 'dst3'] as const;
const fields = [...addressFields, 'srcPort', 'dstPort', 'ipVersion'] as const;

function request(): DecodedPacket {
  const p = new DecodedPacket();
  p.ipVersion = 6;
  [p.src0, p.src1, p.src2, p.src3, p.srcPort] = [0x20010db8, 1, 2, 3, 40000];
  [p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort] = [0x20010db8, 5, 6, 0xffffffff, 123];
  return p;
}

/** The same exchange's answer: source and destination swapped. */
function answer(): DecodedPacket {
  const q = request();
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

function keyOf(p: DecodedPacket, sourceIsClient: boolean): number {
  keyBegin();
  keyEndpoints(p, sourceIsClient);
  return keyEnd();
}

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
