/**
 * The protocol descriptor: everything protocol-specific, in one object that a protocol
 * folder's index.ts exports and registry.ts lists. The core (correlator, CLI, memory budget,
 * span mapper, metrics, summary and HTML report) loops over the registry and never names a
 * protocol: adding one is one folder plus one registry line.
 *
 * Hot paths never search descriptors by name: the correlator stamps each pair with its
 * protocol's index in the registry (Pair.protocolId) and the output side indexes an array.
 */
import type { Attributes, SpanKind } from '@opentelemetry/api';
import type { MetricPoint, PairData, SpanMapperOptions } from '../export/otel/span-mapper.ts';
import type { TraceParent } from '../export/otel/traceparent.ts';
import type { Matcher, MatcherContext } from './matcher.ts';
import type { CorrelateOptions } from './options.ts';

/**
 * One protocol setting: a CLI flag of replay, run and report, the config-file key of the same
 * name, and (through `apply`) fields of CorrelateOptions. Its default is the only default: the
 * CLI shows it and defaultCorrelateOptions() applies it.
 */
export type ProtocolOption =
  | OptionOf<'boolean', boolean>
  | OptionOf<'ports', number[]>
  | OptionOf<'list', string[]>
  | (OptionOf<'choice', string> & { readonly choices: readonly string[] });

interface OptionOf<Type extends string, Value> {
  /** Kebab-case flag and config key (`dns-ports`); new ones start with the protocol name. */
  readonly flag: string;
  /** --help text. */
  readonly describe: string;
  /**
   * boolean: a switch; ports: comma-separated port numbers (YAML: a list); list: comma-separated
   * strings such as CIDRs (YAML: a list); choice: one of `choices`.
   */
  readonly type: Type;
  /** Never mutated: applyOption() hands `apply` a copy of an array default. */
  readonly default: Value;
  /** Writes the parsed value into the options (fields the protocol declares on ProtocolOptions). */
  apply(options: CorrelateOptions, value: Value): void;
}

/** The CorrelateOptions fields that hold port lists (each declared by its protocol folder). */
type PortsField = {
  [Field in keyof CorrelateOptions]: CorrelateOptions[Field] extends number[] ? Field : never;
}[keyof CorrelateOptions];

/**
 * The `--<name>-ports` option of a protocol read on its server ports, written to `field`; an
 * empty list turns the protocol off (its descriptor's `enabled: hasServerPorts(field)`).
 */
export function serverPortsOption(
  field: PortsField,
  spec: { readonly flag: string; readonly describe: string; readonly default: number[] },
): ProtocolOption {
  return {
    ...spec,
    type: 'ports',
    apply: (options, ports) => {
      options[field] = ports;
    },
  };
}

/** `enabled` of a protocol read only on its server ports: off when the list is empty. */
export function hasServerPorts(field: PortsField): (options: CorrelateOptions) => boolean {
  return (options) => options[field].length > 0;
}

/** The protocol's share of the memory budget (memory-budget.ts). */
export interface PendingBudget {
  /**
   * Relative weight of its pending table: all tables together get kPendingShare of the budget,
   * split by weight (dns 3, http 3, tcp 2, udp 1, relay 1).
   */
  readonly weight: number;
  /** Worst-case heap bytes of one pending entry (measured: test/tools/pending-memory.ts). */
  readonly bytesPerEntry: number;
}

/**
 * What the span mapper has made of one pair so far, for the protocol to finish. One reused
 * object per SpanMapper: read and write it only during map().
 */
export interface SpanDraft {
  readonly matched: boolean;
  /** kind === SERVER (set before map(); the protocol's own kind change does not update it). */
  readonly serverSide: boolean;
  /** The server's address as text, 'tcp' or 'udp', the service name, the duration in seconds. */
  readonly server: string;
  readonly transport: string;
  readonly serviceName: string;
  readonly seconds: number;
  /** The common attributes (addresses, ports, edges, source); add the protocol's own. */
  readonly attributes: Attributes;
  /** Set the span name (default: "TCP 443" / "UDP 123"). */
  name: string;
  /** SERVER when the server is local, else CLIENT; a protocol may override it. */
  kind: SpanKind;
  /** error.type: preset for unanswered pairs ("timeout", ...); set it for an error response. Non-null = status ERROR. */
  errorType: string | null;
  /** The joined trace (e.g. from an HTTP traceparent); null = a new trace. */
  parent: TraceParent | null;
  /** A trace-context header was present but invalid (counted). */
  invalidTraceparent: boolean;
  /** Matched pairs: the latency point; left null, the pair feeds wirespan.pair.duration. */
  metric: MetricPoint | null;
}

/** The protocol's part of the pair → span mapping, made once per SpanMapper. */
export interface ProtocolSpanMapping<Detail> {
  map(pair: PairData, detail: Detail | null, span: SpanDraft): void;
}

