/**
 * Pair → span description: name, kind, exact capture times, attributes (semantic conventions
 * plus wirespan.*), status, trace parent, observed service and the latency metric point. Pure:
 * no SDK objects, no I/O, no wall clock; one call per pair.
 *
 * Input pairs may be structured-cloned plain objects (from worker threads): only fields are read,
 * never methods or prototypes.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { ProtocolRegistry, ProtocolSpanMapping, SpanDraft } from '../../correlate/protocol.ts';
import { protocolIdOf } from '../../correlate/protocol.ts';
import { matcherRegistry } from '../../correlate/registry.ts';
import { NetworkSet } from '../../correlate/relay/networks.ts';
import { formatIp } from '../../decode/format.ts';
import type { AddressLookup } from '../../enrich/kubernetes/address-table.ts';
import { SpanKind, SpanStatusCode } from './api-enums.ts';
import {
  ATTR_WIRESPAN_CAPTURE_GAP,
  ATTR_WIRESPAN_PROTOCOL,
  type ATTR_WIRESPAN_REQUEST_BYTES,
  type ATTR_WIRESPAN_REQUEST_LAST_OFFSET_NS,
  type ATTR_WIRESPAN_REQUEST_PACKETS,
  type ATTR_WIRESPAN_RESPONSE_BYTES,
  type ATTR_WIRESPAN_RESPONSE_FIRST_OFFSET_NS,
  type ATTR_WIRESPAN_RESPONSE_PACKETS,
  ATTR_WIRESPAN_SOURCE_FILE,
  ATTR_WIRESPAN_SOURCE_PACKET,
  type ATTR_WIRESPAN_UNANSWERED_REASON,
  METRIC_WIRESPAN_PAIR_DURATION,
} from './attributes.ts';
import { tcpSpanName, udpSpanName } from './port-names.ts';
import {
  type ATTR_CLIENT_ADDRESS,
  type ATTR_CLIENT_PORT,
  ATTR_ERROR_TYPE,
  type ATTR_NETWORK_PEER_ADDRESS,
  type ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_TRANSPORT,
  type ATTR_NETWORK_TYPE,
  type ATTR_SERVER_ADDRESS,
  type ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
} from './semconv-stable.ts';
import {
  addClientService,
  type ObservedServer,
  ObservedServers,
  observedService,
  ServiceMap,
  type ServiceMapEntry,
} from './service-map.ts';
import type { TraceParent } from './traceparent.ts';

/** The fields of one message's edges that the mapper reads (agent/correlate/pair.ts MessageEdges). */
export interface EdgesData {
  readonly firstSeconds: number;
  readonly firstNanos: number;
  readonly lastSeconds: number;
  readonly lastNanos: number;
  readonly packets: number;
  readonly bytes: number;
  readonly fileId: number;
  readonly packet: number;
}

/** The fields of a Pair that the mapper reads; a Pair, or a structured clone of one, fits. */
export interface PairData {
  readonly outcome: number;
  readonly unansweredReason: number;
  readonly givenUpSeconds: number;
  readonly givenUpNanos: number;
  readonly captureGap?: boolean;
  readonly protocol: string;
  /** Index of `protocol` in the registry (Pair.protocolId); absent or stale: found by name. */
  readonly protocolId?: number;
  readonly transport: number;
  readonly ipVersion: number;
  readonly client0: number;
  readonly client1: number;
  readonly client2: number;
  readonly client3: number;
  readonly clientPort: number;
  readonly server0: number;
  readonly server1: number;
  readonly server2: number;
  readonly server3: number;
  readonly serverPort: number;
  readonly request: EdgesData;
  readonly response: EdgesData | null;
  readonly detail: Readonly<Record<string, unknown>> | null;
}

/** Outcome 0 = matched (agent/correlate/pair.ts Outcome). */
const kMatched = 0;
/** agent/correlate/pair.ts UnansweredReasonNames, by value. */
const kUnansweredReasonNames = [
  'expired',
  'evicted',
  'end_of_input',
  'connection_closed',
  'capture_gap',
] as const;

