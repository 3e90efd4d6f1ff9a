/**
 * `wirespan run` catching up on a backlog while its exports are always in flight (a collector
 * whose answers arrive 200 ms late, a small queue holding reading back): the checkpoint moves
 * as the spans before it are exported, not only once the exporter has nothing in flight; a
 * SIGKILL at 70 % and a restart deliver every pair, and re-send about a second's worth of
 * spans, not everything since the start. Real processes, the real OTLP/gRPC receiver. Measured
 * (2-core VM): 6-7 positions before the kill and 100-200 spans sent twice, of 3,000; before
 * this, no position past the start and 2,100.
 *
 * The backlog is DNS queries each followed by its answer (a new id each time), so no request is
 * pending at any checkpoint (requests pending at one: test/cli/run.test.ts). With `--on-done
 * delete` the files stay until a saved checkpoint no longer needs them: before, a file deleted
 * once read took its pairs not yet checkpointed with it at the kill.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReceiver } from '../export/otlp-receiver.ts';
import { type OwnedRecord, pcapBytes, readAllRecords } from '../helpers/pcap-writer.ts';
import { repoRoot, startAgent } from '../helpers/run-cli.ts';

const demo = path.join(repoRoot, 'test/fixtures/demo.pcap');
/** Small files: the tail reads at most one file per step, so a position moves by one file at most. */
const kFiles = 60;
const kPairsPerFile = 50;
const kAnswerDelayMillis = 200;
/** Of the backlog, at the receiver when the first agent is killed. */
const kKillAt = 0.7;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** The demo's first DNS query and answer (records 0 and 1: Ethernet, IPv4, UDP), repeated with new ids, 1 ms apart. */
function writeBacklog(dir: string): string[] {
  const [query, answer] = readAllRecords(demo);
  const keys: string[] = [];
  const old = Date.now() / 1000 - 3600;
  let n = 0;
  for (let file = 0; file < kFiles; file++) {
    const records: OwnedRecord[] = [];
    for (let i = 0; i < kPairsPerFile; i++, n++) {
      const pair = [query!, answer!].map((record) => {
        const bytes = Uint8Array.from(record.bytes);
        bytes[40] = 0; // UDP checksum: none (the id changes)
        bytes[41] = 0;
        bytes[42] = (n >> 8) & 0xff; // DNS id
        bytes[43] = n & 0xff;
        const nanos = record.nanos + (n % 1000) * 1_000_000;
        return {
          ...record,
          bytes,
          seconds: record.seconds + Math.floor(n / 1000) + Math.floor(nanos / 1e9),
          nanos: nanos % 1e9,
        };
      });
      records.push(...pair);
      const nanosOf = (r: OwnedRecord) => (BigInt(r.seconds) * 1_000_000_000n + BigInt(r.nanos)).toString();
      keys.push(`${nanosOf(pair[0]!)}-${nanosOf(pair[1]!)}`);
    }
    const name = path.join(dir, `cap-${String(file).padStart(2, '0')}.pcap`);
    fs.writeFileSync(name, pcapBytes(records));
    // A backlog tcpdump -G left: finished files, oldest first.
    fs.utimesSync(name, old + file, old + file);
  }
  return keys;
}

