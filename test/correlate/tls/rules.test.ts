/**
 * TLS pairing rules on hand-built handshakes through the real pipeline: the TLS 1.2 Finished
 * after the server's ChangeCipherSpec, a client alert during the TLS 1.2 handshake, a
 * HelloRetryRequest, and a connection that ends before any ServerHello.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Outcome, UnansweredReason } from '../../../agent/correlate/pair.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { PcapStreamWriter } from '../../hostile/pcap-stream-writer.ts';
import { clientHello, records, serverHello, TcpConversation } from './tls-stream.ts';

const kClient = 0x0a800001;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-tls-rules-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
function tlsPairs(write: (c: TcpConversation) => void) {
  const file = path.join(dir, `rules-${n++}.pcap`);
  const w = new PcapStreamWriter(file);
  write(new TcpConversation(w, kClient, 40000, 0x0a000002, 9443));
  w.close();
  return replayPairs([file]).pairs.filter((p) => p.protocol === 'tls');
}

const hello = records(22, clientHello({ sni: 'rules.test', versions: [0x0303] }));
const hello12 = records(22, serverHello(0xc02f, 0x0303));
const ccs = Buffer.from([20, 3, 3, 0, 1, 1]);
const encryptedFinished = records(22, Buffer.alloc(40, 0xee));

test('TLS 1.2: handshake_ns runs to the server Finished (the handshake record after its ChangeCipherSpec)', () => {
  const [pair, ...rest] = tlsPairs((c) => {
    c.send(true, hello); // packet 4
    c.send(false, Buffer.concat([hello12, records(22, Buffer.from([14, 0, 0, 0]))])); // 5: ServerHello, ServerHelloDone
    c.send(true, Buffer.concat([records(22, Buffer.from([16, 0, 0, 1, 0])), ccs, encryptedFinished])); // 6
    c.send(false, ccs); // 7
    c.send(false, encryptedFinished); // 8: the server's Finished
  });
  assert.equal(rest.length, 0);
  assert.equal(pair!.outcome, Outcome.Matched);
  assert.equal(pair!.response!.packet, 5);
  const detail = pair!.detail as Record<string, unknown>;
  assert.equal(detail.version, '1.2');
  assert.equal(detail.cipher, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
  // PcapStreamWriter stamps packets 1 µs apart: ClientHello at packet 4, Finished at packet 8.
  assert.equal(detail.handshake_ns, 4000);
});

test('TLS 1.2: a client alert after the ServerHello ends the pair matched, with the alert', () => {
  const [pair] = tlsPairs((c) => {
    c.send(true, hello);
    c.send(false, hello12);
    c.send(true, Buffer.from([21, 3, 3, 0, 2, 2, 48])); // fatal unknown_ca
  });
  assert.equal(pair!.outcome, Outcome.Matched);
  const detail = pair!.detail as Record<string, unknown>;
  assert.deepEqual(detail.alert, { from: 'client', level: 'fatal', description: 'unknown_ca' });
  assert.equal(detail.handshake_ns, undefined);
});

test('TLS 1.3: a HelloRetryRequest ends the pair, marked', () => {
  const retry = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
  const [pair, ...rest] = tlsPairs((c) => {
    c.send(true, hello);
    c.send(false, records(22, serverHello(0x1301, 0x0304, retry)));
    c.send(true, hello);
  });
  assert.equal(rest.length, 0);
  assert.equal((pair!.detail as Record<string, unknown>).hello_retry, true);
  assert.equal((pair!.detail as Record<string, unknown>).version, '1.3');
});

test('a ClientHello with no answer by the end of input is unanswered (end_of_input); a TLS 1.2 pair waiting for the Finished is matched', () => {
  const [silent] = tlsPairs((c) => c.send(true, hello));
  assert.equal(silent!.outcome, Outcome.Unanswered);
  assert.equal(silent!.unansweredReason, UnansweredReason.EndOfInput);
  assert.equal(silent!.serverPort, 9443, 'any port');
  const [waiting] = tlsPairs((c) => {
    c.send(true, hello);
    c.send(false, hello12);
  });
  assert.equal(waiting!.outcome, Outcome.Matched);
  assert.equal((waiting!.detail as Record<string, unknown>).handshake_ns, undefined);
});
