/**
 * Resources: wirespan's own (the agent's metrics) and one per observed service (the spans and
 * the latency histograms).
 *
 * The base is what NodeSDK (sdk-node, not used: docs/architecture.md says why) would detect
 * (same detectors, same `OTEL_NODE_RESOURCE_DETECTORS` names, `OTEL_RESOURCE_ATTRIBUTES` and
 * `OTEL_SERVICE_NAME` through the env detector) over the SDK default resource, with
 * `service.name=wirespan` unless the environment names the agent. The MeterProvider and the
 * span path's per-service resources share it.
 *
 * wirespan's own resource is stable across restarts, so a restart does not start new Prometheus
 * series: by default no `service.instance.id` detector (a random UUID per start) and no
 * `process.pid`/`process.parent_pid`; `service.instance.id` is `{k8s.node.name}/{k8s.pod.name}`
 * when both are known (the chart sets them), else the host name. OTEL_RESOURCE_ATTRIBUTES and an
 * explicit OTEL_NODE_RESOURCE_DETECTORS still win.
 *
 * Observed-service resources: the base MINUS what describes the wirespan process or its host
 * (`service.*`, `process.*`, `host.*`, `os.*`, and the pod's `k8s.pod.*`, `k8s.namespace.*`,
 * `k8s.container.*`, `k8s.daemonset.*`, `container.*`, and `telemetry.*`: the observed server is
 * another program, often on another machine, and not written in wirespan's SDK language) PLUS
 * `service.name` from the service map (or the default `{protocol}://{address}:{port}`) and the
 * map entry's extra attributes. What the user set in
 * OTEL_RESOURCE_ATTRIBUTES under other keys (k8s.node.name, deployment.environment.name, ...)
 * applies to both. OTEL_SERVICE_NAME names wirespan itself, never an observed service.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { RawResourceAttribute, Resource, ResourceDetector } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from './semconv-stable.ts';

// Development-status resource attributes (copied, as semconv.ts explains).
const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id';
const ATTR_PROCESS_PID = 'process.pid';
const ATTR_PROCESS_PARENT_PID = 'process.parent_pid';
const ATTR_HOST_NAME = 'host.name';
const ATTR_K8S_NODE_NAME = 'k8s.node.name';
const ATTR_K8S_POD_NAME = 'k8s.pod.name';

/** Default `service.name` of wirespan's own telemetry. */
export const kAgentServiceName = 'wirespan';

/**
 * wirespan's own resource, with async attributes (host.id) settled so it can be serialised at
 * once. The SDK's resources package (its detectors, the api and core: ~45 ms of a thread's start)
 * loads here, on the exporter's thread only: the workers make their spans' resources with
 * serviceResource().
 */
export async function detectBaseResource(extra: Attributes = {}): Promise<Resource> {
  const resources = await import('@opentelemetry/resources');
  const { detectors, explicit } = await resourceDetectorsFromEnv(resources);
  const detected = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: kAgentServiceName, ...extra }))
    .merge(resources.detectResources({ detectors }));
  await detected.waitForAsyncAttributes?.();
  if (explicit) return detected;
  return resources.resourceFromAttributes(stableIdentity(detected.attributes), {
    schemaUrl: detected.schemaUrl,
  });
}

/**
 * The detectors to run: the names in OTEL_NODE_RESOURCE_DETECTORS (NodeSDK's names, sdk-node
 * utils getResourceDetectorsFromEnv), else NodeSDK's default list without its random
 * service.instance.id (`explicit` false: see stableIdentity()).
 */
async function resourceDetectorsFromEnv(
  resources: typeof import('@opentelemetry/resources'),
): Promise<{ detectors: ResourceDetector[]; explicit: boolean }> {
  const { getStringListFromEnv } = await import('@opentelemetry/core');
  const names = getStringListFromEnv('OTEL_NODE_RESOURCE_DETECTORS');
  const { hostDetector, osDetector, serviceInstanceIdDetector, processDetector, envDetector } = resources;
  if (names === undefined || names.length === 0) {
    return { detectors: [processDetector, hostDetector, osDetector, envDetector], explicit: false };
  }
  const byName = new Map<string, ResourceDetector>([
    ['host', hostDetector],
    ['os', osDetector],
    ['serviceinstance', serviceInstanceIdDetector],
    ['process', processDetector],
    ['env', envDetector],
  ]);
  if (names.includes('all')) return { detectors: [...byName.values()], explicit: true };
  if (names.includes('none')) return { detectors: [], explicit: true };
  const { diag } = await import('@opentelemetry/api');
  const detectors = names.flatMap((name) => {
    const detector = byName.get(name);
    if (!detector) diag.warn(`Invalid resource detector "${name}" in OTEL_NODE_RESOURCE_DETECTORS`);
    return detector ? [detector] : [];
  });
  return { detectors, explicit: true };
}