/**
 * `error.type` of an unanswered pair, by reason: no response before the timeout (or before the
 * capture ended) is a `timeout`; a request pushed out of a full pending table is `evicted`; a
 * connection closed or reset before the response (a refused TCP connect) is `connection_closed`.
 */
const kUnansweredErrorType: Readonly<Record<string, string>> = {
  expired: 'timeout',
  end_of_input: 'timeout',
  evicted: 'evicted',
  connection_closed: 'connection_closed',
  capture_gap: 'capture_gap',
};

/** RFC 1918, loopback and ULA fd00::/8 (documented default of `localNetworks`). */
export const kDefaultLocalNetworks: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '127.0.0.0/8',
  '::1/128',
  'fd00::/8',
];

export interface SpanMapperOptions {
  /** CIDRs of the observed node/pods; [] means nothing is local (every span CLIENT). */
  localNetworks: readonly string[];
  serviceMap: readonly ServiceMapEntry[];
  httpRoutes: readonly string[];
  /** When no route matches, identifier-like path segments become placeholders (default true). */
  httpRouteHeuristics?: boolean;
  /** Capture file names by file id, for wirespan.source.file; null to leave the attribute out. */
  sourceFiles: ((fileId: number) => string | undefined) | null;
  /** The protocols whose span mappings apply (default: registry.ts). */
  registry?: ProtocolRegistry;
  /** Kubernetes identities of addresses (`--kubernetes`); null: none. */
  kubernetes?: AddressLookup | null;
}

export interface MetricPoint {
  name: string;
  /** Seconds. */
  value: number;
  attributes: Attributes;
}

export interface MappedPair {
  name: string;
  kind: SpanKind;
  /** Capture time of the start and end: whole seconds and nanoseconds. */
  startSeconds: number;
  startNanos: number;
  endSeconds: number;
  endNanos: number;
  /** end − start, exact integer nanoseconds (≥ 0). */
  durationNanos: number;
  attributes: Attributes;
  /** ERROR or UNSET (the conventions leave success UNSET). */
  statusCode: SpanStatusCode;
  /** The joined trace, from a valid traceparent; null: a new trace. */
  parent: TraceParent | null;
  /** An HTTP traceparent header was present but invalid (ignored). */
  invalidTraceparent: boolean;
  serviceName: string;
  serviceAttributes: Attributes | null;
  /** Key of the service's Resource in the span path's cache (service-map.ts ObservedService). */
  resourceKey: string;
  /** Latency histogram point: matched pairs only. */
  metric: MetricPoint | null;
}

function transportName(transport: number): string {
  return transport === 6 ? 'tcp' : transport === 17 ? 'udp' : String(transport);
}

/** The attributes of a wirespan.pair.duration point. */
function pairDurationAttributes(protocol: string, transport: string, serviceName: string): Attributes {
  return {
    [ATTR_WIRESPAN_PROTOCOL]: protocol,
    [ATTR_NETWORK_TRANSPORT]: transport,
    [ATTR_SERVICE_NAME]: serviceName,
  };
}

/** The server's own wirespan.pair.duration attributes over `transport`, made once (ObservedServer). */
function serverPairDurationAttributes(
  server: ObservedServer,
  protocol: string,
  transport: string,
): Attributes {
  if (server.pairDurationTransport !== transport || server.pairDurationAttributes === null) {
    server.pairDurationTransport = transport;
    server.pairDurationAttributes = pairDurationAttributes(protocol, transport, server.service.name);
  }
  return server.pairDurationAttributes;
}

/** The span name of a protocol without a mapping of its own: "TCP 5432", "UDP 123". */
function defaultSpanName(transport: string, port: number): string {
  if (transport === 'tcp') return tcpSpanName(port);
  if (transport === 'udp') return udpSpanName(port);
  return `${transport.toUpperCase()} ${port}`;
}

