import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyOption, defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { hasServerPorts, serverPortsOption } from '../../agent/correlate/protocol.ts';

test('serverPortsOption is a ports option that writes its own field, default untouched', () => {
  const option = serverPortsOption('redisPorts', { flag: 'redis-ports', describe: 'x', default: [6379] });
  assert.equal(option.type, 'ports');
  assert.equal(option.flag, 'redis-ports');
  assert.deepEqual(option.default, [6379]);
  const options = defaultCorrelateOptions();
  const memcachedBefore = [...options.memcachedPorts];
  applyOption(option, options, [16379, 6380]);
  assert.deepEqual(options.redisPorts, [16379, 6380]);
  assert.deepEqual(options.memcachedPorts, memcachedBefore);
  assert.deepEqual(option.default, [6379]);
});

test('hasServerPorts: a protocol with no server ports is off', () => {
  const options = defaultCorrelateOptions();
  const enabled = hasServerPorts('mysqlPorts');
  assert.equal(enabled(options), true);
  options.mysqlPorts = [];
  assert.equal(enabled(options), false);
});
