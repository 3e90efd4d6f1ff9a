/**
 * Resources: wirespan's own (the agent's metrics) and one per observed service (the spans).
 *
 * The base is what NodeSDK would detect (same detectors, same `OTEL_NODE_RESOURCE_DETECTORS`
 * names, `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` through the env detector) over the
 * SDK default resource, with `service.name=wirespan` unless the environment names the agent.
 * It is computed here and handed to NodeSDK (with its own detection off) because the span path
 * needs the same base for the per-service resources and NodeSDK keeps its resource private.
 *
 * Observed-service resources: the base MINUS what describes the wirespan process or its host
 * (`service.*`, `process.*`, `host.*`, `os.*`, and the pod's `k8s.pod.*`, `k8s.namespace.*`,
 * `k8s.container.*`, `k8s.daemonset.*`, `container.*`: the observed server is another program, often on
 * another machine) PLUS `service.name` from the service map (or the default
 * `{protocol}://{address}:{port}`) and the map entry's extra attributes. What the user set in
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

/** The detectors NodeSDK runs: its default list, or the names in OTEL_NODE_RESOURCE_DETECTORS. */
export function resourceDetectorsFromEnv(): ResourceDetector[] {
  const names = getStringListFromEnv('OTEL_NODE_RESOURCE_DETECTORS');
  if (names === undefined || names.length === 0) {
    return [serviceInstanceIdDetector, processDetector, hostDetector, osDetector, envDetector];
  }
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
  const base = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: kAgentServiceName, ...extra }))
    .merge(detectResources({ detectors: resourceDetectorsFromEnv() }));
  await base.waitForAsyncAttributes?.();
  return base;
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