/** Exact (s2,n2) − (s1,n1) in ns; pair.ts diffNanos, repeated to keep this module free of class imports. */
function diffNanos(s1: number, n1: number, s2: number, n2: number): number {
  return (s2 - s1) * 1_000_000_000 + (n2 - n1);
}

/**
 * The common attributes of a matched pair's span, in their export order. Written as a literal
 * with literal keys (checked against the constants by `satisfies`): V8 then gives the object a
 * fast shape with every one of these in-object and room for as many more, where keyed stores of
 * computed keys (15-23 per span) turned it into a slow dictionary (measured: the worker's span
 * path 1.4x faster, the OTLP encoder alone 3x, `npm run bench -- --otlp-encode`).
 */
function matchedAttributes(
  protocol: string,
  transport: string,
  pair: PairData,
  server: string,
  client: string,
  peerAddress: string,
  peerPort: number,
  requestLastOffset: number,
  responseFirstOffset: number,
  response: EdgesData,
): Attributes {
  const request = pair.request;
  return {
    'wirespan.protocol': protocol,
    'network.transport': transport,
    'network.type': pair.ipVersion === 6 ? 'ipv6' : 'ipv4',
    'server.address': server,
    'server.port': pair.serverPort,
    'client.address': client,
    'client.port': pair.clientPort,
    // The remote end as seen from the observed side.
    'network.peer.address': peerAddress,
    'network.peer.port': peerPort,
    'wirespan.request.packets': request.packets,
    'wirespan.request.bytes': request.bytes,
    'wirespan.request.last_offset_ns': requestLastOffset,
    'wirespan.response.first_offset_ns': responseFirstOffset,
    'wirespan.response.packets': response.packets,
    'wirespan.response.bytes': response.bytes,
  } satisfies Record<CommonKey | ResponseKey, AttributeValue>;
}

/** The common attributes of an unanswered pair's span (as matchedAttributes). */
function unansweredAttributes(
  protocol: string,
  transport: string,
  pair: PairData,
  server: string,
  client: string,
  peerAddress: string,
  peerPort: number,
  requestLastOffset: number,
  reason: string,
): Attributes {
  const request = pair.request;
  return {
    'wirespan.protocol': protocol,
    'network.transport': transport,
    'network.type': pair.ipVersion === 6 ? 'ipv6' : 'ipv4',
    'server.address': server,
    'server.port': pair.serverPort,
    'client.address': client,
    'client.port': pair.clientPort,
    'network.peer.address': peerAddress,
    'network.peer.port': peerPort,
    'wirespan.request.packets': request.packets,
    'wirespan.request.bytes': request.bytes,
    'wirespan.request.last_offset_ns': requestLastOffset,
    'wirespan.unanswered.reason': reason,
  } satisfies Record<CommonKey | typeof ATTR_WIRESPAN_UNANSWERED_REASON, AttributeValue>;
}

type CommonKey =
  | typeof ATTR_WIRESPAN_PROTOCOL
  | typeof ATTR_NETWORK_TRANSPORT
  | typeof ATTR_NETWORK_TYPE
  | typeof ATTR_SERVER_ADDRESS
  | typeof ATTR_SERVER_PORT
  | typeof ATTR_CLIENT_ADDRESS
  | typeof ATTR_CLIENT_PORT
  | typeof ATTR_NETWORK_PEER_ADDRESS
  | typeof ATTR_NETWORK_PEER_PORT
  | typeof ATTR_WIRESPAN_REQUEST_PACKETS
  | typeof ATTR_WIRESPAN_REQUEST_BYTES
  | typeof ATTR_WIRESPAN_REQUEST_LAST_OFFSET_NS;
type ResponseKey =
  | typeof ATTR_WIRESPAN_RESPONSE_FIRST_OFFSET_NS
  | typeof ATTR_WIRESPAN_RESPONSE_PACKETS
  | typeof ATTR_WIRESPAN_RESPONSE_BYTES;

