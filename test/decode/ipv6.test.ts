/** IPv6: fixed header, extension-header chains, fragments, jumbo/BIG TCP lengths. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Layer, LinkType } from '../../agent/decode/packet.ts';
import { decode } from './harness.ts';
import {
  concat,
  fill,
  ipv6,
  ipv6Ah,
  ipv6Bytes,
  ipv6Fragment,
  ipv6Options,
  tcp,
  udp,
  words,
} from './packets.ts';

const kHopByHop = 0;
const kTcp = 6;
const kUdp = 17;
const kRouting = 43;
const kFragment = 44;
const kAh = 51;
const kIcmpv6 = 58;
const kNoNext = 59;
const kDestOpts = 60;

test('fixed header: addresses as four big-endian words each', () => {
  const packet = ipv6({ src: 'fe80::1', dst: '2001:db8::ff00:42:8329', next: kUdp, payload: udp() });
  const { ok, out } = decode(packet, LinkType.Ipv6);
  assert.ok(ok);
  assert.equal(out.ipVersion, 6);
  assert.deepEqual([out.src0, out.src1, out.src2, out.src3], words(ipv6Bytes('fe80::1')));
  assert.deepEqual([out.dst0, out.dst1, out.dst2, out.dst3], words(ipv6Bytes('2001:db8::ff00:42:8329')));
  assert.equal(out.transportOffset, 40);
  assert.equal(out.ipPayloadLength, 8);
});

test('hop-by-hop + routing + destination options chain before TCP', () => {
  const chain = concat(
    ipv6Options(kRouting), // hop-by-hop, 8 bytes
    ipv6Options(kDestOpts, 2), // routing, 24 bytes
    ipv6Options(kTcp, 1), // destination options, 16 bytes
    tcp({ srcPort: 443, dstPort: 50000, payload: fill(7) }),
  );
  const { ok, out } = decode(ipv6({ next: kHopByHop, payload: chain }), LinkType.Raw);
  assert.ok(ok);
  assert.equal(out.ipProtocol, kTcp);
  assert.equal(out.transportOffset, 40 + 8 + 24 + 16);
  assert.equal(out.srcPort, 443);
  assert.equal(out.payloadLength, 7);
  assert.equal(out.payloadWireLength, 7);
  assert.equal(out.isFragment, false);
});

test('authentication header (length in 4-byte units) is walked', () => {
  const packet = ipv6({ next: kAh, payload: concat(ipv6Ah(kUdp, 6), udp({ payload: fill(3) })) });
  const { ok, out } = decode(packet, LinkType.Raw);
  assert.ok(ok);
  assert.equal(out.transportOffset, 40 + 24);
  assert.equal(out.payloadLength, 3);
});

test('atomic fragment (offset 0, M clear) is decoded, flagged as a fragment', () => {
  const packet = ipv6({
    next: kFragment,
    payload: concat(ipv6Fragment(kUdp, 0, false), udp({ payload: fill(4) })),
  });
  const { ok, out } = decode(packet, LinkType.Raw);
  assert.ok(ok);
  assert.equal(out.isFragment, true);
  assert.equal(out.ipProtocol, kUdp);
  assert.equal(out.payloadLength, 4);
});

test('first and later fragments stop at Network: ipv6.fragment', () => {
  for (const [offset, more] of [
    [0, true],
    [100, true],
    [100, false],
  ] as const) {
    const packet = ipv6({ next: kFragment, payload: concat(ipv6Fragment(kTcp, offset, more), tcp()) });
    const { out, reason } = decode(packet, LinkType.Raw);
    assert.equal(reason, 'ipv6.fragment', `offset ${offset} more ${more}`);
    assert.equal(out.stopLayer, Layer.Network);
    assert.equal(out.isFragment, true);
    assert.equal(out.ipProtocol, kTcp);
    assert.equal(out.transportOffset, 48);
    assert.equal(out.ipPayloadLength, 20);
    assert.equal(out.srcPort, 0);
  }
});

test('No Next Header stops at Transport: ipv6.no_next_header', () => {
  const { out, reason } = decode(ipv6({ next: kNoNext, payload: [] }), LinkType.Raw);
  assert.equal(reason, 'ipv6.no_next_header');
  assert.equal(out.stopLayer, Layer.Transport);
  // Also at the end of an extension chain.
  const chained = decode(ipv6({ next: kDestOpts, payload: ipv6Options(kNoNext) }), LinkType.Raw);
  assert.equal(chained.reason, 'ipv6.no_next_header');
});

test('ICMPv6 stops at Transport: ip.unsupported_protocol', () => {
  const { out, reason } = decode(ipv6({ next: kIcmpv6, payload: fill(8) }), LinkType.Raw);
  assert.equal(reason, 'ip.unsupported_protocol');
  assert.equal(out.ipProtocol, kIcmpv6);
});

test('a hostile chain of destination options is cut off: ipv6.too_many_extension_headers', () => {
  const chain: number[] = [];
  for (let i = 0; i < 40; i++) chain.push(...ipv6Options(kDestOpts));
  const { out, reason } = decode(ipv6({ next: kDestOpts, payload: chain }), LinkType.Raw);
  assert.equal(reason, 'ipv6.too_many_extension_headers');
  assert.equal(out.stopLayer, Layer.Network);
});

test('payload length 0 (jumbogram / BIG TCP): the captured length is used', () => {
  const packet = ipv6({ next: kTcp, payloadLength: 0, payload: tcp({ payload: fill(70000) }) });
  const { ok, out } = decode(packet, LinkType.Raw);
  assert.ok(ok);
  assert.equal(out.payloadLength, 70000);
  assert.equal(out.payloadWireLength, 70000);
});

test('payload length excludes trailing bytes', () => {
  const packet = concat(ipv6({ next: kUdp, payload: udp({ payload: fill(2) }) }), fill(9, 0));
  const { out } = decode(packet, LinkType.Raw);
  assert.equal(out.ipPayloadLength, 10);
  assert.equal(out.payloadLength, 2);
});

test('malformed and truncated headers', () => {
  const hbh = (payload: number[], payloadLength?: number) =>
    ipv6({ next: kHopByHop, payload, ...(payloadLength === undefined ? {} : { payloadLength }) });
  const cases: [Uint8Array, string][] = [
    [ipv6({ next: kUdp, payload: [] }).subarray(0, 39), 'ipv6.truncated'],
    [concat([0x40], ipv6({ next: kUdp, payload: [] }).subarray(1)), 'ipv6.bad_version'],
    // The extension header needs 16 bytes; the payload length says 8.
    [hbh(ipv6Options(kTcp, 1), 8), 'ipv6.bad_extension_length'],
    // Payload length 0 is too short for any extension header.
    [hbh([], 0), 'ipv6.truncated'],
    // The payload length is right but the capture ends inside the header.
    [hbh(ipv6Options(kTcp, 1)).subarray(0, 50), 'ipv6.truncated'],
    [hbh(ipv6Options(kTcp, 1).slice(0, 4), 16), 'ipv6.truncated'],
  ];
  for (const [packet, expected] of cases) {
    const { out, reason } = decode(packet, LinkType.Ipv6);
    assert.equal(reason, expected);
    assert.equal(out.stopLayer, Layer.Network);
  }
});
