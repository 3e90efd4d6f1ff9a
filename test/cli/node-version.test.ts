/**
 * On a Node older than 24 (the machines' own Node 20) the CLI says in one line what to do and
 * exits 2, instead of failing on the TypeScript entry point with ERR_UNKNOWN_FILE_EXTENSION.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/run-cli.ts';

/** A Node older than 24 on this machine, if there is one (Debian's /usr/bin/node here). */
function olderNode(): { path: string; version: string } | null {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (version.status === 0 && Number(version.stdout.slice(1).split('.')[0]) < 24)
      return { path: candidate, version: version.stdout.trim() };
  }
  return null;
}

const older = olderNode();

test('an older Node gets one line naming the version and what to run', {
  skip: older === null && 'no Node < 24 here',
}, () => {
  const result = spawnSync(older!.path, [path.join(repoRoot, 'agent/cli/main.mjs'), 'replay', '--help'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(
    lines[0]!,
    new RegExp(`needs Node\\.js 24 or newer, this is ${older!.version.replaceAll('.', '\\.')}`),
  );
  assert.match(lines[0]!, /npx wirespan/);
});

test('package.json declares the Node it needs', async () => {
  const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
    engines?: { node?: string };
  };
  assert.equal(pkg.engines?.node, '>=24');
});