/** The protocol's part of a span, filled per pair: one per SpanMapper. */
class Draft implements SpanDraft {
  matched = false;
  serverSide = false;
  server = '';
  transport = '';
  serviceName = '';
  seconds = 0;
  attributes: Attributes = {};
  name = '';
  kind: SpanKind = SpanKind.CLIENT;
  errorType: string | null = null;
  parent: TraceParent | null = null;
  invalidTraceparent = false;
  metric: MetricPoint | null = null;
}

export class SpanMapper {
  readonly #local: NetworkSet | null;
  readonly #servers: ObservedServers;
  readonly #sourceFiles: SpanMapperOptions['sourceFiles'];
  readonly #registry: ProtocolRegistry;
  /** By protocol id: the protocol's span mapping (null: transport and port only). */
  readonly #mappings: (ProtocolSpanMapping<object> | null)[];
  readonly #draft = new Draft();
  readonly #kubernetes: AddressLookup | null;

  /** Throws an Error naming the option for malformed configuration. */
  constructor(options: SpanMapperOptions) {
    this.#local =
      options.localNetworks.length === 0 ? null : new NetworkSet(options.localNetworks, 'localNetworks');
    this.#servers = new ObservedServers(new ServiceMap(options.serviceMap, 'serviceMap'));
    this.#sourceFiles = options.sourceFiles;
    this.#kubernetes = options.kubernetes ?? null;
    this.#registry = options.registry ?? matcherRegistry;
    this.#mappings = this.#registry.map((descriptor) => descriptor.spans?.create(options) ?? null);
  }

