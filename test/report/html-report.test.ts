/**
 * `wirespan report`: the HTML file for corpus captures, opened in a real headless Chromium
 * (Debian's chromium, driven by playwright-core): no console errors and no network requests,
 * one canvas per protocol with answered pairs (and pixels drawn on it), one CDF path per top
 * server, one unanswered path per protocol with unanswered requests, and a slowest-pairs
 * table equal to the `wirespan replay --output jsonl` lines of the same capture. A screenshot
 * of each report goes to test-artifacts/ (git-ignored). Skipped, with the reason, when
 * /usr/bin/chromium is missing (`.ci/run` installs it). The thinning and exit codes are tested
 * without a browser.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { correlateOptionsFrom } from '../../agent/cli/replay-command.ts';
import { Outcome, Pair, UnansweredReason } from '../../agent/correlate/pair.ts';
import { generateReport } from '../../agent/report/html-report.ts';
import { ReportCollector } from '../../agent/report/report-data.ts';
import { jsonLines, repoRoot, runCli } from '../helpers/run-cli.ts';

const chromiumPath = '/usr/bin/chromium';
const chromiumMissing = fs.existsSync(chromiumPath)
  ? false
  : `${chromiumPath} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`;
const artifacts = path.join(repoRoot, 'test-artifacts');

const captures = [
  { name: 'demo', file: 'test/fixtures/demo.pcap' },
  { name: 'http-packets', file: 'test/fixtures/corpus/http/pcapplusplus--http-packets.pcap' },
];

interface Line {
  outcome: string;
  protocol: string;
  server: { address: string; port: number };
  start: string;
  duration_ns?: number;
  source: { request: { file: string; packet: number }; response?: { file: string; packet: number } };
}

/** What the report must show, computed from the JSONL of `replay` alone. */
function expectations(lines: Line[], files: string[], slowest: number, topServers: number) {
  const matchedBy = new Map<string, number>();
  const unansweredBy = new Map<string, number>();
  const servers = new Map<string, number>();
  for (const line of lines) {
    const table = line.outcome === 'matched' ? matchedBy : unansweredBy;
    table.set(line.protocol, (table.get(line.protocol) ?? 0) + 1);
    if (line.outcome === 'matched') {
      const address = line.server.address.includes(':') ? `[${line.server.address}]` : line.server.address;
      const key = `${line.protocol}://${address}:${line.server.port}`;
      servers.set(key, (servers.get(key) ?? 0) + 1);
    }
  }
  const slow = lines
    .filter((l) => l.outcome === 'matched')
    .sort(
      (a, b) =>
        b.duration_ns! - a.duration_ns! ||
        (a.start < b.start ? -1 : a.start > b.start ? 1 : 0) ||
        files.indexOf(a.source.request.file) - files.indexOf(b.source.request.file) ||
        a.source.request.packet - b.source.request.packet,
    )
    .slice(0, slowest)
    .map((l) => ({
      durationNs: l.duration_ns!,
      start: l.start,
      requestFile: l.source.request.file,
      requestPacket: l.source.request.packet,
      responsePacket: l.source.response?.packet ?? null,
    }));
  const topServerNames = [...servers.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, topServers)
    .map(([name]) => name);
  return { matchedBy, unansweredBy, slow, topServerNames };
}

describe('wirespan report in headless Chromium', { skip: chromiumMissing }, () => {
  let browser: Browser;

  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
    fs.mkdirSync(artifacts, { recursive: true });
  });

  after(async () => {
    await browser?.close();
  });

  for (const capture of captures) {
    test(`${capture.name}: renders, and its slowest pairs equal the replay JSONL`, async () => {
      const html = path.join(artifacts, `report-${capture.name}.html`);
      const made = runCli(['report', capture.file, '-o', html]);
      assert.equal(made.status, 0, made.stderr);
      const replay = runCli(['replay', capture.file, '--workers', '0', '--output', 'jsonl', '-q']);
      assert.equal(replay.status, 0, replay.stderr);
      const lines = jsonLines(replay.stdout) as unknown as Line[];
      const want = expectations(lines, [capture.file], 50, 8);
      assert.ok(want.slow.length > 0, 'the capture has answered pairs');

      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning')
          problems.push(`${message.type()}: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('request', (request) => {
        if (!request.url().startsWith('file:')) problems.push(`network request: ${request.url()}`);
      });
      await page.goto(`file://${html}`);
      await page.waitForSelector('html[data-rendered]');

      // Latency over time: one canvas per protocol with answered pairs, each with all its pairs.
      const canvases =
        (await page.evaluate(`Array.from(document.querySelectorAll('canvas.scatter')).map((c) => {
        const ctx = c.getContext('2d');
        const pixels = ctx.getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) inked++;
        return { protocol: c.dataset.protocol, pairs: Number(c.dataset.pairs), points: Number(c.dataset.points), width: c.width, inked };
      })`)) as { protocol: string; pairs: number; points: number; width: number; inked: number }[];
      assert.deepEqual(
        canvases.map((c) => [c.protocol, c.pairs]).sort(),
        [...want.matchedBy.entries()].sort(),
        'one scatter per protocol with all its answered pairs',
      );
      for (const c of canvases) {
        assert.ok(c.points > 0 && c.points <= c.pairs, `${c.protocol}: ${c.points} points`);
        assert.ok(c.width > 0 && c.inked > 500, `${c.protocol}: canvas drawn (${c.inked} pixels)`);
      }

      // Latency per server: one CDF path per top server, in the same order as the table.
      const cdf = (await page.evaluate(
        `Array.from(document.querySelectorAll('#cdf-chart path.series')).map((p) => p.dataset.server)`,
      )) as string[];
      assert.deepEqual(cdf, want.topServerNames);
      assert.equal(await page.locator('#server-table tbody tr').count(), want.topServerNames.length);

      // Unanswered over time: one path per protocol with unanswered requests.
      const unanswered = (await page.evaluate(
        `Array.from(document.querySelectorAll('#unanswered-chart path.series')).map((p) => p.dataset.protocol)`,
      )) as string[];
      assert.deepEqual(unanswered.sort(), [...want.unansweredBy.keys()].sort());

      // Slowest pairs: the JSONL's slowest, same order, same file and packet numbers.
      const rows = (await page.evaluate(
        `Array.from(document.querySelectorAll('#slowest-table tr.slow')).map((r) => ({
          durationNs: Number(r.dataset.durationNs), start: r.dataset.start, requestFile: r.dataset.requestFile,
          requestPacket: Number(r.dataset.requestPacket),
          responsePacket: r.dataset.responsePacket === '' ? null : Number(r.dataset.responsePacket) }))`,
      )) as unknown[];
      assert.deepEqual(rows, want.slow);

      // Overview: the packet count of the capture.
      const packets = lines.length > 0 ? await page.locator('#packet-count').textContent() : null;
      const listed = runCli(['replay', capture.file, '--packets', '-q']);
      assert.equal(Number(packets?.replace(/,/g, '')), jsonLines(listed.stdout).length);

      await page.screenshot({ path: path.join(artifacts, `report-${capture.name}.png`), fullPage: true });
      await page.close();
      assert.deepEqual(problems, []);
    });
  }
});

