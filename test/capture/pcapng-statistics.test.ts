/**
 * pcapng Interface Statistics Blocks: the capture's own counts (isb_ifrecv, isb_ifdrop,
 * isb_osdrop, ...) as CaptureReader.captureStatistics() reports them: crafted blocks with
 * known values (both byte orders, several interfaces, repeated ISBs, bad blocks), and a real
 * dumpcap capture whose own exit line states the numbers.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource } from '../../agent/capture/byte-source.ts';
import { openCapture } from '../../agent/capture/open.ts';
import { CaptureReader } from '../../agent/capture/reader.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { PcapngBlock, PcapngBuilder, packetBytes } from './build.ts';

/** An ISB body: interface id, timestamp, then 64-bit count options by code (plus a comment). */
function isb(
  builder: PcapngBuilder,
  littleEndian: boolean,
  interfaceId: number,
  counts: Record<number, bigint>,
) {
  const words: number[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (littleEndian) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    words.push(...b);
  };
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (littleEndian) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    words.push(...b);
  };
  u32(interfaceId);
  u32(0);
  u32(1000);
  // opt_comment first: options the parser does not count are stepped over.
  u16(1);
  u16(5);
  words.push(...Buffer.from('hello'), 0, 0, 0);
  for (const [code, value] of Object.entries(counts)) {
    u16(Number(code));
    u16(8);
    u32(littleEndian ? Number(value & 0xffffffffn) : Number(value >> 32n));
    u32(littleEndian ? Number(value >> 32n) : Number(value & 0xffffffffn));
  }
  u16(0);
  u16(0);
  return builder.block(PcapngBlock.InterfaceStatistics, words);
}

function statistics(bytes: Uint8Array) {
  const reader = new CaptureReader(new MemoryByteSource(bytes), new SkipCounters());
  let packets = 0;
  while (reader.next() === ReadResult.Record) packets++;
  return { packets, error: reader.error, statistics: reader.captureStatistics() };
}

for (const littleEndian of [true, false]) {
  test(`${littleEndian ? 'little' : 'big'}-endian ISBs: the latest per interface, summed over interfaces`, () => {
    const builder = new PcapngBuilder().section(littleEndian).interface().interface();
    builder.enhancedPacket({ timestamp: 1n, data: packetBytes(60) });
    isb(builder, littleEndian, 0, { 4: 100n, 5: 1n, 7: 2n });
    builder.enhancedPacket({ timestamp: 2n, data: packetBytes(60) });
    // Cumulative counts: the second ISB of interface 0 replaces the first.
    isb(builder, littleEndian, 0, { 4: 250n, 5: 3n, 7: 0x1_0000_0005n, 8: 240n });
    isb(builder, littleEndian, 1, { 4: 50n, 6: 45n, 7: 7n });
    const outcome = statistics(builder.build());
    assert.equal(outcome.error, null);
    assert.equal(outcome.packets, 2);
    assert.deepEqual(outcome.statistics, {
      interfaces: 2,
      received: 300,
      interfaceDropped: 3,
      osDropped: 0x1_0000_0005 + 7,
      filterAccepted: 45,
      userDelivered: 240,
    });
  });
}

test('pcap files and pcapng files without ISBs state nothing; bad ISBs are ignored, the file still reads', () => {
  const none = statistics(
    new PcapngBuilder()
      .section()
      .interface()
      .enhancedPacket({ timestamp: 1n, data: packetBytes(60) })
      .build(),
  );
  assert.equal(none.statistics, null);
  const builder = new PcapngBuilder().section().interface();
  // Unknown interface id, too short, an option running past the block: no crash, no counts.
  isb(builder, true, 9, { 5: 1n });
  builder.block(PcapngBlock.InterfaceStatistics, [0, 0, 0, 0]);
  builder.block(PcapngBlock.InterfaceStatistics, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 200, 0]);
  builder.enhancedPacket({ timestamp: 1n, data: packetBytes(60) });
  const bad = statistics(builder.build());
  assert.equal(bad.error, null);
  assert.equal(bad.packets, 1);
  assert.deepEqual(bad.statistics, {
    interfaces: 1,
    received: -1,
    interfaceDropped: -1,
    osDropped: -1,
    filterAccepted: -1,
    userDelivered: -1,
  });
});

const dumpcap = spawnSync('sh', ['-c', 'command -v dumpcap'], { encoding: 'utf8' }).stdout.trim();
const unavailable = !dumpcap
  ? 'dumpcap is not installed'
  : process.getuid?.() !== 0
    ? 'capturing needs root'
    : null;

test('a real dumpcap capture: wirespan reads the counts dumpcap states on exit', {
  skip: unavailable !== null && process.env.CI !== 'true' ? unavailable : false,
}, async () => {
  assert.equal(unavailable, null, `${unavailable} (CI must be able to run this test)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-isb-'));
  const file = path.join(dir, 'lo.pcapng');
  const sink = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const port = sink.address().port;
  const packets = 40;
  const child = spawn(dumpcap, ['-i', 'lo', '-f', `udp port ${port}`, '-c', String(packets), '-w', file]);
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 10_000;
  while (!log.includes('Capturing on')) {
    assert.ok(Date.now() < deadline, `dumpcap did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const client = dgram.createSocket('udp4');
  // Until dumpcap has its packets and exits (the filter may start a moment after "Capturing on").
  let code: number | null | undefined;
  for (let i = 0; code === undefined; i++) {
    await new Promise<void>((resolve) => client.send(`datagram ${i}`, port, '127.0.0.1', () => resolve()));
    code = await Promise.race([
      exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10)),
    ]);
    assert.ok(Date.now() < deadline + 10_000, 'dumpcap did not stop');
  }
  client.close();
  sink.close();
  assert.equal(code, 0, log);
  // "Packets received/dropped on interface 'Loopback: lo': 40/0 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0)"
  const stated = /received\/dropped on interface [^:]*: (\d+)\/(\d+) \(pcap:(\d+)/.exec(
    log.replace(/'[^']*'/g, 'lo'),
  );
  assert.ok(stated, log);
  const opened = openCapture(file, new SkipCounters());
  if ('error' in opened) throw new Error(opened.error);
  let read = 0;
  while (opened.reader.next() === ReadResult.Record) read++;
  const stats = opened.reader.captureStatistics();
  opened.source.close();
  assert.equal(read, packets);
  assert.ok(stats !== null, 'dumpcap wrote an Interface Statistics Block');
  assert.equal(stats.interfaces, 1);
  // dumpcap's isb_ifrecv/isb_ifdrop are libpcap's ps_recv/ps_drop, the counts of its exit line.
  assert.equal(stats.received, Number(stated[1]));
  assert.equal(stats.interfaceDropped, Number(stated[3]));
});
