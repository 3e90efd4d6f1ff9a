/** TCP and UDP headers: fields, options, lengths and malformed or truncated headers. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EtherType, Layer, LinkType, TcpFlag } from '../../agent/decode/packet.ts';
import { decode } from './harness.ts';
import { ethernet, fill, ipv4, ipv6, tcp, udp } from './packets.ts';

const kTcp = 6;
const kUdp = 17;
const overIpv4 = (protocol: number, payload: Uint8Array) => ipv4({ protocol, payload });

describe('TCP', () => {
  test('ports, flags, seq/ack (unsigned) and payload', () => {
    const segment = tcp({
      srcPort: 65535,
      dstPort: 8080,
      seq: 0xfffffff0,
      ack: 0x80000001,
      flags: TcpFlag.Syn | TcpFlag.Ack,
      payload: fill(12),
    });
    const { ok, out } = decode(overIpv4(kTcp, segment), LinkType.Raw);
    assert.ok(ok);
    assert.equal(out.srcPort, 65535);
    assert.equal(out.dstPort, 8080);
    assert.equal(out.tcpSeq, 0xfffffff0);
    assert.equal(out.tcpAck, 0x80000001);
    assert.equal(out.tcpFlags, 0x12);
    assert.equal(out.payloadOffset, 40);
    assert.equal(out.payloadLength, 12);
    assert.equal(out.payloadWireLength, 12);
  });

  test('options are skipped (data offset 9)', () => {
    const options = [2, 4, 5, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
    const { ok, out } = decode(overIpv4(kTcp, tcp({ options, payload: fill(3) })), LinkType.Raw);
    assert.ok(ok);
    assert.equal(out.payloadOffset, 20 + 36);
    assert.equal(out.payloadLength, 3);
  });

  test('over IPv6', () => {
    const { ok, out } = decode(ipv6({ next: kTcp, payload: tcp({ payload: fill(5) }) }), LinkType.Raw);
    assert.ok(ok);
    assert.equal(out.payloadOffset, 60);
    assert.equal(out.payloadLength, 5);
  });

  test('snaplen cut inside the payload: payloadLength < payloadWireLength', () => {
    const frame = ethernet(EtherType.Ipv4, overIpv4(kTcp, tcp({ payload: fill(1460) })));
    const { ok, out } = decode(frame, LinkType.Ethernet, 0, 68);
    assert.ok(ok);
    assert.equal(out.payloadLength, 68 - 54);
    assert.equal(out.payloadWireLength, 1460);
  });

  test('data offset below 5 stops at Transport: tcp.bad_header_length', () => {
    for (const dataOffset of [0, 4]) {
      const { out, reason } = decode(overIpv4(kTcp, tcp({ dataOffset, payload: fill(8) })), LinkType.Raw);
      assert.equal(reason, 'tcp.bad_header_length');
      assert.equal(out.stopLayer, Layer.Transport);
      assert.equal(out.srcPort, 0);
    }
  });

  test('header longer than the segment: tcp.bad_header_length', () => {
    const { reason } = decode(overIpv4(kTcp, tcp({ dataOffset: 15, payload: fill(10) })), LinkType.Raw);
    assert.equal(reason, 'tcp.bad_header_length');
  });

  test('IP payload shorter than a TCP header: tcp.bad_header_length', () => {
    const { reason } = decode(overIpv4(kTcp, tcp().subarray(0, 12)), LinkType.Raw);
    assert.equal(reason, 'tcp.bad_header_length');
  });

  test('capture ends inside the header or its options: tcp.truncated', () => {
    const packet = overIpv4(kTcp, tcp({ options: fill(12, 1), payload: fill(100) }));
    for (const captured of [20, 39, 20 + 31]) {
      const { out, reason } = decode(packet, LinkType.Raw, 0, captured);
      assert.equal(reason, 'tcp.truncated', `captured ${captured}`);
      assert.equal(out.stopLayer, Layer.Transport);
      assert.equal(out.ipVersion, 4);
    }
  });
});

describe('UDP', () => {
  test('ports and payload bounded by the UDP length', () => {
    const { ok, out } = decode(
      overIpv4(kUdp, udp({ srcPort: 53, dstPort: 40000, payload: fill(30) })),
      LinkType.Raw,
    );
    assert.ok(ok);
    assert.equal(out.srcPort, 53);
    assert.equal(out.dstPort, 40000);
    assert.equal(out.tcpFlags, 0);
    assert.equal(out.payloadOffset, 28);
    assert.equal(out.payloadLength, 30);
    assert.equal(out.payloadWireLength, 30);
  });

  test('UDP length shorter than the IP payload wins', () => {
    const { out } = decode(overIpv4(kUdp, udp({ length: 12, payload: fill(30) })), LinkType.Raw);
    assert.equal(out.payloadLength, 4);
    assert.equal(out.payloadWireLength, 4);
  });

  test('UDP length longer than the IP payload is cut to it', () => {
    const { ok, out } = decode(overIpv4(kUdp, udp({ length: 500, payload: fill(30) })), LinkType.Raw);
    assert.ok(ok);
    assert.equal(out.payloadLength, 30);
    assert.equal(out.payloadWireLength, 30);
  });

  test('UDP length 0 (jumbogram) uses the IP payload', () => {
    const packet = ipv6({ next: kUdp, payloadLength: 0, payload: udp({ length: 0, payload: fill(66000) }) });
    const { ok, out } = decode(packet, LinkType.Raw);
    assert.ok(ok);
    assert.equal(out.payloadLength, 66000);
  });

  test('UDP length below 8: udp.bad_length', () => {
    for (const length of [1, 7]) {
      const { out, reason } = decode(overIpv4(kUdp, udp({ length, payload: fill(4) })), LinkType.Raw);
      assert.equal(reason, 'udp.bad_length');
      assert.equal(out.stopLayer, Layer.Transport);
    }
  });

  test('IP payload shorter than a UDP header: udp.bad_length', () => {
    assert.equal(decode(overIpv4(kUdp, udp().subarray(0, 6)), LinkType.Raw).reason, 'udp.bad_length');
  });

  test('capture ends inside the UDP header: udp.truncated', () => {
    const packet = overIpv4(kUdp, udp({ payload: fill(50) }));
    assert.equal(decode(packet, LinkType.Raw, 0, 27).reason, 'udp.truncated');
  });

  test('snaplen cut: payloadLength < payloadWireLength', () => {
    const packet = overIpv4(kUdp, udp({ payload: fill(512) }));
    const { ok, out } = decode(packet, LinkType.Raw, 0, 100);
    assert.ok(ok);
    assert.equal(out.payloadLength, 72);
    assert.equal(out.payloadWireLength, 512);
  });
});
