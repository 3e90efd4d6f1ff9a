/** Who an address names when several objects claim it, and what the tables are sent (address-index.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddress } from '../../agent/correlate/relay/networks.ts';
import { AddressIndex } from '../../agent/enrich/kubernetes/address-index.ts';
import type { AddressEntry } from '../../agent/enrich/kubernetes/address-table.ts';
import { serviceIdentity } from '../../agent/enrich/kubernetes/identity.ts';

const id = (name: string) => serviceIdentity({ name, namespace: 'ns', uid: '', resourceVersion: '' });

function at(ip: string, port: number, name: string): AddressEntry {
  const address = parseAddress(ip)!;
  return { ipVersion: address.ipVersion, words: address.words, port, identity: id(name) };
}

const names = (index: AddressIndex) =>
  index
    .snapshot()
    .map((e) => `${e.words[0]}:${e.port}=${e.identity.serviceName}`)
    .sort();

test('the highest rank wins a shared address, then the latest claim; a withdrawn claim falls back', () => {
  const index = new AddressIndex(100);
  index.set('slice/a', 1, [at('10.0.0.1', 80, 'endpoint')]);
  index.set('pod/old', 2, [at('10.0.0.1', 80, 'old-pod')]);
  assert.deepEqual(
    index.takeUpdate()?.set.map((e) => e.identity.serviceName),
    ['old-pod'],
    'one winner per slot, sent once',
  );
  index.set('pod/new', 3, [at('10.0.0.1', 80, 'new-pod')]); // running, the old one is terminating
  assert.deepEqual(
    index.takeUpdate()?.set.map((e) => e.identity.serviceName),
    ['new-pod'],
  );
  index.set('pod/old', 2, null);
  assert.equal(index.takeUpdate(), null, 'the old pod leaving changes nothing: the new one still wins');
  index.set('pod/new', 3, null);
  assert.deepEqual(
    index.takeUpdate()?.set.map((e) => e.identity.serviceName),
    ['endpoint'],
    'back to the endpoint',
  );
  index.set('slice/a', 1, null);
  const last = index.takeUpdate();
  assert.deepEqual([last?.set.length, last?.remove.length], [0, 1]);
  assert.equal(index.size, 0);
});

test('an object that comes back unchanged sends nothing; a renamed one sends its slots again', () => {
  const index = new AddressIndex(100);
  index.set('pod/p', 3, [at('10.0.0.2', -1, 'api'), at('fd00::2', -1, 'api')]);
  assert.equal(index.takeUpdate()?.set.length, 2);
  index.set('pod/p', 3, [at('10.0.0.2', -1, 'api'), at('fd00::2', -1, 'api')]);
  assert.equal(index.takeUpdate(), null);
  index.set('pod/p', 3, [at('10.0.0.2', -1, 'api-v2')]);
  const update = index.takeUpdate();
  assert.deepEqual(
    [update?.set.map((e) => e.identity.serviceName), update?.remove.map((s) => s.ipVersion)],
    [['api-v2'], [6]],
  );
});

test('beyond the cap new slots are refused and counted; freed slots take new claims', () => {
  const index = new AddressIndex(2);
  index.set('pod/a', 3, [at('10.0.0.1', -1, 'a')]);
  index.set('pod/b', 3, [at('10.0.0.2', -1, 'b'), at('10.0.0.3', -1, 'b')]);
  index.takeUpdate();
  assert.deepEqual([index.size, index.dropped], [2, 1]);
  index.set('pod/c', 3, [at('10.0.0.1', -1, 'c')]); // an existing slot: no new room needed
  index.set('pod/a', 3, null);
  index.set('pod/d', 3, [at('10.0.0.4', -1, 'd')]);
  index.takeUpdate();
  assert.deepEqual(names(index), [
    `${parseAddress('10.0.0.1')!.words[0]}:-1=c`,
    `${parseAddress('10.0.0.2')!.words[0]}:-1=b`,
  ]);
  assert.equal(index.dropped, 2);
});
