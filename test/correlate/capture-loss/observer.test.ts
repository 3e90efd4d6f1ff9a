/**
 * CaptureLossObserver on hand-made segments: sequence wrap-around, snaplen-cut segments, a lost
 * tail revealed by a FIN or an ACK, resets, and the bounded connection table (growth keeps
 * state; beyond the cap reused slots resynchronise without inventing loss; expiry forgets ended
 * connections soon and the others after the idle or request timeout).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaptureLossObserver } from '../../../agent/correlate/capture-loss/observer.ts';
import { PacketView } from '../../../agent/correlate/matcher.ts';
import { setConnectionKey } from '../../../agent/correlate/tcp-stream/connection.ts';
import { DecodedPacket, IpProtocol, TcpFlag } from '../../../agent/decode/packet.ts';

const packet = new DecodedPacket();
const view = new PacketView();
view.packet = packet;
const kSecond = 1_000_000_000;

/** An observer with the reassembly's default idle timeout (300 s) and requests timing out after 30 s. */
function observerOf(maxConnections: number): CaptureLossObserver {
  return new CaptureLossObserver({
    maxConnections,
    idleTimeoutNanos: 300 * kSecond,
    longestTimeoutNanos: 30 * kSecond,
  });
}

/** One TCP segment client (10.0.0.1:port) <-> server (10.0.0.2:80). */
function segment(
  observer: CaptureLossObserver,
  fromClient: boolean,
  port: number,
  flags: number,
  seq: number,
  ack: number,
  bytes: number,
  captured = bytes,
  second = 1,
  fileId = 0,
): void {
  packet.reset();
  packet.ipVersion = 4;
  packet.ipProtocol = IpProtocol.Tcp;
  packet.src0 = fromClient ? 0x0a000001 : 0x0a000002;
  packet.dst0 = fromClient ? 0x0a000002 : 0x0a000001;
  packet.srcPort = fromClient ? port : 80;
  packet.dstPort = fromClient ? 80 : port;
  packet.tcpFlags = flags;
  packet.tcpSeq = seq >>> 0;
  packet.tcpAck = ack >>> 0;
  packet.payloadLength = captured;
  packet.payloadWireLength = bytes;
  view.seconds = second;
  view.nanos = 0;
  view.fileId = fileId;
  setConnectionKey(view);
  observer.onPacket(view);
}

const A = TcpFlag.Ack;

test('sequence numbers wrap around 2^32: a gap across the wrap is its exact size', () => {
  const observer = observerOf(16);
  const isn = 0xffff_ff00;
  segment(observer, true, 5000, TcpFlag.Syn, isn, 0, 0);
  segment(observer, false, 5000, TcpFlag.Syn | A, 7, isn + 1, 0);
  segment(observer, true, 5000, A, isn + 1, 8, 200); // crosses 2^32
  // 300 bytes lost, then a segment after the wrap
  segment(observer, true, 5000, A, isn + 1 + 200 + 300, 8, 100);
  const c = observer.counts;
  assert.equal(c.missingBytes, 300);
  assert.equal(c.observedBytes, 300);
  assert.equal(c.missingSegments, 2, '300 bytes of at most 200-byte segments: ~2');
});

test('snaplen-cut segments count their wire length; a lost tail is revealed by the FIN or the ACK', () => {
  const observer = observerOf(16);
  segment(observer, true, 5001, TcpFlag.Syn, 1000, 0, 0);
  segment(observer, false, 5001, TcpFlag.Syn | A, 5000, 1001, 0);
  segment(observer, true, 5001, A, 1001, 5001, 1448, 96);
  assert.equal(observer.counts.observedBytes, 1448);
  // Server's response: 1000 bytes seen, 500 lost, then its FIN after them.
  segment(observer, false, 5001, A, 5001, 2449, 1000);
  segment(observer, false, 5001, TcpFlag.Fin | A, 6501, 2449, 0);
  assert.equal(observer.counts.missingBytes, 500);
  // Client: 700 more bytes lost, only the server's ACK tells.
  segment(observer, false, 5001, A, 6502, 2449 + 700, 0);
  assert.equal(observer.counts.missingBytes, 1200);
  // The client's FIN and the last ACK, as expected: nothing more.
  segment(observer, true, 5001, TcpFlag.Fin | A, 2449 + 700, 6502, 0);
  segment(observer, false, 5001, A, 6502, 2449 + 701, 0);
  assert.equal(observer.counts.missingBytes, 1200);
  assert.equal(observer.counts.missingSegments, 2);
});

