import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PacketView } from '../../../agent/correlate/matcher.ts';
import { defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import type { Pair } from '../../../agent/correlate/pair.ts';
import type { ProtocolDescriptor as MatcherDescriptor } from '../../../agent/correlate/protocol.ts';
import { relayMatcher } from '../../../agent/correlate/relay/index.ts';
import { tcpHandshakeMatcher } from '../../../agent/correlate/tcp-handshake/index.ts';
import { udpMatcher } from '../../../agent/correlate/udp/index.ts';
import { DecodedPacket } from '../../../agent/decode/packet.ts';
import { SkipCounters } from '../../../agent/shared/skips.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const rawPacket = fc.record({
  ipVersion: fc.constantFrom(4, 6),
  ipProtocol: fc.constantFrom(6, 17),
  words: fc.array(u32, { minLength: 8, maxLength: 8 }),
  srcPort: fc.oneof(fc.constantFrom(0, 53, 80, 123, 161, 65535), fc.integer({ min: 0, max: 65535 })),
  dstPort: fc.oneof(fc.constantFrom(0, 53, 80, 123, 161, 65535), fc.integer({ min: 0, max: 65535 })),
  tcpFlags: fc.integer({ min: 0, max: 255 }),
  tcpSeq: u32,
  tcpAck: u32,
  payload: fc.uint8Array({ maxLength: 40 }),
  extraWire: fc.constantFrom(0, 0, 0, 100),
  isFragment: fc.boolean(),
  seconds: fc.integer({ min: 0, max: 2 ** 33 }),
  nanos: fc.integer({ min: 0, max: 999_999_999 }),
  expire: fc.boolean(),
});

/** Every matcher of this folder set, fed arbitrary decoded fields through one reused view. */
function fuzz(descriptor: MatcherDescriptor): void {
  fc.assert(
    fc.property(fc.array(rawPacket, { maxLength: 60 }), (packets) => {
      const options = defaultCorrelateOptions();
      options.relay.enabled = true;
      options.relay.internalNetworks = ['0.0.0.0/1', '::/1'];
      options.maxPending = { dns: 3, http: 3, tcp: 3, udp: 3, relay: 3 };
      const pairs: Pair[] = [];
      const matcher = descriptor.create!({
        options,
        skips: new SkipCounters(),
        sink: { emit: (p) => pairs.push(p) },
      });
      const view = new PacketView();
      const packet = new DecodedPacket();
      view.packet = packet;
      view.data = new Uint8Array(100);
      for (const [n, r] of packets.entries()) {
        packet.ipVersion = r.ipVersion;
        packet.ipProtocol = r.ipProtocol;
        [
          packet.src0,
          packet.src1,
          packet.src2,
          packet.src3,
          packet.dst0,
          packet.dst1,
          packet.dst2,
          packet.dst3,
        ] = r.words as [number, number, number, number, number, number, number, number];
        packet.srcPort = r.srcPort;
        packet.dstPort = r.dstPort;
        packet.tcpFlags = r.ipProtocol === 6 ? r.tcpFlags : 0;
        packet.tcpSeq = r.tcpSeq;
        packet.tcpAck = r.tcpAck;
        view.data.set(r.payload, 50);
        packet.payloadOffset = 50;
        packet.payloadLength = r.payload.length;
        packet.payloadWireLength = r.payload.length + r.extraWire;
        packet.isFragment = r.isFragment;
        view.seconds = r.seconds;
        view.nanos = r.nanos;
        view.packetNumber = n + 1;
        matcher.onPacket?.(view);
        if (r.expire) matcher.expire(r.seconds, r.nanos);
        assert.ok(matcher.pendingCount() <= 3);
      }
      matcher.flush();
      assert.equal(matcher.pendingCount(), 0);
      assert.equal(new Set(pairs).size, pairs.length);
    }),
    { numRuns: 300 },
  );
}

for (const descriptor of [tcpHandshakeMatcher, udpMatcher, relayMatcher]) {
  test(`fuzz: ${descriptor.name} never throws on arbitrary decoded fields and stays within maxPending`, () => {
    fuzz(descriptor);
  });
}
