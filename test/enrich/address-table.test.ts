/** The per-thread address table and a worker's port-fed copy (address-table.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { parseAddress } from '../../agent/correlate/relay/networks.ts';
import {
  type AddressEntry,
  type AddressSlot,
  AddressTable,
  FedAddressTable,
} from '../../agent/enrich/kubernetes/address-table.ts';
import { serviceIdentity } from '../../agent/enrich/kubernetes/identity.ts';

const id = (name: string) => serviceIdentity({ name, namespace: 'ns', uid: '', resourceVersion: '' });

function slot(ip: string, port: number): AddressSlot {
  const address = parseAddress(ip)!;
  return { ipVersion: address.ipVersion, words: address.words, port };
}

function entry(ip: string, port: number, name: string): AddressEntry {
  return { ...slot(ip, port), identity: id(name) };
}

function find(table: { lookup: AddressTable['lookup'] }, ip: string, port: number): string | null {
  const s = slot(ip, port);
  return table.lookup(s.ipVersion, ...s.words, port)?.serviceName ?? null;
}

test('address:port before address; IPv4 and IPv6; removal; counts', () => {
  const table = new AddressTable();
  table.apply({
    set: [
      entry('10.0.0.5', -1, 'pod'),
      entry('10.0.0.5', 9100, 'exporter'),
      entry('fd00::5', -1, 'pod6'),
      entry('fd00::5', 53, 'dns6'),
      entry('255.255.255.255', 65535, 'edge'),
    ],
    remove: [],
  });
  assert.equal(find(table, '10.0.0.5', 9100), 'exporter');
  assert.equal(find(table, '10.0.0.5', 80), 'pod');
  assert.equal(find(table, 'fd00::5', 53), 'dns6');
  assert.equal(find(table, 'fd00::5', 54), 'pod6');
  assert.equal(find(table, '255.255.255.255', 65535), 'edge', 'the largest numeric key');
  assert.equal(find(table, '10.0.0.6', 80), null);
  assert.equal(find(table, 'fd00::6', 80), null);
  table.apply({ set: [], remove: [slot('10.0.0.5', 9100), slot('fd00::5', -1)] });
  assert.equal(find(table, '10.0.0.5', 9100), 'pod');
  assert.equal(find(table, 'fd00::5', 54), null);
  assert.equal(table.size, 3);
  assert.deepEqual([table.lookups, table.misses], [9, 3]);
});

test('a worker table applies the updates waiting on its port at each drain, and reports its counts', () => {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage({ set: [entry('10.0.0.5', -1, 'first')], remove: [] });
  const worker = new FedAddressTable(port2);
  assert.equal(find(worker, '10.0.0.5', 80), null, 'nothing before the first drain');
  worker.drain(); // the worker drains before each chunk
  assert.equal(find(worker, '10.0.0.5', 80), 'first');
  assert.equal(find(worker, '10.0.0.7', 80), null);
  port1.postMessage({ set: [entry('10.0.0.5', -1, 'second')], remove: [] });
  assert.equal(find(worker, '10.0.0.5', 80), 'first', "one table for a chunk's pairs");
  worker.drain();
  assert.equal(find(worker, '10.0.0.5', 80), 'second');
  worker.flush();
  worker.flush(); // nothing new: nothing posted
  const reports: { lookups: number; misses: number }[] = [];
  for (;;) {
    const received = receiveMessageOnPort(port1);
    if (received === undefined) break;
    reports.push(received.message);
  }
  assert.deepEqual(reports, [
    { lookups: 1, misses: 1 },
    { lookups: 3, misses: 1 },
    { lookups: 1, misses: 0 },
  ]);
  port1.close();
});
