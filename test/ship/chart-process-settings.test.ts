/**
 * The chart gives the agent the process settings `wirespan run` would otherwise restart itself
 * to add (agent/cli/restart-settings.mjs: V8 flags on node's command line, GLIBC_TUNABLES), so
 * a deployed agent never restarts at start. They are the restart's own values (no drift: a
 * change in restart-settings.mjs fails here until the chart follows), and the command is the
 * image's entrypoint with the flags after `node`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restartSettings } from '../../agent/cli/restart-settings.mjs';
import { type Container, readRepoFile, render } from './helpers.ts';

/** The Dockerfile's ENTRYPOINT (exec form). */
function imageEntrypoint(): string[] {
  const line = /^ENTRYPOINT (\[.*\])$/m.exec(readRepoFile('Dockerfile'));
  assert.ok(line, 'the Dockerfile has an exec-form ENTRYPOINT');
  return JSON.parse(line[1]!) as string[];
}

/** The node flags of the agent's command, checked to be the image's entrypoint with flags after `node`. */
function nodeFlags(agent: Container): string[] {
  const entrypoint = imageEntrypoint();
  const node = entrypoint.indexOf('node');
  const command = agent.command ?? [];
  assert.deepEqual(command.slice(0, node + 1), entrypoint.slice(0, node + 1), command.join(' '));
  assert.deepEqual(command.slice(-(entrypoint.length - node - 1)), entrypoint.slice(node + 1));
  return command.slice(node + 1, command.length - (entrypoint.length - node - 1));
}

/** The agent's environment as the process sees it (literal values; the last definition wins). */
function literalEnv(agent: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of agent.env ?? [])
    if (variable.value !== undefined) env[variable.name] = variable.value;
  return env;
}

test('the agent container starts with the settings `run` restarts for: no restart, and the same values', () => {
  const { agent } = render();
  const flags = nodeFlags(agent);
  const env = literalEnv(agent);
  const argv = ['node', 'dist/main.mjs', ...(agent.args ?? [])];
  assert.equal(restartSettings(argv, flags, env), null, `flags ${flags.join(' ')}`);
  // Exactly what a restart would add to a bare `run`.
  const restart = restartSettings(['node', 'dist/main.mjs', 'run'], [], {});
  assert.ok(restart);
  assert.deepEqual(flags, restart.flags);
  for (const [name, value] of Object.entries(restart.env)) assert.equal(env[name], value, name);
});

test("the user's environment still wins: extraEnv after the chart's GLIBC_TUNABLES", () => {
  const { agent } = render({
    set: ['agent.extraEnv[0].name=GLIBC_TUNABLES', 'agent.extraEnv[0].value=glibc.malloc.arena_max=2'],
  });
  assert.equal(literalEnv(agent).GLIBC_TUNABLES, 'glibc.malloc.arena_max=2');
});
