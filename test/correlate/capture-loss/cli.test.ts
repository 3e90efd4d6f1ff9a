/**
 * `wirespan replay` over a lossy capture says so everywhere: the summary line, `--summary json`
 * capture_loss (one thread and workers alike), each affected pair's JSONL line, and the
 * capture's own pcapng drop counts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { PcapngBlock, PcapngBuilder } from '../../capture/build.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { jsonLines, runCli } from '../../helpers/run-cli.ts';
import { cutSegments, tcpSegments } from './segments.ts';

const fixture = path.join(import.meta.dirname, '../../fixtures/capture-loss/loopback-http.pcap');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-loss-cli-'));
const lossy = path.join(dir, 'every-20.pcap');
writePcap(lossy, cutSegments(tcpSegments(readAllRecords(fixture)), (_s, i) => i % 20 === 19).kept);

function summaryJson(stderr: string): Record<string, unknown> {
  return JSON.parse(stderr.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

test('--summary json capture_loss: the same counts with 0 and 2 workers, and the lines mark the pairs', () => {
  const truth = replayPairs([lossy]);
  const counts = truth.correlator.captureLoss.counts;
  assert.ok(counts.missingBytes > 0);
  for (const workers of ['0', '2']) {
    const out = path.join(dir, `pairs-${workers}.jsonl`);
    const result = runCli(['replay', lossy, '--workers', workers, '--summary', 'json', '-o', `jsonl:${out}`]);
    assert.equal(result.status, 0, result.stderr);
    const summary = summaryJson(result.stderr);
    assert.deepEqual(summary.capture_loss, {
      ratio: counts.ratio(),
      missing_bytes: counts.missingBytes,
      observed_bytes: counts.observedBytes,
      segment_ratio: counts.segmentRatio(),
      missing_segments: counts.missingSegments,
      observed_segments: counts.observedSegments,
    });
    assert.deepEqual(summary.capture_statistics, []);
    const lines = jsonLines(fs.readFileSync(out, 'utf8'));
    const marked = lines.filter((l) => l.capture_gap === true).length;
    assert.equal(marked, truth.json.filter((l) => l.capture_gap === true).length);
    assert.ok(marked > 0);
    const byReason = (summary.pairs as Record<string, { unanswered_by: Record<string, number> }>).http!
      .unanswered_by;
    assert.equal(byReason.capture_gap, lines.filter((l) => l.reason === 'capture_gap').length);
  }
  const text = runCli(['replay', lossy, '--summary', 'none', '-o', 'jsonl:/dev/null']);
  const percent = ((counts.missingBytes / (counts.missingBytes + counts.observedBytes)) * 100).toPrecision(3);
  assert.match(text.stderr, new RegExp(`capture loss: ${percent.replace('.', '\\.')}% of TCP bytes`));
});

test('the lossless capture: capture_loss is all zeros but present', () => {
  const result = runCli(['replay', fixture, '--summary', 'json', '-o', 'jsonl:/dev/null']);
  const loss = summaryJson(result.stderr).capture_loss as Record<string, number>;
  assert.equal(loss.ratio, 0);
  assert.equal(loss.missing_bytes, 0);
  assert.ok(loss.observed_bytes! > 0);
});

test('a pcapng with Interface Statistics: its drop counts are in the summary, per file', () => {
  const file = path.join(dir, 'stated.pcapng');
  const isb = Buffer.alloc(20 + 12 * 2 + 4);
  isb.writeUInt32LE(0, 0);
  // isb_ifrecv = 1000, isb_osdrop = 250
  isb.writeUInt16LE(4, 12);
  isb.writeUInt16LE(8, 14);
  isb.writeUInt32LE(1000, 16);
  isb.writeUInt16LE(7, 24);
  isb.writeUInt16LE(8, 26);
  isb.writeUInt32LE(250, 28);
  fs.writeFileSync(
    file,
    new PcapngBuilder()
      .section()
      .interface()
      .block(PcapngBlock.InterfaceStatistics, isb.subarray(0, 40))
      .build(),
  );
  const json = runCli(['replay', file, '--summary', 'json']);
  assert.deepEqual(summaryJson(json.stderr).capture_statistics, [
    { file, interfaces: 1, received: 1000, os_dropped: 250 },
  ]);
  const text = runCli(['replay', file, '--summary', 'none']);
  assert.match(text.stderr, /capture drops stated by .*stated\.pcapng .*: received=1,000 os_dropped=250/);
});

test('per file: the lossy file carries the loss, the clean one none, with 0 and 2 workers', () => {
  const demo = path.join(import.meta.dirname, '../../fixtures/demo.pcap');
  const lossyCounts = replayPairs([lossy]).correlator.captureLoss.counts;
  for (const workers of ['0', '2']) {
    const result = runCli(['replay', demo, lossy, '--workers', workers, '--summary', 'json', '-o', 'none']);
    assert.equal(result.status, 0, result.stderr);
    const byFile = summaryJson(result.stderr).capture_loss_by_file as Record<string, number | string>[];
    assert.deepEqual(
      byFile.map((f) => [f.file, f.missing_bytes]),
      [
        [demo, 0],
        [lossy, lossyCounts.missingBytes],
      ],
    );
    assert.equal(byFile[1]!.observed_bytes, lossyCounts.observedBytes);
  }
  const text = runCli(['replay', demo, lossy, '--summary', 'none', '-o', 'none']);
  assert.match(
    text.stderr,
    new RegExp(`^ {4}${lossy.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: capture loss: `, 'm'),
  );
  assert.doesNotMatch(text.stderr, /demo\.pcap: capture loss/);
});
