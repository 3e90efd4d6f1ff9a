/**
 * The Dockerfile cannot be built here (no Docker engine, no registry), so it is checked by
 * reading it: a pinned Node 24 base, a build stage that bundles the agent (agent/build-bundle.ts)
 * and a final stage with the bundle only (no node_modules, no npm), a non-root numeric USER,
 * tini -> node (never npm) as entrypoint, a working exec-form HEALTHCHECK on the agent's health
 * port, OCI labels, and a .dockerignore that keeps everything but the package files and agent/
 * out of the context. It is linted with dockerfile-utils (the Dockerfile linter of VS Code's
 * Docker support; hadolint has no npm or Debian package). What the image would run is exercised
 * too: the build stage's own commands (its `npm ci` into a scratch directory, then the build)
 * and the bundle they make, copied alone as the final stage copies it, runs the CLI.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { validate } from 'dockerfile-utils';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../export/otlp-receiver.ts';
import { parseHelpFlags, readRepoFile, render, repoRoot, run, runHelp, which } from './helpers.ts';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Logical instructions (continuations joined, comments dropped), grouped into stages. */
export function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending !== '' && line.trim().startsWith('#')) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const [keyword, ...rest] = full.split(/\s+/);
    instructions.push({ keyword: keyword!.toUpperCase(), args: rest.join(' '), line: startLine });
  });
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      const resolved = image!.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => globalArgs.get(arg) ?? '');
      stages.push({ from: resolved, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [name, value] = instruction.args.split('=');
      globalArgs.set(name!, value ?? '');
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** A JSON (exec form) argument list, or null for the shell form. */
function execForm(args: string): string[] | null {
  try {
    const parsed = JSON.parse(args) as unknown;
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

/** .dockerignore semantics: patterns in order, the last match wins, `!` re-includes, a match on a directory covers its contents. */
export function dockerignored(patterns: readonly string[], file: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = path.posix.normalize((negated ? raw.slice(1) : raw).trim()).replace(/\/$/, '');
    const regex = new RegExp(
      `^${pattern
        .split('')
        .map((c, i, all) => {
          if (c === '*' && all[i + 1] === '*') return '';
          if (c === '*' && all[i - 1] === '*') return '.*';
          if (c === '*') return '[^/]*';
          if (c === '?') return '[^/]';
          return c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('')}$`,
    );
    const parts = file.split('/');
    const matches = parts.some((_, i) => regex.test(parts.slice(0, i + 1).join('/')));
    if (matches) ignored = !negated;
  }
  return ignored;
}

const dockerfileText = readRepoFile('Dockerfile');
const { stages } = parseDockerfile(dockerfileText);
const finalStage = stages.at(-1)!;
const ofKind = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
/** The stage that runs the bundle's build script. */
function buildStage(): Stage {
  const build = stages.find((s) => ofKind(s, 'RUN').some((r) => r.args.includes('agent/build-bundle.ts')));
  assert.ok(build?.name, 'a named stage runs agent/build-bundle.ts');
  return build;
}

describe('Dockerfile', () => {
  test('every stage builds FROM a Node 24 image, tag pinned to the major version (or a digest)', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const stage of stages) {
      const fromStage = stages.some((s) => s.name === stage.from);
      if (fromStage) continue;
      assert.match(
        stage.from,
        /^(docker\.io\/(library\/)?)?node:24(?:[.-][^:@]*)?(?:@sha256:[0-9a-f]{64})?$/,
        stage.from,
      );
      assert.doesNotMatch(stage.from, /:latest\b/);
    }
  });

  test('a build stage bundles the agent; the final stage has the bundle only, nothing npm', () => {
    const build = buildStage();
    assert.notEqual(build, finalStage, 'the bundle is built in an earlier stage');
    assert.deepEqual(
      ofKind(build, 'COPY').map((c) => c.args),
      ['package.json package-lock.json ./', 'agent ./agent'],
      'the manifests before npm ci, then the sources',
    );
    assert.deepEqual(
      ofKind(build, 'RUN').map((r) => r.args),
      ['npm ci --ignore-scripts --no-audit --no-fund', 'node agent/build-bundle.ts'],
    );
    for (const instruction of ofKind(finalStage, 'RUN')) {
      assert.doesNotMatch(instruction.args, /\b(npm|yarn|pnpm|npx)\b/, `final stage: ${instruction.args}`);
    }
    assert.deepEqual(
      ofKind(finalStage, 'COPY').map((c) => c.args),
      [`--from=${build.name} /opt/wirespan/dist ./dist`],
      'the bundle, no node_modules, no sources',
    );
  });

  test('runs as a non-root numeric USER, through tini and node (not npm)', () => {
    const users = ofKind(finalStage, 'USER');
    assert.ok(users.length > 0, 'USER is set');
    const user = users.at(-1)!.args;
    assert.match(user, /^\d+(:\d+)?$/, 'numeric, so runAsNonRoot can verify it');
    assert.notEqual(Number(user.split(':')[0]), 0);
    const userLine = users.at(-1)!.line;
    for (const runStep of ofKind(finalStage, 'RUN'))
      assert.ok(runStep.line < userLine, 'USER after the last RUN');
    const entrypoint = execForm(ofKind(finalStage, 'ENTRYPOINT').at(-1)?.args ?? '');
    assert.deepEqual(entrypoint, ['/usr/bin/tini', '--', 'node', 'dist/main.mjs']);
    const cmd = execForm(ofKind(finalStage, 'CMD').at(-1)?.args ?? '');
    assert.equal(cmd?.[0], 'run', 'the default command is the agent');
    const install = ofKind(finalStage, 'RUN')
      .map((r) => r.args)
      .join(' ');
    assert.match(install, /apt-get install [^&]*\btini\b/);
  });

  test('tcpdump for the chart capture container: installed with NET_RAW/NET_ADMIN file capabilities', () => {
    const install = ofKind(finalStage, 'RUN')
      .map((r) => r.args)
      .join(' ');
    assert.match(install, /apt-get install [^&]*\btcpdump\b/);
    assert.match(install, /setcap cap_net_raw,cap_net_admin=eip "\$\(command -v tcpdump\)"/);
    assert.match(install, /rm -rf \/var\/lib\/apt\/lists/);
    const capture = render().capture!;
    assert.deepEqual(capture.command, ['tcpdump'], 'the chart runs that tcpdump');
    assert.equal(capture.securityContext?.allowPrivilegeEscalation, true, 'file capabilities need it');
  });

  test('compile cache on a writable path, production mode, OCI labels', () => {
    const env = ofKind(finalStage, 'ENV')
      .map((e) => e.args)
      .join(' ');
    assert.match(env, /NODE_ENV=production/);
    assert.match(env, /NODE_COMPILE_CACHE=\/tmp\//);
    const labels = ofKind(finalStage, 'LABEL')
      .map((l) => l.args)
      .join(' ');
    const pkg = JSON.parse(readRepoFile('package.json')) as { license: string };
    for (const key of ['title', 'description', 'version', 'revision', 'created']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`), key);
    }
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.licenses="${pkg.license}"`));
  });

  test('EXPOSE and HEALTHCHECK use the port `wirespan run` serves /healthz on by default', () => {
    const health = parseHelpFlags(runHelp()).find((f) => f.names.includes('--health-port'));
    const defaultPort = /\[default: (\d+)\]/.exec(health?.text ?? '')?.[1];
    assert.ok(defaultPort, 'the help gives the default health port');
    assert.deepEqual(
      ofKind(finalStage, 'EXPOSE').map((e) => e.args),
      [defaultPort],
    );
    assert.match(
      ofKind(finalStage, 'ENV')
        .map((e) => e.args)
        .join(' '),
      new RegExp(`WIRESPAN_HEALTH_PORT=${defaultPort}\\b`),
    );
    const healthcheck = ofKind(finalStage, 'HEALTHCHECK');
    assert.equal(healthcheck.length, 1);
    assert.match(healthcheck[0]!.args, /--interval=\d+s --timeout=\d+s/);
    assert.ok(
      execForm(healthcheck[0]!.args.replace(/^(--\S+\s+)*CMD\s+/, '')),
      'exec form (no shell in the image path)',
    );
  });

  test('the HEALTHCHECK command passes against a real `wirespan run` and fails when unhealthy', async () => {
    const healthcheck = ofKind(finalStage, 'HEALTHCHECK')[0]!.args.replace(/^(--\S+\s+)*CMD\s+/, '');
    const [program, ...args] = execForm(healthcheck)!;
    assert.equal(program, 'node');
    const check = (port: number) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, args, {
          env: { ...process.env, WIRESPAN_HEALTH_PORT: String(port) },
          stdio: 'ignore',
        });
        child.on('close', resolve);
      });

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-health-'));
    const port = await freePort();
    const agent = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        dir,
        '--state-dir',
        path.join(dir, '.state'),
      ],
      // The image sets WIRESPAN_HEALTH_PORT; the agent and the healthcheck both read it.
      { cwd: repoRoot, env: { ...process.env, WIRESPAN_HEALTH_PORT: String(port) }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => agent.on('close', resolve));
    const unhealthy = http.createServer((_request, response) => {
      response.statusCode = 503;
      response.end('not ready');
    });
    try {
      let status: number | null = null;
      for (let i = 0; i < 50 && status !== 0; i++) {
        status = await check(port);
        if (status !== 0) await sleep(200);
      }
      assert.equal(status, 0, 'healthy wirespan run');
      await new Promise<void>((resolve) => unhealthy.listen(0, '127.0.0.1', resolve));
      assert.equal(await check((unhealthy.address() as AddressInfo).port), 1, '503 is unhealthy');
      assert.equal(await check(await freePort()), 1, 'nothing listening is unhealthy');
    } finally {
      agent.kill('SIGTERM');
      await exited;
      unhealthy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('dockerfile-utils finds no problem (and does find them in a broken Dockerfile)', () => {
    const problems = validate(dockerfileText).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(problems, []);
    const broken = validate('FROM node:24\nEXPOSE http\nHEALTHCHECK --interval=often CMD true\nUSER\n');
    assert.ok(broken.length >= 3, JSON.stringify(broken.map((d) => d.message)));
  });
});

