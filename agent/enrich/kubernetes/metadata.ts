/**
 * Kubernetes metadata for span names: one set of list+watch informers per agent process (Pods,
 * Services, EndpointSlices, and the owners that name workloads: ReplicaSets -> Deployment,
 * Jobs -> CronJob; StatefulSets and DaemonSets need no watch, a pod's controller reference
 * already names them with their uid). Each event updates what that one object contributes to
 * the address index (address-index.ts); the changes reach the address tables (address-table.ts)
 * in batches.
 *
 * Workers get the table by messages (connectWorker()), not informers of their own: N workers
 * would mean N watches of every Pod in the cluster per node (an agent runs on every node) and N
 * copies of the object caches; the address table they receive is a small fraction of that.
 *
 * Bounded: the caches hold slim records (slim.ts), at most `maxObjects` per kind, and the table
 * at most `maxObjects` addresses; what the caps turn away is counted. The library's ListWatch
 * resumes a dropped watch from its resourceVersion and relists after 410 Gone; after any other
 * error it stops, and this class restarts it with backoff (1 s doubling to 30 s).
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type KubernetesListObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import type { Attributes, Meter } from '@opentelemetry/api';
import { parseAddress } from '../../correlate/relay/networks.ts';
import { AddressIndex } from './address-index.ts';
import { type AddressEntry, AddressTable, type AddressUpdate, type LookupCounts } from './address-table.ts';
import { type IdentityOptions, type KubeIdentity, podIdentity, serviceIdentity } from './identity.ts';
import {
  kDefaultMaxObjects,
  type SlimEndpointSlice,
  type SlimMeta,
  type SlimOwned,
  type SlimPod,
  type SlimService,
  slimEndpointSlice,
  slimOwned,
  slimPod,
  slimService,
} from './slim.ts';

export interface KubernetesOptions extends IdentityOptions {
  /** Objects kept per kind, and addresses in the table; beyond, counted and left out. Default 50000. */
  maxObjects?: number;
  /** How long start() waits for the first list of every kind. Default 10000 ms. */
  syncTimeoutMillis?: number;
  /** Log lines (watch errors, recoveries); the caller writes them. */
  onLog?: (level: 'warn' | 'info', message: string, detail: Record<string, unknown>) => void;
}

const kListPageSize = 500;
const kRestartMinMillis = 1000;
const kRestartMaxMillis = 30_000;
/** Table changes are handed to the tables at most this often (a relist delivers thousands at once). */
const kPublishDelayMillis = 50;
/** Port -1: the address names its owner on every port. */
const kAnyPort: readonly number[] = [-1];
/** Who wins an address claimed twice: a running pod, then any pod, then a Service's endpoint, then its cluster IP. */
const kRank = { clusterIp: 0, endpoint: 1, pod: 2, runningPod: 3 } as const;

type ListPage = (params: { limit: number; _continue?: string }) => Promise<KubernetesListObject<object>>;

/** The counts of one kind's informer (cumulative). */
export interface KindCounts {
  objects: number;
  /** Turned away by the cap. */
  dropped: number;
  /** Objects without a name (never expected from an API server). */
  malformed: number;
  /** Lists done (the first, and one after each 410 Gone or restart). */
  lists: number;
  /** List or watch failures (each restarts the informer after a backoff). */
  errors: number;
}

/** A ListWatch whose cache holds slim records, at most `cap` of them, restarted after errors. */
class SlimInformer<T extends { metadata: SlimMeta }> {
  readonly counts: KindCounts = { objects: 0, dropped: 0, malformed: 0, lists: 0, errors: 0 };
  readonly informer: ListWatch<T & { metadata: SlimMeta }>;
  /** Resolves after the first list (true) or the first failure (false), whichever comes first. */
  readonly settled: Promise<boolean>;
  readonly kind: string;
  readonly #slim: (value: unknown) => T | null;
  readonly #listPage: ListPage;
  readonly #cap: number;
  readonly #log: KubernetesOptions['onLog'];
  #settle: (listed: boolean) => void = () => {};
  #restartMillis = kRestartMinMillis;
  #restartTimer: NodeJS.Timeout | null = null;
  #failing = false;
  #stopped = false;

