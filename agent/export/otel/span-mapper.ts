/**
 * Pair → span description: name, kind, exact capture times, attributes (semantic conventions
 * plus wirespan.*), status, trace parent, observed service and the latency metric point. Pure:
 * no SDK objects, no I/O, no wall clock; one call per pair.
 *
 * Input pairs may be structured-cloned plain objects (from worker threads): only fields are read,
 * never methods or prototypes.
 */
import { type Attributes, type HrTime, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_CLIENT_PORT,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '@opentelemetry/semantic-conventions';
import { redactUserinfo } from '../../correlate/http/redact.ts';
import { NetworkSet } from '../../correlate/relay/networks.ts';
import { formatIp } from '../../decode/format.ts';
import {
  ATTR_WIRESPAN_CAPTURE_GAP,
  ATTR_WIRESPAN_DNS_ANSWER_COUNT,
  ATTR_WIRESPAN_DNS_ID,
  ATTR_WIRESPAN_DNS_QUESTION_CLASS,
  ATTR_WIRESPAN_DNS_RETRANSMISSIONS,
  ATTR_WIRESPAN_PROTOCOL,
  ATTR_WIRESPAN_RELAY_OUT_ADDRESS,
  ATTR_WIRESPAN_RELAY_OUT_PORT,
  ATTR_WIRESPAN_RELAY_OUT_TRANSPORT,
  ATTR_WIRESPAN_REQUEST_BYTES,
  ATTR_WIRESPAN_REQUEST_LAST_OFFSET_NS,
  ATTR_WIRESPAN_REQUEST_PACKETS,
  ATTR_WIRESPAN_RESPONSE_BYTES,
  ATTR_WIRESPAN_RESPONSE_FIRST_OFFSET_NS,
  ATTR_WIRESPAN_RESPONSE_PACKETS,
  ATTR_WIRESPAN_SERVICE,
  ATTR_WIRESPAN_SOURCE_FILE,
  ATTR_WIRESPAN_SOURCE_PACKET,
  ATTR_WIRESPAN_TCP_SYNS,
  ATTR_WIRESPAN_UNANSWERED_REASON,
  METRIC_WIRESPAN_PAIR_DURATION,
} from './attributes.ts';
import { HttpRoutes } from './http-routes.ts';
import {
  ATTR_DNS_QUESTION_NAME,
  ATTR_DNS_QUESTION_TYPE,
  ATTR_DNS_RESPONSE_CODE,
  ATTR_HTTP_REQUEST_BODY_SIZE,
  ATTR_HTTP_RESPONSE_BODY_SIZE,
  ATTR_URL_TEMPLATE,
  METRIC_DNS_LOOKUP_DURATION,
} from './semconv.ts';
import { defaultServiceName, ServiceMap, type ServiceMapEntry } from './service-map.ts';
import { parseTraceParent, type TraceParent } from './traceparent.ts';

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

/** HTTP methods the conventions know; others are reported as `_OTHER` with the original kept. */
const kKnownMethods = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

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
  /** Capture file names by file id, for wirespan.source.file; null to leave the attribute out. */
  sourceFiles: ((fileId: number) => string | undefined) | null;
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
  startTime: HrTime;
  endTime: HrTime;
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
  /** Latency histogram point: matched pairs only. */
  metric: MetricPoint | null;
}

function transportName(transport: number): string {
  return transport === 6 ? 'tcp' : transport === 17 ? 'udp' : String(transport);
}

