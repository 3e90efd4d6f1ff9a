/**
 * package-info.ts: wirespan's version, and the versions package.json pins for its dependencies,
 * which must be the installed ones (the gRPC channel arguments name otlp-grpc-exporter-base's).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { kPackageVersion, pinnedDependencyVersion } from '../../agent/shared/package-info.ts';
import { repoRoot } from '../helpers/run-cli.ts';

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

test("the version is package.json's", () => {
  assert.equal(kPackageVersion, manifest.version);
  assert.match(kPackageVersion, /^\d+\.\d+\.\d+/);
});

test('every dependency is pinned exactly, to the version installed', () => {
  type Dependency = Parameters<typeof pinnedDependencyVersion>[0];
  const names = Object.keys(manifest.dependencies) as Dependency[];
  assert.ok(names.includes('@opentelemetry/otlp-grpc-exporter-base'));
  for (const name of names) {
    const pinned = pinnedDependencyVersion(name);
    assert.match(pinned, /^\d+\.\d+\.\d+(-[\w.]+)?$/, `${name}: ${pinned} is not an exact version`);
    const installed = JSON.parse(
      fs.readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8'),
    ) as { version: string };
    assert.equal(pinned, installed.version, name);
  }
});