  constructor(
    kind: string,
    config: KubeConfig,
    path: string,
    listPage: ListPage,
    slim: (value: unknown) => T | null,
    cap: number,
    onChange: (object: T, deleted: boolean) => void,
    log: KubernetesOptions['onLog'],
  ) {
    this.kind = kind;
    this.#slim = slim;
    this.#listPage = listPage;
    this.#cap = cap;
    this.#log = log;
    this.settled = new Promise((resolve) => {
      this.#settle = resolve;
    });
    const watch = new Watch(config);
    // The informer caches what its watch hands it: hand it slim records only.
    const slimWatch = {
      watch: (
        watchPath: string,
        params: Record<string, string | number | boolean | undefined>,
        callback: (phase: string, object: unknown, raw: unknown) => void,
        done: (error: unknown) => void,
      ) => watch.watch(watchPath, params, (phase, object) => callback(...this.#event(phase, object)), done),
    } as unknown as Watch;
    this.informer = new ListWatch(path, slimWatch, () => this.#list(), false);
    // The cache holds the object already (or no longer) when these run.
    this.informer.on('add', (object) => {
      this.counts.objects++;
      onChange(object, false);
    });
    this.informer.on('update', (object) => onChange(object, false));
    this.informer.on('delete', (object) => {
      this.counts.objects--;
      onChange(object, true);
    });
    this.informer.on('error', (error) => this.#failed(error));
  }

  start(): void {
    void this.informer.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    await this.informer.stop();
  }

  /** A watch event as the cache should see it: slim, or a BOOKMARK (resourceVersion only) when left out. */
  #event(phase: string, object: unknown): [string, unknown, unknown] {
    if (phase !== 'ADDED' && phase !== 'MODIFIED' && phase !== 'DELETED') return [phase, object, object];
    this.#recovered();
    const slim = this.#slim(object);
    const skip = (): [string, unknown, unknown] => {
      const version = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata
        ?.resourceVersion;
      const bookmark = { metadata: { resourceVersion: typeof version === 'string' ? version : '' } };
      return ['BOOKMARK', bookmark, bookmark];
    };
    if (slim === null) {
      this.counts.malformed++;
      return skip();
    }
    if (
      phase !== 'DELETED' &&
      this.counts.objects >= this.#cap &&
      this.informer.get(slim.metadata.name, slim.metadata.namespace) === undefined
    ) {
      this.counts.dropped++;
      return skip();
    }
    return [phase, slim, slim];
  }

  /** The whole collection in pages of kListPageSize, slimmed as each page arrives. */
  async #list(): Promise<KubernetesListObject<T & { metadata: SlimMeta }>> {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.#listPage({ limit: kListPageSize, ...(token ? { _continue: token } : {}) });
      for (const item of page.items ?? []) {
        const slim = this.#slim(item);
        if (slim === null) this.counts.malformed++;
        else if (items.length >= this.#cap) this.counts.dropped++;
        else items.push(slim);
      }
      token = page.metadata?._continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? '';
    } while (token !== undefined);
    this.counts.lists++;
    this.#recovered();
    // The informer adds the items after this promise settles: settle after that.
    setImmediate(() => this.#settle(true));
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items } as KubernetesListObject<
      T & { metadata: SlimMeta }
    >;
  }

  #failed(error: unknown): void {
    this.counts.errors++;
    this.#settle(false);
    if (this.#stopped) return;
    if (!this.#failing) {
      this.#failing = true;
      this.#log?.('warn', 'kubernetes: list/watch failed; retrying with backoff, names from the last state', {
        kind: this.kind,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    const delay = this.#restartMillis;
    this.#restartMillis = Math.min(kRestartMaxMillis, delay * 2);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (!this.#stopped) this.start();
    }, delay);
    this.#restartTimer.unref();
  }

  #recovered(): void {
    this.#restartMillis = kRestartMinMillis;
    if (this.#failing) {
      this.#failing = false;
      this.#log?.('info', 'kubernetes: list/watch recovered', { kind: this.kind });
    }
  }
}

