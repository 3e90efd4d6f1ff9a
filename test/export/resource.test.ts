/**
 * An observed service's resource (resource.ts serviceResource, made without the SDK's resources
 * package) keeps the attributes the SDK's resourceFromAttributes() keeps, in the same order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { serviceResource } from '../../agent/export/otel/resource.ts';

test("a service's resource has the attributes and schema URL the SDK's resource would have", () => {
  const shared = { 'k8s.node.name': 'node-1', 'deployment.environment.name': 'prod', 'service.name': 'x' };
  const extra = {
    'service.namespace': 'shop',
    '': 'empty key',
    list: ['a', null, 'b'],
    mixed: ['a', 1],
    numbers: [1, 2.5],
    flag: false,
    nothing: undefined,
    nested: { a: 1 },
    nil: null,
  } as unknown as Attributes;
  for (const attributes of [extra, null, {}]) {
    const ours = serviceResource(shared, 'checkout', attributes);
    const sdk = resourceFromAttributes({ ...shared, ...attributes, 'service.name': 'checkout' });
    assert.deepEqual(Object.entries(ours.attributes), Object.entries(sdk.attributes));
    assert.equal(ours.schemaUrl, sdk.schemaUrl);
    assert.equal(ours.asyncAttributesPending, false);
  }
});

test('merge: the other resource wins, as in the SDK', () => {
  const ours = serviceResource({ a: '1', b: '2' }, 'svc', null);
  const other = resourceFromAttributes({ b: 'other', c: 3 }, { schemaUrl: 'https://example.com/schema' });
  const merged = ours.merge(other);
  const sdk = resourceFromAttributes({ ...ours.attributes }).merge(other);
  assert.deepEqual(merged.attributes, sdk.attributes);
  assert.equal(merged.schemaUrl, sdk.schemaUrl);
  assert.equal(ours.merge(null), ours);
});
