/**
 * `wirespan run` killed (SIGKILL) while an `unanswered flood` aggregate is pending, then
 * restarted: no pair of the flood is lost. The pairs counted into an aggregate are in no span
 * until it is emitted (capture time ~the longest --timeout + 2 s past its second,
 * span-flood.ts), so a checkpoint written meanwhile must not be past their records: it waits
 * for the aggregate (span-flood.ts FloodCheckpointHold), and the restart reads them again.
 *
 * The capture: a SYN flood from one source in its first 0.3 s (300 unanswered pairs beyond a
 * limit of 10 a second: 10 spans and one aggregate of 290), then answered handshakes until
 * 2.9 s. With --timeout 1 the flood's pairs are given up by 1.3 s and counted, but their
 * aggregate closes only once capture time reaches 4 s: never in the first run, which idles at
 * the end of the file with the aggregate pending until the kill.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kFloodSpanName } from '../../agent/export/otel/span-flood.ts';
import { type OtlpReceiver, startReceiver } from '../export/otlp-receiver.ts';
import { readAllRecords, writePcap } from '../helpers/pcap-writer.ts';
import { startAgent } from '../helpers/run-cli.ts';
import { kCraftedTcpFlags, PcapStreamWriter } from '../hostile/crafted-tcp.ts';

const kFloodSource = '10.1.0.1';
const kFloodSyns = 300;
const kLimit = 10;
const kHandshakes = 25;
const kServer = 0x0a000050;

let dir: string;
let capture: string;
let receiver: OtlpReceiver;

before(async () => {
  receiver = await startReceiver();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-flood-checkpoint-'));
  const raw = path.join(dir, 'raw.pcap');
  const writer = new PcapStreamWriter(raw);
  const nanos: number[] = [];
  for (let i = 0; i < kFloodSyns; i++) {
    writer.tcp(0x0a010001, 20_000 + i, kServer, 80, i * 7919, 0, kCraftedTcpFlags.syn, 0);
    nanos.push(i * 1e6);
  }
  for (let k = 0; k < kHandshakes; k++) {
    const at = 500e6 + k * 100e6;
    writer.tcp(0x0a020001, 30_000 + k, kServer, 80, 1000, 0, kCraftedTcpFlags.syn, 0);
    writer.tcp(
      kServer,
      80,
      0x0a020001,
      30_000 + k,
      5000,
      1001,
      kCraftedTcpFlags.syn | kCraftedTcpFlags.ack,
      0,
    );
    nanos.push(at, at + 1e6);
  }
  writer.close();
  const start = 1_700_000_000;
  capture = path.join(dir, 'flood.pcap');
  writePcap(
    capture,
    readAllRecords(raw).map((record, i) => ({
      ...record,
      seconds: start + Math.floor(nanos[i]! / 1e9),
      nanos: nanos[i]! % 1e9,
    })),
  );
});
after(async () => {
  await receiver.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Whether `condition` held within `timeoutMillis`. */
async function waitFor(condition: () => boolean, timeoutMillis: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * The pairs these spans stand for (an aggregate: wirespan.flood.count): of the flood source, and
 * the answered ones (distinct: their spans come again after a restart).
 */
function pairsIn(spans: OtlpReceiver['spans']): { flood: number; answered: number } {
  let flood = 0;
  const answered = new Set<string>();
  for (const span of spans) {
    if (span.name === kFloodSpanName) {
      assert.equal(span.attributes['client.address'], kFloodSource);
      flood += Number(span.attributes['wirespan.flood.count']);
    } else if (span.attributes['client.address'] === kFloodSource) flood++;
    else answered.add(span.startTimeUnixNano);
  }
  return { flood, answered: answered.size };
}

for (const workers of ['0', '2']) {
  test(`run --workers ${workers}: SIGKILL while a flood aggregate is pending, restart: every pair of the flood is in a span`, async () => {
    receiver.reset();
    const watched = path.join(dir, `watched-${workers}`);
    const state = path.join(dir, `state-${workers}`);
    fs.mkdirSync(watched);
    fs.copyFileSync(capture, path.join(watched, 'cap-0.pcap'));
    const size = fs.statSync(capture).size;
    const args = [
      '--watch',
      watched,
      '--state-dir',
      state,
      '--otlp',
      receiver.endpoint,
      '--timeout',
      '1',
      '--unanswered-spans-per-second',
      String(kLimit),
      '--grace',
      '0.3',
      '--health-port',
      '0',
      '--workers',
      workers,
    ];
    const offset = (): number => {
      try {
        return JSON.parse(fs.readFileSync(path.join(state, 'checkpoint.json'), 'utf8')).directories[0].current
          .offset;
      } catch {
        return -1;
      }
    };

    const first = startAgent(args);
    // Every span but the aggregate's is exported...
    assert.ok(await waitFor(() => receiver.spans.length >= kHandshakes + kLimit, 60_000), first.stderr());
    // ...and the checkpoint had time to follow (without the hold it reached the file's end).
    await waitFor(() => offset() === size, 3000);
    assert.equal(
      receiver.spans.filter((s) => s.name === kFloodSpanName).length,
      0,
      'the aggregate is pending',
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const offsetAtKill = offset();
    const beforeRestart = receiver.spans.length;

    const second = startAgent(args);
    assert.ok(await waitFor(() => second.stderr().includes('"watching"'), 60_000), second.stderr());
    // The restart reads the capture again, its spans come again (the aggregate only at the
    // drain); a restart past the flood has nothing to read.
    await waitFor(() => receiver.spans.length >= 2 * (kHandshakes + kLimit), 30_000);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr());
    // Every pair of the flood in a span at least once (the restart sends some again: which of
    // them get their own span depends on the order the shards deliver them).
    const all = pairsIn(receiver.spans);
    assert.equal(all.answered, kHandshakes);
    assert.ok(all.flood >= kFloodSyns, `the spans stand for ${all.flood} of the ${kFloodSyns} flood pairs`);
    // The checkpoint stayed before the flood: the restart read it again, aggregate and all.
    assert.ok(offsetAtKill < size, `checkpoint at ${offsetAtKill} of ${size} at the kill`);
    assert.deepEqual(pairsIn(receiver.spans.slice(beforeRestart)), {
      flood: kFloodSyns,
      answered: kHandshakes,
    });
    assert.equal(offset(), size);
  });
}
