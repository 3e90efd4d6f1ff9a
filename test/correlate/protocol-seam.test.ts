/**
 * The protocol seam: a toy line protocol ("PING word" → "PONG word" or "ERR", and "NOTE ..."
 * pushes that answer nothing) defined only in this file, as a descriptor plus a matcher on the
 * ordered request/response base, handed to the registry-driven parts as a registry. Its flags,
 * config key, timeout, pending cap, pairs (JSONL key), span name/attributes/error status/metric,
 * summary label and report colour must all show up with no other file edited.
 *
 * The traffic is real: a Node TCP server and client on loopback, captured by tcpdump (skipped
 * where tcpdump is missing or may not capture; under CI=true that fails instead).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanStatusCode } from '@opentelemetry/api';
import yargs from 'yargs';
import { loadConfigFile } from '../../agent/cli/config-file.ts';
import { correlationArgs, correlationOptions } from '../../agent/cli/correlation-flags.ts';
import { correlateOptionsFrom } from '../../agent/cli/replay-command.ts';
import { Correlator } from '../../agent/correlate/correlator.ts';
import type { Matcher, MatcherContext, PacketView } from '../../agent/correlate/matcher.ts';
import { capsForMemoryBudget } from '../../agent/correlate/memory-budget.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { diffNanos, MessageEdges, type Pair } from '../../agent/correlate/pair.ts';
import type { ProtocolDescriptor, ProtocolRegistry } from '../../agent/correlate/protocol.ts';
import { tcpHandshakeMatcher } from '../../agent/correlate/tcp-handshake/index.ts';
import type {
  StreamConsumer,
  StreamProtocol,
  TcpConnectionInfo,
} from '../../agent/correlate/tcp-stream/consumer.ts';
import {
  OrderedExchange,
  OrderedQueue,
  OrderedRequest,
  orderedExchangeSkips,
} from '../../agent/correlate/tcp-stream/ordered-exchange.ts';
import { latencyHistograms } from '../../agent/export/otel/metrics.ts';
import { SpanMapper } from '../../agent/export/otel/span-mapper.ts';
import { pairToObject } from '../../agent/output/pair-json.ts';
import { replayFiles } from '../../agent/pipeline/replay.ts';
import { generateReport } from '../../agent/report/html-report.ts';
import { formatLatencyReport, LatencySummary } from '../../agent/report/latency-summary.ts';

// The toy protocol: everything below up to the tests is what a protocol folder would hold. ------

declare module '../../agent/correlate/options.ts' {
  interface ProtocolOptions {
    pingPorts: number[];
  }
}

type PingDetail = { word: string; reply: string | null };

const kPingSkips = orderedExchangeSkips('ping');

class PingRequest extends OrderedRequest {
  readonly word: string;
  reply: string | null = null;

  constructor(word: string) {
    super();
    this.word = word;
  }

  override detail(matched: boolean): PingDetail {
    return { word: this.word, reply: matched ? this.reply : null };
  }
}

/** One direction's lines, with the edges of the line in progress. */
class LineFramer {
  readonly edges = new MessageEdges();
  #line = '';
  #started = false;

  /** Calls `onLine` for each complete line (without its "\n"). */
  feed(
    data: Uint8Array,
    offset: number,
    length: number,
    view: PacketView,
    onLine: (line: string) => void,
  ): void {
    let from = offset;
    const end = offset + length;
    while (from < end) {
      let newline = data.indexOf(0x0a, from);
      if (newline < 0 || newline >= end) newline = -1;
      const to = newline < 0 ? end : newline + 1;
      if (!this.#started) {
        this.edges.begin(view.seconds, view.nanos, view.fileId, view.packetNumber, to - from);
        this.#started = true;
      } else {
        this.edges.extend(view.seconds, view.nanos, view.fileId, view.packetNumber, to - from);
      }
      this.#line += Buffer.from(data.subarray(from, newline < 0 ? end : newline)).toString('latin1');
      from = to;
      if (newline >= 0) {
        const line = this.#line;
        this.#line = '';
        this.#started = false;
        onLine(line);
      }
    }
  }
}

class PingConnection implements StreamConsumer {
  readonly #requests = new LineFramer();
  readonly #responses = new LineFramer();
  readonly #queue: OrderedQueue<PingRequest>;

  constructor(exchange: OrderedExchange<PingRequest>, info: TcpConnectionInfo) {
    this.#queue = new OrderedQueue(exchange, info, this.#requests.edges);
  }

