/**
 * Child process of alloc.test.ts (run with --expose-gc and a fixed 64 MB young generation):
 * decodes 200k packets (and computes their raw flow shard) after a warm-up and prints, as JSON, how much the heap grew and how many
 * GCs ran meanwhile. With a young generation that large nothing is collected during the loop, so
 * the growth is what the loop allocated.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { decodePacket } from '../../agent/decode/decoder.ts';
import { rawFlowShard } from '../../agent/decode/flow-hash.ts';
import { DecodedPacket, EtherType, LinkType } from '../../agent/decode/packet.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import {
  concat,
  ethernet,
  ethernetTagged,
  fill,
  ipv4,
  ipv6,
  ipv6Fragment,
  sll2,
  tcp,
  udp,
} from './packets.ts';

const kPackets = 200_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

// Complete decodes with large (non-Smi) seq/ack and stops at each layer.
const v4Tcp = ipv4({
  src: '255.1.2.3',
  protocol: 6,
  payload: tcp({ seq: 0xfedcba98, ack: 0x87654321, payload: fill(100) }),
});
const v6Udp = ipv6({ next: 17, payload: udp({ payload: fill(20) }) });
const cases: [Uint8Array, number][] = [
  [ethernet(EtherType.Ipv4, v4Tcp), LinkType.Ethernet],
  [
    ethernetTagged(
      [
        [EtherType.QinQ, 3],
        [EtherType.Vlan, 4],
      ],
      EtherType.Ipv6,
      v6Udp,
    ),
    LinkType.Ethernet,
  ],
  [sll2(EtherType.Ipv6, v6Udp), LinkType.LinuxSll2],
  [ethernet(EtherType.Arp, fill(28)), LinkType.Ethernet],
  [ipv6({ next: 44, payload: concat(ipv6Fragment(6, 8, true), fill(16)) }), LinkType.Raw],
  [v4Tcp.subarray(0, 30), LinkType.Raw],
  [v4Tcp, 4242],
];

// Parallel arrays: destructuring a tuple per iteration would itself allocate.
const records = cases.map(([bytes]) => bytes);
const linkTypes = cases.map(([, linkType]) => linkType);
const out = new DecodedPacket();
const skips = new SkipCounters();
/** Records the raw flow hash (the worker pipeline's shard, decode/flow-hash.ts) classified. */
let classified = 0;
function run(): number {
  let decoded = 0;
  classified = 0;
  for (let i = 0; i < kPackets; i++) {
    const bytes = records[i % records.length]!;
    const linkType = linkTypes[i % records.length]!;
    if (rawFlowShard(bytes, 0, bytes.length, linkType, 4) >= 0) classified++;
    if (decodePacket(bytes, 0, bytes.length, linkType, out, skips)) decoded++;
  }
  return decoded;
}

run();
run();
gc();
let gcs = 0;
const observer = new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
});
observer.observe({ entryTypes: ['gc'] });
const before = process.memoryUsage().heapUsed;
const decoded = run();
const after = process.memoryUsage().heapUsed;
await setImmediate();
observer.disconnect();
console.log(JSON.stringify({ packets: kPackets, decoded, classified, heapGrowthBytes: after - before, gcs }));
