/**
 * Service identity of observed servers: which `service.name` a pair's span belongs to, and the
 * bounded cache of Resource objects built for those names.
 *
 * Match forms (first entry that matches wins, in the order configured):
 * - `10.0.0.5:5432`, `[fd00::5]:5432`  one address and port
 * - `10.96.0.0/12`, `fd00::/8`, `10.0.0.5`  a network (a bare address is one host), any port
 * - `10.96.0.0/12:53`, `[fd00::/8]:53`  a network and one port
 * IPv6 with a port needs the brackets (otherwise the last group would read as a port).
 * No entry matches → its Kubernetes pod or Service with `--kubernetes` (observedService()), else
 * `{protocol}://{address}:{port}` of the observed server (IPv6 in brackets).
 */
import type { Attributes } from '@opentelemetry/api';
import { parseCidr } from '../../correlate/relay/networks.ts';
import { formatIp } from '../../decode/format.ts';
import type { AddressLookup } from '../../enrich/kubernetes/address-table.ts';
import { ATTR_CLIENT_SERVICE_NAME, ATTR_CLIENT_SERVICE_NAMESPACE } from '../../enrich/kubernetes/semconv.ts';

export interface ServiceMapEntry {
  /** `addr:port`, `CIDR` or `CIDR:port` (see the file comment). */
  match: string;
  /** The `service.name` of spans whose server matches. */
  service: string;
  /** Extra resource attributes for this service (e.g. service.namespace, k8s.deployment.name). */
  attributes?: Attributes;
}

interface CompiledEntry {
  ipVersion: 4 | 6;
  words: [number, number, number, number];
  masks: [number, number, number, number];
  /** -1: any port. */
  port: number;
  service: string;
  attributes: Attributes;
}

function prefixMask(prefixLength: number, index: number): number {
  const bits = Math.min(32, Math.max(0, prefixLength - 32 * index));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function parsePort(text: string, option: string, whole: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new Error(`${option}: "${whole}": "${text}" is not a port number (0-65535)`);
  }
  return Number(text);
}

/** Splits a match text into its CIDR part and port (-1 when there is none). */
function splitMatch(text: string, option: string): { cidr: string; port: number } {
  const match = text.trim();
  if (match.startsWith('[')) {
    const close = match.indexOf(']');
    if (close < 0) throw new Error(`${option}: "${text}": missing "]" after an IPv6 address`);
    const rest = match.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) {
      throw new Error(`${option}: "${text}": expected ":PORT" after "]"`);
    }
    return { cidr: match.slice(1, close), port: rest === '' ? -1 : parsePort(rest.slice(1), option, text) };
  }
  const colons = match.split(':').length - 1;
  if (colons === 1) {
    const at = match.indexOf(':');
    return { cidr: match.slice(0, at), port: parsePort(match.slice(at + 1), option, text) };
  }
  return { cidr: match, port: -1 };
}

export class ServiceMap {
  readonly #entries: CompiledEntry[];

  /** Throws an Error naming `option` and the bad entry for malformed configuration. */
  constructor(entries: readonly ServiceMapEntry[], option = 'serviceMap') {
    if (!Array.isArray(entries)) throw new Error(`${option} must be a list of {match, service} entries`);
    this.#entries = entries.map((entry, index) => {
      if (typeof entry?.match !== 'string' || typeof entry.service !== 'string' || entry.service === '') {
        throw new Error(
          `${option}[${index}] must be {match: "addr:port" | "CIDR" | "CIDR:port", service: "name"}, got ${JSON.stringify(entry)}`,
        );
      }
      const { cidr, port } = splitMatch(entry.match, `${option}[${index}]`);
      const parsed = parseCidr(cidr, `${option}[${index}]`);
      return {
        ipVersion: parsed.ipVersion,
        words: parsed.words,
        masks: [0, 1, 2, 3].map((i) => prefixMask(parsed.prefixLength, i)) as CompiledEntry['masks'],
        port,
        service: entry.service,
        attributes: entry.attributes ?? {},
      };
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The first entry matching the server address (decoder words, IPv4 in word 0) and port, or null. */
  lookup(
    ipVersion: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    port: number,
  ): { service: string; attributes: Attributes } | null {
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.ipVersion !== ipVersion || (entry.port >= 0 && entry.port !== port)) continue;
      const m = entry.masks;
      const w = entry.words;
      if (
        (w0 & m[0]) >>> 0 === w[0] &&
        (w1 & m[1]) >>> 0 === w[1] &&
        (w2 & m[2]) >>> 0 === w[2] &&
        (w3 & m[3]) >>> 0 === w[3]
      ) {
        return entry;
      }
    }
    return null;
  }
}

