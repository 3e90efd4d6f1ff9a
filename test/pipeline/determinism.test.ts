/**
 * The worker pipeline gives the same pairs whatever the worker count: --workers 0 (one
 * thread, the reference), 1, 2 and 4 produce the same set of JSONL lines (order may differ).
 * With --relay every worker decodes every record (payload sharding); without it, workers skip
 * other shards' records by their raw flow hash: both paths are compared.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { corpusDir } from '../helpers/corpus.ts';
import { readAllRecords, writePcap } from '../helpers/pcap-writer.ts';
import { jsonlAgentArgs, repoRoot, runCli } from '../helpers/run-cli.ts';

function sortedLines(args: string[]): string[] {
  const result = runCli(args);
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter(Boolean).sort();
}

const inputs = [
  ['http', path.join(corpusDir, 'http')],
  ['dns', path.join(corpusDir, 'dns')],
  ['linktypes', path.join(corpusDir, 'linktypes')],
  ['demo', 'test/fixtures/demo.pcap'],
] as const;

for (const [name, input] of inputs) {
  test(`${name}: --workers 0, 1, 2 and 4 emit the same pairs`, () => {
    const reference = sortedLines([
      'replay',
      input,
      '--workers',
      '0',
      '--relay',
      '--internal-networks',
      '10.0.0.0/8',
    ]);
    assert.ok(reference.length > 0);
    for (const workers of ['1', '2', '4']) {
      const lines = sortedLines([
        'replay',
        input,
        '--workers',
        workers,
        '--relay',
        '--internal-networks',
        '10.0.0.0/8',
      ]);
      assert.deepEqual(lines, reference, `--workers ${workers}`);
    }
  });
}

const flowInputs = [
  // The http folder has VLAN-tagged and fragmented captures, linktypes QinQ, SLL, NULL and IPv6.
  ...inputs,
  ['ipv6 http', path.join(corpusDir, 'linktypes/pcapplusplus--four_ipv6_http_streams.pcap')],
] as const;

function assertSameForEveryWorkerCount(input: string, extra: string[]): void {
  const reference = sortedLines(['replay', input, '--workers', '0', ...extra]);
  assert.ok(reference.length > 0);
  for (const workers of ['1', '2', '4']) {
    assert.deepEqual(
      sortedLines(['replay', input, '--workers', workers, ...extra]),
      reference,
      `--workers ${workers}`,
    );
  }
}

for (const [name, input] of flowInputs) {
  test(`${name}, flow sharding only (workers skip other shards undecoded): same pairs for 0, 1, 2, 4 workers`, () => {
    assertSameForEveryWorkerCount(input, ['--udp-ports', '9000']);
  });
}

/** The bench generator (../shared/bench/gen-pcap.c), built with gcc into a temporary directory. */
function generatedCapture(mix: string, packets: number): string | null {
  const source = path.resolve(import.meta.dirname, '../../../shared/bench/gen-pcap.c');
  if (!fs.existsSync(source)) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-determinism-'));
  const binary = path.join(dir, 'gen-pcap');
  const built = spawnSync('gcc', ['-O2', '-o', binary, source, '-lm'], { encoding: 'utf8' });
  if (built.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const pcap = path.join(dir, 'mix.pcap');
  const generated = spawnSync(binary, [pcap, String(packets), '7', mix], { encoding: 'utf8' });
  assert.equal(generated.status, 0, generated.stderr);
  return pcap;
}

test('generator mix dns=50,http=35,udp=15,v6=20: same pairs for 0, 1, 2, 4 workers', (t) => {
  const pcap = generatedCapture('dns=50,http=35,udp=15,v6=20', 40_000);
  if (pcap === null) {
    t.skip('needs gcc and ../shared/bench/gen-pcap.c');
    return;
  }
  try {
    assertSameForEveryWorkerCount(pcap, ['--udp-ports', '9000']);
  } finally {
    fs.rmSync(path.dirname(pcap), { recursive: true, force: true });
  }
});

test('the summary says how many workers ran and counts the same pairs', () => {
  const single = runCli(['replay', path.join(corpusDir, 'http'), '--workers', '0', '--output', 'none']);
  const parallel = runCli(['replay', path.join(corpusDir, 'http'), '--workers', '2', '--output', 'none']);
  assert.match(single.stderr, /one thread/);
  assert.match(parallel.stderr, /2 workers/);
  const pairsLine = (text: string) => text.split('\n').find((line) => line.includes('pairs:'));
  assert.equal(pairsLine(parallel.stderr), pairsLine(single.stderr));
});

test('records skipped undecoded by a worker still count as decoded; input skips are the same', () => {
  const args = ['replay', path.join(corpusDir, 'linktypes'), '--output', 'none', '--summary', 'none'];
  const single = runCli([...args, '--workers', '0']);
  const parallel = runCli([...args, '--workers', '4']);
  assert.equal(single.status, 0, single.stderr);
  assert.equal(parallel.status, 0, parallel.stderr);
  const counts = (text: string) => /\d[\d,]* packets \([\d,]+ decoded to TCP\/UDP\)/.exec(text)?.[0];
  const skipped = (text: string) => text.split('\n').find((line) => line.includes('skipped:'));
  assert.ok(counts(single.stderr), single.stderr);
  assert.equal(counts(parallel.stderr), counts(single.stderr));
  assert.ok(skipped(single.stderr), single.stderr);
  assert.equal(skipped(parallel.stderr), skipped(single.stderr));
});

test('replay --summary json: the same counts, skips, pairs and latency summary for 0 and 2 workers', () => {
  for (const input of [
    path.join(corpusDir, 'linktypes'),
    path.join(corpusDir, 'http'),
    'test/fixtures/demo.pcap',
  ]) {
    const summary = (workers: string) => {
      const result = runCli(['replay', input, '--output', 'none', '--summary', 'json', '--workers', workers]);
      assert.equal(result.status, 0, result.stderr);
      const { elapsed_seconds, workers: ran, ...rest } = JSON.parse(result.stderr) as Record<string, unknown>;
      assert.equal(ran, Number(workers));
      return rest;
    };
    const single = summary('0');
    assert.ok((single.packets as number) > 0, input);
    assert.deepEqual(summary('2'), single, input);
  }
});

/**
 * `run` over a rotation directory (a backlog of finished files and a current one), with 0, 1,
 * 2 and 4 workers, stopped once its checkpoint says the last file was read to its end: the
 * same JSONL lines as `replay` of the directory (SIGTERM reports the pending requests
 * unanswered, as the end of a replay does).
 */
async function runLines(dir: string, workers: string, extra: string[]): Promise<string[]> {
  return (await runUntilRead(dir, workers, extra)).lines;
}

/** runLines(), also returning the agent's log; `settleMillis`: how long it keeps running once the last file was read. */
async function runUntilRead(
  dir: string,
  workers: string,
  extra: string[],
  settleMillis = 0,
): Promise<{ lines: string[]; log: string }> {
  const files = fs.readdirSync(dir).sort();
  const last = path.join(dir, files.at(-1)!);
  const size = fs.statSync(last).size;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-det-run-'));
  const out = path.join(root, 'out.jsonl');
  const checkpointFile = path.join(root, 'state', 'checkpoint.json');
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'agent/cli/main.mjs'),
      'run',
      ...jsonlAgentArgs(dir, path.join(root, 'state'), workers, out, '0.2'),
      ...extra,
    ],
    { cwd: repoRoot },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    const deadline = Date.now() + 60_000; // hang guard only
    for (;;) {
      try {
        const current = JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).directories[0]?.current;
        if (current?.path === last && current.offset === size) break;
      } catch {
        // not written yet
      }
      if (Date.now() > deadline) throw new Error(`no checkpoint at the end of ${last}\n${stderr}`);
      await sleep(100);
    }
    await sleep(settleMillis);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  return { lines: fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).sort(), log: stderr };
}

