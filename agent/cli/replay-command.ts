/** `wirespan replay`: wires files → reader → decoder → correlator → output, then prints the summary. */
import { discoverCaptureFiles } from '../capture/discover.ts';
import { Correlator } from '../correlate/correlator.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../correlate/options.ts';
import type { Pair } from '../correlate/pair.ts';
import { LineWriter } from '../output/line-writer.ts';
import { packetToJson } from '../output/packet-json.ts';
import { pairToJson, pairToText } from '../output/pair-json.ts';
import { formatSummary } from '../output/summary.ts';
import { replayFiles } from '../pipeline/replay.ts';
import { parseOutputSpec } from './output-spec.ts';

export interface ReplayCommandOptions {
  inputs: string[];
  output: string;
  packets: boolean;
  quiet: boolean;
  dnsPorts: number[];
  dnsLatencyFrom: 'first' | 'last';
  udpPorts: number[];
  httpKeepQuery: boolean;
  relay: boolean;
  internalNetworks: string[];
  relayEcho: boolean;
  relayCrossTransport: boolean;
  timeoutSeconds: number;
  maxPending: number;
}

export function correlateOptionsFrom(options: ReplayCommandOptions): CorrelateOptions {
  const correlate = defaultCorrelateOptions();
  correlate.dnsPorts = options.dnsPorts;
  correlate.dnsLatencyFrom = options.dnsLatencyFrom;
  correlate.udpPorts = options.udpPorts;
  correlate.httpKeepQuery = options.httpKeepQuery;
  correlate.relay = {
    enabled: options.relay,
    internalNetworks: options.internalNetworks,
    matchEcho: options.relayEcho,
    crossTransport: options.relayCrossTransport,
  };
  const timeoutNanos = Math.round(options.timeoutSeconds * 1e9);
  correlate.timeoutNanos = {
    dns: timeoutNanos,
    http: timeoutNanos,
    tcp: timeoutNanos,
    udp: timeoutNanos,
    relay: timeoutNanos,
  };
  const max = options.maxPending;
  correlate.maxPending = { dns: max, http: max, tcp: max, udp: max, relay: max };
  return correlate;
}

/** Runs the command and returns the process exit code (0 ok, 1 processing error, 2 usage error). */
export function runReplay(options: ReplayCommandOptions): number {
  let outputSpec: ReturnType<typeof parseOutputSpec>;
  let correlateOptions: CorrelateOptions;
  try {
    outputSpec = parseOutputSpec(options.output);
    correlateOptions = correlateOptionsFrom(options);
  } catch (error) {
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    return 2;
  }

  const discovered = discoverCaptureFiles(options.inputs);
  let writer: LineWriter | null = null;
  try {
    if (outputSpec.format !== 'none')
      writer = outputSpec.path ? LineWriter.file(outputSpec.path) : LineWriter.stdout();
  } catch (error) {
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    return 1;
  }

  const files = discovered.files;
  const emitPair = (pair: Pair): void => {
    if (writer === null || options.packets) return;
    writer.write(outputSpec.format === 'text' ? pairToText(pair) : pairToJson(pair, files));
  };
  let correlator: Correlator;
  try {
    correlator = new Correlator(correlateOptions, { emit: emitPair });
  } catch (error) {
    // Configuration the matchers reject (e.g. a malformed CIDR).
    process.stderr.write(`wirespan: ${(error as Error).message}\n`);
    writer?.close();
    return 2;
  }

  const result = replayFiles({
    files,
    sink: correlator,
    onRecord:
      options.packets && writer
        ? (fileId, record, packet) => {
            writer.write(packetToJson(files[fileId]!, record, packet));
            return !writer.closed;
          }
        : null,
  });
  writer?.close();

  const errors = [...discovered.errors];
  for (const file of result.files) if (file.error) errors.push(`${file.file}: ${file.error}`);
  if (!options.quiet) {
    process.stderr.write(formatSummary(result, correlator, discovered.ignored, errors));
  }
  return errors.length > 0 ? 1 : 0;
}
