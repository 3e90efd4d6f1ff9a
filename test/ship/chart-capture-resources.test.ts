/**
 * The chart protects the capture: tcpdump gets a kernel buffer (-B) and a CPU request (its
 * weight when the node is busy) and no CPU limit; the agent gets a CPU limit, and --workers
 * may not ask for more cores than that limit.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { argValue, type Container, helmTemplate, render } from './helpers.ts';

interface Resources {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

function resources(container: Container | undefined): Resources {
  return (container?.resources ?? {}) as Resources;
}

describe('capture protection (default values)', () => {
  const r = render();

  test('tcpdump: a 16 MiB kernel buffer, a CPU request, no CPU limit', () => {
    assert.equal(argValue(r.capture?.args ?? [], '-B'), '16384');
    assert.equal(resources(r.capture).requests?.cpu, '100m');
    assert.equal(resources(r.capture).limits?.cpu, undefined, 'a throttled tcpdump drops packets');
    assert.ok(resources(r.capture).limits?.memory, 'memory stays bounded');
  });

  test('agent: a CPU limit, workers auto (which follows it)', () => {
    assert.equal(resources(r.agent).limits?.cpu, '1');
    assert.equal(argValue(r.agent.args ?? [], '--workers'), 'auto');
  });

  test('-B follows capture.bufferSizeKiB', () => {
    const bigger = render({ set: ['capture.bufferSizeKiB=65536'] });
    assert.equal(argValue(bigger.capture?.args ?? [], '-B'), '65536');
  });
});

describe('agent workers sized with the CPU limit', () => {
  for (const [workers, cpu] of [
    ['2', '2'],
    ['2', '2500m'],
    ['1', '1000m'],
    ['3', '3.5'],
  ] as const) {
    test(`workers=${workers} within limits.cpu=${cpu}: rendered`, () => {
      const r = render({ set: [`agent.workers=${workers}`, `agent.resources.limits.cpu=${cpu}`] });
      assert.equal(argValue(r.agent.args ?? [], '--workers'), workers);
    });
  }

  for (const [workers, cpu] of [
    ['2', '1'],
    ['1', '500m'],
    ['4', '3.5'],
  ] as const) {
    test(`workers=${workers} over limits.cpu=${cpu}: refused`, () => {
      const result = helmTemplate({ set: [`agent.workers=${workers}`, `agent.resources.limits.cpu=${cpu}`] });
      assert.notEqual(result.status, 0);
      assert.match(
        result.stderr,
        new RegExp(
          `agent\\.workers=${workers} needs agent\\.resources\\.limits\\.cpu of at least ${workers}`,
        ),
      );
    });
  }

  test('no CPU limit: any worker count renders (the operator sizes the node)', () => {
    const r = render({ set: ['agent.workers=4', 'agent.resources.limits.cpu=null'] });
    assert.equal(argValue(r.agent.args ?? [], '--workers'), '4');
    assert.equal(resources(r.agent).limits?.cpu, undefined);
  });
});
