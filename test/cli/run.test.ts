/**
 * `wirespan run` as a real process on real files: a capture written in pieces (header first,
 * a record split across two writes) into a watched directory, rotated into a second file
 * between a request and its response, gives exactly the pairs `replay` finds in the whole
 * capture; the health endpoints answer; SIGTERM drains and exits 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveWorkers } from '../../agent/cli/replay-command.ts';
import { pcapBytes, readAllRecords } from '../helpers/pcap-writer.ts';
import { jsonLines, jsonlAgentArgs, repoRoot, runCli, runCliAsync, startAgent } from '../helpers/run-cli.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');

async function waitFor(condition: () => boolean, what: string, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function withoutSource(pair: Record<string, unknown>): string {
  const { source: _source, ...rest } = pair;
  return JSON.stringify(rest);
}

test('tails a growing, rotating capture: every pair once, as replay finds them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-run-'));
  const out = path.join(dir, '..', `${path.basename(dir)}.jsonl`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const agent = startAgent([
    '--watch',
    dir,
    '--grace',
    '0.3',
    '--output',
    `jsonl:${out}`,
    '--health-port',
    String(port),
    '--health-host',
    '127.0.0.1',
  ]);
  try {
    await waitFor(() => agent.stderr().includes('"watching"'), 'the agent to start');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    await waitFor(() => agent.stderr().length > 0, 'logs');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200, await ready.text());

    const records = readAllRecords(demo);
    // Cut between a DNS query (packet 33 is one that is answered later? any cut works): packet 80.
    const cut = 80;
    const first = pcapBytes(records.slice(0, cut));
    const second = pcapBytes(records.slice(cut));
    const file1 = path.join(dir, 'cap-20261128230000.pcap');
    // Like tcpdump: the 24-byte header first, then records; one record split across two writes.
    fs.writeFileSync(file1, first.subarray(0, 24));
    await sleep(300);
    const middle = 24 + Math.floor((first.length - 24) / 2) + 7;
    fs.appendFileSync(file1, first.subarray(24, middle));
    await sleep(300);
    fs.appendFileSync(file1, first.subarray(middle));
    await sleep(500);
    // Rotation: tcpdump opens the next file; the old one stops growing.
    const file2 = path.join(dir, 'cap-20261128230030.pcap');
    fs.writeFileSync(file2, second);
    await waitFor(() => agent.stderr().includes(file2), 'the second file to be read');
    await sleep(800);
  } finally {
    agent.child.kill('SIGTERM');
  }
  assert.equal(await agent.exited, 0, agent.stderr());
  assert.match(agent.stderr(), /"stopped"/);

  const expected = jsonLines(runCli(['replay', demo, '--workers', '0']).stdout)
    .map(withoutSource)
    .sort();
  const got = jsonLines(fs.readFileSync(out, 'utf8')).map(withoutSource).sort();
  assert.deepEqual(got, expected);
});

test('a file overwritten before it was read to its end is counted as lost; the agent goes on', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-run-'));
  const agent = startAgent([
    '--watch',
    dir,
    '--state-dir',
    path.join(dir, '..', `${path.basename(dir)}.state`),
    '--grace',
    '0.3',
    '--health-port',
    '0',
    '--stats-interval',
    '1',
  ]);
  try {
    await waitFor(() => agent.stderr().includes('"watching"'), 'the agent to start');
    const bytes = pcapBytes(readAllRecords(demo));
    const file = path.join(dir, 'cap0');
    fs.writeFileSync(file, bytes);
    await waitFor(() => agent.stderr().includes('reading capture file'), 'the file to be opened');
    await sleep(300);
    // A -W ring overwrites it in place: truncated, then rewritten shorter than what was read.
    fs.writeFileSync(file, bytes.subarray(0, 24));
    await waitFor(() => /capture file lost/.test(agent.stderr()), 'the loss to be reported');
    // The ring's new content under the same name is read as a new file.
    fs.appendFileSync(file, bytes.subarray(24));
    await waitFor(
      () => agent.stderr().split('reading capture file').length > 2,
      'the new content to be read',
    );
  } finally {
    agent.child.kill('SIGTERM');
  }
  assert.equal(await agent.exited, 0, agent.stderr());
  const lost = agent
    .stderr()
    .split('\n')
    .filter((line) => line.includes('capture file lost'));
  assert.equal(lost.length, 1, 'logged once');
});

test('a missing watch directory is a clear error', () => {
  const result = runCli(['run', '--watch', '/nonexistent/wirespan-pcaps', '--health-port', '0']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /watch directory does not exist/);
});

test('a health port in use is a clear error, with workers too (the process ends instead of hanging)', async () => {
  const watch = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-port-'));
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    for (const workers of ['0', '2']) {
      const result = await runCliAsync(
        [
          'run',
          '--watch',
          watch,
          '--state-dir',
          path.join(watch, 'state'),
          '--health-host',
          '127.0.0.1',
          '--health-port',
          String(port),
          '--workers',
          workers,
        ],
        { timeoutMillis: 30_000 },
      );
      assert.equal(result.status, 1, `--workers ${workers}: ${result.stderr}`);
      assert.match(result.stderr, /cannot start the health server.*EADDRINUSE/);
    }
  } finally {
    taken.close();
    fs.rmSync(watch, { recursive: true, force: true });
  }
});

for (const workers of ['0', '2']) {
  for (const across of [false, true]) {
    test(`--workers ${workers}: SIGKILL mid-capture, restart: resumes at the checkpoint; no pair lost or repeated, the requests pending at it ${across ? 'read again from the file before' : 'read again'}`, async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-kill-'));
      const dir = path.join(root, 'pcaps');
      const state = path.join(root, 'state');
      fs.mkdirSync(dir);
      const records = readAllRecords(demo);
      const all = jsonLines(runCli(['replay', demo, '--workers', '0']).stdout).filter(
        (p) => p.outcome === 'matched',
      );
      const packetOf = (p: Record<string, unknown>, side: 'request' | 'response') =>
        (p.source as Record<string, { packet: number; last_packet?: number }>)[side]!;
      // Cut right after the request of the slowest exchange (the 2 s download): its response is
      // after the checkpoint. Across: the checkpoint is in the next file, one record later.
      const slowest = all.reduce((a, b) => ((a.duration_ns as number) > (b.duration_ns as number) ? a : b));
      const cut = packetOf(slowest, 'request').last_packet ?? packetOf(slowest, 'request').packet;
      const pieces = across
        ? [records.slice(0, cut), records.slice(cut, cut + 1), records.slice(cut + 1)]
        : [records.slice(0, cut), records.slice(cut)];
      const before = pieces.slice(0, -1).map((piece, i) => {
        const file = path.join(dir, `cap-${i + 1}.pcap`);
        fs.writeFileSync(file, pcapBytes(piece));
        return file;
      });
      // Finished files are older (a rotation): the newest is read while it grows.
      const old = Date.now() / 1000 - 60;
      for (let i = 0; i < before.length - 1; i++) fs.utimesSync(before[i]!, old + i, old + i);
      const checkpointAt = before.at(-1)!;
      const checkpointSize = fs.statSync(checkpointAt).size;
      const args = (out: string) => jsonlAgentArgs(dir, state, workers, out);

      const first = startAgent(args(path.join(root, 'out1.jsonl')));
      const checkpointFile = path.join(state, 'checkpoint.json');
      const checkpoint = () => JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).directories[0];
      await waitFor(() => {
        try {
          const at = checkpoint();
          return at.current?.path === checkpointAt && at.current.offset === checkpointSize;
        } catch {
          return false;
        }
      }, 'a checkpoint at the end of what was written');
      first.child.kill('SIGKILL');
      await first.exited;
      // The requests pending then were read in the first file: the restart reads it again.
      assert.equal(checkpoint().rebuildFrom?.path, before[0], JSON.stringify(checkpoint()));

      // tcpdump went on while the agent was down: the rest of the capture is in the next file.
      await sleep(50);
      const rest = path.join(dir, `cap-${pieces.length}.pcap`);
      fs.writeFileSync(rest, pcapBytes(pieces.at(-1)!));
      const second = startAgent(args(path.join(root, 'out2.jsonl')));
      await waitFor(() => second.stderr().includes(path.basename(rest)), 'the last file');
      await waitFor(
        () => second.stderr().includes('resuming capture file from the checkpoint'),
        'the resume',
      );
      if (across) assert.match(second.stderr(), /reading capture file again to rebuild/);
      await sleep(1000);
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.stderr());
      assert.match(second.stderr(), /rebuilt the requests pending at the checkpoint.*"recordsReadAgain":\d+/);

      const got = [
        ...jsonLines(fs.readFileSync(path.join(root, 'out1.jsonl'), 'utf8')),
        ...jsonLines(fs.readFileSync(path.join(root, 'out2.jsonl'), 'utf8')),
      ].filter((p) => p.outcome === 'matched');
      const finishedBeforeCut = all.filter(
        (p) => (packetOf(p, 'response').last_packet ?? packetOf(p, 'response').packet) <= cut,
      );
      assert.ok(finishedBeforeCut.length < all.length, 'pairs finish after the cut');
      // Every pair exactly once, the slowest one (request before the checkpoint, response after
      // it) included.
      assert.deepEqual(got.map(withoutSource).sort(), all.map(withoutSource).sort());
    });
  }

  test(`--workers ${workers}: SIGTERM drains, exit 0 with a final checkpoint at the end of what was read; a restart reads nothing twice`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-term-'));
    const dir = path.join(root, 'pcaps');
    const state = path.join(root, 'state');
    fs.mkdirSync(dir);
    // A backlog of three finished files (old mtimes) and a current one, like tcpdump -G.
    const old = Date.now() / 1000 - 3600;
    for (let i = 0; i < 4; i++) {
      const file = path.join(dir, `cap-${i}.pcap`);
      fs.copyFileSync(demo, file);
      if (i < 3) fs.utimesSync(file, old + i, old + i);
    }
    const last = path.join(dir, 'cap-3.pcap');
    const size = fs.statSync(last).size;
    const args = (out: string) => jsonlAgentArgs(dir, state, workers, out);
    const checkpointFile = path.join(state, 'checkpoint.json');
    const checkpoint = () => JSON.parse(fs.readFileSync(checkpointFile, 'utf8'));
    const first = startAgent(args(path.join(root, 'out1.jsonl')));
    await waitFor(() => {
      try {
        return checkpoint().directories[0]?.current?.offset === size;
      } catch {
        return false;
      }
    }, 'a checkpoint at the end of the last file');
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.stderr());
    // The final checkpoint: the three finished files done, the current one read to its end.
    const final = checkpoint().directories[0];
    assert.equal(final.done.length, 3, JSON.stringify(final));
    assert.equal(final.current?.path, last, JSON.stringify(final));
    assert.equal(final.current?.offset, size, JSON.stringify(final));
    // Every pair of the four files once, as replay of the directory finds them (the requests
    // still pending at the stop reported unanswered, as at the end of a replay).
    const expected = runCli(['replay', dir, '--workers', '0']).stdout.split('\n').filter(Boolean).sort();
    const out1 = fs.readFileSync(path.join(root, 'out1.jsonl'), 'utf8').split('\n').filter(Boolean).sort();
    assert.deepEqual(out1, expected);

    const second = startAgent(args(path.join(root, 'out2.jsonl')));
    await waitFor(() => second.stderr().includes('resuming capture file from the checkpoint'), 'the resume');
    await sleep(500);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr());
    assert.equal(fs.readFileSync(path.join(root, 'out2.jsonl'), 'utf8'), '', 'nothing read twice');
  });
}

test('an idle agent does not rewrite a checkpoint whose positions did not change; the stop clears what a restart would rebuild', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-idle-'));
  const dir = path.join(root, 'pcaps');
  const state = path.join(root, 'state');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'cap-0.pcap');
  fs.copyFileSync(demo, file);
  const size = fs.statSync(file).size;
  const agent = startAgent(['--watch', dir, '--state-dir', state, '--grace', '0.3', '--health-port', '0']);
  const checkpointFile = path.join(state, 'checkpoint.json');
  try {
    await waitFor(() => {
      try {
        return JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).directories[0]?.current?.offset === size;
      } catch {
        return false;
      }
    }, 'a checkpoint at the end of the file');
    // Each save writes a new file and renames it over the old one: a new inode.
    const written = fs.statSync(checkpointFile).ino;
    await sleep(2500);
    assert.equal(fs.statSync(checkpointFile).ino, written, 'rewritten while nothing changed');
    const idle = JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).directories[0];
    assert.notEqual(idle.rebuildFrom, null);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.stderr());
    // The stop reports the requests still pending (end_of_input): the final checkpoint is the same
    // position with none left to rebuild after a restart.
    const final = JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).directories[0];
    assert.deepEqual(final, { ...idle, rebuildFrom: null });
  } finally {
    agent.child.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('--config YAML, WIRESPAN_* env and flags: flags win over env, env over the file', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-config-'));
  const config = path.join(root, 'wirespan.yaml');
  fs.writeFileSync(config, `watch: [${root}]\nstate-dir: ${root}/state\nhealth-port: 0\nstats-interval: 7\n`);
  const started = async (args: string[], env: Record<string, string>): Promise<Record<string, unknown>> => {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'agent/cli/main.mjs'), 'run', '--config', config, ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, ...env },
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise((resolve) => child.on('close', resolve));
    await waitFor(() => stderr.includes('"watching"'), 'the agent to start');
    child.kill('SIGTERM');
    await exited;
    return JSON.parse(stderr.split('\n').find((line) => line.includes('"watching"'))!);
  };
  assert.deepEqual((await started([], {})).dirs, [root]);
  const port = String(20000 + Math.floor(Math.random() * 20000));
  assert.equal((await started([], { WIRESPAN_HEALTH_PORT: port })).healthPort, Number(port));
  assert.equal((await started(['--health-port', '0'], { WIRESPAN_HEALTH_PORT: port })).healthPort, 0);
  fs.appendFileSync(config, 'no-such-flag: 1\n');
  const bad = runCli(['run', '--config', config]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no-such-flag/);
});

test('non-capture files are ignored; a file corrupt mid-stream is logged, counted, and the agent goes on', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-bad-'));
  const dir = path.join(root, 'pcaps');
  fs.mkdirSync(dir);
  const out = path.join(root, 'pairs.jsonl');
  const records = readAllRecords(demo);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a capture at all\n');
  // A capture whose 21st record header claims 1 GB: framing cannot be trusted after it.
  const good = pcapBytes(records.slice(0, 20));
  const corrupt = Buffer.concat([
    good,
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0x40]),
    Buffer.alloc(64),
  ]);
  fs.writeFileSync(path.join(dir, 'cap-1.pcap'), corrupt);
  await sleep(20);
  fs.writeFileSync(path.join(dir, 'cap-2.pcap'), pcapBytes(records.slice(20)));
  const agent = startAgent(jsonlAgentArgs(dir, path.join(root, 'state'), 'auto', out));
  try {
    await waitFor(() => agent.stderr().includes('cap-2.pcap'), 'the next file to be read');
    await sleep(800);
  } finally {
    agent.child.kill('SIGTERM');
  }
  assert.equal(await agent.exited, 0, agent.stderr());
  const corruptLines = agent
    .stderr()
    .split('\n')
    .filter((line) => line.includes('corrupt'));
  assert.equal(corruptLines.length, 1, agent.stderr());
  assert.match(corruptLines[0]!, /cap-1\.pcap/);
  assert.doesNotMatch(agent.stderr(), /notes\.txt/);
  assert.match(agent.stderr(), /"error":1/, 'the stopped line counts the file error');
  assert.ok(
    jsonLines(fs.readFileSync(out, 'utf8')).some((p) => p.outcome === 'matched'),
    'pairs from the files around it',
  );
});

/** A collector that accepts TCP connections and never answers. */
async function blackHole(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

for (const workers of ['0', '2']) {
  test(`--workers ${workers}: a collector that does not answer pauses reading (backpressure), nothing is checkpointed`, async () => {
    const hole = await blackHole();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-pressure-'));
    const dir = path.join(root, 'pcaps');
    fs.mkdirSync(dir);
    const copies = 40;
    const old = Date.now() / 1000 - 3600;
    for (let i = 0; i < copies; i++) {
      const file = path.join(dir, `cap-${String(i).padStart(2, '0')}.pcap`);
      fs.copyFileSync(demo, file);
      fs.utimesSync(file, old + i, old + i);
    }
    const total = copies * readAllRecords(demo).length;
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'agent/cli/main.mjs'),
        'run',
        '--watch',
        dir,
        '--state-dir',
        path.join(root, 'state'),
        '--otlp',
        `http://127.0.0.1:${hole.port}`,
        '--grace',
        '0.2',
        '--health-port',
        '0',
        '--stats-interval',
        '1',
        '--shutdown-timeout',
        '1',
        '--workers',
        workers,
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, OTEL_BSP_MAX_QUEUE_SIZE: '8', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4' },
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const packetsRead = (): number[] =>
      stderr
        .split('\n')
        .filter((line) => line.includes('"msg":"stats"'))
        .map((line) => JSON.parse(line).packets as number);
    try {
      await waitFor(() => packetsRead().length >= 3, 'three stats lines');
      const before = packetsRead().at(-1)!;
      await sleep(2000);
      const after = packetsRead().at(-1)!;
      assert.ok(before > 0, stderr);
      assert.ok(after < total, `read ${after} of ${total} packets: reading did not pause`);
      assert.equal(after, before, 'reading is paused while the collector does not answer');
    } finally {
      child.kill('SIGTERM');
    }
    await exited;
    await hole.close();
    const checkpoint = JSON.parse(fs.readFileSync(path.join(root, 'state', 'checkpoint.json'), 'utf8'));
    assert.deepEqual(checkpoint.directories[0].done, [], 'no file checkpointed as done');
  });
}

