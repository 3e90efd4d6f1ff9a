/** Link layers: Ethernet (VLAN, QinQ, 802.3 LLC/SNAP, PPPoE), Linux SLL/SLL2, NULL/LOOP, raw IP. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EtherType, Layer, LinkType } from '../../agent/decode/packet.ts';
import { decode } from './harness.ts';
import {
  be16,
  concat,
  ethernet,
  ethernet8023,
  ethernetTagged,
  ipv4,
  ipv6,
  llcSnap,
  nullHeader,
  sll,
  sll2,
  tcp,
  udp,
} from './packets.ts';

const kTcp = 6;
const kUdp = 17;
const v4Udp = () => ipv4({ protocol: kUdp, payload: udp({ payload: [1, 2, 3] }) });
const v6Tcp = () => ipv6({ next: kTcp, payload: tcp({ payload: [1, 2, 3, 4] }) });

describe('Ethernet', () => {
  test('IPv4/UDP', () => {
    const { ok, out } = decode(ethernet(EtherType.Ipv4, v4Udp()), LinkType.Ethernet);
    assert.ok(ok);
    assert.equal(out.etherType, EtherType.Ipv4);
    assert.equal(out.vlanId, -1);
    assert.equal(out.ipOffset, 14);
    assert.equal(out.payloadLength, 3);
  });

  test('802.1Q tag: VLAN id recorded, IP found behind it', () => {
    const { ok, out } = decode(ethernetTagged([[EtherType.Vlan, 0x2064]], EtherType.Ipv4, v4Udp()), 1);
    assert.ok(ok);
    assert.equal(out.vlanId, 0x064); // priority bits (0x2000) masked off
    assert.equal(out.ipOffset, 18);
  });

  test('QinQ (802.1ad outer, 802.1Q inner): outermost VLAN id recorded', () => {
    const frame = ethernetTagged(
      [
        [EtherType.QinQ, 100],
        [EtherType.Vlan, 200],
      ],
      EtherType.Ipv6,
      v6Tcp(),
    );
    const { ok, out } = decode(frame, LinkType.Ethernet);
    assert.ok(ok);
    assert.equal(out.vlanId, 100);
    assert.equal(out.ipOffset, 22);
    assert.equal(out.payloadLength, 4);
  });

  test('legacy 0x9100 outer tag and a triple stack', () => {
    const frame = ethernetTagged(
      [
        [EtherType.QinQLegacy, 7],
        [EtherType.QinQ, 8],
        [EtherType.Vlan, 9],
      ],
      EtherType.Ipv4,
      v4Udp(),
    );
    const { ok, out } = decode(frame, LinkType.Ethernet);
    assert.ok(ok);
    assert.equal(out.vlanId, 7);
    assert.equal(out.ipOffset, 26);
  });

  test('802.3 length + LLC/SNAP (RFC 1042) carrying IPv4', () => {
    const { ok, out } = decode(ethernet8023(llcSnap(EtherType.Ipv4), v4Udp()), LinkType.Ethernet);
    assert.ok(ok);
    assert.equal(out.ipOffset, 22);
  });

  test('VLAN tag followed by 802.3 length + SNAP', () => {
    const inner = concat(llcSnap(EtherType.Ipv4), v4Udp());
    const frame = ethernetTagged([[EtherType.Vlan, 5]], inner.length, inner);
    const { ok, out } = decode(frame, LinkType.Ethernet);
    assert.ok(ok);
    assert.equal(out.vlanId, 5);
    assert.equal(out.ipOffset, 26);
  });

  test('802.3 + plain LLC (STP) stops at Link: ethernet.llc', () => {
    const { ok, out, reason } = decode(
      ethernet8023([0x42, 0x42, 0x03], new Uint8Array(35)),
      LinkType.Ethernet,
    );
    assert.ok(!ok);
    assert.equal(out.stopLayer, Layer.Link);
    assert.equal(reason, 'ethernet.llc');
  });

  test('SNAP with a vendor OUI (Cisco CDP) stops: ethernet.llc', () => {
    const { reason } = decode(ethernet8023(llcSnap(0x2000, 0x00000c), new Uint8Array(20)), LinkType.Ethernet);
    assert.equal(reason, 'ethernet.llc');
  });

  test('ARP stops at Link: ethernet.not_ip, EtherType kept', () => {
    const { ok, out, reason } = decode(ethernet(EtherType.Arp, new Uint8Array(28)), LinkType.Ethernet);
    assert.ok(!ok);
    assert.equal(out.stopLayer, Layer.Link);
    assert.equal(out.etherType, EtherType.Arp);
    assert.equal(reason, 'ethernet.not_ip');
  });

  test('PPPoE session carrying IPv4 and IPv6', () => {
    const pppoe = (protocol: number, payload: Uint8Array) =>
      concat([0x11, 0x00], be16(0x1234), be16(payload.length + 2), be16(protocol), payload);
    const v4 = decode(ethernet(EtherType.PppoeSession, pppoe(0x0021, v4Udp())), LinkType.Ethernet);
    assert.ok(v4.ok);
    assert.equal(v4.out.ipOffset, 22);
    const v6 = decode(ethernet(EtherType.PppoeSession, pppoe(0x0057, v6Tcp())), LinkType.Ethernet);
    assert.ok(v6.ok);
    assert.equal(v6.out.ipVersion, 6);
    const lcp = decode(
      ethernet(EtherType.PppoeSession, pppoe(0xc021, new Uint8Array(10))),
      LinkType.Ethernet,
    );
    assert.equal(lcp.reason, 'pppoe.not_ip');
  });

  test('padding after the IP packet is not payload', () => {
    // A 3-byte UDP payload in a 60-byte minimum frame: 14 + 20 + 8 + 3 = 45, 15 bytes of padding.
    const frame = concat(ethernet(EtherType.Ipv4, v4Udp()), new Uint8Array(15).fill(0xee));
    const { ok, out } = decode(frame, LinkType.Ethernet);
    assert.ok(ok);
    assert.equal(out.payloadLength, 3);
    assert.equal(out.payloadWireLength, 3);
  });

  test('pcap link-type FCS bits are ignored', () => {
    const { ok } = decode(ethernet(EtherType.Ipv4, v4Udp()), 0x30000001);
    assert.ok(ok);
  });

  test('truncated Ethernet, VLAN, LLC and PPPoE headers', () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(13), 'ethernet.truncated'],
      [ethernetTagged([[EtherType.Vlan, 1]], EtherType.Ipv4, []).subarray(0, 17), 'vlan.truncated'],
      [ethernet8023(llcSnap(EtherType.Ipv4).slice(0, 2), []), 'ethernet.truncated'],
      [ethernet8023(llcSnap(EtherType.Ipv4).slice(0, 5), []), 'ethernet.truncated'],
      [ethernet(EtherType.PppoeSession, [0x11, 0, 0, 1, 0, 2, 0]), 'pppoe.truncated'],
    ];
    for (const [frame, expected] of cases) {
      const { out, reason } = decode(frame, LinkType.Ethernet);
      assert.equal(reason, expected);
      assert.equal(out.stopLayer, Layer.Link);
    }
  });
});

describe('Linux cooked captures', () => {
  test('SLL v1 with IPv4', () => {
    const { ok, out } = decode(sll(EtherType.Ipv4, v4Udp()), LinkType.LinuxSll);
    assert.ok(ok);
    assert.equal(out.ipOffset, 16);
  });

  test('SLL v1 with a VLAN tag re-inserted by libpcap', () => {
    const tagged = concat(be16(42), be16(EtherType.Ipv4), v4Udp());
    const { ok, out } = decode(sll(EtherType.Vlan, tagged), LinkType.LinuxSll);
    assert.ok(ok);
    assert.equal(out.vlanId, 42);
    assert.equal(out.ipOffset, 20);
  });

  test('SLL v2 with IPv6/TCP', () => {
    const { ok, out } = decode(sll2(EtherType.Ipv6, v6Tcp()), LinkType.LinuxSll2);
    assert.ok(ok);
    assert.equal(out.ipVersion, 6);
    assert.equal(out.ipOffset, 20);
    assert.equal(out.payloadLength, 4);
  });

  test('SLL v2 with 802.2 LLC (ETH_P_802_2) and plain LLC stops: ethernet.llc', () => {
    const { reason } = decode(sll2(0x0004, [0x42, 0x42, 0x03, 0, 0, 0]), LinkType.LinuxSll2);
    assert.equal(reason, 'ethernet.llc');
  });

  test('Linux pseudo-protocols and netlink are not IP', () => {
    assert.equal(decode(sll(0x0003, v4Udp()), LinkType.LinuxSll).reason, 'ethernet.not_ip');
    assert.equal(decode(sll(EtherType.Ipv4, v4Udp(), 824), LinkType.LinuxSll).reason, 'ethernet.not_ip');
  });

  test('truncated SLL and SLL2 headers', () => {
    assert.equal(decode(new Uint8Array(15), LinkType.LinuxSll).reason, 'sll.truncated');
    assert.equal(decode(new Uint8Array(19), LinkType.LinuxSll2).reason, 'sll2.truncated');
  });
});

describe('BSD loopback', () => {
  test('NULL: AF_INET in little- and big-endian host order', () => {
    for (const littleEndian of [true, false]) {
      const { ok, out } = decode(nullHeader(2, v4Udp(), littleEndian), LinkType.Null);
      assert.ok(ok, `littleEndian=${littleEndian}`);
      assert.equal(out.ipOffset, 4);
    }
  });

  test('NULL: the three BSD AF_INET6 values in both byte orders', () => {
    for (const family of [24, 28, 30]) {
      for (const littleEndian of [true, false]) {
        const { ok, out } = decode(nullHeader(family, v6Tcp(), littleEndian), LinkType.Null);
        assert.ok(ok, `family ${family} littleEndian=${littleEndian}`);
        assert.equal(out.ipVersion, 6);
      }
    }
  });

  test('NULL: an EtherType in the header, as Wireshark accepts', () => {
    assert.ok(decode(concat([0, 0], be16(EtherType.Ipv4), v4Udp()), LinkType.Null).ok);
    assert.ok(decode(concat([0x00, 0x08, 0, 0], v4Udp()), LinkType.Null).ok);
  });

  test('LOOP: network byte order only', () => {
    assert.ok(decode(nullHeader(2, v4Udp(), false), LinkType.Loop).ok);
    assert.equal(decode(nullHeader(2, v4Udp(), true), LinkType.Loop).reason, 'null.not_ip');
  });

  test('other families stop: null.not_ip; short header: null.truncated', () => {
    const { out, reason } = decode(nullHeader(7, new Uint8Array(30), true), LinkType.Null);
    assert.equal(reason, 'null.not_ip');
    assert.equal(out.stopLayer, Layer.Link);
    assert.equal(decode(new Uint8Array([2, 0, 0]), LinkType.Null).reason, 'null.truncated');
  });
});

describe('raw IP', () => {
  test('LINKTYPE_RAW (101) and DLT 12/14: the version nibble decides', () => {
    for (const linkType of [LinkType.Raw, LinkType.RawDlt12, LinkType.RawDlt14]) {
      assert.equal(decode(v4Udp(), linkType).out.ipVersion, 4);
      assert.equal(decode(v6Tcp(), linkType).out.ipVersion, 6);
    }
  });

  test('raw IP with another version nibble or no bytes', () => {
    assert.equal(decode(new Uint8Array([0x50, 0, 0, 0]), LinkType.Raw).reason, 'raw.not_ip');
    assert.equal(decode(new Uint8Array(0), LinkType.Raw).reason, 'raw.truncated');
  });

  test('LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229) take only their version', () => {
    assert.ok(decode(v4Udp(), LinkType.Ipv4).ok);
    assert.ok(decode(v6Tcp(), LinkType.Ipv6).ok);
    const wrong = decode(v6Tcp(), LinkType.Ipv4);
    assert.equal(wrong.reason, 'ipv4.bad_version');
    assert.equal(wrong.out.stopLayer, Layer.Network);
    assert.equal(decode(v4Udp(), LinkType.Ipv6).reason, 'ipv6.bad_version');
  });
});

test('unsupported link types stop at Link: link.unsupported_linktype', () => {
  for (const linkType of [8, 9, 50, 105, 127, 129, 253, 271]) {
    const { out, reason } = decode(v4Udp(), linkType);
    assert.equal(reason, 'link.unsupported_linktype');
    assert.equal(out.stopLayer, Layer.Link);
  }
});
