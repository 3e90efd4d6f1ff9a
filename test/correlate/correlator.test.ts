import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Correlator } from '../../agent/correlate/correlator.ts';
import type { Matcher, PacketView } from '../../agent/correlate/matcher.ts';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { Outcome, type Pair, UnansweredReason } from '../../agent/correlate/pair.ts';
import type { ProtocolRegistry } from '../../agent/correlate/protocol.ts';
import { DecodedPacket, IpProtocol } from '../../agent/decode/packet.ts';

function udpPacket(clientPort: number, serverPort: number, fromClient: boolean): DecodedPacket {
  const packet = new DecodedPacket();
  packet.ipVersion = 4;
  packet.ipProtocol = IpProtocol.Udp;
  packet.src0 = fromClient ? 0x0a000001 : 0x0a000002;
  packet.dst0 = fromClient ? 0x0a000002 : 0x0a000001;
  packet.srcPort = fromClient ? clientPort : serverPort;
  packet.dstPort = fromClient ? serverPort : clientPort;
  packet.payloadOffset = 0;
  packet.payloadLength = 48;
  packet.payloadWireLength = 48;
  return packet;
}

test('expiry follows capture time and stamps the exact deadline as given_up', () => {
  const options = defaultCorrelateOptions();
  options.timeoutNanos.udp = 2_000_000_000;
  const pairs: Pair[] = [];
  const correlator = new Correlator(options, { emit: (pair) => pairs.push(pair) });
  const data = new Uint8Array(64);
  correlator.onPacket(0, 1, 1000, 999_999_999, data, udpPacket(40000, 123, true));
  // 1.9 s later (capture time): not yet expired, whatever the wall clock says.
  correlator.onPacket(0, 2, 1002, 900_000_000, data, udpPacket(40001, 161, true));
  assert.equal(pairs.length, 0);
  correlator.onPacket(0, 3, 1003, 0, data, udpPacket(40001, 161, false));
  const expired = pairs.find((p) => p.outcome === Outcome.Unanswered);
  assert.ok(expired);
  assert.equal(expired.unansweredReason, UnansweredReason.Expired);
  assert.deepEqual([expired.givenUpSeconds, expired.givenUpNanos], [1002, 999_999_999]);
  assert.equal(pairs.filter((p) => p.outcome === Outcome.Matched).length, 1);
  correlator.finish();
  assert.deepEqual(
    Object.fromEntries([...correlator.counts].map(([k, v]) => [k, [v.matched, v.unanswered]])).udp,
    [1, 1],
  );
});

test('a matcher that declares its packetTransport is offered only that transport’s packets', () => {
  const seen: Record<string, number[]> = { udp: [], tcp: [], any: [] };
  const recorder = (name: string, packetTransport?: number): Matcher => ({
    ...(packetTransport === undefined ? {} : { packetTransport }),
    onPacket: (view: PacketView) => {
      seen[name]!.push(view.packet.ipProtocol);
    },
    expire: () => {},
    flush: () => {},
    pendingCount: () => 0,
  });
  const descriptor = (name: string, packetTransport?: number) => ({
    name,
    color: '#000000',
    enabled: () => true,
    create: () => recorder(name, packetTransport),
  });
  const registry: ProtocolRegistry = [
    descriptor('udp', IpProtocol.Udp),
    descriptor('tcp', IpProtocol.Tcp),
    descriptor('any'),
  ];
  const correlator = new Correlator(
    defaultCorrelateOptions(registry),
    { emit: () => {} },
    undefined,
    registry,
  );
  const data = new Uint8Array(64);
  const tcp = udpPacket(40000, 80, true);
  tcp.ipProtocol = IpProtocol.Tcp;
  tcp.payloadLength = tcp.payloadWireLength = 0;
  correlator.onPacket(0, 1, 1000, 0, data, udpPacket(40000, 123, true));
  correlator.onPacket(0, 2, 1000, 1, data, tcp);
  correlator.onPacket(0, 3, 1000, 2, data, udpPacket(40000, 123, false));
  assert.deepEqual(seen, {
    udp: [IpProtocol.Udp, IpProtocol.Udp],
    tcp: [IpProtocol.Tcp],
    any: [IpProtocol.Udp, IpProtocol.Tcp, IpProtocol.Udp],
  });
});