  onData(fromClient: boolean, data: Uint8Array, offset: number, length: number, view: PacketView): void {
    const queue = this.#queue;
    if (fromClient) {
      this.#requests.feed(data, offset, length, view, (line) => {
        if (!line.startsWith('PING ')) return;
        queue.requestStart(new PingRequest(line.slice(5)), view);
        queue.requestEnd(view);
      });
    } else {
      this.#responses.feed(data, offset, length, view, (line) => {
        if (line.startsWith('NOTE')) {
          queue.pushResponse();
          return;
        }
        const request = queue.responseStart(this.#responses.edges);
        if (request !== null) request.reply = line;
        queue.responseEnd(this.#responses.edges);
      });
    }
    queue.progress(fromClient, view);
  }

  onGap(fromClient: boolean): void {
    if (fromClient) this.#queue.requestLost();
    else this.#queue.responsesResynced();
  }

  onClose(fromClient: boolean): void {
    if (!fromClient) this.#queue.serverClosed();
  }
}

class PingMatcher implements Matcher, StreamProtocol {
  readonly name = 'ping';
  readonly stream = this;
  readonly #exchange: OrderedExchange<PingRequest>;
  readonly #ports: Set<number>;

  constructor(context: MatcherContext) {
    this.#exchange = new OrderedExchange(context, 'ping', kPingSkips, { maxQueuedRequests: 16 });
    this.#ports = new Set(context.options.pingPorts);
  }

  claim(connection: TcpConnectionInfo): StreamConsumer | null {
    return this.#ports.has(connection.serverPort) ? new PingConnection(this.#exchange, connection) : null;
  }

  expire(seconds: number, nanos: number): void {
    this.#exchange.expire(seconds, nanos);
  }

  flush(): void {
    this.#exchange.flush();
  }

  pendingCount(): number {
    return this.#exchange.pendingCount();
  }
}

const pingProtocol: ProtocolDescriptor<PingDetail> = {
  name: 'ping',
  label: 'PING/PONG',
  color: '#D55E00',
  options: [
    {
      flag: 'ping-ports',
      describe: 'server ports of the PING line protocol',
      type: 'ports',
      default: [7777],
      apply: (options, ports) => {
        options.pingPorts = ports;
      },
    },
  ],
  pending: { weight: 1, bytesPerEntry: 512 },
  enabled: (options) => options.pingPorts.length > 0,
  create: (context) => new PingMatcher(context),
  spans: {
    histograms: ['ping.duration'],
    create: () => ({
      map(_pair, detail, span) {
        span.name = `PING ${detail?.word ?? ''}`;
        if (detail !== null) span.attributes['ping.word'] = detail.word;
        if (detail?.reply === 'ERR') span.errorType = 'ERR';
        if (span.matched) span.metric = { name: 'ping.duration', value: span.seconds, attributes: {} };
      },
    }),
  },
  report: {
    errorRule: 'ping reply ERR',
    isError: (detail) => detail.reply === 'ERR',
    what: (detail) => `PING ${detail?.word ?? '?'} → ${detail?.reply ?? '-'}`,
  },
};

/** What a registry.ts with the toy protocol added (one line) would list. */
const registry: ProtocolRegistry = [tcpHandshakeMatcher, pingProtocol];

// Flags, config keys, defaults, caps: no capture needed. ---------------------------------------

describe('a protocol defined outside the core', () => {
  test('its options become flags with their defaults, and --ping-timeout its own timeout', async () => {
    const argv = await correlationOptions(yargs([]), registry)
      .strict()
      .parseAsync(['--ping-ports', '9000,9001', '--ping-timeout', '0.25', '--timeout', '7']);
    const options = correlateOptionsFrom(correlationArgs(argv, registry), registry);
    assert.deepEqual(options.pingPorts, [9000, 9001]);
    assert.equal(options.timeoutNanos.ping, 250_000_000);
    assert.equal(options.timeoutNanos.tcp, 7_000_000_000, 'the others follow --timeout');

    const defaults = correlateOptionsFrom(
      correlationArgs(await correlationOptions(yargs([]), registry).parseAsync([]), registry),
      registry,
    );
    assert.deepEqual(defaults.pingPorts, [7777]);
    assert.equal(defaults.timeoutNanos.ping, 30_000_000_000);
    assert.deepEqual(defaultCorrelateOptions(registry).pingPorts, [7777]);

    const help = await correlationOptions(yargs([]), registry).getHelp();
    assert.match(help, /--ping-ports\s+server ports of the PING line protocol/);
    assert.match(help, /--ping-timeout/);
    assert.doesNotMatch(help, /--dns-ports/, 'only the given registry');
  });

  test('its flags are config-file keys (YAML lists too)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-seam-'));
    const file = path.join(dir, 'wirespan.yaml');
    fs.writeFileSync(file, 'ping-ports: [7000, 7001]\nping-timeout: 1.5\n');
    const argv = await correlationOptions(yargs([]), registry)
      .config('config', 'YAML', loadConfigFile)
      .strict()
      .parseAsync(['--config', file]);
    const options = correlateOptionsFrom(correlationArgs(argv, registry), registry);
    assert.deepEqual(options.pingPorts, [7000, 7001]);
    assert.equal(options.timeoutNanos.ping, 1_500_000_000);
  });

  test('its pending table gets a share of the memory budget', () => {
    const caps = capsForMemoryBudget(512, registry);
    // tcp weighs 2, ping 1: a third of the pending half of 512 MiB, 512 bytes per entry.
    assert.equal(caps.maxPending.ping, Math.floor((512 * 1024 * 1024 * 0.5) / 3 / 512));
    assert.ok(caps.maxPending.tcp! > 0);
  });

  test('its histogram is one of the latency histograms', () => {
    assert.deepEqual(latencyHistograms(registry), ['ping.duration', 'wirespan.pair.duration']);
  });
});