/** The observed server's service and the key of its Resource in the span path's cache. */
export interface ObservedService {
  name: string;
  attributes: Attributes | null;
  resourceKey: string;
}

/** The address words and ports of a pair (span-mapper.ts PairData). */
interface PairEnds {
  readonly ipVersion: number;
  readonly server0: number;
  readonly server1: number;
  readonly server2: number;
  readonly server3: number;
  readonly serverPort: number;
  readonly client0: number;
  readonly client1: number;
  readonly client2: number;
  readonly client3: number;
  readonly clientPort: number;
}

/** What ObservedServers keeps of one server (address, port, protocol). */
export interface ObservedServer {
  /** The address as formatIp() prints it. */
  readonly address: string;
  /** Its service map entry's service (configured), else its default `{protocol}://{address}:{port}`. */
  readonly service: ObservedService;
  /** `service` is a service map entry's (wins over Kubernetes). */
  readonly configured: boolean;
  /**
   * The attributes of its wirespan.pair.duration points over `pairDurationTransport` ('' until
   * made), made on first use (span-mapper.ts); never changed once made: the latency histograms
   * keep them.
   */
  pairDurationTransport: string;
  pairDurationAttributes: Attributes | null;
  /** The kind of its spans (span-mapper.ts kindOf(): it depends on the address only), -1 until made. */
  spanKind: number;
}

/** Slots of ObservedServers' table (a power of two): servers remembered at once, at most. */
const kServerSlots = 4096;

/**
 * The observed servers of the span path, each named once: its address text, service map entry
 * or default service name, and that service's object are made on the first pair of a server,
 * not per pair (the same strings then also hash once, in the Resource cache and the latency
 * series). A direct-mapped table keyed by the address words, port, IP version and protocol:
 * bounded, a colliding server replaces the one in its slot. Kubernetes
 * identities change at run time, so they are looked up per pair (observedService()).
 */
export class ObservedServers {
  readonly #services: ServiceMap;
  /** Per slot: address words 0-3, then port | ipVersion << 16 | (protocol id + 1) << 20 (-1: empty). */
  readonly #keys = new Int32Array(kServerSlots * 5);
  readonly #entries: (ObservedServer & { readonly protocol: string })[] = [];

  constructor(services: ServiceMap) {
    this.#services = services;
    for (let slot = 0; slot < kServerSlots; slot++) this.#keys[slot * 5 + 4] = -1;
  }

  /** The pair's server under `protocol` (`protocolId`: its registry index, -1 if none). */
  get(protocol: string, protocolId: number, pair: PairEnds): ObservedServer {
    const v = pair.ipVersion;
    const w0 = pair.server0 | 0;
    const w1 = pair.server1 | 0;
    const w2 = pair.server2 | 0;
    const w3 = pair.server3 | 0;
    const tag = pair.serverPort | (v << 16) | ((protocolId + 1) << 20);
    let h = Math.imul(w0 ^ tag, 0x9e3779b1);
    h = Math.imul(h ^ w1 ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ w2 ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ w3 ^ (h >>> 16), 0x27d4eb2f);
    const slot = (h ^ (h >>> 15)) & (kServerSlots - 1);
    const keys = this.#keys;
    const at = slot * 5;
    const entry = this.#entries[slot];
    if (
      keys[at] === w0 &&
      keys[at + 1] === w1 &&
      keys[at + 2] === w2 &&
      keys[at + 3] === w3 &&
      keys[at + 4] === tag &&
      entry !== undefined &&
      entry.protocol === protocol
    ) {
      return entry;
    }
    const made = this.#make(protocol, pair);
    keys[at] = w0;
    keys[at + 1] = w1;
    keys[at + 2] = w2;
    keys[at + 3] = w3;
    keys[at + 4] = tag;
    this.#entries[slot] = made;
    return made;
  }

