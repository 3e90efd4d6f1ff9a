/**
 * CaptureLossObserver on hand-made segments: sequence wrap-around, snaplen-cut segments, a lost
 * tail revealed by a FIN or an ACK, resets, and the bounded connection table (growth keeps
 * state; beyond the cap reused slots resynchronise without inventing loss).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaptureLossObserver } from '../../../agent/correlate/capture-loss/observer.ts';
import { DecodedPacket, IpProtocol, TcpFlag } from '../../../agent/decode/packet.ts';

const packet = new DecodedPacket();

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
  observer.onPacket(packet, second, 0, fileId);
}

const A = TcpFlag.Ack;

test('sequence numbers wrap around 2^32: a gap across the wrap is its exact size', () => {
  const observer = new CaptureLossObserver(16);
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
  const observer = new CaptureLossObserver(16);
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
  const observer = new CaptureLossObserver(16);
  segment(observer, true, 5002, TcpFlag.Syn, 1000, 0, 0);
  segment(observer, false, 5002, TcpFlag.Rst | A, 0, 999_999, 0);
  assert.equal(observer.counts.missingBytes, 0);
});

test('the table grows past its first arrays without losing state', () => {
  const observer = new CaptureLossObserver(5000);
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
  const observer = new CaptureLossObserver(4);
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
  const observer = new CaptureLossObserver(16);
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