test('--workers auto: one per core, also while spans are exported (the workers encode them); none on one core; an explicit count is honoured', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-auto-'));
  /** The agent's "watching" line; `pinned`: started by taskset on one core (availableParallelism 1). */
  const watching = async (args: string[], pinned = false): Promise<Record<string, unknown>> => {
    const runArgs = ['--watch', dir, '--state-dir', path.join(dir, 'state'), '--health-port', '0', ...args];
    const agent = startAgent(runArgs, {}, undefined, pinned ? ['taskset', '-c', '0'] : []);
    try {
      await waitFor(() => agent.stderr().includes('"watching"'), 'the agent to start');
    } finally {
      agent.child.kill('SIGTERM');
    }
    await agent.exited;
    return JSON.parse(
      agent
        .stderr()
        .split('\n')
        .find((line) => line.includes('"watching"'))!,
    );
  };
  const cores = os.availableParallelism();
  assert.equal(resolveWorkers('auto', 1), 0);
  assert.equal(resolveWorkers('auto', 2), 2);
  assert.equal(resolveWorkers(3, 1), 3, 'an explicit count is kept on one core');
  assert.equal((await watching([])).workers, resolveWorkers('auto', cores));
  assert.equal((await watching(['--otlp', 'http://127.0.0.1:1'])).workers, resolveWorkers('auto', cores));
  assert.equal((await watching(['--otlp', 'http://127.0.0.1:1', '--workers', '2'])).workers, 2);
  assert.equal((await watching(['--workers', '0'])).workers, 0);
  assert.equal((await watching(['--otlp', 'http://127.0.0.1:1'], true)).workers, 0, 'auto on one core');
  assert.equal((await watching(['--workers', '1'], true)).workers, 1);
});
