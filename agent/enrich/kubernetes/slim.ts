/**
 * The few fields wirespan reads from each watched Kubernetes object, copied out of the API
 * object as it arrives (list page or watch event) so the informer caches hold these small
 * records and never whole objects (a Pod is ~10 KiB of JSON; this is a few hundred bytes).
 * Every list is cut to a bound (counted by the caller), and anything malformed gives null.
 *
 * Input is untyped: watch events are raw JSON and list items typed objects with the same
 * field names, and neither is trusted.
 */
import { kResourceAnnotationPrefix } from './semconv.ts';

/** What ListWatch needs to key and version an object. */
export interface SlimMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
}

export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
}

export interface SlimPod {
  metadata: SlimMeta;
  /** Only the well-known app.kubernetes.io labels naming services (an opt-in source of names). */
  labels: Record<string, string>;
  /** Only `resource.opentelemetry.io/*` annotations. */
  annotations: Record<string, string>;
  /** The controller (ownerReferences entry with controller: true), if any. */
  owner: OwnerRef | null;
  nodeName: string;
  hostNetwork: boolean;
  /** Container ports (the host's ports when hostNetwork); kept only for hostNetwork pods. */
  hostPorts: number[];
  ips: string[];
  phase: string;
}

/** A ReplicaSet or Job: only its own controller matters (Deployment, CronJob). */
export interface SlimOwned {
  metadata: SlimMeta;
  owner: OwnerRef | null;
}

export interface SlimService {
  metadata: SlimMeta;
  clusterIPs: string[];
  ports: number[];
}

export interface SlimEndpointSlice {
  metadata: SlimMeta;
  /** The `kubernetes.io/service-name` label. */
  service: string;
  ports: number[];
  /** Endpoint addresses that are not a Pod's (targetRef kind Pod endpoints are the Pod's own addresses). */
  addresses: string[];
}

/** Well-known labels read for names (opt-in, see identity.ts). */
export const kNameLabels = [
  'app.kubernetes.io/instance',
  'app.kubernetes.io/name',
  'app.kubernetes.io/version',
];

/** Default cap on objects cached per kind and on addresses mapped (--kubernetes-max-objects). */
export const kDefaultMaxObjects = 50_000;

const kMaxAnnotations = 16;
const kMaxValueLength = 255;
const kMaxPorts = 64;
const kMaxIps = 8;
/** The API server itself caps a slice at 1000 endpoints. */
const kMaxSliceAddresses = 1000;

type Json = Record<string, unknown>;

function object(value: unknown): Json | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, kMaxValueLength) : '';
}

function list(value: unknown, max: number): unknown[] {
  return Array.isArray(value) ? value.slice(0, max) : [];
}

function port(value: unknown): number {
  return Number.isInteger(value) && (value as number) > 0 && (value as number) <= 65535
    ? (value as number)
    : 0;
}

function meta(raw: Json | null): SlimMeta | null {
  const metadata = object(raw?.metadata);
  const name = text(metadata?.name);
  if (metadata === null || name === '') return null;
  return {
    name,
    namespace: text(metadata.namespace),
    uid: text(metadata.uid),
    resourceVersion: text(metadata.resourceVersion),
  };
}

function controller(raw: Json | null): OwnerRef | null {
  for (const item of list(object(raw?.metadata)?.ownerReferences, kMaxPorts)) {
    const ref = object(item);
    if (ref?.controller === true && text(ref.kind) !== '' && text(ref.name) !== '') {
      return { kind: text(ref.kind), name: text(ref.name), uid: text(ref.uid) };
    }
  }
  return null;
}

export function slimPod(value: unknown): SlimPod | null {
  const raw = object(value);
  const metadata = meta(raw);
  if (metadata === null) return null;
  const rawMeta = object(raw?.metadata);
  const labels: Record<string, string> = {};
  const rawLabels = object(rawMeta?.labels);
  for (const key of kNameLabels) {
    const label = text(rawLabels?.[key]);
    if (label !== '') labels[key] = label;
  }
  const annotations: Record<string, string> = {};
  let kept = 0;
  for (const [key, annotation] of Object.entries(object(rawMeta?.annotations) ?? {})) {
    if (!key.startsWith(kResourceAnnotationPrefix) || typeof annotation !== 'string') continue;
    if (kept++ >= kMaxAnnotations) break;
    annotations[key.slice(0, kMaxValueLength)] = text(annotation);
  }
  const spec = object(raw?.spec);
  const status = object(raw?.status);
  const hostNetwork = spec?.hostNetwork === true;
  const hostPorts: number[] = [];
  if (hostNetwork) {
    for (const container of list(spec?.containers, kMaxPorts)) {
      for (const item of list(object(container)?.ports, kMaxPorts)) {
        const p = port(object(item)?.containerPort);
        if (p !== 0 && hostPorts.length < kMaxPorts && !hostPorts.includes(p)) hostPorts.push(p);
      }
    }
  }
  const ips: string[] = [];
  for (const item of list(status?.podIPs, kMaxIps)) {
    const ip = text(object(item)?.ip);
    if (ip !== '' && !ips.includes(ip)) ips.push(ip);
  }
  const podIP = text(status?.podIP);
  if (podIP !== '' && !ips.includes(podIP) && ips.length < kMaxIps) ips.push(podIP);
  return {
    metadata,
    labels,
    annotations,
    owner: controller(raw),
    nodeName: text(spec?.nodeName),
    hostNetwork,
    hostPorts,
    ips,
    phase: text(status?.phase),
  };
}

export function slimOwned(value: unknown): SlimOwned | null {
  const raw = object(value);
  const metadata = meta(raw);
  return metadata === null ? null : { metadata, owner: controller(raw) };
}

export function slimService(value: unknown): SlimService | null {
  const raw = object(value);
  const metadata = meta(raw);
  if (metadata === null) return null;
  const spec = object(raw?.spec);
  const clusterIPs: string[] = [];
  for (const item of [...list(spec?.clusterIPs, kMaxIps), spec?.clusterIP]) {
    const ip = text(item);
    // "None": a headless Service, whose addresses are its pods'.
    if (ip !== '' && ip !== 'None' && !clusterIPs.includes(ip)) clusterIPs.push(ip);
  }
  const ports = list(spec?.ports, kMaxPorts)
    .map((item) => port(object(item)?.port))
    .filter((p) => p !== 0);
  return { metadata, clusterIPs, ports };
}

export function slimEndpointSlice(value: unknown): SlimEndpointSlice | null {
  const raw = object(value);
  const metadata = meta(raw);
  if (metadata === null) return null;
  const service = text(object(object(raw?.metadata)?.labels)?.['kubernetes.io/service-name']);
  const ports = list(raw?.ports, kMaxPorts)
    .map((item) => port(object(item)?.port))
    .filter((p) => p !== 0);
  const addresses: string[] = [];
  for (const item of list(raw?.endpoints, kMaxSliceAddresses)) {
    const endpoint = object(item);
    if (text(object(endpoint?.targetRef)?.kind) === 'Pod') continue;
    for (const address of list(endpoint?.addresses, kMaxIps)) {
      const ip = text(address);
      if (ip !== '' && addresses.length < kMaxSliceAddresses) addresses.push(ip);
    }
  }
  return { metadata, service, ports, addresses };
}
