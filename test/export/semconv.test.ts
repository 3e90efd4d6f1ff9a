/**
 * wirespan's copies of semantic-convention keys (semconv-stable.ts, so that no thread loads the
 * package's index at start) against `@opentelemetry/semantic-conventions` itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as stable from '@opentelemetry/semantic-conventions';
import * as kubernetesKeys from '../../agent/enrich/kubernetes/semconv.ts';
import * as unstableKeys from '../../agent/export/otel/semconv.ts';
import * as stableCopies from '../../agent/export/otel/semconv-stable.ts';

const packageValues = stable as Record<string, unknown>;

test('every constant of semconv-stable.ts is a stable export of the package, with its value', () => {
  const names = Object.keys(stableCopies);
  assert.ok(names.length >= 30, names.join(' '));
  for (const [name, value] of Object.entries(stableCopies)) {
    assert.ok(name in packageValues, `${name} is not a stable export of @opentelemetry/semantic-conventions`);
    assert.equal(value, packageValues[name], name);
  }
});

test('the copied unstable keys are not stable, and a stable key copied elsewhere has its value', () => {
  for (const name of Object.keys(unstableKeys))
    assert.ok(!(name in packageValues), `${name} is stable: it belongs in semconv-stable.ts`);
  for (const [name, value] of Object.entries(kubernetesKeys)) {
    if (name in packageValues) assert.equal(value, packageValues[name], name);
  }
});
