/**
 * Which correlator shard owns a packet. Flow sharding is direction-independent (XOR of the
 * two endpoints), so both directions of a conversation, and every TCP segment of a
 * connection, meet in one shard. Payload sharding (relay matching pairs a payload seen on
 * two different flows) hashes the payload bytes instead, so both copies meet too.
 */
import type { DecodedPacket } from '../decode/packet.ts';

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The shard of the packet's flow. rawFlowShard() (decode/flow-hash.ts) computes the same hash
 * from a record's raw bytes, so that workers skip other shards' records undecoded: change both
 * together (test/decode/flow-hash.test.ts compares them on every corpus packet).
 */
export function flowShard(p: DecodedPacket, shards: number): number {
  // The endpoints' XOR folded into one word (direction-independent), then one murmur3 finaliser.
  let h =
    p.src0 ^
    p.dst0 ^
    (p.src1 ^ p.dst1) ^
    (p.src2 ^ p.dst2) ^
    (p.src3 ^ p.dst3) ^
    (((p.srcPort ^ p.dstPort) << 8) | p.ipProtocol);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  // (h >>> 0) % shards, taken in two steps of small integers: an unsigned 32-bit dividend is a
  // double to V8, and its % a call to fmod (~10 ns, per record in every worker). Exact for
  // shards <= 16,384 (--workers is at most 64).
  return (((h >>> 16) % shards) * 0x10000 + (h & 0xffff)) % shards;
}

/** Bytes of payload the payload shard looks at: enough to spread, cheap to hash. */
const kPayloadShardBytes = 32;

export function payloadShard(p: DecodedPacket, data: Uint8Array, shards: number): number {
  let h = p.payloadLength;
  const end = p.payloadOffset + Math.min(p.payloadLength, kPayloadShardBytes);
  for (let i = p.payloadOffset; i < end; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return mix(h) % shards;
}
