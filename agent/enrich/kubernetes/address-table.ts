/**
 * Address (and address:port) -> Kubernetes identity, as the span mapper asks it once per pair
 * for the server and the client. Keys are numbers for IPv4 (the address word, or word x 65536
 * + port); IPv6, rarer in clusters, keys on its four words as text.
 *
 * One table per thread, all fed the same updates: the main thread's KubernetesMetadata (the one
 * set of watches of the process) applies each update to its own table and posts it to every
 * worker's port (FedAddressTable, drained before each chunk). Workers never talk to the API
 * server.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { KubeIdentity } from './identity.ts';

/** Where an identity applies: an address, on one port or (port -1) on all. */
export interface AddressSlot {
  ipVersion: 4 | 6;
  words: [number, number, number, number];
  port: number;
}

export interface AddressEntry extends AddressSlot {
  identity: KubeIdentity;
}

/** One change of the table (structured-cloned to workers). */
export interface AddressUpdate {
  set: AddressEntry[];
  remove: AddressSlot[];
}

/** Lookup counts a worker reports back on its port. */
export interface LookupCounts {
  lookups: number;
  misses: number;
}

/** Text key of a slot (diffing on the main thread; not the lookup path). */
export function slotKey(slot: AddressSlot): string {
  return `${slot.ipVersion}|${slot.words.join(',')}|${slot.port}`;
}

function v6Key(w0: number, w1: number, w2: number, w3: number, port: number): string {
  return `${w0},${w1},${w2},${w3},${port}`;
}

export interface AddressLookup {
  /** The identity of an address (decoder words, IPv4 in word 0) on a port, or null. */
  lookup(
    ipVersion: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    port: number,
  ): KubeIdentity | null;
  /** At the end of input: report what is not reported yet (a worker's lookup counts). */
  flush?(): void;
}

export class AddressTable implements AddressLookup {
  readonly #v4Any = new Map<number, KubeIdentity>();
  readonly #v4Port = new Map<number, KubeIdentity>();
  readonly #v6 = new Map<string, KubeIdentity>();
  lookups = 0;
  misses = 0;

  get size(): number {
    return this.#v4Any.size + this.#v4Port.size + this.#v6.size;
  }

  apply(update: AddressUpdate): void {
    for (const slot of update.remove) {
      const [w0, w1, w2, w3] = slot.words;
      if (slot.ipVersion === 6) this.#v6.delete(v6Key(w0, w1, w2, w3, slot.port));
      else if (slot.port < 0) this.#v4Any.delete(w0);
      else this.#v4Port.delete(w0 * 65536 + slot.port);
    }
    for (const entry of update.set) {
      const [w0, w1, w2, w3] = entry.words;
      if (entry.ipVersion === 6) this.#v6.set(v6Key(w0, w1, w2, w3, entry.port), entry.identity);
      else if (entry.port < 0) this.#v4Any.set(w0, entry.identity);
      else this.#v4Port.set(w0 * 65536 + entry.port, entry.identity);
    }
  }

  /** address:port first (hostNetwork pods and Service cluster IPs), then the address on any port. */
  lookup(
    ipVersion: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    port: number,
  ): KubeIdentity | null {
    this.lookups++;
    let found: KubeIdentity | undefined;
    if (ipVersion === 4) {
      found = this.#v4Port.get(w0 * 65536 + port) ?? this.#v4Any.get(w0);
    } else if (this.#v6.size > 0) {
      found = this.#v6.get(v6Key(w0, w1, w2, w3, port)) ?? this.#v6.get(v6Key(w0, w1, w2, w3, -1));
    }
    if (found === undefined) {
      this.misses++;
      return null;
    }
    return found;
  }
}

/**
 * A worker's table: drain() (the worker calls it before each chunk, so a pair never sees a
 * table older than the chunk it came from) applies the updates waiting on its port
 * synchronously and reports the lookup counts back on the same port.
 */
export class FedAddressTable implements AddressLookup {
  readonly #table = new AddressTable();
  readonly #port: MessagePort;
  #reported: LookupCounts = { lookups: 0, misses: 0 };

  constructor(port: MessagePort) {
    this.#port = port;
  }

  lookup(
    ipVersion: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    port: number,
  ): KubeIdentity | null {
    return this.#table.lookup(ipVersion, w0, w1, w2, w3, port);
  }

  flush(): void {
    this.drain();
  }

  /** Applies pending updates and reports the lookup counts since the last report. */
  drain(): void {
    for (;;) {
      const received = receiveMessageOnPort(this.#port);
      if (received === undefined) break;
      this.#table.apply(received.message as AddressUpdate);
    }
    const table = this.#table;
    const delta: LookupCounts = {
      lookups: table.lookups - this.#reported.lookups,
      misses: table.misses - this.#reported.misses,
    };
    if (delta.lookups > 0) {
      this.#port.postMessage(delta);
      this.#reported = { lookups: table.lookups, misses: table.misses };
    }
  }
}
