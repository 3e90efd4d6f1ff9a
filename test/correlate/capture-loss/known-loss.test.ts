/**
 * The capture-loss estimate against the truth: a real loopback capture (real tcpdump, node:http
 * server and clients: test/fixtures/capture-loss/make-fixture.ts) with chosen TCP data segments
 * cut out, so exactly which bytes the capture lost is known.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { diffNanos, type Pair } from '../../../agent/correlate/pair.ts';
import { readAllRecords, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { type Cut, cutSegments, type SegmentInfo, tcpSegments } from './segments.ts';

const fixture = path.join(import.meta.dirname, '../../fixtures/capture-loss/loopback-http.pcap');
const segments = tcpSegments(readAllRecords(fixture));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-loss-'));

function replayCut(name: string, cut: Cut) {
  const file = path.join(dir, `${name}.pcap`);
  writePcap(file, cut.kept);
  return replayPairs([file]);
}

function connectionOf(pair: Pair): string {
  return `${Math.min(pair.clientPort, pair.serverPort)}-${Math.max(pair.clientPort, pair.serverPort)}`;
}

/** Whether a cut segment was sent while the pair's exchange was under way. */
function within(pair: Pair, segment: SegmentInfo): boolean {
  const end = pair.response ?? { lastSeconds: pair.givenUpSeconds, lastNanos: pair.givenUpNanos };
  return (
    diffNanos(pair.request.firstSeconds, pair.request.firstNanos, segment.seconds, segment.nanos) >= 0 &&
    diffNanos(segment.seconds, segment.nanos, end.lastSeconds, end.lastNanos) >= 0
  );
}

test('the lossless capture reports no loss and marks no pair', () => {
  const { pairs, correlator } = replayPairs([fixture]);
  const counts = correlator.captureLoss.counts;
  assert.equal(pairs.filter((p) => p.protocol === 'http').length, 80);
  assert.ok(pairs.every((p) => p.outcome === 0 && !p.captureGap));
  assert.equal(counts.missingBytes, 0);
  assert.equal(counts.missingSegments, 0);
  assert.equal(counts.ratio(), 0);
  const truth = cutSegments(segments, () => false);
  assert.equal(counts.observedSegments, truth.dataSegments);
  // Observed sequence space: every payload byte (FINs take a number but are no bytes).
  assert.equal(counts.observedBytes, truth.dataBytes);
});

for (const every of [100, 20, 10]) {
  test(`every ${every}th data segment cut: the estimate is within 2 points of the truth, the pairs it touched are marked`, () => {
    const cut = cutSegments(segments, (_segment, index) => index % every === every - 1);
    const { pairs, json, correlator } = replayCut(`every-${every}`, cut);
    const counts = correlator.captureLoss.counts;
    const removedBytes = cut.removed.reduce((sum, s) => sum + s.bytes, 0);
    const truthBytes = removedBytes / cut.dataBytes;
    const truthSegments = cut.removed.length / cut.dataSegments;
    assert.ok(Math.abs(counts.ratio() - truthBytes) <= 0.02, `bytes: ${counts.ratio()} vs ${truthBytes}`);
    assert.ok(
      Math.abs(counts.segmentRatio() - truthSegments) <= 0.02,
      `segments: ${counts.segmentRatio()} vs ${truthSegments}`,
    );
    // No reordering or retransmission in the capture: every cut byte is found, none invented.
    assert.equal(counts.missingBytes, removedBytes);
    assert.equal(counts.missingSegments, cut.removed.length);
    // Every pair on a connection that lost a segment during its exchange says so.
    for (const pair of pairs) {
      const touched = cut.removed.some((s) => s.connection === connectionOf(pair) && within(pair, s));
      if (touched) assert.ok(pair.captureGap, `pair on ${connectionOf(pair)} not marked`);
    }
    const marked = pairs.filter((p) => p.captureGap).length;
    assert.ok(
      marked >= 1 && marked <= 2 * cut.removed.length,
      `${marked} marked for ${cut.removed.length} cuts`,
    );
    // The server answered everything: an unanswered request lost its response to the capture.
    for (const line of json.filter((l) => l.outcome === 'unanswered')) {
      assert.equal(line.reason, 'capture_gap');
      assert.equal(line.capture_gap, true);
    }
    for (const line of json) assert.equal(line.capture_gap === true, pairs[json.indexOf(line)]!.captureGap);
  });
}

/** The first or last data segment of every one-request connection (20 of them). */
function edgeSegments(which: 'first' | 'last'): Set<SegmentInfo> {
  const byConnection = new Map<string, SegmentInfo[]>();
  for (const s of segments) {
    if (s.bytes === 0) continue;
    const list = byConnection.get(s.connection) ?? [];
    list.push(s);
    byConnection.set(s.connection, list);
  }
  const picked = new Set<SegmentInfo>();
  for (const list of byConnection.values()) picked.add(which === 'first' ? list[0]! : list.at(-1)!);
  return picked;
}

for (const which of ['first', 'last'] as const) {
  test(`the ${which} data segment of every connection cut: each byte is counted missing, once`, () => {
    const picked = edgeSegments(which);
    const cut = cutSegments(segments, (segment) => picked.has(segment));
    assert.equal(cut.removed.length, picked.size);
    const { pairs, correlator } = replayCut(`${which}-segment`, cut);
    const counts = correlator.captureLoss.counts;
    const removedBytes = cut.removed.reduce((sum, s) => sum + s.bytes, 0);
    assert.equal(counts.missingBytes, removedBytes);
    assert.equal(counts.missingSegments, cut.removed.length);
    assert.equal(counts.observedBytes, cut.dataBytes - removedBytes);
    if (which === 'last') {
      // The responses' last chunks are gone: those pairs never complete, and say why.
      const lost = pairs.filter((p) => p.outcome !== 0);
      assert.ok(lost.length > 0);
      for (const pair of lost) assert.equal(pair.captureGap, true);
    }
  });
}

test('reordered and duplicated segments in the capture are not loss', () => {
  const records = segments.map((s) => s.record);
  const data = segments.flatMap((s, i) => (s.bytes > 0 ? [i] : []));
  // Every 7th data segment swapped with the next record of its connection, every 9th captured twice.
  const reordered = [...records];
  let swaps = 0;
  for (let n = 6; n < data.length; n += 7) {
    const i = data[n]!;
    const next = segments.findIndex(
      (s, j) => j > i && s.connection === segments[i]!.connection && s.bytes > 0,
    );
    if (next < 0) continue;
    [reordered[i], reordered[next]] = [reordered[next]!, reordered[i]!];
    swaps++;
  }
  const duplicated = reordered.flatMap((r, i) => (data.indexOf(i) % 9 === 8 ? [r, r] : [r]));
  const file = path.join(dir, 'reordered.pcap');
  writePcap(file, duplicated);
  const { correlator } = replayPairs([file]);
  const counts = correlator.captureLoss.counts;
  assert.ok(swaps > 10);
  assert.equal(counts.missingBytes, 0);
  assert.equal(counts.missingSegments, 0);
  assert.equal(counts.observedBytes, cutSegments(segments, () => false).dataBytes);
});