describe('.dockerignore', () => {
  const patterns = readRepoFile('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  test('the matcher follows Docker semantics', () => {
    assert.equal(dockerignored(['*', '!agent/'], 'agent/cli/main.mjs'), false);
    assert.equal(dockerignored(['*', '!agent/'], 'test/x.ts'), true);
    assert.equal(dockerignored(['node_modules'], 'node_modules/a/b.js'), true);
    assert.equal(dockerignored(['**/*.swp'], 'agent/cli/.x.swp'), true);
    assert.equal(dockerignored(['*.md', '!README.md'], 'README.md'), false);
  });

  test('keeps what the Dockerfile copies, leaves out node_modules, .git, tests and captures', () => {
    const tracked = spawnSync('git', ['ls-files'], { cwd: repoRoot, encoding: 'utf8' }).stdout.split('\n');
    const agentFiles = tracked.filter((f) => f.startsWith('agent/'));
    assert.ok(agentFiles.length > 20);
    for (const file of ['package.json', 'package-lock.json', ...agentFiles]) {
      assert.equal(dockerignored(patterns, file), false, `${file} is in the build context`);
    }
    for (const file of [
      'node_modules/node/bin/node',
      '.git/HEAD',
      'test/fixtures/demo.pcap',
      'bench-out/bench-5m.pcap',
      'dist/main.mjs',
      'helm/wirespan/values.yaml',
      'README.md',
      'Dockerfile',
    ]) {
      assert.equal(dockerignored(patterns, file), true, `${file} stays out of the build context`);
    }
    // Every COPY from the build context is in it.
    for (const stage of stages) {
      for (const copy of ofKind(stage, 'COPY').filter((c) => !c.args.startsWith('--from'))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const source of sources) assert.equal(dockerignored(patterns, source), false, `COPY ${source}`);
      }
    }
  });
});

