/**
 * The contract between TCP reassembly (agent/correlate/tcp-stream/) and the protocols that
 * read byte streams (HTTP/1.x, DNS over TCP). Reassembly tracks each connection's sequence
 * numbers per direction and hands its consumer every byte exactly once, in order: no
 * retransmitted, duplicated or out-of-order segment ever reaches a consumer twice or early.
 */
import type { PacketView } from '../matcher.ts';

/** Identity of one TCP connection, with client = the side that sent the SYN (or, without one, the guessed client). */
export class TcpConnectionInfo {
  ipVersion = 4;
  client0 = 0;
  client1 = 0;
  client2 = 0;
  client3 = 0;
  clientPort = 0;
  server0 = 0;
  server1 = 0;
  server2 = 0;
  server3 = 0;
  serverPort = 0;
}

export interface StreamConsumer {
  /**
   * In-order bytes of one direction. `data[offset, offset + length)` is valid only during the
   * call (copy what you keep). `view` is the packet that completed these bytes (its capture
   * time, file and packet number are the bytes' edges). Bytes released from a hole given up
   * on come with a replay view: only its time, file and packet number are meaningful.
   */
  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void;
  /**
   * `bytes` of this direction will never arrive (capture loss or a gap given up on). After a
   * sequence-number jump this is the modular distance, up to 2^32.
   */
  onGap(fromClient: boolean, bytes: number, view: PacketView): void;
  /** The direction ended: FIN (reset=false) or RST (reset=true). */
  onClose(fromClient: boolean, reset: boolean, view: PacketView): void;
  /**
   * Reassembly stopped tracking the connection (both sides closed, evicted, idle, replaced,
   * end of input): no more bytes will come. Release what is held for incomplete messages
   * (parser-buffers.ts); pending requests stay with the protocol's own table.
   */
  onForget?(): void;
}

/** A protocol that reads TCP byte streams (listed in the correlator's registry). */
export interface StreamProtocol {
  readonly name: string;
  /**
   * Offered the first in-order payload bytes of a connection not yet claimed (from either
   * side). Return a consumer to own the connection from these bytes on, or null to let other
   * protocols look (and to be offered the next segment again). Decide by ports or content.
   * claim() only decides: the reassembly then delivers these same bytes to the new consumer
   * through onData(). While the roles are still guessed (no SYN seen), the same bytes may be
   * offered twice, the second time with the roles swapped.
   */
  claim(
    connection: TcpConnectionInfo,
    fromClient: boolean,
    data: Uint8Array,
    offset: number,
    length: number,
    view: PacketView,
  ): StreamConsumer | null;
  /** Requests across all connections waiting for a response. */
  pendingCount(): number;
  /** Capture time reached: emit expired requests as unanswered. */
  expire(seconds: number, nanos: number): void;
  /** End of input: emit every pending request as unanswered. */
  flush(): void;
}
