import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Correlator } from '../../agent/correlate/correlator.ts';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { Outcome, type Pair, UnansweredReason } from '../../agent/correlate/pair.ts';
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
