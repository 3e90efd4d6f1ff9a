/**
 * Measures heap bytes per pending (unanswered) request, per protocol, by driving N requests
 * that never get a response through the real Correlator. Run with --expose-gc:
 *   node --expose-gc test/tools/pending-memory.ts [N] [--cap C]
 * Prints one JSON object: {"dns": bytesPerEntry, ...} (or, with --cap, what the cap did). Used by the "Memory budget" figures of docs/operating.md
 * and by test/correlate/pending-memory.test.ts.
 */
import { Correlator } from '../../agent/correlate/correlator.ts';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { DecodedPacket, IpProtocol, TcpFlag } from '../../agent/decode/packet.ts';

const count = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const kPayloadOffset = 64;
const data = new Uint8Array(2048);
const packet = new DecodedPacket();

/** A DNS query for "host.example.test" type A with the given id. */
function writeDnsQuery(id: number): number {
  const name = [4, ...Buffer.from('host'), 7, ...Buffer.from('example'), 4, ...Buffer.from('test'), 0];
  const message = [id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...name, 0, 1, 0, 1];
  data.set(message, kPayloadOffset);
  return message.length;
}

function writeHttpRequest(): number {
  const text = Buffer.from(
    'GET /api/items?id=1 HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: curl/8\r\n\r\n',
  );
  data.set(text, kPayloadOffset);
  return text.length;
}

function setPacket(
  protocol: number,
  client: number,
  clientPort: number,
  serverPort: number,
  payloadLength: number,
): void {
  packet.stopLayer = 0;
  packet.ipVersion = 4;
  packet.ipProtocol = protocol;
  packet.src0 = client;
  packet.dst0 = 0x0a000002;
  packet.srcPort = clientPort;
  packet.dstPort = serverPort;
  packet.payloadOffset = kPayloadOffset;
  packet.payloadLength = payloadLength;
  packet.payloadWireLength = payloadLength;
}

type Protocol = 'dns' | 'http' | 'tcp' | 'udp';

function drive(protocol: Protocol): number {
  const options = defaultCorrelateOptions();
  // Every registered protocol's table (the correlator creates them all) has room for the run.
  for (const protocol of Object.keys(options.maxPending)) options.maxPending[protocol] = count * 2;
  const correlator = new Correlator(options, { emit: () => {} });
  gc!();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    // Distinct clients so every request has its own key; all within one second of capture time.
    const client = (0x0a010000 + i) >>> 0;
    const port = 1024 + (i % 60000);
    const nanos = i % 1_000_000_000;
    if (protocol === 'dns') {
      setPacket(IpProtocol.Udp, client, port, 53, writeDnsQuery(i & 0xffff));
    } else if (protocol === 'udp') {
      setPacket(IpProtocol.Udp, client, port, 123, 48);
    } else if (protocol === 'tcp') {
      setPacket(IpProtocol.Tcp, client, port, 443, 0);
      packet.tcpFlags = TcpFlag.Syn;
      packet.tcpSeq = 1000;
      packet.tcpAck = 0;
    } else {
      // One connection per request: SYN, then the request; the server never answers.
      setPacket(IpProtocol.Tcp, client, port, 8080, 0);
      packet.tcpFlags = TcpFlag.Syn;
      packet.tcpSeq = 1000;
      packet.tcpAck = 0;
      correlator.onPacket(0, 2 * i + 1, 1_700_000_000, nanos, data, packet);
      setPacket(IpProtocol.Tcp, client, port, 8080, writeHttpRequest());
      packet.tcpFlags = TcpFlag.Ack | TcpFlag.Psh;
      packet.tcpSeq = 1001;
      packet.tcpAck = 1;
    }
    correlator.onPacket(0, i + 1, 1_700_000_000, nanos, data, packet);
  }
  gc!();
  const pending = correlator.pending()[protocol] ?? 0;
  const bytes = process.memoryUsage().heapUsed - before;
  if (pending < count * 0.99) throw new Error(`${protocol}: only ${pending} of ${count} requests pending`);
  return Math.round(bytes / pending);
}

/**
 * `--cap N`: drives `count` unanswered DNS queries into a table capped at N and reports what
 * the cap did: {"pending","evicted","heapBytes"} (heap growth with the table full).
 */
function driveCapped(cap: number): Record<string, number> {
  const options = defaultCorrelateOptions();
  options.maxPending.dns = cap;
  let evicted = 0;
  const correlator = new Correlator(options, {
    emit: (pair) => {
      if (pair.unansweredReason === 1) evicted++;
    },
  });
  gc!();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    setPacket(IpProtocol.Udp, (0x0a010000 + i) >>> 0, 1024 + (i % 60000), 53, writeDnsQuery(i & 0xffff));
    correlator.onPacket(0, i + 1, 1_700_000_000, i % 1_000_000_000, data, packet);
  }
  gc!();
  return {
    pending: correlator.pending().dns ?? 0,
    evicted,
    heapBytes: process.memoryUsage().heapUsed - before,
  };
}

const capIndex = process.argv.indexOf('--cap');
if (capIndex > 0) {
  console.log(JSON.stringify(driveCapped(Number(process.argv[capIndex + 1]))));
} else {
  const result: Record<string, number> = {};
  for (const protocol of ['dns', 'udp', 'tcp', 'http'] as const) result[protocol] = drive(protocol);
  console.log(JSON.stringify(result));
}