  /** The pair's protocol id: its stamped one, or (hand-made or foreign pairs) by name; -1 if unknown. */
  protocolId(pair: PairData): number {
    const id = pair.protocolId;
    if (id !== undefined && id >= 0 && this.#registry[id]?.name === pair.protocol) return id;
    return protocolIdOf(this.#registry, pair.protocol);
  }

  /**
   * CLIENT or SERVER: SERVER when the server address is local (also when both ends are: the
   * span is reported on behalf of the local server, once), CLIENT when only the client is local,
   * and CLIENT when neither is (the observer sits between them, on the client's path).
   */
  kindOf(pair: PairData): SpanKind {
    const local = this.#local;
    if (local === null) return SpanKind.CLIENT;
    const v = pair.ipVersion;
    if (local.contains(v, pair.server0, pair.server1, pair.server2, pair.server3)) return SpanKind.SERVER;
    return SpanKind.CLIENT;
  }

  /** The pair's span description, in a new MappedPair. */
  map(pair: PairData): MappedPair {
    return this.mapInto(pair, emptyMappedPair());
  }

  /**
   * map() into `into`, every field overwritten: the span path maps every pair into one reused
   * MappedPair (what it keeps, the attributes and metric point, are new per pair).
   */
  mapInto(pair: PairData, into: MappedPair): MappedPair {
    const request = pair.request;
    const response = pair.response;
    const matched = pair.outcome === kMatched && response !== null;
    const startSeconds = request.firstSeconds;
    const startNanos = request.firstNanos;
    let endSeconds = matched ? response.lastSeconds : pair.givenUpSeconds;
    let endNanos = matched ? response.lastNanos : pair.givenUpNanos;
    let durationNanos = diffNanos(startSeconds, startNanos, endSeconds, endNanos);
    if (!(durationNanos >= 0)) {
      // Never expected (the correlator orders edges); keep the span valid rather than negative.
      endSeconds = startSeconds;
      endNanos = startNanos;
      durationNanos = 0;
    }

    const protocol = pair.protocol;
    const protocolId = this.protocolId(pair);
    const observed = this.#servers.get(protocol, protocolId, pair);
    if (observed.spanKind < 0) observed.spanKind = this.kindOf(pair);
    const kind: SpanKind = observed.spanKind;
    const server = observed.address;
    const client = formatIp(pair.ipVersion, pair.client0, pair.client1, pair.client2, pair.client3);
    const transport = transportName(pair.transport);
    const serverSide = kind === SpanKind.SERVER;

    const peerAddress = serverSide ? client : server;
    const peerPort = serverSide ? pair.clientPort : pair.serverPort;
    const requestLastOffset = diffNanos(
      request.firstSeconds,
      request.firstNanos,
      request.lastSeconds,
      request.lastNanos,
    );
    const reason = matched ? null : (kUnansweredReasonNames[pair.unansweredReason] ?? 'expired');
    const attributes =
      reason === null
        ? matchedAttributes(
            protocol,
            transport,
            pair,
            server,
            client,
            peerAddress,
            peerPort,
            requestLastOffset,
            diffNanos(request.firstSeconds, request.firstNanos, response!.firstSeconds, response!.firstNanos),
            response!,
          )
        : unansweredAttributes(
            protocol,
            transport,
            pair,
            server,
            client,
            peerAddress,
            peerPort,
            requestLastOffset,
            reason,
          );
    let errorType = reason === null ? null : (kUnansweredErrorType[reason] ?? 'timeout');
    if (pair.captureGap) attributes[ATTR_WIRESPAN_CAPTURE_GAP] = true;
    if (this.#sourceFiles !== null) {
      const file = this.#sourceFiles(request.fileId);
      if (file !== undefined) {
        attributes[ATTR_WIRESPAN_SOURCE_FILE] = file;
        attributes[ATTR_WIRESPAN_SOURCE_PACKET] = request.packet;
      }
    }

    const service = observedService(observed, this.#kubernetes, pair);
    const serviceName = service.name;
    addClientService(this.#kubernetes, pair, attributes);

    const draft = this.#draft;
    draft.matched = matched;
    draft.serverSide = serverSide;
    draft.server = server;
    draft.transport = transport;
    draft.serviceName = serviceName;
    draft.seconds = durationNanos / 1e9;
    draft.attributes = attributes;
    draft.name = '';
    draft.kind = kind;
    draft.errorType = errorType;
    draft.parent = null;
    draft.invalidTraceparent = false;
    draft.metric = null;
    const mapping = this.#mappings[protocolId];
    if (mapping != null) mapping.map(pair, pair.detail, draft);
    const { parent, invalidTraceparent } = draft;
    // A protocol without a mapping of its own: transport + port, still low-cardinality.
    const name = draft.name === '' ? defaultSpanName(transport, pair.serverPort) : draft.name;
    let metric: MetricPoint | null = draft.metric;
    errorType = draft.errorType;
    if (metric === null && matched) {
      metric = {
        name: METRIC_WIRESPAN_PAIR_DURATION,
        value: draft.seconds,
        // The server's own (shared) attributes, unless Kubernetes named another service.
        attributes:
          service === observed.service
            ? serverPairDurationAttributes(observed, protocol, transport)
            : pairDurationAttributes(protocol, transport, serviceName),
      };
    }
    if (errorType !== null) attributes[ATTR_ERROR_TYPE] = errorType;

    into.name = name;
    into.kind = draft.kind;
    into.startSeconds = startSeconds;
    into.startNanos = startNanos;
    into.endSeconds = endSeconds;
    into.endNanos = endNanos;
    into.durationNanos = durationNanos;
    into.attributes = attributes;
    into.statusCode = errorType === null ? SpanStatusCode.UNSET : SpanStatusCode.ERROR;
    into.parent = parent;
    into.invalidTraceparent = invalidTraceparent;
    into.serviceName = serviceName;
    into.serviceAttributes = service.attributes;
    into.resourceKey = service.resourceKey;
    into.metric = metric;
    return into;
  }
}

/** A MappedPair to map into (SpanMapper.mapInto()). */
export function emptyMappedPair(): MappedPair {
  return {
    name: '',
    kind: SpanKind.CLIENT,
    startSeconds: 0,
    startNanos: 0,
    endSeconds: 0,
    endNanos: 0,
    durationNanos: 0,
    attributes: {},
    statusCode: SpanStatusCode.UNSET,
    parent: null,
    invalidTraceparent: false,
    serviceName: '',
    serviceAttributes: null,
    resourceKey: '',
    metric: null,
  };
}
