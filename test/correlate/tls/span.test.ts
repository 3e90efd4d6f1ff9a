/**
 * TLS and ICMP pairs of the real captures as spans (the production registry's span mappings)
 * and in the summary/report rules: tls.* attributes (semantic conventions, Development), the SNI
 * as server.address, alerts as errors; ICMP echo names and ids, no network.transport.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { descriptorOf } from '../../../agent/correlate/protocol.ts';
import { matcherRegistry } from '../../../agent/correlate/registry.ts';
import { SpanMapper } from '../../../agent/export/otel/span-mapper.ts';
import { replayPairs } from '../../helpers/replay-pairs.ts';

const fixtures = path.join(import.meta.dirname, '../../fixtures/protocols');
const mapper = new SpanMapper({ localNetworks: [], serviceMap: [], httpRoutes: [], sourceFiles: null });

test('tls spans: tls.* attributes, SNI as server.address, alerts as errors (error.type = the alert)', () => {
  const { pairs } = replayPairs([path.join(fixtures, 'tls/handshakes.pcap')]);
  const spans = pairs.filter((p) => p.protocol === 'tls').map((pair) => ({ pair, span: mapper.map(pair) }));
  assert.equal(spans.length, 6);
  const report = descriptorOf(matcherRegistry, spans[0]!.pair)!.report!;
  let errors = 0;
  for (const { pair, span } of spans) {
    const detail = pair.detail as Record<string, unknown>;
    const a = span.attributes;
    assert.equal(span.name, 'TLS handshake');
    assert.equal(a['server.address'], detail.sni);
    assert.deepEqual(a['wirespan.tls.client.versions'], detail.versions_offered);
    if (detail.alert !== undefined) {
      errors++;
      assert.equal(span.statusCode, SpanStatusCode.ERROR);
      assert.equal(a['error.type'], (detail.alert as { description: string }).description);
      assert.equal(a['tls.established'], false);
      assert.equal(a['wirespan.tls.alert.from'], 'server');
      assert.equal(report.isError(detail), true);
      assert.match(report.what(detail), /alert (unrecognized_name|protocol_version)$/);
      continue;
    }
    assert.equal(span.statusCode, SpanStatusCode.UNSET);
    assert.equal(report.isError(detail), false);
    assert.equal(a['tls.protocol.name'], 'tls');
    assert.equal(a['tls.protocol.version'], detail.version);
    assert.equal(a['tls.cipher'], detail.cipher);
    assert.equal(a['tls.next_protocol'], detail.alpn ?? undefined);
    if (detail.version === '1.2') {
      assert.equal(a['wirespan.tls.handshake_ns'], detail.handshake_ns);
      assert.equal(a['tls.established'], true);
    } else {
      assert.equal(a['tls.established'], undefined, 'TLS 1.3: the Finished is encrypted, success not seen');
    }
    assert.equal(report.what(detail), `tls.wirespan.test TLS ${detail.version}`);
  }
  assert.equal(errors, 2);
});

test('icmp spans: ICMP echo / ICMPv6 echo, id and seq, no network.transport; never an error when answered', () => {
  const { pairs } = replayPairs([path.join(fixtures, 'icmp/echo.pcap')]);
  const names = new Set<string>();
  for (const pair of pairs) {
    const span = mapper.map(pair);
    names.add(span.name);
    const detail = pair.detail as { id: number; seq: number };
    assert.equal(span.name, pair.ipVersion === 6 ? 'ICMPv6 echo' : 'ICMP echo');
    assert.equal(span.attributes['network.transport'], undefined);
    assert.equal(span.attributes['network.type'], pair.ipVersion === 6 ? 'ipv6' : 'ipv4');
    assert.equal(span.attributes['wirespan.icmp.id'], detail.id);
    assert.equal(span.attributes['wirespan.icmp.seq'], detail.seq);
    const report = descriptorOf(matcherRegistry, pair)!.report!;
    assert.equal(report.isError(detail), false);
    assert.equal(report.what(detail), `echo id ${detail.id} seq ${detail.seq}`);
  }
  assert.deepEqual([...names].sort(), ['ICMP echo', 'ICMPv6 echo']);
});
