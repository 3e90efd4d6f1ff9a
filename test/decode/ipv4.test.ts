/** IPv4: header checks, options, lengths (TSO, padding, snaplen), fragments, other protocols. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtherType, Layer, LinkType } from '../../agent/decode/packet.ts';
import { decode } from './harness.ts';
import { concat, ethernet, fill, ipv4, ipv4Bytes, tcp, udp, words } from './packets.ts';

const kTcp = 6;
const kUdp = 17;
const kIcmp = 1;
const kMoreFragments = 0x2000;

test('addresses, protocol and offsets', () => {
  const packet = ipv4({
    src: '10.1.2.3',
    dst: '172.16.254.1',
    protocol: kUdp,
    payload: udp({ payload: fill(5) }),
  });
  const { ok, out } = decode(packet, LinkType.Raw);
  assert.ok(ok);
  assert.equal(out.ipVersion, 4);
  assert.deepEqual(
    [out.src0, out.src1, out.src2, out.src3, out.dst0],
    [...words(ipv4Bytes('10.1.2.3')), 0, 0, 0, ...words(ipv4Bytes('172.16.254.1'))],
  );
  assert.equal(out.ipProtocol, kUdp);
  assert.equal(out.ipOffset, 0);
  assert.equal(out.transportOffset, 20);
  assert.equal(out.ipPayloadLength, 13);
  assert.equal(out.isFragment, false);
});

test('high addresses stay unsigned', () => {
  const { out } = decode(ipv4({ src: '255.255.255.254', protocol: kUdp, payload: udp() }), LinkType.Raw);
  assert.equal(out.src0, 0xfffffffe);
});

test('header options are skipped (IHL 7)', () => {
  // Record-route-ish option bytes: 8 bytes of options, so IHL = 7 and TCP starts at 28.
  const packet = ipv4({
    protocol: kTcp,
    options: [7, 7, 4, 0, 0, 0, 0, 1],
    payload: tcp({ payload: fill(10) }),
  });
  const { ok, out } = decode(packet, LinkType.Raw);
  assert.ok(ok);
  assert.equal(out.transportOffset, 28);
  assert.equal(out.payloadOffset, 48);
  assert.equal(out.payloadLength, 10);
});

test('first fragment (MF set) is not decoded as TCP: ipv4.fragment', () => {
  const packet = ipv4({ protocol: kTcp, flagsFragment: kMoreFragments, payload: tcp({ payload: fill(16) }) });
  const { ok, out, reason } = decode(packet, LinkType.Raw);
  assert.ok(!ok);
  assert.equal(reason, 'ipv4.fragment');
  assert.equal(out.stopLayer, Layer.Network);
  assert.equal(out.isFragment, true);
  // The IP layer itself is decoded: addresses and protocol are there for a reassembler.
  assert.equal(out.ipVersion, 4);
  assert.equal(out.ipProtocol, kTcp);
  assert.equal(out.transportOffset, 20);
  assert.equal(out.ipPayloadLength, 36);
  assert.equal(out.srcPort, 0);
});

test('later fragment (offset != 0, MF clear) is not decoded either', () => {
  // The fragment's first bytes look like a TCP header, but they are payload bytes.
  const packet = ipv4({ protocol: kTcp, flagsFragment: 185, payload: tcp({ srcPort: 1, dstPort: 2 }) });
  const { out, reason } = decode(packet, LinkType.Raw);
  assert.equal(reason, 'ipv4.fragment');
  assert.equal(out.isFragment, true);
  assert.equal(out.srcPort, 0);
});

test('DF alone is not a fragment', () => {
  assert.ok(decode(ipv4({ protocol: kUdp, flagsFragment: 0x4000, payload: udp() }), LinkType.Raw).ok);
});

test('Ethernet padding after total length is excluded', () => {
  const frame = concat(ethernet(EtherType.Ipv4, ipv4({ protocol: kTcp, payload: tcp() })), fill(6, 0));
  const { ok, out } = decode(frame, LinkType.Ethernet);
  assert.ok(ok);
  assert.equal(out.ipPayloadLength, 20);
  assert.equal(out.payloadLength, 0);
  assert.equal(out.payloadWireLength, 0);
});

test('total length 0 (TSO): the captured length is used', () => {
  const packet = ipv4({ protocol: kTcp, totalLength: 0, payload: tcp({ payload: fill(1000) }) });
  const { ok, out } = decode(packet, LinkType.Raw);
  assert.ok(ok);
  assert.equal(out.payloadLength, 1000);
  assert.equal(out.payloadWireLength, 1000);
});

test('snaplen cut: payloadLength < payloadWireLength', () => {
  const packet = ipv4({ protocol: kTcp, payload: tcp({ payload: fill(1400) }) });
  const { ok, out } = decode(packet, LinkType.Raw, 0, 96);
  assert.ok(ok);
  assert.equal(out.payloadOffset, 40);
  assert.equal(out.payloadLength, 56);
  assert.equal(out.payloadWireLength, 1400);
});

test('malformed headers stop at Network', () => {
  const good = () => ipv4({ protocol: kUdp, payload: udp() });
  const cases: [Uint8Array, string][] = [
    [good().subarray(0, 19), 'ipv4.truncated'],
    [new Uint8Array(0), 'ipv4.truncated'],
    [ipv4({ protocol: kUdp, ihl: 4, payload: udp() }), 'ipv4.bad_header_length'],
    [ipv4({ protocol: kUdp, totalLength: 19, payload: udp() }), 'ipv4.bad_total_length'],
    // IHL 15 (60 bytes) but only 28 captured.
    [ipv4({ protocol: kUdp, ihl: 15, totalLength: 80, payload: udp() }), 'ipv4.truncated'],
    [concat([0x65], good().subarray(1)), 'ipv4.bad_version'],
  ];
  for (const [packet, expected] of cases) {
    const { out, reason } = decode(packet, LinkType.Ipv4);
    assert.equal(reason, expected);
    assert.equal(out.stopLayer, Layer.Network);
    assert.equal(out.ipVersion, 0, `${expected}: no IP layer reported`);
  }
});

test('other protocols stop at Transport: ip.unsupported_protocol', () => {
  for (const protocol of [kIcmp, 47, 50, 132]) {
    const { out, reason } = decode(ipv4({ protocol, payload: fill(24) }), LinkType.Raw);
    assert.equal(reason, 'ip.unsupported_protocol');
    assert.equal(out.stopLayer, Layer.Transport);
    assert.equal(out.ipProtocol, protocol);
    assert.equal(out.ipVersion, 4);
  }
});