/** Exact (s2,n2) − (s1,n1) in ns; pair.ts diffNanos, repeated to keep this module free of class imports. */
function diffNanos(s1: number, n1: number, s2: number, n2: number): number {
  return (s2 - s1) * 1_000_000_000 + (n2 - n1);
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function int(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

/** Host header → host without port (`example.com:8080` → `example.com`, `[::1]:80` → `::1`). */
function hostOnly(hostHeader: string): string {
  const at = hostHeader.lastIndexOf('@'); // userinfo (not valid in Host, but possible) is never exported
  const host = at < 0 ? hostHeader : hostHeader.slice(at + 1);
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close > 0 ? host.slice(1, close) : host;
  }
  const colon = host.indexOf(':');
  return colon >= 0 && host.indexOf(':', colon + 1) < 0 ? host.slice(0, colon) : host;
}

/** Splits an HTTP request target into path and query (undefined when there is none). */
function splitTarget(target: string): { path: string; query: string | undefined } {
  let pathAndQuery = target;
  if (/^https?:\/\//i.test(target)) {
    // absolute-form (proxy requests): keep only the path and query.
    const slash = target.indexOf('/', target.indexOf('//') + 2);
    pathAndQuery = slash < 0 ? '/' : target.slice(slash);
  }
  const hash = pathAndQuery.indexOf('#');
  if (hash >= 0) pathAndQuery = pathAndQuery.slice(0, hash);
  const question = pathAndQuery.indexOf('?');
  return question < 0
    ? { path: pathAndQuery, query: undefined }
    : { path: pathAndQuery.slice(0, question), query: pathAndQuery.slice(question + 1) };
}

export class SpanMapper {
  readonly #local: NetworkSet | null;
  readonly #services: ServiceMap;
  readonly #routes: HttpRoutes;
  readonly #sourceFiles: SpanMapperOptions['sourceFiles'];

  /** Throws an Error naming the option for malformed configuration. */
  constructor(options: SpanMapperOptions) {
    this.#local =
      options.localNetworks.length === 0 ? null : new NetworkSet(options.localNetworks, 'localNetworks');
    this.#services = new ServiceMap(options.serviceMap, 'serviceMap');
    this.#routes = new HttpRoutes(options.httpRoutes, 'httpRoutes');
    this.#sourceFiles = options.sourceFiles;
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

  map(pair: PairData): MappedPair {
    const request = pair.request;
    const response = pair.response;
    const matched = pair.outcome === kMatched && response !== null;
    const startTime: HrTime = [request.firstSeconds, request.firstNanos];
    let endTime: HrTime = matched
      ? [response.lastSeconds, response.lastNanos]
      : [pair.givenUpSeconds, pair.givenUpNanos];
    let durationNanos = diffNanos(startTime[0], startTime[1], endTime[0], endTime[1]);
    if (!(durationNanos >= 0)) {
      // Never expected (the correlator orders edges); keep the span valid rather than negative.
      endTime = startTime;
      durationNanos = 0;
    }

    const kind = this.kindOf(pair);
    const server = formatIp(pair.ipVersion, pair.server0, pair.server1, pair.server2, pair.server3);
    const client = formatIp(pair.ipVersion, pair.client0, pair.client1, pair.client2, pair.client3);
    const transport = transportName(pair.transport);
    const protocol = pair.protocol;
    const serverSide = kind === SpanKind.SERVER;

    const attributes: Attributes = {
      [ATTR_WIRESPAN_PROTOCOL]: protocol,
      [ATTR_NETWORK_TRANSPORT]: transport,
      [ATTR_NETWORK_TYPE]: pair.ipVersion === 6 ? 'ipv6' : 'ipv4',
      [ATTR_SERVER_ADDRESS]: server,
      [ATTR_SERVER_PORT]: pair.serverPort,
      [ATTR_CLIENT_ADDRESS]: client,
      [ATTR_CLIENT_PORT]: pair.clientPort,
      // The remote end as seen from the observed side.
      [ATTR_NETWORK_PEER_ADDRESS]: serverSide ? client : server,
      [ATTR_NETWORK_PEER_PORT]: serverSide ? pair.clientPort : pair.serverPort,
      [ATTR_WIRESPAN_REQUEST_PACKETS]: request.packets,
      [ATTR_WIRESPAN_REQUEST_BYTES]: request.bytes,
      [ATTR_WIRESPAN_REQUEST_LAST_OFFSET_NS]: diffNanos(
        request.firstSeconds,
        request.firstNanos,
        request.lastSeconds,
        request.lastNanos,
      ),
    };
    if (matched) {
      attributes[ATTR_WIRESPAN_RESPONSE_FIRST_OFFSET_NS] = diffNanos(
        request.firstSeconds,
        request.firstNanos,
        response.firstSeconds,
        response.firstNanos,
      );
      attributes[ATTR_WIRESPAN_RESPONSE_PACKETS] = response.packets;
      attributes[ATTR_WIRESPAN_RESPONSE_BYTES] = response.bytes;
    }
    let errorType: string | null = null;
    if (!matched) {
      const reason = kUnansweredReasonNames[pair.unansweredReason] ?? 'expired';
      attributes[ATTR_WIRESPAN_UNANSWERED_REASON] = reason;
      errorType = kUnansweredErrorType[reason] ?? 'timeout';
    }
    if (pair.captureGap) attributes[ATTR_WIRESPAN_CAPTURE_GAP] = true;
    if (this.#sourceFiles !== null) {
      const file = this.#sourceFiles(request.fileId);
      if (file !== undefined) {
        attributes[ATTR_WIRESPAN_SOURCE_FILE] = file;
        attributes[ATTR_WIRESPAN_SOURCE_PACKET] = request.packet;
      }
    }

    const mapped = this.#services.lookup(
      pair.ipVersion,
      pair.server0,
      pair.server1,
      pair.server2,
      pair.server3,
      pair.serverPort,
    );
    const serviceName =
      mapped?.service ?? defaultServiceName(protocol, server, pair.ipVersion, pair.serverPort);

    const detail = pair.detail;
    let name: string;
    let parent: TraceParent | null = null;
    let invalidTraceparent = false;
    let metric: MetricPoint | null = null;
    const seconds = durationNanos / 1e9;

    switch (protocol) {
      case 'dns': {
        const type = str(detail?.type);
        name = type === null ? 'DNS' : `DNS ${type}`;
        const question = str(detail?.name);
        if (question !== null) attributes[ATTR_DNS_QUESTION_NAME] = question;
        if (type !== null) attributes[ATTR_DNS_QUESTION_TYPE] = type;
        const qclass = str(detail?.class);
        if (qclass !== null) attributes[ATTR_WIRESPAN_DNS_QUESTION_CLASS] = qclass;
        const id = int(detail?.id);
        if (id !== null) attributes[ATTR_WIRESPAN_DNS_ID] = id;
        const retransmissions = int(detail?.retransmissions);
        if (retransmissions !== null && retransmissions > 0) {
          attributes[ATTR_WIRESPAN_DNS_RETRANSMISSIONS] = retransmissions;
        }
        const rcode = str(detail?.rcode);
        if (rcode !== null) {
          attributes[ATTR_DNS_RESPONSE_CODE] = rcode;
          if (rcode !== 'NOERROR' && errorType === null) errorType = rcode;
        }
        const answers = int(detail?.answers);
        if (answers !== null) attributes[ATTR_WIRESPAN_DNS_ANSWER_COUNT] = answers;
        if (matched) {
          const metricAttributes: Attributes = {
            [ATTR_NETWORK_TRANSPORT]: transport,
            [ATTR_WIRESPAN_SERVICE]: serviceName,
          };
          if (type !== null) metricAttributes[ATTR_DNS_QUESTION_TYPE] = type;
          if (errorType !== null) metricAttributes[ATTR_ERROR_TYPE] = errorType;
          metric = { name: METRIC_DNS_LOOKUP_DURATION, value: seconds, attributes: metricAttributes };
        }
        break;
      }
      case 'http': {
        const rawMethod = str(detail?.method) ?? 'GET';
        const known = kKnownMethods.has(rawMethod);
        const method = known ? rawMethod : '_OTHER';
        attributes[ATTR_HTTP_REQUEST_METHOD] = method;
        if (!known) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = rawMethod;
        const target = str(detail?.target) ?? '/';
        const { path, query } = splitTarget(target);
        attributes[ATTR_URL_PATH] = path;
        if (query !== undefined) attributes[ATTR_URL_QUERY] = query;
        attributes[ATTR_URL_SCHEME] = 'http';
        const host = str(detail?.host);
        if (host !== null) attributes[ATTR_SERVER_ADDRESS] = hostOnly(host);
        if (!serverSide) {
          const authority =
            host ??
            (pair.ipVersion === 6 ? `[${server}]` : server) +
              (pair.serverPort === 80 ? '' : `:${pair.serverPort}`);
          const full = /^https?:\/\//i.test(target)
            ? target // absolute-form (a proxy request) already is the full URL, redacted at parse time
            : `http://${authority}${target.startsWith('/') ? target : `/${target}`}`;
          // A Host header cannot carry userinfo, but hostile traffic may send one anyway.
          attributes[ATTR_URL_FULL] = full.includes('@') ? redactUserinfo(full) : full;
        }
        const version = str(detail?.version);
        if (version !== null) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = version.replace(/^HTTP\//i, '');
        const userAgent = str(detail?.user_agent);
        if (userAgent !== null) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
        const requestLength = int(detail?.request_content_length);
        if (requestLength !== null) attributes[ATTR_HTTP_REQUEST_BODY_SIZE] = requestLength;
        const responseLength = int(detail?.response_content_length);
        if (responseLength !== null) attributes[ATTR_HTTP_RESPONSE_BODY_SIZE] = responseLength;
        const status = int(detail?.status);
        if (matched && status !== null) {
          attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
          // 5xx: error on both sides; 4xx: the client's error only (the server did its job).
          if (status >= 500 || (status >= 400 && !serverSide)) errorType = String(status);
        }
        const route = this.#routes.size > 0 ? this.#routes.match(path) : null;
        if (route !== null) attributes[serverSide ? ATTR_HTTP_ROUTE : ATTR_URL_TEMPLATE] = route;
        const nameMethod = known ? rawMethod : 'HTTP';
        name = route === null ? nameMethod : `${nameMethod} ${route}`;
        if (detail?.traceparent !== undefined && detail.traceparent !== null) {
          parent = parseTraceParent(detail.traceparent);
          invalidTraceparent = parent === null;
        }
        if (matched) {
          const metricAttributes: Attributes = {
            [ATTR_HTTP_REQUEST_METHOD]: method,
            [ATTR_URL_SCHEME]: 'http',
            [ATTR_WIRESPAN_SERVICE]: serviceName,
          };
          if (status !== null) metricAttributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
          if (version !== null)
            metricAttributes[ATTR_NETWORK_PROTOCOL_VERSION] = version.replace(/^HTTP\//i, '');
          if (route !== null) metricAttributes[serverSide ? ATTR_HTTP_ROUTE : ATTR_URL_TEMPLATE] = route;
          if (errorType !== null) metricAttributes[ATTR_ERROR_TYPE] = errorType;
          metric = {
            name: serverSide ? METRIC_HTTP_SERVER_REQUEST_DURATION : METRIC_HTTP_CLIENT_REQUEST_DURATION,
            value: seconds,
            attributes: metricAttributes,
          };
        }
        break;
      }
      case 'tcp': {
        name = `TCP connect ${pair.serverPort}`;
        const syns = int(detail?.syns);
        if (syns !== null) attributes[ATTR_WIRESPAN_TCP_SYNS] = syns;
        break;
      }
      case 'udp':
        name = `UDP ${pair.serverPort}`;
        break;
      case 'relay': {
        name = `RELAY ${pair.serverPort}`;
        const out = detail?.out as Record<string, unknown> | undefined;
        const outAddress = str(out?.address);
        if (outAddress !== null) attributes[ATTR_WIRESPAN_RELAY_OUT_ADDRESS] = outAddress;
        const outPort = int(out?.port);
        if (outPort !== null) attributes[ATTR_WIRESPAN_RELAY_OUT_PORT] = outPort;
        const outTransport = str(out?.transport);
        if (outTransport !== null) attributes[ATTR_WIRESPAN_RELAY_OUT_TRANSPORT] = outTransport;
        break;
      }
      default:
        // A protocol added later without its own mapping: transport + port, still low-cardinality.
        name = `${transport.toUpperCase()} ${pair.serverPort}`;
        break;
    }
    if (metric === null && matched) {
      metric = {
        name: METRIC_WIRESPAN_PAIR_DURATION,
        value: seconds,
        attributes: {
          [ATTR_WIRESPAN_PROTOCOL]: protocol,
          [ATTR_NETWORK_TRANSPORT]: transport,
          [ATTR_WIRESPAN_SERVICE]: serviceName,
        },
      };
    }
    if (errorType !== null) attributes[ATTR_ERROR_TYPE] = errorType;

    return {
      name,
      kind,
      startTime,
      endTime,
      durationNanos,
      attributes,
      statusCode: errorType === null ? SpanStatusCode.UNSET : SpanStatusCode.ERROR,
      parent,
      invalidTraceparent,
      serviceName,
      serviceAttributes: mapped === null ? null : mapped.attributes,
      metric,
    };
  }
}
