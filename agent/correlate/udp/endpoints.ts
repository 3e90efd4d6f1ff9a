/**
 * Endpoint helpers shared by the tcp, udp and relay matchers: hash a packet's endpoints into a
 * key, and compare them with a Pair's, in client/server order so both directions of an
 * exchange meet. Allocation-free (hot path).
 */
import type { DecodedPacket } from '../../decode/packet.ts';
import { key5, key11 } from '../key-hash.ts';
import type { Pair } from '../pair.ts';

/**
 * The key of the packet's endpoints (client first) and one more word (`extra`: the handshake's
 * ISN, an echo's id and sequence number, 0 for none; as int32), left in key11Out[0] (read it right
 * after: a returned key is a heap number per call where V8 does not inline). Built in locals:
 * addresses whose three last words are zero (every IPv4 one) by key5() as one word each, others by
 * key11(); the first word says which. ipVersion is not hashed: an IPv4 address and its IPv6 twin
 * [w0,0,0,0] share a key, which hasEndpoints() tells apart like any other key collision.
 */
export function setEndpointsKey(p: DecodedPacket, sourceIsClient: boolean, extra: number): void {
  const ports = sourceIsClient ? (p.srcPort << 16) | p.dstPort : (p.dstPort << 16) | p.srcPort;
  if ((p.src1 | p.src2 | p.src3 | p.dst1 | p.dst2 | p.dst3) === 0) {
    if (sourceIsClient) key5(1, p.src0 | 0, p.dst0 | 0, ports, extra);
    else key5(1, p.dst0 | 0, p.src0 | 0, ports, extra);
  } else if (sourceIsClient) {
    key11(
      4,
      p.src0 | 0,
      p.src1 | 0,
      p.src2 | 0,
      p.src3 | 0,
      p.dst0 | 0,
      p.dst1 | 0,
      p.dst2 | 0,
      p.dst3 | 0,
      ports,
      extra,
    );
  } else {
    key11(
      4,
      p.dst0 | 0,
      p.dst1 | 0,
      p.dst2 | 0,
      p.dst3 | 0,
      p.src0 | 0,
      p.src1 | 0,
      p.src2 | 0,
      p.src3 | 0,
      ports,
      extra,
    );
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