describe('the production registry', () => {
  test('keeps every historical correlation flag with its default, and the flag defaults are defaultCorrelateOptions()', async () => {
    const argv = await correlationOptions(yargs([])).strict().parseAsync([]);
    const expected: [string, unknown][] = [
      ['dns-ports', [53]],
      ['dns-latency-from', 'first'],
      ['udp-ports', [88, 123, 161, 1812, 1813, 11211]],
      ['http-keep-query', false],
      ['relay', false],
      ['internal-networks', ['192.168.0.0/16']],
      ['relay-echo', false],
      ['relay-cross-transport', false],
      ['timeout', 30],
      ['memory-budget', 512],
    ];
    for (const [flag, value] of expected) assert.deepEqual(argv[flag], value, flag);
    assert.equal(argv['max-pending'], undefined);
    assert.deepEqual(correlateOptionsFrom(correlationArgs(argv)), defaultCorrelateOptions());
  });
});

// Real traffic ----------------------------------------------------------------------------------

const tcpdump = spawnSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).stdout.trim();
const cannotCapture = !tcpdump
  ? 'tcpdump is not installed'
  : process.getuid?.() !== 0
    ? 'capturing needs root'
    : null;
// CI installs tcpdump (.ci/run) and runs as root: there a missing capture is a failure, not a skip.
const skip = cannotCapture !== null && process.env.CI !== 'true' ? cannotCapture : false;

/** A PING server: "NOTE hello" on connect, then "PONG word", "ERR" for "bad", nothing for "silent". */
function startServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.write('NOTE hello\n');
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        const word = buffered.slice(5, at);
        buffered = buffered.slice(at + 1);
        if (word === 'bad') socket.write('ERR\n');
        else if (word !== 'silent') socket.write(`PONG ${word}\n`);
      }
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A client connection that reads the server's lines. */
async function connect(port: number): Promise<{ socket: net.Socket; nextLine: () => Promise<string> }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const lines: string[] = [];
  let waiting: (() => void) | null = null;
  let buffered = '';
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
    }
    waiting?.();
  });
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
    return lines.shift()!;
  };
  return { socket, nextLine };
}