describe('wirespan report without a browser', () => {
  test('exit codes: 1 with a missing input (the report is still written), 2 on a bad flag', () => {
    fs.mkdirSync(artifacts, { recursive: true });
    const out = path.join(artifacts, 'report-exit-code.html');
    fs.rmSync(out, { force: true });
    const missing = runCli(['report', 'test/fixtures/no-such.pcap', 'test/fixtures/demo.pcap', '-o', out]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no-such\.pcap: no such file or directory/);
    assert.ok(fs.readFileSync(out, 'utf8').includes('<canvas class="scatter"'));
    const bad = runCli(['report', 'test/fixtures/demo.pcap', '--timeout', '-1']);
    assert.equal(bad.status, 2);
    const unwritable = runCli(['report', 'test/fixtures/demo.pcap', '-o', '/nonexistent-dir/r.html']);
    assert.equal(unwritable.status, 1);
    assert.match(unwritable.stderr, /cannot write/);
  });

  test('self-contained: no external URL, script or stylesheet', async () => {
    const { html } = await generateReport({
      files: ['test/fixtures/demo.pcap'],
      correlate: defaultCorrelate(),
    });
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /<link\b/i);
    assert.doesNotMatch(html, /@import|url\(/i);
  });

  test('a million pairs are thinned to at most one point per grid cell, keeping the slowest', () => {
    const collector = new ReportCollector(['synthetic.pcap'], { gridColumns: 200, gridRows: 50 });
    collector.packet(1_800_000_000, 0);
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let slowest = 0;
    const n = 1_000_000;
    for (let i = 0; i < n; i++) {
      const pair = new Pair();
      pair.protocol = i % 4 === 0 ? 'http' : 'dns';
      pair.transport = 17;
      pair.client0 = 0x0a000001;
      pair.server0 = 0x0a000002 + (i % 20);
      pair.serverPort = 53;
      const start = 1_800_000_000 + Math.floor(i / 1000);
      const nanos = (i % 1000) * 1_000_000;
      pair.request.begin(start, nanos, 0, i + 1, 40);
      if (i % 997 === 0) {
        pair.outcome = Outcome.Unanswered;
        pair.unansweredReason = UnansweredReason.Expired;
      } else {
        const duration = Math.floor(10_000 + random() ** 8 * 2e9);
        slowest = Math.max(slowest, duration);
        const end = nanos + duration;
        pair.response = new Pair().request.begin(start + Math.floor(end / 1e9), end % 1e9, 0, i + 2, 60);
      }
      collector.emit(pair);
    }
    const data = collector.build({ title: 't', files: [], packets: 0, decoded: 0, bytes: 0 });
    assert.equal(data.scatter.series.length, 2);
    const points = data.scatter.series.reduce((sum, s) => sum + s.t.length, 0);
    assert.ok(points <= 2 * 200 * 50 * 2, `${points} points`);
    assert.equal(
      data.scatter.series.reduce((sum, s) => sum + s.pairs, 0),
      n - Math.ceil(n / 997),
    );
    assert.equal(Math.max(...data.scatter.series.flatMap((s) => s.d)), slowest);
    assert.equal(data.slowest[0]!.durationNs, slowest);
    assert.equal(data.slowest.length, 50);
    assert.equal(data.servers.length, 8);
    const unanswered = data.unanswered.series.reduce(
      (sum, s) => sum + s.counts.reduce((a, b) => a + b, 0),
      0,
    );
    assert.equal(unanswered, Math.ceil(n / 997));
  });
});

function defaultCorrelate() {
  // The CLI's defaults (correlateOptionsFrom with the flag defaults).
  return correlateOptionsFrom({
    dnsPorts: [53],
    dnsLatencyFrom: 'first',
    udpPorts: [88, 123, 161, 1812, 1813, 11211],
    httpKeepQuery: false,
    relay: false,
    internalNetworks: ['192.168.0.0/16'],
    relayEcho: false,
    relayCrossTransport: false,
    timeoutSeconds: 30,
    maxPending: 1_000_000,
  });
}
