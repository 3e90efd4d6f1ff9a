/**
 * Kubernetes and peer-service keys of the OpenTelemetry semantic conventions, copied as the
 * semantic-conventions package recommends for incubating entries (registry as shipped in
 * @opentelemetry/semantic-conventions 1.45.0). Stable keys (service.name): export/otel/semconv-stable.ts.
 */

/** Stable: a namespace for service.name. */
export const ATTR_SERVICE_NAMESPACE = 'service.namespace';
/** Stable: the version string of the service. */
export const ATTR_SERVICE_VERSION = 'service.version';

export const ATTR_K8S_NAMESPACE_NAME = 'k8s.namespace.name';
export const ATTR_K8S_POD_NAME = 'k8s.pod.name';
export const ATTR_K8S_POD_UID = 'k8s.pod.uid';
export const ATTR_K8S_NODE_NAME = 'k8s.node.name';
export const ATTR_K8S_SERVICE_NAME = 'k8s.service.name';
export const ATTR_K8S_SERVICE_UID = 'k8s.service.uid';

/**
 * Development: the logical service of the client in a connection-based interaction, "whether
 * the telemetry is recorded by the client, the server, or another observer" (it replaced
 * `service.peer.name`, itself the successor of `peer.service`).
 */
export const ATTR_CLIENT_SERVICE_NAME = 'client.service.name';
export const ATTR_CLIENT_SERVICE_NAMESPACE = 'client.service.namespace';

/** Workload kinds a pod's controller chain can name, with their `k8s.<kind>.name`/`.uid` keys. */
export const kWorkloadKinds = [
  'deployment',
  'replicaset',
  'statefulset',
  'daemonset',
  'cronjob',
  'job',
] as const;
export type WorkloadKind = (typeof kWorkloadKinds)[number];

/** Pod annotations with this prefix become resource attributes (k8s-attributes convention). */
export const kResourceAnnotationPrefix = 'resource.opentelemetry.io/';
