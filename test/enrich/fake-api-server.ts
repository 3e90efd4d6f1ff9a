/**
 * A local Kubernetes API server for tests: list and watch (JSON lines) of a few collections,
 * with resourceVersions, a watch that can be dropped, and compaction (a watch from a
 * forgotten resourceVersion gets the ERROR 410 event, as the real server sends it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type KubeObject = {
  metadata: { name: string; namespace?: string; resourceVersion?: string } & Record<string, unknown>;
} & Record<string, unknown>;

interface Event {
  rv: number;
  path: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

export const kPaths = {
  Pod: '/api/v1/pods',
  Service: '/api/v1/services',
  EndpointSlice: '/apis/discovery.k8s.io/v1/endpointslices',
  ReplicaSet: '/apis/apps/v1/replicasets',
  Job: '/apis/batch/v1/jobs',
} as const;

export class FakeApiServer {
  readonly #server = http.createServer((req, res) => this.#handle(req, res));
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  #events: Event[] = [];
  /** Events before this resourceVersion are forgotten (410 Gone for watches from before it). */
  #oldest = 0;
  #rv = 100;
  readonly #watches = new Set<{ path: string; res: http.ServerResponse }>();
  /** Requests seen: lists and watches by path, with the watch's resourceVersion. */
  readonly requests: { path: string; watch: boolean; resourceVersion: string; continued: boolean }[] = [];
  /** The next watch requests of these paths answer 500. */
  failNextWatch = new Set<string>();
  port = 0;

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Lists of `path` started (continued pages not counted). */
  lists(path: string): number {
    return this.requests.filter((r) => r.path === path && !r.watch && !r.continued).length;
  }

  /** Adds or replaces an object (an ADDED/MODIFIED event); `silently`: no event (a missed change). */
  put(kind: keyof typeof kPaths, object: KubeObject, silently = false): void {
    const path = kPaths[kind];
    const collection = this.#collection(path);
    const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const type = collection.has(key) ? 'MODIFIED' : 'ADDED';
    object.metadata.resourceVersion = String(++this.#rv);
    collection.set(key, object);
    if (!silently) this.#emit({ rv: this.#rv, path, type, object });
  }

  remove(kind: keyof typeof kPaths, namespace: string, name: string, silently = false): void {
    const path = kPaths[kind];
    const object = this.#collection(path).get(`${namespace}/${name}`);
    if (object === undefined) return;
    this.#collection(path).delete(`${namespace}/${name}`);
    this.#rv++;
    if (!silently) {
      this.#emit({
        rv: this.#rv,
        path,
        type: 'DELETED',
        object: { ...object, metadata: { ...object.metadata, resourceVersion: String(this.#rv) } },
      });
    }
  }

  /** Ends every open watch (the connection drops; clients resume from their resourceVersion). */
  dropWatches(): void {
    for (const watch of this.#watches) watch.res.end();
    this.#watches.clear();
  }

  /** Forgets the event history: a watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.#events = [];
    this.#oldest = this.#rv + 1;
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #collection(path: string): Map<string, KubeObject> {
    let collection = this.#objects.get(path);
    if (collection === undefined) {
      collection = new Map();
      this.#objects.set(path, collection);
    }
    return collection;
  }

  #emit(event: Event): void {
    this.#events.push(event);
    for (const watch of this.#watches) {
      if (watch.path === event.path)
        watch.res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const watch = url.searchParams.get('watch') === 'true';
    const resourceVersion = url.searchParams.get('resourceVersion') ?? '';
    this.requests.push({ path, watch, resourceVersion, continued: url.searchParams.has('continue') });
    if (!Object.values(kPaths).includes(path as (typeof kPaths)[keyof typeof kPaths])) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
      return;
    }
    if (!watch) {
      // Pages of `limit` items, the continue token naming the next offset (and the snapshot's version).
      const items = [...this.#collection(path).values()];
      const limit = Number(url.searchParams.get('limit') ?? 0) || items.length;
      const token = url.searchParams.get('continue');
      const [offset, snapshot] = token ? token.split(':').map(Number) : [0, this.#rv];
      const next = offset! + limit;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'List',
          apiVersion: 'v1',
          metadata: {
            resourceVersion: String(snapshot),
            ...(next < items.length ? { continue: `${next}:${snapshot}` } : {}),
          },
          items: items.slice(offset, next),
        }),
      );
      return;
    }
    if (this.failNextWatch.delete(path)) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"kind":"Status","code":500}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = Number(resourceVersion);
    if (from + 1 < this.#oldest) {
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' } })}\n`,
      );
      return;
    }
    for (const event of this.#events) {
      if (event.path === path && event.rv > from) {
        res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
      }
    }
    const entry = { path, res };
    this.#watches.add(entry);
    res.on('close', () => this.#watches.delete(entry));
  }
}

/** A kubeconfig (YAML is a superset of JSON) naming the fake server. */
export function kubeconfigText(server: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // Plain HTTP is only allowed with TLS verification off.
    clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'reader', user: { token: 'test-token' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'reader' } }],
    'current-context': 'fake',
  });
}
