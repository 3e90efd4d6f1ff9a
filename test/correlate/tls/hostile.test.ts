/**
 * Hostile TLS input through the real reader, decoder, reassembly and correlator: a ClientHello
 * with 10,000 extensions, huge declared lengths, truncated and malformed messages, partial
 * ClientHellos on many connections. Always a counted skip or a bounded result, never a crash,
 * and the parser buffers are released.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Outcome, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { kMaxListed } from '../../../agent/correlate/tls/parse.ts';
import { skipReason } from '../../../agent/shared/skips.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { PcapStreamWriter } from '../../hostile/pcap-stream-writer.ts';
import { clientHello, declaredHandshake, records, serverHello, TcpConversation } from './tls-stream.ts';

const kClient = 0x0a800001;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-tls-hostile-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function capture(name: string, write: (w: PcapStreamWriter) => void): string {
  const file = path.join(dir, name);
  const w = new PcapStreamWriter(file);
  write(w);
  w.close();
  return file;
}

function tlsPairs(file: string, configure?: Parameters<typeof replayPairs>[1]) {
  const replayed = replayPairs([file], configure);
  return { ...replayed, tls: replayed.pairs.filter((p) => p.protocol === 'tls') };
}

test('a ClientHello with 10,000 extensions across records and segments pairs; kept lists are capped', () => {
  const alpn = Array.from({ length: 1000 }, (_, i) => `p${i}`);
  const hello = clientHello({ sni: 'many.example.test', alpn, versions: [0x0304, 0x0303], padding: 10_000 });
  assert.ok(hello.length > 40_000 && hello.length < 64 * 1024);
  const file = capture('extensions.pcap', (w) => {
    const c = new TcpConversation(w, kClient, 40000);
    c.send(true, records(22, hello));
    c.send(false, records(22, serverHello()));
  });
  const { tls, correlator } = tlsPairs(file);
  assert.equal(tls.length, 1);
  const pair = tls[0]!;
  assert.equal(pair.outcome, Outcome.Matched);
  const detail = pair.detail as Record<string, unknown>;
  assert.equal(detail.sni, 'many.example.test');
  assert.deepEqual(detail.versions_offered, ['1.3', '1.2']);
  assert.equal((detail.alpn_offered as string[]).length, kMaxListed);
  assert.equal(detail.version, '1.3');
  assert.equal(detail.cipher, 'TLS_AES_128_GCM_SHA256');
  assert.ok(pair.request.packets > 20, 'the ClientHello spans many segments');
  assert.equal(correlator.parserBuffers.bytes, 0, 'its reassembly buffer was released');
});

test('a handshake message declaring 16 MiB is not buffered: counted, no pair', () => {
  const file = capture('huge-message.pcap', (w) => {
    const c = new TcpConversation(w, kClient, 40001);
    c.send(true, records(22, declaredHandshake(1, Buffer.alloc(2000, 1), 0xffffff)));
    c.send(true, Buffer.alloc(9000, 0x16));
  });
  const { tls, correlator } = tlsPairs(file);
  assert.equal(tls.length, 0);
  assert.equal(correlator.skips.get(skipReason('tls.handshake_too_large')), 1);
  assert.equal(correlator.parserBuffers.bytes, 0);
});

test('a record declaring more than 2^14 + 2048 bytes ends the following of the connection (counted)', () => {
  const file = capture('huge-record.pcap', (w) => {
    const c = new TcpConversation(w, kClient, 40002);
    c.send(true, Buffer.concat([Buffer.from([22, 3, 3, 0xff, 0xff, 1]), Buffer.alloc(100)]));
  });
  const { tls, correlator } = tlsPairs(file);
  assert.equal(tls.length, 0);
  assert.equal(correlator.skips.get(skipReason('tls.bad_record')), 1);
});

test('a ClientHello whose extension lengths overrun the message is counted malformed', () => {
  const hello = clientHello({ sni: 'x.test' });
  hello.writeUInt16BE(0xfff0, hello.length - 'x.test'.length - 9 - 2); // the extensions' total length
  const file = capture('malformed.pcap', (w) => {
    const c = new TcpConversation(w, kClient, 40003);
    c.send(true, records(22, hello));
  });
  const { tls, correlator } = tlsPairs(file);
  assert.equal(tls.length, 0);
  assert.equal(correlator.skips.get(skipReason('tls.malformed_hello')), 1);
});

test('a truncated ClientHello (the capture ends inside it) releases its buffer at the end', () => {
  const hello = clientHello({ sni: 'cut.test', padding: 3000 });
  const file = capture('truncated.pcap', (w) => {
    const c = new TcpConversation(w, kClient, 40004);
    c.send(true, records(22, hello).subarray(0, 5000));
  });
  const { tls, correlator } = tlsPairs(file);
  assert.equal(tls.length, 0);
  assert.equal(correlator.parserBuffers.bytes, 0);
});

test('a ClientHello answered by RST is unanswered (connection_closed)', () => {
  const file = capture('reset.pcap', (w) => {
    const c = new TcpConversation(w, kClient, 40005);
    c.send(true, records(22, clientHello({ sni: 'reset.test' })));
    c.reset();
  });
  const { tls } = tlsPairs(file);
  assert.equal(tls.length, 1);
  assert.equal(tls[0]!.outcome, Outcome.Unanswered);
  assert.equal(tls[0]!.unansweredReason, UnansweredReason.ConnectionClosed);
  assert.equal((tls[0]!.detail as Record<string, unknown>).sni, 'reset.test');
});

test('partial ClientHellos on many connections stay within the parser buffer budget (refusals counted)', () => {
  const hello = records(22, clientHello({ sni: 'partial.test', padding: 8000 }));
  const connections = 200;
  const file = capture('partials.pcap', (w) => {
    for (let i = 0; i < connections; i++)
      new TcpConversation(w, kClient + i, 41000).send(true, hello.subarray(0, 3000));
  });
  const budget = 256 * 1024;
  const { tls, correlator } = tlsPairs(file, (o) => {
    o.reassembly.maxParserBufferBytesTotal = budget;
  });
  assert.equal(tls.length, 0);
  const perHello = hello.length - 5 * Math.ceil(hello.length / 16384) - 4;
  const admitted = Math.floor(budget / perHello);
  assert.equal(correlator.skips.get(skipReason('tls.parser_buffer_refused')), connections - admitted);
  assert.equal(correlator.parserBuffers.bytes, 0, 'released when the connections are forgotten');
});
