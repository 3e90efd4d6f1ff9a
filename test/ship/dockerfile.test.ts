/**
 * The Dockerfile cannot be built here (no Docker engine, no registry), so it is checked by
 * reading it: a pinned Node 24 base, a multi-stage build whose final stage has production
 * dependencies only, a non-root numeric USER, tini -> node (never npm) as entrypoint, a
 * working exec-form HEALTHCHECK on the agent's health port, OCI labels, and a .dockerignore
 * that keeps everything but the package files and agent/ out of the context. It is linted
 * with dockerfile-utils (the Dockerfile linter of VS Code's Docker support; hadolint has no
 * npm or Debian package). What the image would run is exercised too: `npm ci --omit=dev`
 * into a scratch directory plus agent/, as the two stages assemble it, runs the CLI.
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

  test('production dependencies only: npm ci --omit=dev in the deps stage, nothing npm in the final one', () => {
    const deps = stages.find((s) => ofKind(s, 'RUN').some((r) => /\bnpm ci\b/.test(r.args)));
    assert.ok(deps && deps !== finalStage, 'dependencies are installed in an earlier stage');
    const install = ofKind(deps, 'RUN').find((r) => /\bnpm ci\b/.test(r.args))!;
    assert.match(install.args, /--omit=dev\b/);
    const copiesInDeps = ofKind(deps, 'COPY').map((c) => c.args);
    assert.deepEqual(copiesInDeps, ['package.json package-lock.json ./'], 'only the manifests before npm ci');
    for (const instruction of ofKind(finalStage, 'RUN')) {
      assert.doesNotMatch(instruction.args, /\b(npm|yarn|pnpm|npx)\b/, `final stage: ${instruction.args}`);
    }
    const copies = ofKind(finalStage, 'COPY').map((c) => c.args);
    assert.ok(copies.includes(`--from=${deps.name} /opt/wirespan/node_modules ./node_modules`));
    assert.deepEqual(
      copies.filter((c) => !c.startsWith('--from')),
      ['package.json ./', 'agent ./agent'],
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
    assert.deepEqual(entrypoint, ['/usr/bin/tini', '--', 'node', 'agent/cli/main.mjs']);
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
  test('production dependencies (npm ci --omit=dev) and agent/ are enough to run the CLI', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-image-'));
    try {
      for (const file of ['package.json', 'package-lock.json']) {
        fs.copyFileSync(path.join(repoRoot, file), path.join(dir, file));
      }
      const install = run(
        npm!,
        ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
        {
          cwd: dir,
          timeout: 300_000,
        },
      );
      assert.equal(install.status, 0, install.stderr);
      // Packages the lockfile marks dev-only (the `node` binary package, TypeScript, Biome, helm...).
      const lock = JSON.parse(readRepoFile('package-lock.json')) as {
        packages: Record<string, { dev?: boolean }>;
      };
      const devOnly = Object.entries(lock.packages).filter(([where, info]) => where !== '' && info.dev);
      assert.ok(devOnly.some(([where]) => where === 'node_modules/typescript'));
      for (const [where] of devOnly) {
        assert.ok(!fs.existsSync(path.join(dir, where)), `dev-only ${where} is not installed`);
      }
      assert.ok(
        fs.existsSync(path.join(dir, 'node_modules/@opentelemetry/sdk-metrics')),
        'production ones are',
      );
      fs.cpSync(path.join(repoRoot, 'agent'), path.join(dir, 'agent'), { recursive: true });
      const cli = path.join(dir, 'agent/cli/main.mjs');
      const help = run(process.execPath, [cli, 'run', '--help'], { cwd: dir });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /--watch/);
      const replay = run(
        process.execPath,
        [cli, 'replay', path.join(repoRoot, 'test/fixtures/demo.pcap'), '--output', 'none'],
        {
          cwd: dir,
        },
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
