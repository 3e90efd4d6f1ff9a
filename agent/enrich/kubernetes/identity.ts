/**
 * The identity of a pod or Service as observed-service resources and peer attributes carry it,
 * by the OpenTelemetry convention for Kubernetes ("Specify resource attributes using
 * Kubernetes annotations", semantic conventions registry of @opentelemetry/semantic-conventions
 * 1.45.0):
 *
 * service.name, first found: the pod annotation `resource.opentelemetry.io/service.name`; the
 * labels `app.kubernetes.io/instance`, then `app.kubernetes.io/name` (only when opted in: the
 * convention asks tools to make labels opt-in); the workload: k8s.deployment.name,
 * k8s.replicaset.name, k8s.statefulset.name, k8s.daemonset.name, k8s.cronjob.name,
 * k8s.job.name; then k8s.pod.name. (The convention's last fallback, the container name, never
 * applies: an address belongs to a pod, not to one of its containers.)
 * service.namespace: the annotation `resource.opentelemetry.io/service.namespace`, else the
 * Kubernetes namespace. Every other `resource.opentelemetry.io/KEY` annotation becomes the
 * attribute KEY (service.version too; with labels opted in, `app.kubernetes.io/version` when no
 * annotation gives one).
 */
import { createHash } from 'node:crypto';
import type { Attributes } from '@opentelemetry/api';
import { ATTR_SERVICE_NAME } from '../../export/otel/semconv-stable.ts';
import {
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_K8S_NODE_NAME,
  ATTR_K8S_POD_NAME,
  ATTR_K8S_POD_UID,
  ATTR_K8S_SERVICE_NAME,
  ATTR_K8S_SERVICE_UID,
  ATTR_SERVICE_NAMESPACE,
  ATTR_SERVICE_VERSION,
  kResourceAnnotationPrefix,
  kWorkloadKinds,
  type WorkloadKind,
} from './semconv.ts';
import type { OwnerRef, SlimOwned, SlimPod, SlimService } from './slim.ts';

export interface KubeIdentity {
  /** Equal identities have equal keys: the resource cache key and the change test of the address table. */
  key: string;
  serviceName: string;
  serviceNamespace: string;
  /** Resource attributes besides service.name: service.namespace, k8s.*, the pod's annotations. */
  attributes: Attributes;
}

export interface IdentityOptions {
  /** Use the well-known app.kubernetes.io labels for service.name and service.version (opt-in). */
  nameLabels: boolean;
}

/** The owners' cache: a pod's ReplicaSet names its Deployment, a Job its CronJob. */
export interface OwnerCache {
  replicaSet(namespace: string, name: string): SlimOwned | undefined;
  job(namespace: string, name: string): SlimOwned | undefined;
}

/** The workload chain of a pod's controller, as kind -> owner (Deployment over ReplicaSet, CronJob over Job). */
export function workloadOf(pod: SlimPod, owners: OwnerCache): Map<WorkloadKind, OwnerRef> {
  const chain = new Map<WorkloadKind, OwnerRef>();
  const owner = pod.owner;
  if (owner === null) return chain;
  const namespace = pod.metadata.namespace;
  switch (owner.kind) {
    case 'ReplicaSet': {
      chain.set('replicaset', owner);
      const parent = owners.replicaSet(namespace, owner.name)?.owner;
      if (parent?.kind === 'Deployment') chain.set('deployment', parent);
      break;
    }
    case 'Job': {
      chain.set('job', owner);
      const parent = owners.job(namespace, owner.name)?.owner;
      if (parent?.kind === 'CronJob') chain.set('cronjob', parent);
      break;
    }
    case 'StatefulSet':
      chain.set('statefulset', owner);
      break;
    case 'DaemonSet':
      chain.set('daemonset', owner);
      break;
  }
  return chain;
}

function finish(serviceName: string, attributes: Attributes): KubeIdentity {
  return {
    // A digest, not the text: one is kept per pod in every thread's table.
    key: createHash('sha1')
      .update(JSON.stringify([serviceName, attributes]))
      .digest('base64'),
    serviceName,
    serviceNamespace: String(attributes[ATTR_SERVICE_NAMESPACE]),
    attributes,
  };
}

export function podIdentity(pod: SlimPod, owners: OwnerCache, options: IdentityOptions): KubeIdentity {
  const { name, namespace, uid } = pod.metadata;
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(pod.annotations)) {
    attributes[key.slice(kResourceAnnotationPrefix.length)] = value;
  }
  const annotatedName = attributes[ATTR_SERVICE_NAME];
  delete attributes[ATTR_SERVICE_NAME];
  const labels = options.nameLabels ? pod.labels : {};
  const version = labels['app.kubernetes.io/version'];
  if (attributes[ATTR_SERVICE_VERSION] === undefined && version !== undefined) {
    attributes[ATTR_SERVICE_VERSION] = version;
  }
  attributes[ATTR_SERVICE_NAMESPACE] =
    (attributes[ATTR_SERVICE_NAMESPACE] as string | undefined) || namespace;
  attributes[ATTR_K8S_NAMESPACE_NAME] = namespace;
  attributes[ATTR_K8S_POD_NAME] = name;
  if (uid !== '') attributes[ATTR_K8S_POD_UID] = uid;
  if (pod.nodeName !== '') attributes[ATTR_K8S_NODE_NAME] = pod.nodeName;
  const chain = workloadOf(pod, owners);
  let workloadName: string | undefined;
  for (const kind of kWorkloadKinds) {
    const owner = chain.get(kind);
    if (owner === undefined) continue;
    workloadName ??= owner.name;
    attributes[`k8s.${kind}.name`] = owner.name;
    if (owner.uid !== '') attributes[`k8s.${kind}.uid`] = owner.uid;
  }
  const serviceName =
    (typeof annotatedName === 'string' && annotatedName !== '' ? annotatedName : undefined) ??
    labels['app.kubernetes.io/instance'] ??
    labels['app.kubernetes.io/name'] ??
    workloadName ??
    name;
  return finish(serviceName, attributes);
}

/** A Service's cluster IP (or a selector-less Service's endpoint): named after the Service. */
export function serviceIdentity(service: SlimService['metadata']): KubeIdentity {
  const attributes: Attributes = {
    [ATTR_SERVICE_NAMESPACE]: service.namespace,
    [ATTR_K8S_NAMESPACE_NAME]: service.namespace,
    [ATTR_K8S_SERVICE_NAME]: service.name,
  };
  if (service.uid !== '') attributes[ATTR_K8S_SERVICE_UID] = service.uid;
  return finish(service.name, attributes);
}
