/**
 * `replay --otlp --workers 0` (spans mapped and encoded on the main thread) and `--workers 2`
 * (mapped and encoded in the workers when the pipeline hands them OtelExporter.spanConfig as
 * WorkerSinkConfig.spanEncoder, only the bytes sent from the main thread; else pair objects posted
 * to the main thread's exporter) give the real
 * gRPC receiver the same set of spans, span by span and attribute by attribute (random ids
 * aside), and the same latency histograms, on the demo capture and corpus captures.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  comparableSpan,
  type OtlpReceiver,
  type ReceivedMetric,
  startReceiver,
} from '../export/otlp-receiver.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { runCliAsync } from '../helpers/run-cli.ts';

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

function histograms(): string[] {
  const out: string[] = [];
  for (const metric of receiver.lastRequest('wirespan.pairs') as ReceivedMetric[]) {
    if (metric.type !== 'histogram') continue;
    for (const p of metric.dataPoints)
      out.push(
        JSON.stringify([metric.name, metric.resource['service.name'], p.attributes, p.count, p.bucketCounts]),
      );
  }
  return out.sort();
}

async function replay(
  files: string[],
  workers: string,
): Promise<{ spans: string[]; histograms: string[]; stderr: string }> {
  receiver.reset();
  const result = await runCliAsync([
    'replay',
    ...files,
    '--workers',
    workers,
    '--output',
    'none',
    '--otlp',
    receiver.endpoint,
  ]);
  assert.equal(result.status, 0, result.stderr);
  return {
    spans: receiver.spans.map(comparableSpan).sort(),
    histograms: histograms(),
    stderr: result.stderr,
  };
}

const captures: [string, string[]][] = [
  ['demo.pcap', ['test/fixtures/demo.pcap']],
  [
    'corpus DNS and HTTP',
    [
      path.join(corpusDir, 'dns/pcapplusplus--DnsPackets.pcap'),
      path.join(corpusDir, 'http/pcapplusplus--http-packets2.pcap'),
    ],
  ],
];
for (const [name, files] of captures) {
  test(`${name}: --workers 0 and --workers 2 send the same spans`, async () => {
    const zero = await replay(files, '0');
    const two = await replay(files, '2');
    assert.ok(zero.spans.length > 20, `spans: ${zero.spans.length}`);
    assert.equal(two.spans.length, zero.spans.length);
    assert.deepEqual(two.spans, zero.spans);
    assert.deepEqual(two.histograms, zero.histograms);
    const exported = /spans: exported=(\d+) dropped=0 failed=0/;
    assert.equal(exported.exec(two.stderr)?.[1], String(zero.spans.length), two.stderr);
    assert.equal(exported.exec(zero.stderr)?.[1], String(zero.spans.length), zero.stderr);
  });
}
