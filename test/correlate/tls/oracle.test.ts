/**
 * TLS handshakes of real nginx and curl (test/fixtures/protocols/tls/, made by
 * test/tools/make-tls-icmp-captures.sh) against tshark's view of the same capture
 * (handshakes.tshark.tsv): one pair per TCP stream, the ClientHello and ServerHello (or
 * alert) frames and times to the nanosecond, the TLS 1.2 Finished time, SNI, versions,
 * cipher suite, ALPN and alert.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Outcome } from '../../../agent/correlate/pair.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const dir = path.join(import.meta.dirname, '../../fixtures/protocols/tls');
const capture = path.join(dir, 'handshakes.pcap');

interface Frame {
  frame: number;
  epochNanos: bigint;
  stream: number;
  srcPort: number;
  handshakeTypes: string[];
  sni: string;
  ciphers: string;
  alpn: string;
  versions: string;
  contentTypes: string[];
  alertLevel: string;
  alertDescription: string;
}

function epochNanos(text: string): bigint {
  const [whole = '0', fraction = ''] = text.split('.');
  return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9));
}

function oracle(): Map<number, Frame[]> {
  const byStream = new Map<number, Frame[]>();
  for (const row of fs.readFileSync(path.join(dir, 'handshakes.tshark.tsv'), 'utf8').trim().split('\n')) {
    const f = row.split('\t');
    const frame: Frame = {
      frame: Number(f[0]),
      epochNanos: epochNanos(f[1]!),
      stream: Number(f[2]),
      srcPort: Number(f[5]),
      handshakeTypes: f[6] ? f[6].split(',') : [],
      sni: f[7] ?? '',
      ciphers: f[8] ?? '',
      alpn: f[9] ?? '',
      versions: f[10] ?? '',
      contentTypes: f[11] ? f[11].split(',') : [],
      alertLevel: f[12] ?? '',
      alertDescription: f[13] ?? '',
    };
    const list = byStream.get(frame.stream) ?? [];
    list.push(frame);
    byStream.set(frame.stream, list);
  }
  return byStream;
}

function nanos(seconds: number, n: number): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(n);
}

const kServerPorts = new Set([443, 8443]);
const kVersionNames: Record<string, string> = { '0x0304': '1.3', '0x0303': '1.2' };
/** IANA names of the suites nginx selects in the fixture. */
const kCipherNames: Record<string, string> = {
  '0xc030': 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  '0x1302': 'TLS_AES_256_GCM_SHA384',
};
const kAlertNames: Record<string, string> = { '112': 'unrecognized_name', '70': 'protocol_version' };

test('tls: every handshake of the capture pairs as tshark sees it, to the nanosecond', () => {
  const { pairs } = replayPairs([capture]);
  const tls = pairs.filter((p) => p.protocol === 'tls');
  const streams = oracle();
  assert.equal(tls.length, streams.size, 'one pair per TLS connection');
  let tls12 = 0;
  let alerts = 0;
  for (const [stream, frames] of streams) {
    const hello = frames.find((f) => f.handshakeTypes.includes('1'))!;
    const pair = tls.find((p) => p.request.packet === hello.frame);
    assert.ok(pair, `stream ${stream}: a pair starting at ClientHello frame ${hello.frame}`);
    assert.equal(nanos(pair.request.firstSeconds, pair.request.firstNanos), hello.epochNanos);
    assert.equal(pair.clientPort, hello.srcPort);
    assert.ok(kServerPorts.has(pair.serverPort));
    assert.equal(pair.outcome, Outcome.Matched);
    const detail = pair.detail as Record<string, unknown>;
    assert.equal(detail.sni, hello.sni);
    assert.equal(detail.cipher_suites_offered, hello.ciphers.split(',').length);
    assert.deepEqual(detail.alpn_offered, hello.alpn.split(','));
    const offered = hello.versions ? hello.versions.split(',').map((v) => kVersionNames[v]) : ['1.2'];
    assert.deepEqual(detail.versions_offered, offered);

    const serverFrames = frames.filter((f) => kServerPorts.has(f.srcPort));
    const serverHello = serverFrames.find((f) => f.handshakeTypes.includes('2'));
    const response = pair.response!;
    if (serverHello === undefined) {
      const alert = serverFrames.find((f) => f.alertDescription !== '')!;
      assert.equal(response.packet, alert.frame, `stream ${stream}: the alert answers`);
      assert.equal(nanos(response.lastSeconds, response.lastNanos), alert.epochNanos);
      assert.deepEqual(detail.alert, {
        from: 'server',
        level: alert.alertLevel === '2' ? 'fatal' : 'warning',
        description: kAlertNames[alert.alertDescription],
      });
      alerts++;
      continue;
    }
    assert.equal(response.packet, serverHello.frame);
    assert.equal(nanos(response.lastSeconds, response.lastNanos), serverHello.epochNanos);
    assert.equal(detail.cipher, kCipherNames[serverHello.ciphers]);
    assert.equal(detail.version, serverHello.versions ? kVersionNames[serverHello.versions] : '1.2');
    assert.equal(detail.alpn, serverHello.alpn === '' ? null : serverHello.alpn);
    if (detail.version === '1.2') {
      // The server's Finished: the first handshake record after its ChangeCipherSpec.
      const finished = serverFrames.find(
        (f) => f.frame > serverHello.frame && f.contentTypes.includes('20'),
      )!;
      assert.equal(
        BigInt(detail.handshake_ns as number),
        finished.epochNanos - hello.epochNanos,
        `stream ${stream}: handshake_ns`,
      );
      tls12++;
    } else {
      assert.equal(detail.handshake_ns, undefined);
    }
  }
  assert.equal(tls12, 2, 'the capture has two TLS 1.2 handshakes');
  assert.equal(alerts, 2, 'and two refused by an alert');
});