const npm = which('npm');

describe('what the image runs', { skip: npm ? false : 'npm is not on PATH' }, () => {
  test("the build stage's commands make a bundle that runs the CLI on its own", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-image-'));
    try {
      for (const file of ['package.json', 'package-lock.json']) {
        fs.copyFileSync(path.join(repoRoot, file), path.join(dir, file));
      }
      fs.cpSync(path.join(repoRoot, 'agent'), path.join(dir, 'agent'), { recursive: true });
      // The stage's RUN lines as they are (offline from npm's cache when it can), node being this Node 24.
      for (const step of ofKind(buildStage(), 'RUN')) {
        const [program, ...args] = step.args.split(/\s+/);
        const result =
          program === 'npm'
            ? run(npm!, [...args, '--prefer-offline'], { cwd: dir, timeout: 300_000 })
            : run(process.execPath, args, { cwd: dir, timeout: 120_000 });
        assert.equal(result.status, 0, `${step.args}: ${result.stderr}`);
      }
      // The final stage: dist/ alone (no node_modules above it).
      const image = path.join(dir, 'image');
      fs.cpSync(path.join(dir, 'dist'), path.join(image, 'dist'), { recursive: true });
      fs.rmSync(path.join(dir, 'node_modules'), { recursive: true });
      const entrypoint = execForm(ofKind(finalStage, 'ENTRYPOINT').at(-1)?.args ?? '')!;
      const cli = path.join(image, entrypoint.at(-1)!);
      const help = run(process.execPath, [cli, 'run', '--help'], { cwd: image });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /--watch/);
      const replay = run(
        process.execPath,
        [cli, 'replay', path.join(repoRoot, 'test/fixtures/demo.pcap'), '--output', 'none'],
        { cwd: image },
      );
      assert.equal(replay.status, 0, replay.stderr);
      assert.match(replay.stderr, /pairs: dns matched=12/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the chart runs the image it describes: agent args start with the CMD verb, capture uses its tcpdump', () => {
    const chart = render();
    const cmd = execForm(ofKind(finalStage, 'CMD').at(-1)?.args ?? '')!;
    assert.equal(chart.agent.args?.[0], cmd[0]);
    const values = parseYaml(readRepoFile('helm/wirespan/values.yaml')) as {
      capture: { image: { repository: string } };
    };
    assert.equal(values.capture.image.repository, '', 'capture runs from the wirespan image by default');
    assert.equal(chart.capture?.image, chart.agent.image);
  });
});
