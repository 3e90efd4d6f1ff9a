/**
 * Redaction of HTTP targets (agent/correlate/http/redact.ts): userinfo always, path parameters
 * and the query unless --http-keep-query; done once at parse time, checked in every output: the
 * span (through the exporter and a real OTLP receiver), the JSONL line (the real CLI) and the
 * HTML report's data.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { redactTarget, redactUserinfo } from '../../../agent/correlate/http/redact.ts';
import { defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import { createOtelExporter } from '../../../agent/export/otel/index.ts';
import { generateReport } from '../../../agent/report/html-report.ts';
import { ethernet, ipv4, tcp } from '../../decode/packets.ts';
import { type OtlpReceiver, startReceiver } from '../../export/otlp-receiver.ts';
import { type OwnedRecord, writePcap } from '../../helpers/pcap-writer.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';
import { jsonLines, runCli } from '../../helpers/run-cli.ts';

describe('redactTarget', () => {
  test('userinfo becomes REDACTED:REDACTED@, with or without keepQuery', () => {
    for (const keep of [false, true]) {
      assert.equal(redactTarget('http://alice:P4ssw0rd@proxy/x', keep), 'http://REDACTED:REDACTED@proxy/x');
      assert.equal(redactTarget('https://alice@proxy:8443/', keep), 'https://REDACTED:REDACTED@proxy:8443/');
      assert.equal(redactTarget('http://a:b@c@proxy', keep), 'http://REDACTED:REDACTED@proxy');
      assert.equal(redactTarget('bob:pw@example.com:443', keep), 'REDACTED:REDACTED@example.com:443');
    }
  });

  test('an @ outside the authority is not userinfo', () => {
    assert.equal(redactTarget('/users/@me', false), '/users/@me');
    assert.equal(redactTarget('http://h/users/@me?x=a@b', true), 'http://h/users/@me?x=a@b');
    assert.equal(redactTarget('http://h?u=a@b', true), 'http://h?u=a@b');
  });

  test('path parameters and the query are redacted unless keepQuery', () => {
    assert.equal(
      redactTarget('/app;jsessionid=ABC/page;v=2?q=1', false),
      '/app;REDACTED/page;REDACTED?REDACTED',
    );
    assert.equal(redactTarget('/app;jsessionid=ABC', false), '/app;REDACTED');
    assert.equal(redactTarget('/a/b?x=1;y=2', false), '/a/b?REDACTED');
    assert.equal(
      redactTarget('http://u:p@h:81/a;s=1/b?q', false),
      'http://REDACTED:REDACTED@h:81/a;REDACTED/b?REDACTED',
    );
    assert.equal(redactTarget('/app;jsessionid=ABC/page?q=1', true), '/app;jsessionid=ABC/page?q=1');
    assert.equal(redactTarget('/plain/path', false), '/plain/path');
    assert.equal(redactTarget('*', false), '*');
  });

  test('redactUserinfo leaves URLs without userinfo alone', () => {
    assert.equal(redactUserinfo('http://h:8080/a@b'), 'http://h:8080/a@b');
    assert.equal(redactUserinfo('http://x:y@h/'), 'http://REDACTED:REDACTED@h/');
  });
});

// ---- one crafted capture, every output ----

const kProxyRequest =
  'GET http://alice:P4ssw0rd@proxy.example/x?token=s3cr3t HTTP/1.1\r\nHost: proxy.example\r\n\r\n';
const kSessionRequest =
  'GET /shop;jsessionid=0123ABCD/cart;v=2?q=secret HTTP/1.1\r\nHost: shop.example\r\n\r\n';
const kSecrets = ['alice', 'P4ssw0rd', 's3cr3t', '0123ABCD', 'jsessionid', 'secret'];

/** One HTTP exchange on its own connection: handshake, request, 200 response, FIN both ways. */
function exchange(records: OwnedRecord[], clientPort: number, request: string, startSeconds: number): void {
  const client = '10.1.0.5';
  const server = '10.2.0.9';
  const response = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  let micros = 0;
  const push = (fromClient: boolean, seq: number, ack: number, flags: number, payload: string) => {
    const segment = tcp({
      srcPort: fromClient ? clientPort : 80,
      dstPort: fromClient ? 80 : clientPort,
      seq,
      ack,
      flags,
      payload: [...Buffer.from(payload, 'latin1')],
    });
    const bytes = ethernet(
      0x0800,
      ipv4({
        src: fromClient ? client : server,
        dst: fromClient ? server : client,
        protocol: 6,
        payload: segment,
      }),
    );
    micros += 1000;
    records.push({
      seconds: startSeconds,
      nanos: micros * 1000,
      originalLength: bytes.length,
      linkType: 1,
      bytes,
    });
  };
  const c = 1000;
  const s = 9000;
  push(true, c, 0, 0x02, '');
  push(false, s, c + 1, 0x12, '');
  push(true, c + 1, s + 1, 0x10, '');
  push(true, c + 1, s + 1, 0x18, request);
  const afterRequest = c + 1 + request.length;
  push(false, s + 1, afterRequest, 0x18, response);
  const afterResponse = s + 1 + response.length;
  push(true, afterRequest, afterResponse, 0x11, '');
  push(false, afterResponse, afterRequest + 1, 0x11, '');
}