/** The one cluster a process watches: KUBECONFIG when set, else the pod's service account. */
export function loadKubeConfig(): KubeConfig {
  const config = new KubeConfig();
  if (process.env.KUBECONFIG) config.loadFromDefault();
  else if (process.env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
  else {
    throw new Error(
      '--kubernetes: no cluster to watch: not in a pod (KUBERNETES_SERVICE_HOST unset) and KUBECONFIG unset',
    );
  }
  return config;
}

export class KubernetesMetadata {
  /** This thread's table (the main thread's span path, --workers 0). */
  readonly table = new AddressTable();
  readonly #options: Required<Omit<KubernetesOptions, 'onLog'>>;
  readonly #pods: SlimInformer<SlimPod>;
  readonly #services: SlimInformer<SlimService>;
  readonly #slices: SlimInformer<SlimEndpointSlice>;
  readonly #replicaSets: SlimInformer<SlimOwned>;
  readonly #jobs: SlimInformer<SlimOwned>;
  readonly #all: SlimInformer<{ metadata: SlimMeta }>[];
  readonly #index: AddressIndex;
  /** Pods by their ReplicaSet or Job (`Kind/namespace/name`): an owner's change renames them. */
  readonly #podsByOwner = new Map<string, Set<string>>();
  readonly #ownerOfPod = new Map<string, string>();
  /** EndpointSlices by their Service (`namespace/name`). */
  readonly #slicesByService = new Map<string, Set<string>>();
  #publishTimer: NodeJS.Timeout | null = null;
  readonly #owners = {
    replicaSet: (namespace: string, name: string) => this.#replicaSets.informer.get(name, namespace),
    job: (namespace: string, name: string) => this.#jobs.informer.get(name, namespace),
  };
  readonly #ports = new Set<MessagePort>();
  /** Lookup counts the workers reported. */
  readonly #workerCounts: LookupCounts = { lookups: 0, misses: 0 };

  private constructor(config: KubeConfig, options: KubernetesOptions) {
    this.#options = {
      nameLabels: options.nameLabels,
      maxObjects: options.maxObjects ?? kDefaultMaxObjects,
      syncTimeoutMillis: options.syncTimeoutMillis ?? 10_000,
    };
    const cap = this.#options.maxObjects;
    this.#index = new AddressIndex(cap);
    const log = options.onLog;
    const core = config.makeApiClient(CoreV1Api);
    const apps = config.makeApiClient(AppsV1Api);
    const batch = config.makeApiClient(BatchV1Api);
    const discovery = config.makeApiClient(DiscoveryV1Api);
    this.#pods = new SlimInformer(
      'pods',
      config,
      '/api/v1/pods',
      (p) => core.listPodForAllNamespaces(p),
      slimPod,
      cap,
      (pod, deleted) => this.#onPod(pod, deleted),
      log,
    );
    this.#services = new SlimInformer(
      'services',
      config,
      '/api/v1/services',
      (p) => core.listServiceForAllNamespaces(p),
      slimService,
      cap,
      (service, deleted) => this.#onService(service, deleted),
      log,
    );
    this.#slices = new SlimInformer(
      'endpointslices',
      config,
      '/apis/discovery.k8s.io/v1/endpointslices',
      (p) => discovery.listEndpointSliceForAllNamespaces(p),
      slimEndpointSlice,
      cap,
      (slice, deleted) => this.#onSlice(slice, deleted),
      log,
    );
    this.#replicaSets = new SlimInformer(
      'replicasets',
      config,
      '/apis/apps/v1/replicasets',
      (p) => apps.listReplicaSetForAllNamespaces(p),
      slimOwned,
      cap,
      (owner) => this.#onOwner('ReplicaSet', owner),
      log,
    );
    this.#jobs = new SlimInformer(
      'jobs',
      config,
      '/apis/batch/v1/jobs',
      (p) => batch.listJobForAllNamespaces(p),
      slimOwned,
      cap,
      (owner) => this.#onOwner('Job', owner),
      log,
    );
    this.#all = [this.#pods, this.#services, this.#slices, this.#replicaSets, this.#jobs];
  }

  /**
   * Starts the watches and waits (up to syncTimeoutMillis) until every kind has listed or
   * failed once, so the first pairs already get names; kinds that failed (no API server, no
   * RBAC) keep retrying in the background and fill in their names once they list.
   */
  static async start(
    options: KubernetesOptions,
    config: KubeConfig = loadKubeConfig(),
  ): Promise<KubernetesMetadata> {
    const metadata = new KubernetesMetadata(config, options);
    for (const informer of metadata.#all) informer.start();
    let timer: NodeJS.Timeout | undefined;
    const listed = await Promise.race([
      Promise.all(metadata.#all.map((informer) => informer.settled)),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), metadata.#options.syncTimeoutMillis);
      }),
    ]);
    clearTimeout(timer);
    if (listed === null || listed.includes(false)) {
      options.onLog?.(
        'warn',
        'kubernetes: starting before every kind listed; names appear as lists complete',
        {
          timeoutMillis: metadata.#options.syncTimeoutMillis,
          listed: Object.fromEntries(
            metadata.#all.map((informer) => [informer.kind, informer.counts.lists > 0]),
          ),
        },
      );
    }
    metadata.#publish();
    return metadata;
  }

  /** A port for one worker's FedAddressTable, the current table already posted on it. */
  connectWorker(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    port1.postMessage({ set: this.#index.snapshot(), remove: [] } satisfies AddressUpdate);
    port1.on('message', (counts: LookupCounts) => this.#addWorkerCounts(counts));
    port1.on('close', () => this.#ports.delete(port1));
    port1.unref();
    this.#ports.add(port1);
    return port2;
  }

  #addWorkerCounts(counts: LookupCounts): void {
    this.#workerCounts.lookups += counts.lookups;
    this.#workerCounts.misses += counts.misses;
  }

  /** Cache and lookup counts, for the metrics and tests. */
  counts(): {
    kinds: Record<string, KindCounts>;
    addresses: number;
    addressesDropped: number;
    lookups: number;
    misses: number;
  } {
    // Counts the workers posted that the event loop has not delivered yet: the final metrics
    // collection at shutdown runs right after the workers' last messages.
    for (const port of this.#ports) {
      for (let received = receiveMessageOnPort(port); received; received = receiveMessageOnPort(port))
        this.#addWorkerCounts(received.message as LookupCounts);
    }
    const kinds: Record<string, KindCounts> = {};
    for (const informer of this.#all) kinds[informer.kind] = { ...informer.counts };
    return {
      kinds,
      addresses: this.table.size,
      addressesDropped: this.#index.dropped,
      lookups: this.table.lookups + this.#workerCounts.lookups,
      misses: this.table.misses + this.#workerCounts.misses,
    };
  }

  /** Registers the cache-size and lookup metrics on `meter`. */
  observe(meter: Meter): void {
    const objects = meter.createObservableGauge('wirespan.kubernetes.objects', {
      description: 'Kubernetes objects in the metadata cache, by kind',
      unit: '{object}',
    });
    const addresses = meter.createObservableGauge('wirespan.kubernetes.addresses', {
      description: 'Addresses (and address:port slots) with a Kubernetes identity',
      unit: '{address}',
    });
    const dropped = meter.createObservableCounter('wirespan.kubernetes.dropped', {
      description:
        'Kubernetes objects (by kind) and address slots (kind "address") left out by the --kubernetes-max-objects cap',
      unit: '{object}',
    });
    const errors = meter.createObservableCounter('wirespan.kubernetes.watch.errors', {
      description: 'List or watch failures (each followed by a restart with backoff), by kind',
      unit: '{error}',
    });
    const lookups = meter.createObservableCounter('wirespan.kubernetes.lookups', {
      description: 'Address lookups of span ends; result "miss": no pod or Service has the address',
      unit: '{lookup}',
    });
    meter.addBatchObservableCallback(
      (result) => {
        const c = this.counts();
        for (const [kind, k] of Object.entries(c.kinds)) {
          const attributes: Attributes = { 'wirespan.kubernetes.kind': kind };
          result.observe(objects, k.objects, attributes);
          result.observe(dropped, k.dropped, attributes);
          result.observe(errors, k.errors, attributes);
        }
        result.observe(addresses, c.addresses);
        result.observe(dropped, c.addressesDropped, { 'wirespan.kubernetes.kind': 'address' });
        result.observe(lookups, c.lookups - c.misses, { 'wirespan.kubernetes.result': 'hit' });
        result.observe(lookups, c.misses, { 'wirespan.kubernetes.result': 'miss' });
      },
      [objects, addresses, dropped, errors, lookups],
    );
  }

  async stop(): Promise<void> {
    if (this.#publishTimer !== null) clearTimeout(this.#publishTimer);
    await Promise.all(this.#all.map((informer) => informer.stop()));
    for (const port of this.#ports) port.close();
  }

  #onPod(pod: SlimPod, deleted: boolean): void {
    const { namespace, name } = pod.metadata;
    const key = `${namespace}/${name}`;
    const owner = pod.owner?.kind === 'ReplicaSet' || pod.owner?.kind === 'Job' ? pod.owner : null;
    const ownerKey = deleted || owner === null ? undefined : `${owner.kind}/${namespace}/${owner.name}`;
    const previousOwner = this.#ownerOfPod.get(key);
    if (previousOwner !== ownerKey) {
      if (previousOwner !== undefined) removeFrom(this.#podsByOwner, previousOwner, key);
      if (ownerKey === undefined) this.#ownerOfPod.delete(key);
      else {
        this.#ownerOfPod.set(key, ownerKey);
        addTo(this.#podsByOwner, ownerKey, key);
      }
    }
    // A finished pod's address may already be another pod's.
    const finished = pod.phase === 'Succeeded' || pod.phase === 'Failed';
    if (deleted || finished) this.#index.set(`pod/${key}`, 0, null);
    else {
      const identity = podIdentity(pod, this.#owners, this.#options);
      // hostNetwork pods share the node's address: only their own ports name them.
      const ports = pod.hostNetwork ? pod.hostPorts : kAnyPort;
      const rank = pod.phase === 'Running' ? kRank.runningPod : kRank.pod;
      this.#index.set(`pod/${key}`, rank, entriesOf(identity, pod.ips, ports));
    }
    this.#schedulePublish();
  }

  /** A ReplicaSet or Job changed: its pods' workload names may have. */
  #onOwner(kind: 'ReplicaSet' | 'Job', owner: SlimOwned): void {
    const pods = this.#podsByOwner.get(`${kind}/${owner.metadata.namespace}/${owner.metadata.name}`);
    for (const key of pods ?? []) {
      const slash = key.indexOf('/');
      const pod = this.#pods.informer.get(key.slice(slash + 1), key.slice(0, slash));
      if (pod !== undefined) this.#onPod(pod, false);
    }
  }

  #onService(service: SlimService, deleted: boolean): void {
    const key = `${service.metadata.namespace}/${service.metadata.name}`;
    this.#index.set(
      `service/${key}`,
      kRank.clusterIp,
      deleted ? null : entriesOf(serviceIdentity(service.metadata), service.clusterIPs, service.ports),
    );
    // Its endpoints outside pods are named after it.
    for (const sliceKey of this.#slicesByService.get(key) ?? []) {
      const slash = sliceKey.indexOf('/');
      const slice = this.#slices.informer.get(sliceKey.slice(slash + 1), sliceKey.slice(0, slash));
      if (slice !== undefined) this.#onSlice(slice, false);
    }
    this.#schedulePublish();
  }

  #onSlice(slice: SlimEndpointSlice, deleted: boolean): void {
    const { namespace, name } = slice.metadata;
    const key = `${namespace}/${name}`;
    const serviceKey = `${namespace}/${slice.service}`;
    if (deleted || slice.service === '') removeFrom(this.#slicesByService, serviceKey, key);
    else addTo(this.#slicesByService, serviceKey, key);
    if (deleted || slice.service === '') this.#index.set(`slice/${key}`, 0, null);
    else {
      const service = this.#services.informer.get(slice.service, namespace);
      const identity = serviceIdentity(
        service?.metadata ?? { name: slice.service, namespace, uid: '', resourceVersion: '' },
      );
      this.#index.set(`slice/${key}`, kRank.endpoint, entriesOf(identity, slice.addresses, slice.ports));
    }
    this.#schedulePublish();
  }

  #schedulePublish(): void {
    if (this.#publishTimer !== null) return;
    this.#publishTimer = setTimeout(() => {
      this.#publishTimer = null;
      this.#publish();
    }, kPublishDelayMillis);
    this.#publishTimer.unref();
  }

  /** Hands the changed winners to this thread's table and every worker's. */
  #publish(): void {
    const update = this.#index.takeUpdate();
    if (update === null) return;
    this.table.apply(update);
    for (const port of this.#ports) port.postMessage(update);
  }
}

/** The entries naming `identity` at each address on each port (unparseable addresses skipped). */
function entriesOf(identity: KubeIdentity, ips: readonly string[], ports: readonly number[]): AddressEntry[] {
  const entries: AddressEntry[] = [];
  for (const ip of ips) {
    const address = parseAddress(ip);
    if (address === null) continue;
    for (const port of ports)
      entries.push({ ipVersion: address.ipVersion, words: address.words, port, identity });
  }
  return entries;
}

function addTo(index: Map<string, Set<string>>, key: string, member: string): void {
  let members = index.get(key);
  if (members === undefined) {
    members = new Set();
    index.set(key, members);
  }
  members.add(member);
}

function removeFrom(index: Map<string, Set<string>>, key: string, member: string): void {
  const members = index.get(key);
  if (members === undefined) return;
  members.delete(member);
  if (members.size === 0) index.delete(key);
}