test('a reset counts nothing, whatever its numbers', () => {
  const observer = observerOf(16);
  segment(observer, true, 5002, TcpFlag.Syn, 1000, 0, 0);
  segment(observer, false, 5002, TcpFlag.Rst | A, 0, 999_999, 0);
  assert.equal(observer.counts.missingBytes, 0);
});

test('the table grows past its first arrays without losing state', () => {
  const observer = observerOf(5000);
  const connections = 3000;
  for (let i = 0; i < connections; i++) {
    segment(observer, true, 10_000 + i, TcpFlag.Syn, i * 10, 0, 0);
    segment(observer, true, 10_000 + i, A, i * 10 + 1, 0, 100);
  }
  // The first connection's state survived the growth: its next segment after a 50-byte hole.
  segment(observer, true, 10_000, A, 1 + 100 + 50, 0, 100);
  assert.equal(observer.counts.missingBytes, 50);
  assert.equal(observer.counts.observedBytes, (connections + 1) * 100);
});

test('beyond the cap, reused slots resynchronise: interleaved connections invent no loss', () => {
  const observer = observerOf(4);
  const next = new Map<number, number>();
  // 12 connections, round robin, no SYNs: every return to a connection finds its slot reused.
  for (let round = 0; round < 20; round++) {
    for (let c = 0; c < 12; c++) {
      const seq = next.get(c) ?? c * 1_000_000;
      segment(observer, true, 20_000 + c, A, seq, 0, 100);
      next.set(c, seq + 100);
    }
  }
  assert.equal(observer.counts.missingBytes, 0);
  assert.equal(observer.counts.observedBytes, 20 * 12 * 100);
});

test('counts per file: a gap counts for the file whose packet reveals it; only the newest 4,096 files are kept', () => {
  const observer = observerOf(16);
  let seq = 1;
  for (let file = 0; file < 5000; file++) {
    segment(observer, true, 5003, A, seq, 0, 100, 100, 1, file);
    seq += 100;
    // Every 1000th file starts after 40 lost bytes.
    if (file % 1000 === 999) seq += 40;
  }
  const byFile = observer.countsByFile();
  assert.equal(byFile.size, 4096);
  assert.equal(byFile.has(5000 - 4096 - 1), false);
  assert.equal(byFile.get(4999)!.observedBytes, 100);
  assert.equal(byFile.get(2000)!.missingBytes, 40, 'the gap after file 1999 shows at file 2000');
  assert.equal(byFile.get(2001)!.missingBytes, 0);
  let missing = 0;
  for (const counts of byFile.values()) missing += counts.missingBytes;
  assert.equal(missing, 4 * 40, 'files 904 to 4999 kept: the gaps shown at files 1000, 2000, 3000 and 4000');
});

/** A whole connection client:port -> server: handshake, `bytes` each way, FIN each way, final ACK, at `second`. */
function shortConnection(observer: CaptureLossObserver, port: number, second: number, bytes = 100): void {
  segment(observer, true, port, TcpFlag.Syn, 1000, 0, 0, 0, second);
  segment(observer, false, port, TcpFlag.Syn | A, 5000, 1001, 0, 0, second);
  segment(observer, true, port, A, 1001, 5001, bytes, bytes, second);
  segment(observer, false, port, A, 5001, 1001 + bytes, bytes, bytes, second);
  segment(observer, true, port, TcpFlag.Fin | A, 1001 + bytes, 5001 + bytes, 0, 0, second);
  segment(observer, false, port, TcpFlag.Fin | A, 5001 + bytes, 1002 + bytes, 0, 0, second);
  segment(observer, true, port, A, 1002 + bytes, 5002 + bytes, 0, 0, second);
}