/** A TCP proxy that hands every byte from the receiver back `delayMillis` late: a slow collector. */
async function slowLink(port: number, delayMillis: number): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (data) => upstream.write(data));
    upstream.on('data', (data) => {
      setTimeout(() => {
        if (!client.destroyed) client.write(data);
      }, delayMillis);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

/** The agent with a slow exporter: requests of 100 spans, a small queue (see below). */
function startSlowAgent(args: string[]): ReturnType<typeof startAgent> {
  // Requests of 100 spans, at most 4 in flight (the default), answered late (~200-400
  // spans/s through the slow link); reading waits while more than 100 spans are waiting.
  const agent = startAgent(args, {
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100',
    OTEL_BSP_MAX_QUEUE_SIZE: '200',
    OTEL_METRICS_EXPORTER: 'none',
  });
  cleanups.push(() => agent.child.kill('SIGKILL'));
  return agent;
}

for (const [workers, onDone] of [
  ['0', 'keep'],
  ['2', 'keep'],
  ['0', 'delete'],
  ['2', 'delete'],
] as const) {
  test(`run --workers ${workers} --on-done ${onDone}: catching up, the checkpoint moves while exports are in flight; SIGKILL, restart: every pair delivered, few again`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-catch-up-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const dir = path.join(root, 'pcaps');
    fs.mkdirSync(dir);
    const expected = writeBacklog(dir);
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const port = await slowLink(Number(new URL(receiver.endpoint).port), kAnswerDelayMillis);
    const args = [
      '--watch',
      dir,
      '--state-dir',
      path.join(root, 'state'),
      '--otlp',
      `http://127.0.0.1:${port}`,
      '--health-port',
      '0',
      '--grace',
      '0.3',
      '--workers',
      workers,
      '--on-done',
      onDone,
    ];
    const checkpointFile = path.join(root, 'state', 'checkpoint.json');
    /** Each position past the first file written while the backlog was not all received, in order. */
    const moves: string[] = [];
    const received = new Set<string>();
    let seen = 0;
    const poll = (): void => {
      for (; seen < receiver.spans.length; seen++) {
        const span = receiver.spans[seen]!;
        received.add(`${span.startTimeUnixNano}-${span.endTimeUnixNano}`);
      }
      let directories: { done: unknown[] }[];
      try {
        directories = JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).directories;
      } catch {
        return; // not written yet
      }
      const positions = JSON.stringify(directories);
      if (received.size < expected.length && directories[0]!.done.length > 0 && moves.at(-1) !== positions)
        moves.push(positions);
    };
    const until = async (condition: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 60_000;
      for (poll(); !condition(); poll()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
    };

    const first = startSlowAgent(args);
    await until(() => received.size >= expected.length * kKillAt, 'most of the backlog at the receiver');
    first.child.kill('SIGKILL');
    await first.exited;
    // --on-done delete waits for a saved checkpoint that no longer needs the file: the backlog's 3 s
    // of capture are all within the pending window (a restart reads them again to rebuild the
    // requests pending at the checkpoint), so every file is still there.
    assert.equal(fs.readdirSync(dir).length, kFiles);
    const atKill = receiver.spans.length;
    const movesBeforeKill = moves.length;

    const second = startSlowAgent(args);
    await until(() => received.size === expected.length, 'every pair at the receiver');
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr());
    poll();
    // The last file has no successor: it is never finished; every other is deleted after the final checkpoint.
    assert.equal(fs.readdirSync(dir).length, onDone === 'delete' ? 1 : kFiles);

    // Today the checkpoint moved only when the exporter had nothing in flight: never here.
    assert.ok(movesBeforeKill >= 3, `${movesBeforeKill} positions before the kill:\n${moves.join('\n')}`);
    // After the restart too (first the records up to the checkpoint are read again, quietly, to
    // rebuild the requests pending at it: measured 2-5 positions in the ~3 s left).
    assert.ok(
      moves.length >= movesBeforeKill + 1,
      `${moves.length} positions in all, ${movesBeforeKill} before the kill:\n${moves.join('\n')}`,
    );
    // Every pair at least once (its exact capture times), nothing else.
    assert.deepEqual(
      expected.filter((key) => !received.has(key)),
      [],
    );
    assert.equal(received.size, expected.length);
    // Sent again after the restart: what the receiver got after the checkpoint on disk at the
    // kill (about a second of export, and the requests in flight), not everything before it.
    const duplicates = receiver.spans.length - expected.length;
    assert.ok(
      duplicates <= expected.length / 3,
      `${duplicates} duplicates of ${expected.length} pairs (${atKill} spans received at the kill)`,
    );
  });
}
