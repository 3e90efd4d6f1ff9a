/** Output-edge text: addresses (checked against tshark), TCP flags, link-type and layer names. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { formatAddress, formatIp, layerName, linkTypeName, tcpFlagsText } from '../../agent/decode/format.ts';
import { DecodedPacket, Layer, TcpFlag } from '../../agent/decode/packet.ts';
import { ipv4Bytes, ipv6Bytes, words } from './packets.ts';

const ipv6Fixture = path.resolve(import.meta.dirname, '../fixtures/decode/tshark-ipv6-text.tsv');

test('IPv6 text matches tshark for every fixture address', () => {
  const lines = readFileSync(ipv6Fixture, 'utf8').trimEnd().split('\n').slice(1);
  assert.ok(lines.length > 200);
  for (const line of lines) {
    const [hex = '', expected] = line.split('\t');
    const [w0 = 0, w1 = 0, w2 = 0, w3 = 0] = words([...Buffer.from(hex, 'hex')]);
    assert.equal(formatIp(6, w0, w1, w2, w3), expected, hex);
  }
});

test('IPv6 text examples (RFC 5952, tshark style)', () => {
  const text = (address: string) => {
    const [w0 = 0, w1 = 0, w2 = 0, w3 = 0] = words(ipv6Bytes(address));
    return formatIp(6, w0, w1, w2, w3);
  };
  assert.equal(text('fe80:0:0:0:0:0:0:1'), 'fe80::1');
  assert.equal(text('2001:0db8:0:0:0:ff00:0042:8329'), '2001:db8::ff00:42:8329');
  assert.equal(text('::ffff:c000:201'), '::ffff:192.0.2.1');
  assert.equal(text('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(text('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(text('::'), '::');
});

test('IPv4 dotted quad, and formatAddress picks the side', () => {
  const out = new DecodedPacket();
  out.ipVersion = 4;
  [out.src0 = 0] = words(ipv4Bytes('192.0.2.255'));
  [out.dst0 = 0] = words(ipv4Bytes('10.0.0.1'));
  assert.equal(formatAddress(out, 'src'), '192.0.2.255');
  assert.equal(formatAddress(out, 'dst'), '10.0.0.1');
  out.ipVersion = 0;
  assert.equal(formatAddress(out, 'src'), '');
});

test('tcpFlagsText', () => {
  assert.equal(tcpFlagsText(TcpFlag.Syn | TcpFlag.Ack), 'SYN,ACK');
  assert.equal(tcpFlagsText(TcpFlag.Fin | TcpFlag.Psh | TcpFlag.Ack), 'FIN,PSH,ACK');
  assert.equal(tcpFlagsText(0xff), 'FIN,SYN,RST,PSH,ACK,URG,ECE,CWR');
  assert.equal(tcpFlagsText(0), '');
});

test('linkTypeName and layerName', () => {
  assert.equal(linkTypeName(1), 'ether');
  assert.equal(linkTypeName(0x30000001), 'ether');
  assert.equal(linkTypeName(276), 'linux-sll2');
  assert.equal(linkTypeName(229), 'rawip6');
  assert.equal(linkTypeName(4242), 'linktype-4242');
  assert.equal(layerName(Layer.Complete), 'complete');
  assert.equal(layerName(Layer.Transport), 'transport');
  assert.equal(layerName(9), 'layer-9');
});
