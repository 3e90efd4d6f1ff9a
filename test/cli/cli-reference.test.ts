/**
 * docs/cli.md's generated part is what test/tools/make-cli-reference.ts makes from the yargs
 * definitions in agent/cli/commands.ts now: a flag added, renamed or redescribed without
 * regenerating the page fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { repoRoot } from '../helpers/run-cli.ts';

const page = path.join(repoRoot, 'docs/cli.md');
const generator = path.join(repoRoot, 'test/tools/make-cli-reference.ts');

function regenerated(): string {
  const run = spawnSync(process.execPath, [generator, '--stdout'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test('docs/cli.md is up to date with the yargs definitions', () => {
  const committed = fs.readFileSync(page, 'utf8');
  assert.ok(committed === regenerated(), 'docs/cli.md is stale: run npm run docs:cli and commit docs/cli.md');
});

test('the reference lists every flag `wirespan run --help` prints, and every key of config/wirespan.yaml', () => {
  const text = regenerated();
  const help = spawnSync(process.execPath, [path.join(repoRoot, 'agent/cli/main.mjs'), 'run', '--help'], {
    encoding: 'utf8',
  }).stdout;
  const flags = [...help.matchAll(/^\s+(?:-\w, )?--([a-z][a-z-]*)/gm)].map((m) => m[1]!);
  assert.ok(flags.length > 20, help);
  for (const flag of flags)
    assert.ok(text.includes(`\`--${flag}\``), `--${flag} is missing from docs/cli.md`);
  const example = YAML.parse(fs.readFileSync(path.join(repoRoot, 'config/wirespan.yaml'), 'utf8')) as object;
  const configKeys = text.match(/^Keys of the `--config` file: (.*)\.$/m)?.[1] ?? '';
  for (const key of Object.keys(example)) assert.ok(configKeys.includes(`\`${key}\``), `config key ${key}`);
});
