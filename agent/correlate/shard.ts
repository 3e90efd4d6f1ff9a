/**
 * Which correlator shard owns a packet. Flow sharding is direction-independent (XOR of the
 * two endpoints), so both directions of a conversation, and every TCP segment of a
 * connection, meet in one shard. Payload sharding (relay matching pairs a payload seen on
 * two different flows) hashes the payload bytes instead, so both copies meet too.
 */
import { flowShardOf } from '../decode/flow-hash.ts';
import type { DecodedPacket } from '../decode/packet.ts';

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The shard of the packet's flow. The same function as rawFlowShard() (decode/flow-hash.ts)
 * computes from a record's bytes, so workers can skip other shards' records undecoded.
 */
export function flowShard(p: DecodedPacket, shards: number): number {
  return flowShardOf(
    p.src0 ^ p.dst0,
    p.src1 ^ p.dst1,
    p.src2 ^ p.dst2,
    p.src3 ^ p.dst3,
    p.ipProtocol,
    p.srcPort ^ p.dstPort,
    shards,
  );
}

/** Bytes of payload the payload shard looks at: enough to spread, cheap to hash. */
const kPayloadShardBytes = 32;

export function payloadShard(p: DecodedPacket, data: Uint8Array, shards: number): number {
  let h = p.payloadLength;
  const end = p.payloadOffset + Math.min(p.payloadLength, kPayloadShardBytes);
  for (let i = p.payloadOffset; i < end; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return mix(h) % shards;
}