/** Without per-start attributes (pids), with a service.instance.id that survives restarts. */
function stableIdentity(detected: Attributes): Attributes {
  const attributes = { ...detected };
  delete attributes[ATTR_PROCESS_PID];
  delete attributes[ATTR_PROCESS_PARENT_PID];
  if (attributes[ATTR_SERVICE_INSTANCE_ID] === undefined) {
    const node = attributes[ATTR_K8S_NODE_NAME];
    const pod = attributes[ATTR_K8S_POD_NAME];
    const host = attributes[ATTR_HOST_NAME];
    const instance =
      typeof node === 'string' && typeof pod === 'string'
        ? `${node}/${pod}`
        : typeof host === 'string'
          ? host
          : null;
    if (instance !== null) attributes[ATTR_SERVICE_INSTANCE_ID] = instance;
  }
  return attributes;
}

/**
 * Attributes that describe the agent's own process or pod, never an observed server:
 * `k8s.pod.*`, `k8s.namespace.name` and `k8s.container.*` name the wirespan pod (the chart
 * sets them from the downward API), so copying them would make every server look like it.
 */
const kAgentOnlyPrefixes = [
  'service.',
  'process.',
  'host.',
  'os.',
  'k8s.pod.',
  'k8s.namespace.',
  'k8s.container.',
  'k8s.daemonset.',
  'container.',
  'telemetry.',
];

/** The base attributes that observed-service resources inherit (see the file comment). */
export function sharedAttributes(base: Resource): Attributes {
  const shared: Attributes = {};
  for (const [key, value] of Object.entries(base.attributes)) {
    if (!kAgentOnlyPrefixes.some((prefix) => key.startsWith(prefix))) shared[key] = value;
  }
  return shared;
}

/** The resource of one observed service. */
export function serviceResource(
  shared: Attributes,
  serviceName: string,
  attributes: Attributes | null,
): Resource {
  return new ServiceResource({ ...shared, ...attributes, [ATTR_SERVICE_NAME]: serviceName });
}

/**
 * An observed service's resource: the attributes the SDK's resourceFromAttributes() keeps
 * (ResourceImpl: a non-empty key, a value of a valid attribute type), no schema URL, nothing
 * async. Not the SDK's class: its package loads the detectors, the api and core (~45 ms of each
 * worker's start).
 */
class ServiceResource implements Resource {
  readonly attributes: Attributes = {};
  readonly asyncAttributesPending = false;
  readonly schemaUrl: string | undefined;

  constructor(attributes: Attributes, schemaUrl?: string) {
    for (const [key, value] of Object.entries(attributes)) {
      if (key !== '' && isSimpleAttributeValue(value)) this.attributes[key] = value;
    }
    this.schemaUrl = schemaUrl;
  }

  async waitForAsyncAttributes(): Promise<void> {}

  getRawAttributes(): RawResourceAttribute[] {
    return Object.entries(this.attributes);
  }

  /** The Resource contract (unused by wirespan): `other`'s attributes win, as in ResourceImpl. */
  merge(other: Resource | null): Resource {
    if (other === null) return this;
    return new ServiceResource(
      { ...this.attributes, ...other.attributes },
      other.schemaUrl ?? this.schemaUrl,
    );
  }
}

/** @opentelemetry/core's isSimpleAttributeValue: a string, number or boolean, or an array of one of these types (nulls allowed). */
function isSimpleAttributeValue(value: AttributeValue | undefined): boolean {
  if (!Array.isArray(value)) return isPrimitiveAttributeType(typeof value);
  let type: string | undefined;
  for (const element of value) {
    if (element === null || element === undefined) continue;
    const elementType = typeof element;
    if (type === undefined) {
      if (!isPrimitiveAttributeType(elementType)) return false;
      type = elementType;
    } else if (elementType !== type) {
      return false;
    }
  }
  return true;
}

function isPrimitiveAttributeType(type: string): boolean {
  return type === 'string' || type === 'number' || type === 'boolean';
}
