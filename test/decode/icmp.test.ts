/** ICMP and ICMPv6 echo request/reply: type, code, identifier, sequence, payload bounds; other ICMP and truncated echoes stop. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipProtocolName, LinkType } from '../../agent/decode/packet.ts';
import { decode } from './harness.ts';
import { be16, concat, fill, ipv4, ipv6, ipv6Options } from './packets.ts';

const kIcmp = 1;
const kIcmpv6 = 58;

function echo(type: number, id: number, seq: number, payload = fill(56)): Uint8Array {
  return concat([type, 0], be16(0xbeef), be16(id), be16(seq), payload);
}

test('IPv4 echo request and reply: type, id, seq, the echo data as payload, no ports', () => {
  for (const type of [8, 0]) {
    const { ok, out } = decode(ipv4({ protocol: kIcmp, payload: echo(type, 0x3bd7, 513) }), LinkType.Raw);
    assert.ok(ok);
    assert.equal(out.ipProtocol, kIcmp);
    assert.deepEqual([out.icmpType, out.icmpCode, out.icmpId, out.icmpSeq], [type, 0, 0x3bd7, 513]);
    assert.deepEqual([out.srcPort, out.dstPort], [0, 0]);
    assert.deepEqual([out.payloadOffset, out.payloadLength, out.payloadWireLength], [28, 56, 56]);
  }
});

test('ICMPv6 echo request and reply, also behind an extension header', () => {
  for (const type of [128, 129]) {
    const plain = decode(ipv6({ next: kIcmpv6, payload: echo(type, 7, 65535) }), LinkType.Raw);
    assert.ok(plain.ok);
    assert.deepEqual([plain.out.icmpType, plain.out.icmpId, plain.out.icmpSeq], [type, 7, 65535]);
    const chained = decode(
      ipv6({ next: 0, payload: concat(ipv6Options(kIcmpv6), echo(type, 8, 1)) }),
      LinkType.Raw,
    );
    assert.ok(chained.ok);
    assert.deepEqual(
      [chained.out.ipProtocol, chained.out.icmpId, chained.out.payloadOffset],
      [kIcmpv6, 8, 56],
    );
  }
});

test('other ICMP messages stop as before (ip.unsupported_protocol); v4 echo types are not v6 echoes', () => {
  for (const [protocol, type] of [
    [kIcmp, 3],
    [kIcmp, 11],
    [kIcmp, 128],
    [kIcmpv6, 135],
    [kIcmpv6, 8],
  ] as const) {
    const packet =
      protocol === kIcmp
        ? ipv4({ protocol, payload: echo(type, 1, 1) })
        : ipv6({ next: protocol, payload: echo(type, 1, 1) });
    const { ok, reason } = decode(packet, LinkType.Raw);
    assert.equal(ok, false);
    assert.equal(reason, 'ip.unsupported_protocol', `protocol ${protocol} type ${type}`);
  }
});

test('an echo cut inside its 8-byte header is counted icmp.truncated; a snaplen cut in the data is not', () => {
  const whole = ipv4({ protocol: kIcmp, payload: echo(8, 1, 1) });
  for (const captured of [21, 24, 27]) {
    const { ok, reason } = decode(whole.subarray(0, captured), LinkType.Raw);
    assert.equal(ok, false);
    assert.equal(reason, 'icmp.truncated', `${captured} bytes captured`);
  }
  const short = decode(ipv4({ protocol: kIcmp, payload: echo(8, 1, 1).subarray(0, 6) }), LinkType.Raw);
  assert.equal(short.reason, 'icmp.truncated', 'IP payload shorter than the header');
  const cut = decode(whole.subarray(0, 40), LinkType.Raw);
  assert.ok(cut.ok);
  assert.deepEqual([cut.out.payloadLength, cut.out.payloadWireLength], [12, 56]);
});

test('transport names: IANA keywords', () => {
  assert.deepEqual([1, 6, 17, 58, 47].map(ipProtocolName), ['icmp', 'tcp', 'udp', 'ipv6-icmp', '47']);
});