  #make(protocol: string, pair: PairEnds): ObservedServer & { readonly protocol: string } {
    const v = pair.ipVersion;
    const address = formatIp(v, pair.server0, pair.server1, pair.server2, pair.server3);
    const mapped = this.#services.lookup(
      v,
      pair.server0,
      pair.server1,
      pair.server2,
      pair.server3,
      pair.serverPort,
    );
    const name = mapped?.service ?? defaultServiceName(protocol, address, v, pair.serverPort);
    return {
      protocol,
      address,
      service: { name, attributes: mapped?.attributes ?? null, resourceKey: name },
      configured: mapped !== null,
      pairDurationTransport: '',
      pairDurationAttributes: null,
      spanKind: -1,
    };
  }
}

/**
 * Names the observed server, first found: a service map entry (explicit configuration wins),
 * its Kubernetes pod or Service (`--kubernetes`; resource keyed by the whole identity, as two
 * namespaces may both run an "api"), the default `{protocol}://{address}:{port}`.
 */
export function observedService(
  server: ObservedServer,
  kubernetes: AddressLookup | null,
  pair: PairEnds,
): ObservedService {
  if (server.configured || kubernetes === null) return server.service;
  const v = pair.ipVersion;
  const kube = kubernetes.lookup(v, pair.server0, pair.server1, pair.server2, pair.server3, pair.serverPort);
  if (kube) return { name: kube.serviceName, attributes: kube.attributes, resourceKey: kube.key };
  return server.service;
}

/** The client's workload as the peer of the observed server (`client.service.*`), when Kubernetes knows it. */
export function addClientService(
  kubernetes: AddressLookup | null,
  pair: PairEnds,
  attributes: Attributes,
): void {
  const client = kubernetes?.lookup(
    pair.ipVersion,
    pair.client0,
    pair.client1,
    pair.client2,
    pair.client3,
    pair.clientPort,
  );
  if (!client) return;
  attributes[ATTR_CLIENT_SERVICE_NAME] = client.serviceName;
  attributes[ATTR_CLIENT_SERVICE_NAMESPACE] = client.serviceNamespace;
}

/** The default service name of an observed server: `dns://10.96.0.10:53`, `http://[fd00::1]:8080`. */
export function defaultServiceName(
  protocol: string,
  address: string,
  ipVersion: number,
  port: number,
): string {
  return ipVersion === 6 ? `${protocol}://[${address}]:${port}` : `${protocol}://${address}:${port}`;
}

/**
 * A bounded least-recently-used map from service name to a value built once per name (the
 * span Resource). Reusing the object matters: the OTLP serializer groups spans into
 * ResourceSpans by Resource object identity. When more than `capacity` services are seen, the
 * least recently used one is dropped; if it comes back, a new (equal) object is built, which
 * costs one extra ResourceSpans entry in a batch, never a wrong grouping.
 */
export class BoundedCache<V, A = undefined> {
  readonly #map = new Map<string, V>();
  readonly #capacity: number;
  readonly #build: (key: string, arg: A) => V;
  /** Values built (cache misses). */
  builds = 0;

  constructor(capacity: number, build: (key: string, arg: A) => V) {
    if (!(capacity >= 1)) throw new Error(`cache capacity must be at least 1, got ${capacity}`);
    this.#capacity = Math.floor(capacity);
    this.#build = build;
  }

  /** The value for `key`, built with `build(key, arg)` on a miss. */
  get(key: string, arg: A): V {
    const map = this.#map;
    const hit = map.get(key);
    if (hit !== undefined) {
      // Refresh recency only when eviction could happen: saves a delete+set per span otherwise.
      if (map.size >= this.#capacity) {
        map.delete(key);
        map.set(key, hit);
      }
      return hit;
    }
    const value = this.#build(key, arg);
    this.builds++;
    if (map.size >= this.#capacity) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(key, value);
    return value;
  }

  get size(): number {
    return this.#map.size;
  }
}