describe('the toy protocol on a real capture', { skip }, () => {
  let capture = '';
  let port = 0;
  let options: CorrelateOptions;
  const pairs: Pair[] = [];

  before(async () => {
    assert.equal(cannotCapture, null, `CI must capture: ${cannotCapture}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-seam-'));
    capture = path.join(dir, 'ping.pcap');
    const server = await startServer();
    port = (server.address() as AddressInfo).port;
    const dump = spawn(tcpdump, [
      '-i',
      'lo',
      '-U',
      '--immediate-mode',
      '--nano',
      '-n',
      '-Z',
      'root',
      '-w',
      capture,
      `tcp port ${port}`,
    ]);
    let log = '';
    dump.stderr.on('data', (chunk) => {
      log += chunk;
    });
    const exited = new Promise<void>((resolve) => dump.on('close', () => resolve()));
    const opened: net.Socket[] = [];
    try {
      const deadline = Date.now() + 10_000;
      while (!log.includes('listening on')) {
        if (Date.now() > deadline) throw new Error(`tcpdump did not start: ${log}`);
        await sleep(50);
      }
      const first = await connect(port);
      opened.push(first.socket);
      assert.equal(await first.nextLine(), 'NOTE hello');
      first.socket.write('PING a\nPING b\n'); // pipelined
      assert.equal(await first.nextLine(), 'PONG a');
      assert.equal(await first.nextLine(), 'PONG b');
      first.socket.write('PING bad\n');
      assert.equal(await first.nextLine(), 'ERR');
      first.socket.write('PING silent\n');
      // Capture time must pass the 0.2 s --ping-timeout: a second connection's packets carry it on.
      await sleep(500);
      const second = await connect(port);
      opened.push(second.socket);
      assert.equal(await second.nextLine(), 'NOTE hello');
      second.socket.write('PING z\n');
      assert.equal(await second.nextLine(), 'PONG z');
      await sleep(200);
    } finally {
      dump.kill('SIGINT');
      await exited;
      for (const socket of opened) socket.destroy();
      server.close();
    }
    options = correlateOptionsFrom({ timeoutSeconds: 30, pingPorts: [port], pingTimeout: 0.2 }, registry);
    const correlator = new Correlator(options, { emit: (pair) => pairs.push(pair) }, undefined, registry);
    replayFiles({ files: [capture], sink: correlator, onRecord: null });
  });

  after(() => {
    if (capture !== '') fs.rmSync(path.dirname(capture), { recursive: true, force: true });
  });

  /** The toy's pairs by request start (matched ones are emitted as answered, expired ones later). */
  const ping = () =>
    pairs
      .filter((pair) => pair.protocol === 'ping')
      .sort((x, y) =>
        diffNanos(y.request.firstSeconds, y.request.firstNanos, x.request.firstSeconds, x.request.firstNanos),
      );
  const byWord = (word: string) => ping().find((pair) => (pair.detail as PingDetail).word === word)!;

  test('pairs: FIFO over pipelining, the push answers nothing, the silent request expires after --ping-timeout', () => {
    assert.deepEqual(
      ping().map((pair) => [
        (pair.detail as PingDetail).word,
        (pair.detail as PingDetail).reply,
        pair.outcome,
      ]),
      [
        ['a', 'PONG a', 0],
        ['b', 'PONG b', 0],
        ['bad', 'ERR', 0],
        ['silent', null, 1],
        ['z', 'PONG z', 0],
      ],
    );
    const silent = byWord('silent');
    assert.equal(silent.unansweredReason, 0, 'expired');
    assert.equal(
      diffNanos(
        silent.request.lastSeconds,
        silent.request.lastNanos,
        silent.givenUpSeconds,
        silent.givenUpNanos,
      ),
      200_000_000,
      'given up exactly --ping-timeout after its last byte',
    );
    for (const pair of ping()) {
      assert.equal(pair.serverPort, port);
      assert.equal(pair.protocolId, 1, 'its index in the registry');
    }
    assert.equal(pairs.filter((pair) => pair.protocol === 'tcp').length, 2, 'the other protocol still pairs');
    const json = pairToObject(byWord('bad'), [capture]);
    assert.deepEqual(json.ping, { word: 'bad', reply: 'ERR' }, 'JSONL: detail under the protocol name');
  });

  test('spans: its name, attributes, error status and metric', () => {
    const mapper = new SpanMapper({
      localNetworks: [],
      serviceMap: [],
      httpRoutes: [],
      sourceFiles: null,
      registry,
    });
    const a = mapper.map(byWord('a'));
    assert.equal(a.name, 'PING a');
    assert.equal(a.attributes['ping.word'], 'a');
    assert.equal(a.attributes['wirespan.protocol'], 'ping');
    assert.equal(a.statusCode, SpanStatusCode.UNSET);
    assert.equal(a.metric?.name, 'ping.duration');
    const bad = mapper.map(byWord('bad'));
    assert.equal(bad.statusCode, SpanStatusCode.ERROR);
    assert.equal(bad.attributes['error.type'], 'ERR');
    const silent = mapper.map(byWord('silent'));
    assert.equal(silent.name, 'PING silent');
    assert.equal(silent.attributes['error.type'], 'timeout');
    assert.equal(silent.metric, null);
  });

  test('summary: its error rule and label', () => {
    const summary = new LatencySummary(registry);
    for (const pair of pairs) summary.add(pair);
    const report = summary.report();
    const row = report.protocols.find((r) => r.protocol === 'ping')!;
    assert.deepEqual([row.requests, row.unanswered, row.errors], [5, 1, 1]);
    assert.match(formatLatencyReport(report, registry), /^\s+PING\/PONG\s+5\s+1\s+1\s/m);
  });

  test('HTML report: its label, colour, error rule and slowest-table text', async () => {
    const { html, data } = await generateReport({ files: [capture], correlate: options, registry });
    assert.deepEqual(
      data.protocols.map((p) => p.protocol),
      ['tcp', 'ping'],
      'registry order',
    );
    assert.equal(data.protocols[1]!.errors, 1);
    assert.match(html, /<td>PING\/PONG<\/td>/);
    assert.match(html, /"ping":"#D55E00"/, 'the page script colours its series');
    assert.match(html, /Errors: ping reply ERR\./);
    assert.ok(data.slowest.some((s) => /^PING \w+ → /.test(s.what)));
  });
});