/** The records of `input` in `parts` rotated files (old mtimes but the last), in a new directory. */
function rotationDirectory(input: string, parts: number): string {
  const records = readAllRecords(input);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-det-watch-'));
  const per = Math.ceil(records.length / parts);
  const old = Date.now() / 1000 - 3600;
  for (let i = 0; i < parts; i++) {
    const file = path.join(dir, `cap-${String(i).padStart(2, '0')}.pcap`);
    writePcap(file, records.slice(i * per, (i + 1) * per));
    if (i < parts - 1) fs.utimesSync(file, old + i, old + i);
  }
  return dir;
}

async function assertRunLikeReplay(input: string, extra: string[]): Promise<void> {
  const dir = rotationDirectory(input, 4);
  try {
    const reference = sortedLines(['replay', dir, '--workers', '0', ...extra]);
    assert.ok(reference.length > 0);
    for (const workers of ['0', '1', '2', '4']) {
      assert.deepEqual(await runLines(dir, workers, extra), reference, `run --workers ${workers}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('run: the stats line counts the same packets, decoded, pairs and pending for 0 and 2 workers', async () => {
  const dir = rotationDirectory('test/fixtures/demo.pcap', 3);
  try {
    const lastStats = async (workers: string) => {
      // Running 2.5 s after the last file was read: the last stats line (every second) has it all.
      const { log } = await runUntilRead(dir, workers, ['--stats-interval', '1'], 2500);
      const stats = log
        .split('\n')
        .filter((line) => line.includes('"msg":"stats"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .at(-1);
      assert.ok(stats, log);
      return {
        packets: stats.packets,
        decoded: stats.decoded,
        bytes: stats.bytes,
        files: stats.files,
        pairs: stats.pairs,
        pending: stats.pending,
      };
    };
    const single = await lastStats('0');
    assert.ok((single.decoded as number) > 0 && Object.keys(single.pairs as object).length > 0);
    assert.deepEqual(await lastStats('2'), single);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run over rotated files: the same pairs as replay for 0, 1, 2, 4 workers (demo)', async () => {
  await assertRunLikeReplay('test/fixtures/demo.pcap', ['--udp-ports', '161']);
});

test('run over rotated files: the same pairs as replay for 0, 1, 2, 4 workers (generator mix)', async (t) => {
  const pcap = generatedCapture('dns=50,http=35,udp=15,v6=20', 40_000);
  if (pcap === null) {
    t.skip('needs gcc and ../shared/bench/gen-pcap.c');
    return;
  }
  try {
    await assertRunLikeReplay(pcap, ['--udp-ports', '9000']);
  } finally {
    fs.rmSync(path.dirname(pcap), { recursive: true, force: true });
  }
});

/** The report's embedded data (the HTML is rendered from it). */
function reportData(input: string, workers: string, extra: string[]): unknown {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-det-report-')), 'report.html');
  const result = runCli(['report', input, '-o', out, '--workers', workers, '-q', ...extra]);
  assert.equal(result.status, 0, result.stderr);
  const html = fs.readFileSync(out, 'utf8');
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(json, 'embedded report data');
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return JSON.parse(json[1]!);
}

function assertReportSameForEveryWorkerCount(input: string, extra: string[]): void {
  const reference = reportData(input, '0', extra);
  for (const workers of ['1', '2', '4']) {
    assert.deepEqual(reportData(input, workers, extra), reference, `report --workers ${workers}`);
  }
}

for (const [name, input] of [
  ['demo', 'test/fixtures/demo.pcap'],
  ['http', path.join(corpusDir, 'http')],
] as const) {
  test(`report (${name}): the same data (counts, percentiles, CDFs, scatter, slowest pairs, time range) for 0, 1, 2, 4 workers`, () => {
    assertReportSameForEveryWorkerCount(input, ['--udp-ports', '161']);
  });
}

test('report (generator mix): the same data for 0, 1, 2, 4 workers', (t) => {
  const pcap = generatedCapture('dns=50,http=35,udp=15,v6=20', 40_000);
  if (pcap === null) {
    t.skip('needs gcc and ../shared/bench/gen-pcap.c');
    return;
  }
  try {
    assertReportSameForEveryWorkerCount(pcap, ['--udp-ports', '9000']);
  } finally {
    fs.rmSync(path.dirname(pcap), { recursive: true, force: true });
  }
});