export interface ProtocolSpans<Detail> {
  /** Latency histograms this protocol's metric points name (semconv), besides wirespan.pair.duration. */
  readonly histograms?: readonly string[];
  /** Called once per SpanMapper (state such as HTTP route templates lives in the result). */
  create(options: SpanMapperOptions): ProtocolSpanMapping<Detail>;
}

/** The protocol's rules for the end-of-run summary and the HTML report. */
export interface ProtocolReport<Detail> {
  /** A matched pair whose response reports a failure (DNS rcode other than NOERROR, HTTP 5xx). */
  isError(detail: Detail): boolean;
  /** isError in words, for the report's legend ("DNS rcode ≠ NOERROR"). */
  readonly errorRule?: string;
  /** One line for the slowest-pairs table ("GET /api → 500"). */
  what(detail: Detail | null): string;
}

/**
 * What a protocol folder's index.ts exports (`export const fooProtocol: ProtocolDescriptor<FooDetail>`).
 * `Detail` is the type of Pair.detail for this protocol's pairs: a type alias of plain JSON
 * values (written under the protocol's name in JSONL).
 */
export interface ProtocolDescriptor<Detail extends object = Record<string, unknown>> {
  /** Name in output (JSONL "protocol" and detail key, wirespan.protocol) and flag prefix: 'dns'. */
  readonly name: string;
  /** Name shown in the summary tables and the HTML report (default: `name`). */
  readonly label?: string;
  /** Series colour in the HTML report (#rrggbb). */
  readonly color: string;
  /**
   * How the pipeline shards this matcher's packets across correlator workers: 'flow' (the
   * default: both directions of a conversation meet in one shard) or 'payload' (the same
   * payload bytes meet in one shard, whatever the flow: relay matching).
   */
  readonly shardBy?: 'flow' | 'payload';
  /** Its settings (CLI flags and config keys). Every protocol also gets `--<name>-timeout`. */
  readonly options?: readonly ProtocolOption[];
  /** Its pending table's share of the memory budget; absent: no table of its own. */
  readonly pending?: PendingBudget;
  /** Whether the options enable its matcher (e.g. relay is off unless configured). */
  enabled(options: CorrelateOptions): boolean;
  /** Its matcher; absent for pairs another protocol's matcher emits (e.g. gRPC from HTTP/2). */
  create?(context: MatcherContext): Matcher;
  /** Span name, kind, attributes, error status and metric (absent: "TCP 443", wirespan.pair.duration). */
  readonly spans?: ProtocolSpans<Detail>;
  /** Error rule and slowest-table text (absent: never an error, no text). */
  readonly report?: ProtocolReport<Detail>;
}

/** A registry: descriptors by protocol id (the index). Production uses registry.ts's matcherRegistry. */
export type ProtocolRegistry = readonly ProtocolDescriptor<object>[];

/** The index of protocol `name` in `registry`, or -1. Not for per-packet or per-pair paths. */
export function protocolIdOf(registry: ProtocolRegistry, name: string): number {
  for (let id = 0; id < registry.length; id++) if (registry[id]!.name === name) return id;
  return -1;
}

/**
 * The descriptor of a pair's protocol: by its stamped protocolId (an array index), else (a
 * hand-made pair, or one stamped against another registry) by name; undefined if unknown.
 */
export function descriptorOf(
  registry: ProtocolRegistry,
  pair: { readonly protocol: string; readonly protocolId?: number },
): ProtocolDescriptor<object> | undefined {
  const id = pair.protocolId;
  if (id !== undefined && id >= 0) {
    const descriptor = registry[id];
    if (descriptor !== undefined && descriptor.name === pair.protocol) return descriptor;
  }
  return registry[protocolIdOf(registry, pair.protocol)];
}

/** The display label of protocol `name` (the name itself when it has none or is unknown). */
export function labelOf(registry: ProtocolRegistry, name: string): string {
  return registry[protocolIdOf(registry, name)]?.label ?? name;
}

/** The report colour of protocol `name`, or `fallback` when unknown. */
export function colorOf(registry: ProtocolRegistry, name: string, fallback: string): string {
  return registry[protocolIdOf(registry, name)]?.color ?? fallback;
}

/** The flag (and config key) of a protocol's own timeout. */
export function timeoutFlag(descriptor: ProtocolDescriptor<object>): string {
  return `${descriptor.name}-timeout`;
}

/** A protocol's timeout in nanoseconds (every registered protocol has one). */
export function timeoutNanosOf(options: CorrelateOptions, protocol: string): number {
  const timeout = options.timeoutNanos[protocol];
  if (timeout === undefined)
    throw new RangeError(`no timeout for protocol ${protocol}: not in the registry?`);
  return timeout;
}

/** A protocol's pending cap (every registered protocol with a pending budget has one). */
export function maxPendingOf(options: CorrelateOptions, protocol: string): number {
  const cap = options.maxPending[protocol];
  if (cap === undefined)
    throw new RangeError(`no pending cap for protocol ${protocol}: not in the registry?`);
  return cap;
}
