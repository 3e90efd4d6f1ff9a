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
import type { Attributes } from '@opentelemetry/api';
import { diag } from '@opentelemetry/api';
import { getStringListFromEnv } from '@opentelemetry/core';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  type Resource,
  type ResourceDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

// Development-status resource attributes (copied, as semconv.ts explains).
const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id';
const ATTR_PROCESS_PID = 'process.pid';
const ATTR_PROCESS_PARENT_PID = 'process.parent_pid';
const ATTR_HOST_NAME = 'host.name';
const ATTR_K8S_NODE_NAME = 'k8s.node.name';
const ATTR_K8S_POD_NAME = 'k8s.pod.name';

/** Default `service.name` of wirespan's own telemetry. */
export const kAgentServiceName = 'wirespan';

/** NodeSDK's detector names for OTEL_NODE_RESOURCE_DETECTORS (sdk-node utils getResourceDetectorsFromEnv). */
const kDetectorsByName: ReadonlyMap<string, ResourceDetector> = new Map([
  ['host', hostDetector],
  ['os', osDetector],
  ['serviceinstance', serviceInstanceIdDetector],
  ['process', processDetector],
  ['env', envDetector],
]);

/**
 * The detectors to run: the names in OTEL_NODE_RESOURCE_DETECTORS, else NodeSDK's default list
 * without its random service.instance.id (`explicit` false: see stableIdentity()).
 */
export function resourceDetectorsFromEnv(): { detectors: ResourceDetector[]; explicit: boolean } {
  const names = getStringListFromEnv('OTEL_NODE_RESOURCE_DETECTORS');
  if (names === undefined || names.length === 0) {
    return { detectors: [processDetector, hostDetector, osDetector, envDetector], explicit: false };
  }
  return { detectors: namedDetectors(names), explicit: true };
}

function namedDetectors(names: string[]): ResourceDetector[] {
  if (names.includes('all')) return [...kDetectorsByName.values()];
  if (names.includes('none')) return [];
  return names.flatMap((name) => {
    const detector = kDetectorsByName.get(name);
    if (!detector) diag.warn(`Invalid resource detector "${name}" in OTEL_NODE_RESOURCE_DETECTORS`);
    return detector ? [detector] : [];
  });
}

/** wirespan's own resource, with async attributes (host.id) settled so it can be serialised at once. */
export async function detectBaseResource(extra: Attributes = {}): Promise<Resource> {
  const { detectors, explicit } = resourceDetectorsFromEnv();
  const detected = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: kAgentServiceName, ...extra }))
    .merge(detectResources({ detectors }));
  await detected.waitForAsyncAttributes?.();
  return explicit ? detected : stableIdentity(detected);
}

/** Without per-start attributes (pids), with a service.instance.id that survives restarts. */
function stableIdentity(detected: Resource): Resource {
  const attributes = { ...detected.attributes };
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
  return resourceFromAttributes(attributes, { schemaUrl: detected.schemaUrl });
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
  return resourceFromAttributes({ ...shared, ...attributes, [ATTR_SERVICE_NAME]: serviceName });
}
