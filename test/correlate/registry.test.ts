import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelOf } from '../../agent/correlate/protocol.ts';
import { matcherRegistry } from '../../agent/correlate/registry.ts';

// The summary, the HTML report and the JSONL keys tell protocols apart by these: two protocols
// sharing one would be drawn or counted as one.
test('every protocol in the registry has its own name, label and colour', () => {
  for (const field of ['name', 'label', 'color'] as const) {
    const values = matcherRegistry.map((d) =>
      field === 'label' ? labelOf(matcherRegistry, d.name) : d[field],
    );
    const repeated = values.filter((v, i) => values.indexOf(v) !== i);
    assert.deepEqual(repeated, [], `${field} used by more than one protocol`);
  }
  for (const descriptor of matcherRegistry) assert.match(descriptor.color, /^#[0-9A-Fa-f]{6}$/);
});
