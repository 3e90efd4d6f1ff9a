import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PortSet } from '../../../agent/correlate/tcp-stream/port-set.ts';

test('a PortSet has exactly the ports it was given, 0 and 65535 included', () => {
  const ports = new PortSet([0, 5432, 65535]);
  for (let port = 0; port < 65536; port++) {
    assert.equal(ports.has(port), port === 0 || port === 5432 || port === 65535, `port ${port}`);
  }
});

test('an empty PortSet has no port', () => {
  const ports = new PortSet([]);
  for (let port = 0; port < 65536; port++) assert.equal(ports.has(port), false);
});