test('a connection that ended (a FIN each way) and lost nothing is forgotten 2 s after its last packet', () => {
  const observer = observerOf(16);
  shortConnection(observer, 6000, 10);
  observer.expire(12);
  assert.equal(observer.connections, 1, 'its late packets are still recognised');
  observer.expire(13);
  assert.equal(observer.connections, 0);
  // A late retransmitted FIN after that starts a new slot and counts nothing.
  segment(observer, false, 6000, TcpFlag.Fin | A, 5101, 1102, 0, 0, 14);
  assert.equal(observer.counts.observedBytes, 200);
  assert.equal(observer.counts.missingBytes, 0);
});

test('a reset ends a connection; a reset of an unknown connection takes no slot', () => {
  const observer = observerOf(16);
  segment(observer, true, 6001, TcpFlag.Rst, 1, 0, 0, 0, 10);
  assert.equal(observer.connections, 0);
  segment(observer, true, 6001, TcpFlag.Syn, 1000, 0, 0, 0, 10);
  segment(observer, false, 6001, TcpFlag.Rst | A, 0, 1001, 0, 0, 10);
  observer.expire(13);
  assert.equal(observer.connections, 0);
});

test('open connections, and ended ones that lost bytes, are kept until the idle timeout (or the longest request timeout) + 2 s', () => {
  const observer = observerOf(16);
  // Open: no FIN.
  segment(observer, true, 6002, A, 1, 0, 100, 100, 10);
  // Ended after a 50-byte gap: its pairs may still be emitted and ask crossedGap().
  shortConnection(observer, 6003, 10);
  segment(observer, true, 6003, A, 1102 + 50, 5102, 10, 10, 10);
  assert.equal(observer.counts.missingBytes, 50);
  observer.expire(312);
  assert.equal(observer.connections, 2);
  observer.expire(313);
  assert.equal(observer.connections, 0);
  const longer = new CaptureLossObserver({
    maxConnections: 16,
    idleTimeoutNanos: 300 * kSecond,
    longestTimeoutNanos: 600 * kSecond,
  });
  segment(longer, true, 6002, A, 1, 0, 100, 100, 10);
  longer.expire(612);
  assert.equal(longer.connections, 1);
  longer.expire(613);
  assert.equal(longer.connections, 0);
});

test('a new SYN on a tuple that just ended starts a connection that is no longer ended', () => {
  const observer = observerOf(16);
  shortConnection(observer, 6004, 10);
  segment(observer, true, 6004, TcpFlag.Syn, 90_000, 0, 0, 0, 11);
  segment(observer, true, 6004, A, 90_001, 0, 100, 100, 11);
  observer.expire(20);
  assert.equal(observer.connections, 1);
});

test('ended connections free their slots: a quiet long-lived one keeps its state however many come and go', () => {
  const observer = observerOf(4);
  segment(observer, true, 7000, A, 1, 0, 100, 100, 1);
  // 100 short connections over 200 s while the long-lived one is quiet (idle, not timed out):
  // with slots reused oldest-first instead, its slot went to one of them and it resynchronised.
  let second = 1;
  for (let port = 8000; port < 8100; port++) {
    shortConnection(observer, port, second);
    second += 2;
    observer.expire(second);
  }
  assert.ok(observer.connections <= 3);
  // 40 bytes lost on the long-lived connection: its state survived, so they count.
  segment(observer, true, 7000, A, 101 + 40, 0, 100, 100, second);
  assert.equal(observer.counts.missingBytes, 40);
});
