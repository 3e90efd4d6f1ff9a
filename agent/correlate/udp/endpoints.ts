/**
 * Endpoint helpers shared by the tcp, udp and relay matchers: hash a packet's endpoints into a
 * key, and compare them with a Pair's, in client/server order so both directions of an
 * exchange meet. Allocation-free (hot path).
 */
import type { DecodedPacket } from '../../decode/packet.ts';
import { keyWord } from '../key-hash.ts';
import type { Pair } from '../pair.ts';

/**
 * Adds the packet's endpoints (client first) to the key being built (between keyBegin and keyEnd).
 * ipVersion is not hashed: an IPv4 address and its IPv6 twin [w0,0,0,0] share a key, which
 * hasEndpoints() tells apart like any other key collision.
 */
export function keyEndpoints(p: DecodedPacket, sourceIsClient: boolean): void {
  if (sourceIsClient) {
    keyWord(p.src0 | 0);
    keyWord(p.src1 | 0);
    keyWord(p.src2 | 0);
    keyWord(p.src3 | 0);
    keyWord(p.dst0 | 0);
    keyWord(p.dst1 | 0);
    keyWord(p.dst2 | 0);
    keyWord(p.dst3 | 0);
    keyWord((p.srcPort << 16) | p.dstPort);
  } else {
    keyWord(p.dst0 | 0);
    keyWord(p.dst1 | 0);
    keyWord(p.dst2 | 0);
    keyWord(p.dst3 | 0);
    keyWord(p.src0 | 0);
    keyWord(p.src1 | 0);
    keyWord(p.src2 | 0);
    keyWord(p.src3 | 0);
    keyWord((p.dstPort << 16) | p.srcPort);
  }
}

/** Whether the pair's client/server are the packet's source/destination (or, when !sourceIsClient, the reverse). */
export function hasEndpoints(pair: Pair, p: DecodedPacket, sourceIsClient: boolean): boolean {
  if (pair.ipVersion !== p.ipVersion) return false;
  if (sourceIsClient) {
    return (
      pair.clientPort === p.srcPort &&
      pair.serverPort === p.dstPort &&
      pair.client0 === p.src0 &&
      pair.client1 === p.src1 &&
      pair.client2 === p.src2 &&
      pair.client3 === p.src3 &&
      pair.server0 === p.dst0 &&
      pair.server1 === p.dst1 &&
      pair.server2 === p.dst2 &&
      pair.server3 === p.dst3
    );
  }
  return (
    pair.clientPort === p.dstPort &&
    pair.serverPort === p.srcPort &&
    pair.client0 === p.dst0 &&
    pair.client1 === p.dst1 &&
    pair.client2 === p.dst2 &&
    pair.client3 === p.dst3 &&
    pair.server0 === p.src0 &&
    pair.server1 === p.src1 &&
    pair.server2 === p.src2 &&
    pair.server3 === p.src3
  );
}
