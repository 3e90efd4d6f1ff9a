/**
 * `wirespan report` over a lossy capture: the capture-loss section states the estimate and
 * draws pairs and gap-crossing pairs over time, the same with one thread and with workers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { cutSegments, tcpSegments } from './segments.ts';

const fixture = path.join(import.meta.dirname, '../../fixtures/capture-loss/loopback-http.pcap');

/** The capture-loss chart's data attributes. */
function chartData(html: string): Record<string, string> {
  const svg = /<svg id="capture-loss-chart"[^>]*>/.exec(html)![0];
  return Object.fromEntries([...svg.matchAll(/data-([a-z-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

const sum = (list: string) => list.split(',').reduce((total, n) => total + Number(n), 0);

test('the report shows the loss estimate and the pairs that crossed a gap over time (0 and 2 workers)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-loss-report-'));
  const lossy = path.join(dir, 'every-10.pcap');
  writePcap(lossy, cutSegments(tcpSegments(readAllRecords(fixture)), (_s, i) => i % 10 === 9).kept);
  const truth = replayPairs([lossy]);
  const counts = truth.correlator.captureLoss.counts;
  const charts: Record<string, string>[] = [];
  for (const workers of ['0', '2']) {
    const out = path.join(dir, `report-${workers}.html`);
    const result = runCli(['report', lossy, '--workers', workers, '-o', out]);
    assert.equal(result.status, 0, result.stderr);
    const html = fs.readFileSync(out, 'utf8');
    const chart = chartData(html);
    charts.push(chart);
    assert.equal(Number(chart['missing-bytes']), counts.missingBytes);
    assert.equal(Number(chart['observed-bytes']), counts.observedBytes);
    assert.equal(sum(chart['gap-pairs']!), truth.pairs.filter((p) => p.captureGap).length);
    assert.equal(sum(chart.pairs!), truth.pairs.length);
    assert.match(html, new RegExp(`id="capture-loss-ratio">${(counts.ratio() * 100).toPrecision(3)}%`));
    assert.equal((html.match(/<path class="series" data-series="(pairs|gap)"/g) ?? []).length, 2);
  }
  assert.deepEqual(charts[0], charts[1]);
});
