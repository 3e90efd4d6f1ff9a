/**
 * Micro-benchmark (not part of the test run):
 *
 *   npm run bench -- --decode [iterations]
 *
 * Decodes one synthetic Ethernet/IPv4/UDP packet (64-byte payload) repeatedly and prints
 * ns/packet.
 */
import { decodePacket } from '../../agent/decode/decoder.ts';
import { DecodedPacket, EtherType, LinkType } from '../../agent/decode/packet.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { ethernet, fill, ipv4, udp } from '../decode/packets.ts';

const iterations = Number(process.argv[2] ?? 10_000_000);
const packet = ethernet(EtherType.Ipv4, ipv4({ protocol: 17, payload: udp({ payload: fill(64) }) }));
const out = new DecodedPacket();
const skips = new SkipCounters();

function run(n: number): number {
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    if (decodePacket(packet, 0, packet.length, LinkType.Ethernet, out, skips)) bytes += out.payloadLength;
  }
  return bytes;
}

run(100_000); // warm-up: let the JIT optimize before timing
const start = process.hrtime.bigint();
const bytes = run(iterations);
const elapsed = Number(process.hrtime.bigint() - start);
if (bytes !== iterations * 64) throw new Error(`decoded ${bytes} payload bytes, expected ${iterations * 64}`);
console.log(
  `${iterations} packets in ${(elapsed / 1e6).toFixed(0)} ms: ${(elapsed / iterations).toFixed(1)} ns/packet`,
);
