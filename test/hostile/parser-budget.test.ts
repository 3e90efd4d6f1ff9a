/**
 * The stream parsers' shared budget for incomplete messages (tcp-stream/parser-buffers.ts):
 * many connections each holding a partial HTTP head (slowloris) or a DNS-over-TCP message
 * announced as 64 KiB stay within the budget together (refusals counted), a prefix alone holds
 * nothing, and every byte goes back when the connections end or are forgotten.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Correlator } from '../../agent/correlate/correlator.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { replayFiles } from '../../agent/pipeline/replay.ts';
import { SkipCounters, skipReason } from '../../agent/shared/skips.ts';
import { writeDnsPrefixFlood, writePartialHeads } from './crafted-flows.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-parser-budget-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Run {
  /** Most parser bytes held at once (sampled every packet). */
  maxBytes: number;
  /** Parser bytes held at the end of input, before flush. */
  endBytes: number;
  /** After flush (every connection forgotten). */
  flushedBytes: number;
  limit: number;
  skips: SkipCounters;
}

function replay(file: string, options: CorrelateOptions): Run {
  const skips = new SkipCounters();
  const correlator = new Correlator(options, { emit: () => {} }, skips);
  const run: Run = {
    maxBytes: 0,
    endBytes: 0,
    flushedBytes: 0,
    limit: correlator.parserBuffers.limit,
    skips,
  };
  replayFiles({
    files: [file],
    onRecord: null,
    sink: {
      onPacket(fileId, packetNumber, seconds, nanos, data, packet) {
        correlator.onPacket(fileId, packetNumber, seconds, nanos, data, packet);
        run.maxBytes = Math.max(run.maxBytes, correlator.parserBuffers.bytes);
      },
      finish() {
        run.endBytes = correlator.parserBuffers.bytes;
        correlator.finish();
        run.flushedBytes = correlator.parserBuffers.bytes;
      },
    },
  });
  return run;
}

function options(parserBytes: number, maxConnections = 65_536): CorrelateOptions {
  const o = defaultCorrelateOptions();
  o.reassembly.maxParserBufferBytesTotal = parserBytes;
  o.reassembly.maxConnections = maxConnections;
  return o;
}

test('partial HTTP heads on many connections stay within the budget; the rest are given up and counted', () => {
  const file = path.join(dir, 'slowloris.pcap');
  // 400 connections x ~6 KB heads (8 KiB buffers each after doubling) = 3.2 MiB without a bound.
  writePartialHeads(file, 400, 6000);
  const budget = 1024 * 1024;
  const run = replay(file, options(budget));
  assert.ok(run.maxBytes <= budget, `held ${run.maxBytes} of ${budget}`);
  assert.ok(run.maxBytes > budget / 2, `the budget was used (${run.maxBytes})`);
  const refused = run.skips.get(skipReason('http.parser_budget'));
  assert.ok(refused > 200, `connections given up for the budget: ${refused}`);
  assert.equal(
    run.skips.get(skipReason('http.header_too_large')),
    0,
    'no head passed the 64 KiB cap on its own',
  );
  assert.equal(run.flushedBytes, 0, 'every byte goes back at the end');

  // The same capture with room for all of it: nothing refused.
  const roomy = replay(file, options(8 * 1024 * 1024));
  assert.equal(roomy.skips.get(skipReason('http.parser_budget')), 0);
  assert.ok(roomy.maxBytes >= 400 * 6000, `${roomy.maxBytes}`);
});

test('connections evicted by reassembly give their partial heads back (onForget)', () => {
  const file = path.join(dir, 'slowloris-evicted.pcap');
  writePartialHeads(file, 300, 3000);
  // Only 20 connections tracked at once: the rest are evicted, and their heads released.
  const run = replay(file, options(64 * 1024 * 1024, 20));
  assert.ok(run.skips.get(skipReason('tcp.connection_evicted')) >= 280);
  assert.ok(run.maxBytes <= 21 * 4096, `held ${run.maxBytes}: evicted connections kept their heads`);
  assert.equal(run.flushedBytes, 0);
});

test('DNS over TCP: a 64 KiB length prefix holds only the bytes that arrived; the budget bounds them all', () => {
  const file = path.join(dir, 'dns-prefix.pcap');
  // 300 connections, each announcing 65,535 bytes and sending 1,000: without lazy allocation 19 MiB.
  writeDnsPrefixFlood(file, 300, 1000);
  const roomy = replay(file, options(64 * 1024 * 1024));
  assert.ok(roomy.endBytes <= 300 * 1024, `held ${roomy.endBytes} for 300 x 1,000 bytes received`);
  assert.equal(roomy.flushedBytes, 0);
  const tight = replay(file, options(100 * 1024));
  assert.ok(tight.maxBytes <= 100 * 1024, `held ${tight.maxBytes}`);
  assert.ok(
    tight.skips.get(skipReason('dns.parser_budget')) > 150,
    `${tight.skips.get(skipReason('dns.parser_budget'))}`,
  );
});
