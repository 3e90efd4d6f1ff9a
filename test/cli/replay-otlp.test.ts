/**
 * `wirespan replay --otlp`: the real CLI (one thread and worker mode) sends one span per pair
 * to a real OTLP gRPC receiver, at the pairs' exact capture times; an unreachable collector
 * is reported once and the exit code says so.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type OtlpReceiver, startReceiver } from '../export/otlp-receiver.ts';
import { jsonLines, runCliAsync } from '../helpers/run-cli.ts';

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

function nanosText(rfc3339: string): string {
  const match = /^(.*)\.(\d{9})Z$/.exec(rfc3339);
  assert.ok(match);
  const seconds = BigInt(Date.parse(`${match[1]}Z`) / 1000);
  return (seconds * 1_000_000_000n + BigInt(match[2]!)).toString();
}

for (const workers of ['0', '2']) {
  test(`--workers ${workers}: one span per pair, at the pair's capture times`, async () => {
    receiver.reset();
    const result = await runCliAsync([
      'replay',
      'test/fixtures/demo.pcap',
      '--workers',
      workers,
      '--otlp',
      receiver.endpoint,
    ]);
    assert.equal(result.status, 0, result.stderr);
    const pairs = jsonLines(result.stdout);
    assert.equal(receiver.spans.length, pairs.length);
    assert.match(result.stderr, new RegExp(`spans: exported=${pairs.length} dropped=0 failed=0`));
    const http = pairs.find((p) => p.protocol === 'http' && p.outcome === 'matched')!;
    const span = receiver.spans.find(
      (s) =>
        s.startTimeUnixNano === nanosText(http.start as string) &&
        s.name.startsWith((http.http as { method: string }).method),
    );
    assert.ok(span, 'the HTTP pair has its span');
    assert.equal(span.endTimeUnixNano, nanosText(http.end as string));
  });
}

test('an unreachable collector: the replay finishes, says so once, exits 1', async () => {
  const result = await runCliAsync([
    'replay',
    'test/fixtures/demo.pcap',
    '--output',
    'none',
    '--otlp',
    'http://127.0.0.1:9',
  ]);
  assert.equal(result.status, 1);
  const errors = result.stderr.split('\n').filter((line) => line.includes('error:'));
  assert.equal(errors.length, 1, result.stderr);
  assert.match(errors[0]!, /OTLP trace export .* failed/);
  assert.match(result.stderr, /pairs: dns matched=12/);
});

test('bad export options are usage errors', async () => {
  const result = await runCliAsync(['replay', 'test/fixtures/demo.pcap', '--otlp', '--sample-ratio', '3']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--sample-ratio must be between 0 and 1/);
});
