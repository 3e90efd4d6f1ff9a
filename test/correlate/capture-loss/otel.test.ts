/**
 * Capture loss over OTLP, into a real gRPC receiver: the spans of pairs that crossed a gap carry
 * wirespan.capture.gap (unanswered ones reason capture_gap), and the capture-loss counters and
 * ratio gauge carry the observer's counts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createOtelExporter } from '../../../agent/export/otel/index.ts';
import { emptyPipelineStats } from '../../../agent/export/pipeline-stats.ts';
import { type OtlpReceiver, startReceiver } from '../../export/otlp-receiver.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { runCliAsync } from '../../helpers/run-cli.ts';
import { cutSegments, tcpSegments } from './segments.ts';

const fixture = path.join(import.meta.dirname, '../../fixtures/capture-loss/loopback-http.pcap');
let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

test('spans say which pairs crossed a gap; metrics carry the counts and the ratio', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-loss-otel-')), 'every-10.pcap');
  writePcap(file, cutSegments(tcpSegments(readAllRecords(fixture)), (_s, i) => i % 10 === 9).kept);
  const { pairs, correlator } = replayPairs([file]);
  const counts = correlator.captureLoss.counts;
  const stats = emptyPipelineStats();
  stats.captureLoss = counts.toData();
  const exporter = await createOtelExporter({ endpoint: receiver.endpoint, statsSource: () => stats });
  for (const pair of pairs) exporter.emit(pair);
  const result = await exporter.shutdown();
  assert.equal(result.error, null);

  const spans = receiver.spans;
  assert.equal(spans.length, pairs.length);
  const marked = spans.filter((s) => s.attributes['wirespan.capture.gap'] === true);
  assert.equal(marked.length, pairs.filter((p) => p.captureGap).length);
  assert.ok(marked.length > 0);
  const gapReason = spans.filter((s) => s.attributes['wirespan.unanswered.reason'] === 'capture_gap');
  assert.ok(gapReason.length > 0);
  for (const span of gapReason) {
    assert.equal(span.attributes['wirespan.capture.gap'], true);
    assert.equal(span.attributes['error.type'], 'capture_gap');
  }

  const metrics = receiver.lastMetrics('wirespan.capture.tcp.bytes');
  const value = (name: string, outcome?: string): number => {
    const metric = metrics.get(name);
    assert.ok(metric, `${name} received`);
    const point = metric.dataPoints.find(
      (p) => outcome === undefined || p.attributes['wirespan.outcome'] === outcome,
    );
    return Number(point?.value);
  };
  assert.equal(value('wirespan.capture.tcp.bytes', 'seen'), counts.observedBytes);
  assert.equal(value('wirespan.capture.tcp.bytes', 'missing'), counts.missingBytes);
  assert.equal(value('wirespan.capture.tcp.segments', 'missing'), counts.missingSegments);
  assert.equal(metrics.get('wirespan.capture.tcp.bytes')!.type, 'sum');
  assert.equal(metrics.get('wirespan.capture.tcp.bytes')!.unit, 'By');
  // One collection at shutdown: the ratio since the previous one is the run's.
  assert.equal(value('wirespan.capture.loss.ratio'), counts.ratio());
  assert.equal(metrics.get('wirespan.capture.loss.ratio')!.type, 'gauge');
});

test('replay --otlp exports the capture-loss metrics, equal to its summary, with 0 and 2 workers', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-loss-cli-')), 'every-7.pcap');
  writePcap(file, cutSegments(tcpSegments(readAllRecords(fixture)), (_s, i) => i % 7 === 6).kept);
  for (const workers of ['0', '2']) {
    receiver.reset();
    const result = await runCliAsync([
      'replay',
      file,
      '--output',
      'none',
      '--summary',
      'json',
      '--otlp',
      receiver.endpoint,
      '--workers',
      workers,
    ]);
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stderr) as { capture_loss: { missing_bytes: number; bytes: number } };
    assert.ok(summary.capture_loss.missing_bytes > 0, result.stderr);
    const metrics = receiver.lastMetrics('wirespan.capture.tcp.bytes');
    const bytes = metrics.get('wirespan.capture.tcp.bytes');
    assert.ok(bytes, `workers ${workers}: capture-loss metrics received`);
    const missing = bytes.dataPoints.find((p) => p.attributes['wirespan.outcome'] === 'missing');
    assert.equal(Number(missing?.value), summary.capture_loss.missing_bytes, `workers ${workers}`);
  }
});
