/** A small cluster (realistic object shapes) and a capture of HTTP between its pods, for the Kubernetes tests. */
import { ethernet, ipv4, tcp } from '../decode/packets.ts';
import type { OwnedRecord } from '../helpers/pcap-writer.ts';
import type { FakeApiServer } from './fake-api-server.ts';

function pod(options: {
  name: string;
  namespace: string;
  ip: string;
  node: string;
  owner?: { kind: string; name: string; uid: string };
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  hostNetwork?: boolean;
  ports?: number[];
}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: options.name,
      namespace: options.namespace,
      uid: `uid-${options.name}`,
      labels: { 'pod-template-hash': '7d4b9c', ...options.labels },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-12-01T10:00:00Z', ...options.annotations },
      ownerReferences: options.owner
        ? [{ apiVersion: 'apps/v1', ...options.owner, controller: true, blockOwnerDeletion: true }]
        : [],
      managedFields: [
        { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } },
      ],
    },
    spec: {
      nodeName: options.node,
      hostNetwork: options.hostNetwork ?? false,
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1.4.2',
          ports: (options.ports ?? [8080]).map((containerPort) => ({ containerPort, protocol: 'TCP' })),
          env: [{ name: 'LOG_LEVEL', value: 'info' }],
        },
      ],
    },
    status: {
      phase: 'Running',
      hostIP: '10.0.0.11',
      podIP: options.ip,
      podIPs: [{ ip: options.ip }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

export function replicaSet(name: string, namespace: string, deployment: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: deployment,
          uid: `uid-${deployment}`,
          controller: true,
        },
      ],
    },
    spec: { replicas: 1, selector: { matchLabels: { app: deployment } } },
    status: { replicas: 1, readyReplicas: 1 },
  };
}

export const kPods = {
  frontend: pod({
    name: 'frontend-5f6d8-abcde',
    namespace: 'shop',
    ip: '10.244.1.5',
    node: 'node-a',
    owner: { kind: 'ReplicaSet', name: 'frontend-5f6d8', uid: 'uid-frontend-5f6d8' },
    annotations: { 'resource.opentelemetry.io/service.name': 'storefront' },
  }),
  checkout: pod({
    name: 'checkout-7d4b9c-x2x9q',
    namespace: 'shop',
    ip: '10.244.2.7',
    node: 'node-b',
    owner: { kind: 'ReplicaSet', name: 'checkout-7d4b9c', uid: 'uid-checkout-7d4b9c' },
    labels: { 'app.kubernetes.io/name': 'checkout-label' },
  }),
  nodeExporter: pod({
    name: 'node-exporter-q7rzt',
    namespace: 'monitoring',
    ip: '10.0.0.11',
    node: 'node-a',
    owner: { kind: 'DaemonSet', name: 'node-exporter', uid: 'uid-node-exporter' },
    hostNetwork: true,
    ports: [9100],
  }),
};

/** Seeds the fake API server with the cluster. */
export function seedCluster(server: FakeApiServer): void {
  server.put('ReplicaSet', replicaSet('frontend-5f6d8', 'shop', 'frontend'));
  server.put('ReplicaSet', replicaSet('checkout-7d4b9c', 'shop', 'checkout'));
  for (const p of Object.values(kPods)) server.put('Pod', structuredClone(p));
  server.put('Service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'payments', namespace: 'shop', uid: 'uid-svc-payments' },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.20',
      clusterIPs: ['10.96.0.20'],
      ports: [{ port: 80, targetPort: 8080 }],
    },
  });
  server.put('Service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'legacy-db', namespace: 'shop', uid: 'uid-svc-legacy-db' },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.30', ports: [{ port: 5432 }] },
  });
  server.put('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'legacy-db-x1',
      namespace: 'shop',
      labels: { 'kubernetes.io/service-name': 'legacy-db' },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['192.168.50.10'], conditions: { ready: true } }],
    ports: [{ port: 5432, protocol: 'TCP' }],
  });
  server.put('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'checkout-abc',
      namespace: 'shop',
      labels: { 'kubernetes.io/service-name': 'checkout' },
    },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.244.2.7'],
        targetRef: { kind: 'Pod', name: 'checkout-7d4b9c-x2x9q', namespace: 'shop' },
      },
    ],
    ports: [{ port: 8080, protocol: 'TCP' }],
  });
}

const kBase = 1_765_000_000;

/** One HTTP exchange (handshake, request, response) from `client` to `server`, at second `at`. */
export function exchange(
  client: string,
  clientPort: number,
  server: string,
  serverPort: number,
  path: string,
  at: number,
) {
  const text = (s: string) => new TextEncoder().encode(s);
  const request = text(`GET ${path} HTTP/1.1\r\nHost: ${server}\r\nUser-Agent: test\r\n\r\n`);
  const response = text('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  const out = (seq: number, ack: number, flags: number, payload: Uint8Array = new Uint8Array()) =>
    ethernet(
      0x0800,
      ipv4({
        src: client,
        dst: server,
        protocol: 6,
        payload: tcp({ srcPort: clientPort, dstPort: serverPort, seq, ack, flags, payload }),
      }),
    );
  const back = (seq: number, ack: number, flags: number, payload: Uint8Array = new Uint8Array()) =>
    ethernet(
      0x0800,
      ipv4({
        src: server,
        dst: client,
        protocol: 6,
        payload: tcp({ srcPort: serverPort, dstPort: clientPort, seq, ack, flags, payload }),
      }),
    );
  const frames = [
    out(1000, 0, 0x02),
    back(5000, 1001, 0x12),
    out(1001, 5001, 0x10),
    out(1001, 5001, 0x18, request),
    back(5001, 1001 + request.length, 0x18, response),
  ];
  return frames.map(
    (bytes, i): OwnedRecord => ({
      seconds: kBase + at,
      nanos: 1000 * (i + 1) + 7,
      originalLength: bytes.length,
      linkType: 1,
      bytes,
    }),
  );
}

/** storefront -> checkout (pod), -> node-exporter (hostNetwork), -> payments (cluster IP), -> an unknown pod IP. */
export function clusterCapture(): OwnedRecord[] {
  return [
    ...exchange('10.244.1.5', 40001, '10.244.2.7', 8080, '/cart', 1),
    ...exchange('10.244.1.5', 40002, '10.0.0.11', 9100, '/metrics', 2),
    ...exchange('10.244.1.5', 40003, '10.96.0.20', 80, '/pay', 3),
    ...exchange('10.244.1.5', 40004, '10.244.9.9', 8080, '/gone', 4),
  ];
}