let capture: string;
before(() => {
  const records: OwnedRecord[] = [];
  exchange(records, 41000, kProxyRequest, 1_700_000_000);
  exchange(records, 41001, kSessionRequest, 1_700_000_001);
  capture = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-redact-')), 'redact.pcap');
  writePcap(capture, records);
});

function assertNoSecret(text: string, where: string): void {
  for (const secret of kSecrets) assert.ok(!text.includes(secret), `${where} leaks "${secret}": ${text}`);
}

test('JSONL (the real CLI): http.target redacted; --http-keep-query keeps query and path parameters, never userinfo', () => {
  const result = runCli(['replay', '--workers', '0', '--quiet', capture]);
  assert.equal(result.status, 0, result.stderr);
  const targets = jsonLines(result.stdout)
    .filter((p) => p.protocol === 'http')
    .map((p) => (p.http as { target: string }).target)
    .sort();
  assert.deepEqual(targets, [
    '/shop;REDACTED/cart;REDACTED?REDACTED',
    'http://REDACTED:REDACTED@proxy.example/x?REDACTED',
  ]);
  assertNoSecret(result.stdout, 'JSONL');

  const kept = runCli(['replay', '--workers', '0', '--quiet', '--http-keep-query', capture]);
  assert.equal(kept.status, 0, kept.stderr);
  const keptTargets = jsonLines(kept.stdout)
    .filter((p) => p.protocol === 'http')
    .map((p) => (p.http as { target: string }).target)
    .sort();
  assert.deepEqual(keptTargets, [
    '/shop;jsessionid=0123ABCD/cart;v=2?q=secret',
    'http://REDACTED:REDACTED@proxy.example/x?token=s3cr3t',
  ]);
  assert.ok(!kept.stdout.includes('P4ssw0rd'));
});

test('HTML report data: the slowest pairs and their JSONL objects carry the redacted target', async () => {
  const report = await generateReport({ files: [capture], correlate: defaultCorrelateOptions() });
  const http = report.data.slowest.filter((row) => row.protocol === 'http');
  assert.equal(http.length, 2);
  assert.ok(http.some((row) => row.what.includes('http://REDACTED:REDACTED@proxy.example/x?REDACTED')));
  assert.ok(http.some((row) => row.what.includes('/shop;REDACTED/cart;REDACTED?REDACTED')));
  assertNoSecret(JSON.stringify(report.data), 'report data');
  assertNoSecret(report.html, 'report HTML');
});

describe('spans', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  test('url.full, url.path and url.query carry no secret (semconv: REDACTED:REDACTED@)', async () => {
    const exporter = await createOtelExporter({
      endpoint: receiver.endpoint,
      localNetworks: [],
      metrics: false,
    });
    for (const pair of replayPairs([capture]).pairs) exporter.emit(pair);
    const result = await exporter.shutdown();
    assert.equal(result.error, null);
    const spans = receiver.spans.filter((span) => span.attributes['url.path'] !== undefined);
    assert.equal(spans.length, 2);
    const full = spans.map((span) => span.attributes['url.full']).sort();
    assert.deepEqual(full, [
      'http://REDACTED:REDACTED@proxy.example/x?REDACTED',
      'http://shop.example/shop;REDACTED/cart;REDACTED?REDACTED',
    ]);
    const paths = spans.map((span) => span.attributes['url.path']).sort();
    assert.deepEqual(paths, ['/shop;REDACTED/cart;REDACTED', '/x']);
    assertNoSecret(JSON.stringify(spans), 'spans');
  });
});
