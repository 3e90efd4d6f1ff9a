/**
 * The pure parts of the span export: traceparent parsing, service map, route templates,
 * sampling and the pair → span mapping on hand-made pairs (the cases a capture rarely has).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace';
import { parseAddress } from '../../agent/correlate/relay/networks.ts';
import { formatIp } from '../../agent/decode/format.ts';
import type { AddressLookup } from '../../agent/enrich/kubernetes/address-table.ts';
import { HttpRoutes } from '../../agent/export/otel/http-routes.ts';
import { PairSampler, traceIdFraction } from '../../agent/export/otel/sampler.ts';
import {
  BoundedCache,
  defaultServiceName,
  ObservedServers,
  observedService,
  ServiceMap,
} from '../../agent/export/otel/service-map.ts';
import {
  emptyMappedPair,
  kDefaultLocalNetworks,
  type PairData,
  SpanMapper,
} from '../../agent/export/otel/span-mapper.ts';
import { parseTraceParent } from '../../agent/export/otel/traceparent.ts';

describe('traceparent', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  test('a valid version-00 header', () => {
    assert.deepEqual(parseTraceParent(valid), {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentSpanId: '00f067aa0ba902b7',
      flags: 1,
    });
    assert.equal(parseTraceParent(` ${valid} `)?.flags, 1, 'optional whitespace trimmed');
  });
  test('invalid headers are rejected', () => {
    for (const bad of [
      '',
      'garbage',
      valid.toUpperCase(),
      valid.replace('4bf92f3577b34da6a3ce929d0e0e4736', '0'.repeat(32)),
      valid.replace('00f067aa0ba902b7', '0'.repeat(16)),
      `ff${valid.slice(2)}`,
      `${valid}-extra`, // version 00 has exactly four fields
      valid.replace(/-/g, '_'),
      `00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01`,
      null,
      42,
    ]) {
      assert.equal(parseTraceParent(bad), null, String(bad));
    }
  });
  test('a future version may carry more fields', () => {
    assert.equal(
      parseTraceParent(`01${valid.slice(2)}-what-ever`)?.traceId,
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    assert.equal(parseTraceParent(`01${valid.slice(2)}x`), null);
  });
});

function words(text: string): [number, number, number, number, number] {
  const parsed = parseAddress(text)!;
  return [parsed.ipVersion, ...parsed.words];
}

describe('service map', () => {
  const map = new ServiceMap([
    { match: '10.0.0.5:5432', service: 'postgres' },
    { match: '10.96.0.0/12:53', service: 'coredns' },
    { match: '[fd00::/8]:443', service: 'mesh' },
    { match: '[fd00::1]', service: 'v6-host' },
    { match: '192.168.0.0/16', service: 'lan' },
    { match: '2001:db8::/32', service: 'doc' },
  ]);
  const lookup = (address: string, port: number): string | undefined => {
    const [v, w0, w1, w2, w3] = words(address);
    return map.lookup(v, w0, w1, w2, w3, port)?.service;
  };
  test('address:port, CIDR:port, CIDR; first match wins', () => {
    assert.equal(lookup('10.0.0.5', 5432), 'postgres');
    assert.equal(lookup('10.0.0.5', 5433), undefined);
    assert.equal(lookup('10.100.3.4', 53), 'coredns');
    assert.equal(lookup('10.100.3.4', 80), undefined);
    assert.equal(lookup('fd00::1', 443), 'mesh');
    assert.equal(lookup('fd00::1', 80), 'v6-host');
    assert.equal(lookup('192.168.7.7', 1), 'lan');
    assert.equal(lookup('2001:db8::9', 8080), 'doc');
    assert.equal(lookup('8.8.8.8', 53), undefined);
  });
  test('bad entries name the entry', () => {
    assert.throws(() => new ServiceMap([{ match: '10.0.0.1:70000', service: 'x' }]), /serviceMap\[0\].*port/);
    assert.throws(() => new ServiceMap([{ match: 'nope', service: 'x' }]), /serviceMap\[0\]/);
    assert.throws(() => new ServiceMap([{ match: '[fd00::1', service: 'x' }]), /"\]"/);
    assert.throws(() => new ServiceMap([{ match: '10.0.0.1', service: '' }]), /serviceMap\[0\]/);
  });
  test('default names bracket IPv6', () => {
    assert.equal(defaultServiceName('dns', '10.96.0.10', 4, 53), 'dns://10.96.0.10:53');
    assert.equal(defaultServiceName('http', 'fd00::1', 6, 8080), 'http://[fd00::1]:8080');
  });
  test('the resource cache reuses objects and stays bounded', () => {
    const cache = new BoundedCache<object>(2, () => ({}));
    const a = cache.get('a', undefined);
    assert.equal(cache.get('a', undefined), a);
    cache.get('b', undefined);
    cache.get('a', undefined); // a is now the most recent
    cache.get('c', undefined); // evicts b
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a', undefined), a);
    assert.equal(cache.builds, 3);
    cache.get('b', undefined);
    assert.equal(cache.builds, 4);
  });
});

describe('observed servers', () => {
  const ends = (ipVersion: number, w: readonly number[], serverPort: number) => ({
    ipVersion,
    server0: w[0]!,
    server1: w[1] ?? 0,
    server2: w[2] ?? 0,
    server3: w[3] ?? 0,
    serverPort,
    client0: 0x0a000001,
    client1: 0,
    client2: 0,
    client3: 0,
    clientPort: 40000,
  });
  test('each server is named once, per protocol', () => {
    const servers = new ObservedServers(new ServiceMap([]));
    const dns = servers.get('dns', 0, ends(4, [0x0a60000a], 53));
    assert.equal(dns.address, '10.96.0.10');
    assert.equal(dns.service.name, 'dns://10.96.0.10:53');
    assert.equal(
      servers.get('dns', 0, ends(4, [0x0a60000a], 53)),
      dns,
      'the same object for the same server',
    );
    assert.equal(servers.get('tcp', 1, ends(4, [0x0a60000a], 53)).service.name, 'tcp://10.96.0.10:53');
    assert.equal(servers.get('dns', 0, ends(4, [0x0a60000a], 5353)).service.name, 'dns://10.96.0.10:5353');
    // Unknown protocols share protocol id -1: told apart by name.
    assert.equal(servers.get('x', -1, ends(4, [0x0a60000a], 53)).service.name, 'x://10.96.0.10:53');
    assert.equal(servers.get('y', -1, ends(4, [0x0a60000a], 53)).service.name, 'y://10.96.0.10:53');
  });
  test('more servers than the table holds: every one still gets its own name and address', () => {
    const servers = new ObservedServers(new ServiceMap([{ match: '10.1.0.0/16', service: 'mapped' }]));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 20_000; i++) {
        const v4 = [(0x0a000000 + i * 7) >>> 0];
        const v6 = [0xfd000000, 0, i, 1 + (i & 7)];
        for (const [version, words] of [
          [4, v4],
          [6, v6],
        ] as const) {
          const port = 1 + (i % 3);
          const server = servers.get('http', 2, ends(version, words, port));
          const address = formatIp(version, words[0]!, words[1] ?? 0, words[2] ?? 0, words[3] ?? 0);
          assert.equal(server.address, address);
          const mapped = version === 4 && words[0]! >>> 16 === 0x0a01;
          assert.equal(server.configured, mapped);
          assert.equal(
            server.service.name,
            mapped ? 'mapped' : defaultServiceName('http', address, version, port),
          );
        }
      }
    }
  });
  test('a service map entry wins over Kubernetes, which is asked on every pair', () => {
    const servers = new ObservedServers(new ServiceMap([{ match: '10.0.0.5:5432', service: 'postgres' }]));
    let answer: string | null = 'api';
    let asked = 0;
    const kubernetes = {
      lookup: () => {
        asked++;
        return answer === null
          ? null
          : { serviceName: answer, serviceNamespace: 'ns', attributes: {}, key: `ns/${answer}` };
      },
    } as unknown as AddressLookup;
    const pg = ends(4, [0x0a000005], 5432);
    assert.equal(observedService(servers.get('postgresql', 3, pg), kubernetes, pg).name, 'postgres');
    assert.equal(asked, 0);
    const web = ends(4, [0x0a000006], 80);
    assert.equal(observedService(servers.get('http', 2, web), kubernetes, web).resourceKey, 'ns/api');
    answer = 'web';
    assert.equal(observedService(servers.get('http', 2, web), kubernetes, web).name, 'web');
    answer = null;
    assert.equal(observedService(servers.get('http', 2, web), kubernetes, web).name, 'http://10.0.0.6:80');
    assert.equal(asked, 3);
  });
});

describe('route templates', () => {
  const routes = new HttpRoutes([
    '/users/{id}',
    '/users/{id}/orders/{order}',
    '/static/*',
    '/files/{path...}',
  ]);
  test('match whole paths, first wins', () => {
    assert.equal(routes.match('/users/42'), '/users/{id}');
    assert.equal(routes.match('/users/42/orders/7'), '/users/{id}/orders/{order}');
    assert.equal(routes.match('/users/'), null, '{id} needs a non-empty segment');
    assert.equal(routes.match('/users/42/x'), null);
    assert.equal(routes.match('/static/css/app.css'), '/static/*');
    assert.equal(routes.match('/files/a/b/c'), '/files/{path...}');
    assert.equal(routes.match('/other'), null);
  });
  test('regex characters in templates are literal', () => {
    assert.equal(new HttpRoutes(['/v1.0/{x}']).match('/v1x0/a'), null);
    assert.equal(new HttpRoutes(['/v1.0/{x}']).match('/v1.0/a'), '/v1.0/{x}');
  });
  test('malformed templates are rejected', () => {
    assert.throws(() => new HttpRoutes(['users']), /must start with/);
    assert.throws(() => new HttpRoutes(['/a/{id']), /without/);
    assert.throws(() => new HttpRoutes(['/a/*/b']), /only allowed at the end/);
    assert.throws(() => new HttpRoutes(['/a/{}']), /parameter name/);
  });
});

describe('sampler', () => {
  const ordinary = { isError: false, durationNanos: 1000, parentSampled: null };
  test('ratio by trace id, deterministic', () => {
    const sampler = new PairSampler({ ratio: 0.25, slowSeconds: null });
    assert.equal(traceIdFraction('0'.repeat(32)), 0);
    assert.equal(
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(`${'f'.repeat(19)}0000000000000`) }),
      true,
    );
    assert.equal(
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(`${'0'.repeat(19)}fffffffffffff`) }),
      false,
    );
    const ids = new RandomIdGenerator();
    let kept = 0;
    for (let i = 0; i < 4000; i++)
      if (sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(ids.generateTraceId()) })) kept++;
    // 1000 expected, σ ≈ 27.
    assert.ok(kept > 880 && kept < 1120, `kept ${kept} of 4000`);
    const id = ids.generateTraceId();
    assert.equal(
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(id) }),
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(id) }),
    );
  });
  test('errors, slow spans and sampled parents are always kept', () => {
    const sampler = new PairSampler({ ratio: 0, slowSeconds: 0.5 });
    const id = 'f'.repeat(32);
    assert.equal(sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(id) }), false);
    assert.equal(
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(id), isError: true }),
      true,
    );
    assert.equal(
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(id), durationNanos: 500_000_000 }),
      true,
    );
    assert.equal(
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(id), parentSampled: true }),
      true,
    );
    assert.equal(
      sampler.shouldKeep({ ...ordinary, traceFraction: traceIdFraction(id), parentSampled: false }),
      false,
    );
  });
  test('bad settings are rejected', () => {
    assert.throws(() => new PairSampler({ ratio: 1.5, slowSeconds: null }), /ratio/);
    assert.throws(() => new PairSampler({ ratio: Number.NaN, slowSeconds: null }), /ratio/);
    assert.throws(() => new PairSampler({ ratio: 1, slowSeconds: -1 }), /slow/);
  });
});

/** A plain pair object, as a worker would post it. */
function pair(overrides: Partial<Record<keyof PairData, unknown>>): PairData {
  const edges = (s: number, n: number) => ({
    firstSeconds: s,
    firstNanos: n,
    lastSeconds: s,
    lastNanos: n + 10,
    packets: 1,
    bytes: 100,
    fileId: 0,
    packet: 7,
  });
  const [v, c0, c1, c2, c3] = words('10.1.1.1');
  const [, s0, s1, s2, s3] = words('10.2.2.2');
  return {
    outcome: 0,
    unansweredReason: 0,
    givenUpSeconds: 0,
    givenUpNanos: 0,
    protocol: 'udp',
    transport: 17,
    ipVersion: v,
    client0: c0,
    client1: c1,
    client2: c2,
    client3: c3,
    clientPort: 40000,
    server0: s0,
    server1: s1,
    server2: s2,
    server3: s3,
    serverPort: 123,
    request: edges(1_700_000_000, 999_999_990),
    response: edges(1_700_000_001, 5),
    detail: null,
    ...overrides,
  } as PairData;
}

describe('pair → span mapping', () => {
  const mapper = new SpanMapper({
    localNetworks: ['10.2.0.0/16'],
    serviceMap: [],
    httpRoutes: [],
    sourceFiles: (id) => ['cap0.pcap'][id],
  });

  test("a server's default span name and wirespan.pair.duration attributes: made once, per transport", () => {
    const fresh = new SpanMapper({ localNetworks: [], serviceMap: [], httpRoutes: [], sourceFiles: null });
    // A protocol without a span mapping of its own.
    const custom = (transport: number) => pair({ protocol: 'custom', protocolId: -1, transport });
    const first = fresh.map(custom(17));
    const second = fresh.map(custom(17));
    assert.equal(first.name, 'UDP 123');
    const expected = {
      'wirespan.protocol': 'custom',
      'network.transport': 'udp',
      'service.name': 'custom://10.2.2.2:123',
    };
    assert.deepEqual(first.metric?.attributes, expected);
    assert.equal(second.metric?.attributes, first.metric?.attributes, 'one object per server');
    // The same protocol and server over TCP (as DNS may be): its own name and attributes.
    const tcp = fresh.map(custom(6));
    assert.equal(tcp.name, 'TCP 123');
    assert.deepEqual(tcp.metric?.attributes, { ...expected, 'network.transport': 'tcp' });
    assert.equal(fresh.map(custom(17)).name, 'UDP 123');
    assert.deepEqual(fresh.map(custom(17)).metric?.attributes, expected);
  });

  test('mapInto() overwrites every field of the reused MappedPair: the same result as map()', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const pairs = [
      pair({
        protocol: 'http',
        transport: 6,
        serverPort: 80,
        detail: { method: 'GET', target: '/a', version: '1.1', status: 503, host: null, traceparent },
      }),
      pair({ protocol: 'http', transport: 6, detail: { method: 'GET', target: '/', traceparent: 'bad' } }),
      pair({
        outcome: 1,
        unansweredReason: 1,
        response: null,
        givenUpSeconds: 1_700_000_009,
        givenUpNanos: 3,
      }),
      pair({}),
    ];
    const into = emptyMappedPair();
    for (const p of pairs) {
      const fresh = mapper.map(p);
      assert.equal(mapper.mapInto(p, into), into);
      assert.deepEqual({ ...into }, { ...fresh });
    }
  });

  test('times: seconds and nanoseconds from the edges, across a second boundary', () => {
    const m = mapper.map(pair({}));
    assert.deepEqual([m.startSeconds, m.startNanos], [1_700_000_000, 999_999_990]);
    assert.deepEqual([m.endSeconds, m.endNanos], [1_700_000_001, 15]);
    assert.equal(m.durationNanos, 25);
    assert.equal(m.attributes['wirespan.request.last_offset_ns'], 10);
    assert.equal(m.attributes['wirespan.response.first_offset_ns'], 15);
    assert.equal(m.attributes['wirespan.source.file'], 'cap0.pcap');
    assert.equal(m.attributes['wirespan.source.packet'], 7);
    assert.equal(m.name, 'UDP 123');
    assert.equal(m.kind, SpanKind.SERVER);
    assert.equal(m.metric?.name, 'wirespan.pair.duration');
    assert.equal(m.metric?.value, 25e-9);
  });

  test('unanswered: given-up time, reason, error.type, no latency point', () => {
    const evicted = mapper.map(
      pair({
        outcome: 1,
        unansweredReason: 1,
        response: null,
        givenUpSeconds: 1_700_000_005,
        givenUpNanos: 1,
      }),
    );
    assert.deepEqual([evicted.endSeconds, evicted.endNanos], [1_700_000_005, 1]);
    assert.equal(evicted.statusCode, SpanStatusCode.ERROR);
    assert.equal(evicted.attributes['error.type'], 'evicted');
    assert.equal(evicted.attributes['wirespan.unanswered.reason'], 'evicted');
    assert.equal(evicted.metric, null);
    const expired = mapper.map(
      pair({ outcome: 1, unansweredReason: 0, response: null, givenUpSeconds: 1_700_000_030 }),
    );
    assert.equal(expired.attributes['error.type'], 'timeout');
  });

  test('attribute order: the common ones first, then the source, the protocol ones, error.type', () => {
    const common = [
      'wirespan.protocol',
      'network.transport',
      'network.type',
      'server.address',
      'server.port',
      'client.address',
      'client.port',
      'network.peer.address',
      'network.peer.port',
      'wirespan.request.packets',
      'wirespan.request.bytes',
      'wirespan.request.last_offset_ns',
    ];
    const source = ['wirespan.source.file', 'wirespan.source.packet'];
    const dns = { type: 'A', name: 'example.com', class: 'IN', id: 7, rcode: 'SERVFAIL', answers: 0 };
    assert.deepEqual(Object.keys(mapper.map(pair({ protocol: 'dns', detail: dns })).attributes), [
      ...common,
      'wirespan.response.first_offset_ns',
      'wirespan.response.packets',
      'wirespan.response.bytes',
      ...source,
      'dns.question.name',
      'dns.question.type',
      'wirespan.dns.question.class',
      'wirespan.dns.id',
      'dns.response_code',
      'wirespan.dns.answer_count',
      'error.type',
    ]);
    const unanswered = pair({ outcome: 1, unansweredReason: 3, response: null, captureGap: true });
    assert.deepEqual(Object.keys(mapper.map(unanswered).attributes), [
      ...common,
      'wirespan.unanswered.reason',
      'wirespan.capture.gap',
      ...source,
      'error.type',
    ]);
  });

  test('HTTP CLIENT span: url.full, 4xx error, unknown method, absolute-form target', () => {
    const m = mapper.map(
      pair({
        protocol: 'http',
        transport: 6,
        ...Object.fromEntries(
          ['server0', 'server1', 'server2', 'server3'].map((k, i) => [k, words('8.8.4.4')[i + 1]]),
        ),
        serverPort: 8080,
        detail: {
          method: 'PURGE',
          target: 'http://cdn.test:8080/a/b?x=1',
          version: '1.1',
          status: 404,
          host: null,
        },
      }),
    );
    assert.equal(m.kind, SpanKind.CLIENT);
    assert.equal(m.name, 'HTTP /a/b', 'no template: the heuristic route (nothing id-like in it)');
    assert.equal(m.attributes['url.template'], '/a/b');
    assert.equal(m.attributes['http.request.method'], '_OTHER');
    assert.equal(m.attributes['http.request.method_original'], 'PURGE');
    assert.equal(m.attributes['url.path'], '/a/b');
    assert.equal(m.attributes['url.query'], 'x=1');
    assert.equal(m.attributes['url.full'], 'http://cdn.test:8080/a/b?x=1');
    assert.equal(m.attributes['server.address'], '8.8.4.4');
    assert.equal(m.attributes['network.peer.address'], '8.8.4.4');
    assert.equal(m.attributes['network.peer.port'], 8080);
    assert.equal(m.statusCode, SpanStatusCode.ERROR);
    assert.equal(m.attributes['error.type'], '404');
    assert.equal(m.metric?.name, 'http.client.request.duration');
    assert.equal(m.metric?.attributes['http.request.method'], '_OTHER');
  });

  test('IPv6 default service and url.full brackets', () => {
    const [v, s0, s1, s2, s3] = words('2001:db8::5');
    const m = mapper.map(
      pair({
        protocol: 'http',
        transport: 6,
        ipVersion: v,
        ...Object.fromEntries(
          ['client0', 'client1', 'client2', 'client3'].map((k, i) => [k, words('fd00::1')[i + 1]]),
        ),
        server0: s0,
        server1: s1,
        server2: s2,
        server3: s3,
        serverPort: 80,
        detail: { method: 'GET', target: '/', version: '1.1', status: 200, host: null },
      }),
    );
    assert.equal(m.serviceName, 'http://[2001:db8::5]:80');
    assert.equal(m.attributes['url.full'], 'http://[2001:db8::5]/');
    assert.equal(m.attributes['network.type'], 'ipv6');
  });

  test('HTTP network.protocol.version: the parser\'s "1.1" as it is, "HTTP/1.0" from elsewhere without its prefix', () => {
    const http = (version: string) =>
      mapper.map(
        pair({
          protocol: 'http',
          transport: 6,
          serverPort: 80,
          detail: { method: 'GET', target: '/', version, status: 200, host: null },
        }),
      );
    for (const [version, expected] of [
      ['1.1', '1.1'],
      ['HTTP/1.0', '1.0'],
      ['http/1.1', '1.1'],
    ]) {
      const m = http(version!);
      assert.equal(m.attributes['network.protocol.version'], expected, version);
      assert.equal(m.metric?.attributes['network.protocol.version'], expected, version);
    }
  });

  test('DNS details, TCP syns, relay out, unknown protocols', () => {
    const dns = mapper.map(
      pair({
        protocol: 'dns',
        detail: {
          id: 7,
          name: 'x.test',
          type: 'AAAA',
          class: 'IN',
          rcode: 'SERVFAIL',
          answers: 0,
          retransmissions: 2,
        },
      }),
    );
    assert.equal(dns.name, 'DNS AAAA');
    assert.equal(dns.attributes['wirespan.dns.retransmissions'], 2);
    assert.equal(dns.attributes['error.type'], 'SERVFAIL');
    assert.equal(dns.metric?.attributes['error.type'], 'SERVFAIL');
    assert.equal(dns.metric?.attributes['dns.question.type'], 'AAAA');
    const tcp = mapper.map(pair({ protocol: 'tcp', transport: 6, serverPort: 443, detail: { syns: 3 } }));
    assert.equal(tcp.name, 'TCP connect 443');
    assert.equal(tcp.attributes['wirespan.tcp.syns'], 3);
    const relay = mapper.map(
      pair({
        protocol: 'relay',
        serverPort: 5060,
        detail: { out: { address: '203.0.113.5', port: 40000, transport: 'udp' } },
      }),
    );
    assert.equal(relay.name, 'RELAY 5060');
    assert.equal(relay.attributes['wirespan.relay.out.address'], '203.0.113.5');
    assert.equal(relay.attributes['wirespan.relay.out.port'], 40000);
    const other = mapper.map(pair({ protocol: 'kafka', transport: 6, serverPort: 9092 }));
    assert.equal(other.name, 'TCP 9092');
    assert.equal(other.metric?.attributes['wirespan.protocol'], 'kafka');
  });

  test('both ends local → SERVER; default local networks', () => {
    const both = new SpanMapper({
      localNetworks: ['10.0.0.0/8'],
      serviceMap: [],
      httpRoutes: [],
      sourceFiles: null,
    });
    assert.equal(both.kindOf(pair({})), SpanKind.SERVER);
    assert.deepEqual(kDefaultLocalNetworks, [
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '127.0.0.0/8',
      '::1/128',
      'fd00::/8',
    ]);
  });

  test("a span's kind is its server's (kept per observed server): servers and clients alternating", () => {
    const local = new SpanMapper({
      localNetworks: ['10.0.0.0/8'],
      serviceMap: [],
      httpRoutes: [],
      sourceFiles: null,
    });
    const at = (address: string, prefix: 'server' | 'client') =>
      Object.fromEntries(
        words(address)
          .slice(1)
          .map((w, i) => [`${prefix}${i}`, w]),
      );
    const kinds: SpanKind[] = [];
    for (let i = 0; i < 8; i++) {
      const p = pair({
        ...at(i % 2 === 0 ? '10.2.2.2' : '8.8.8.8', 'server'),
        ...at((i >> 1) % 2 === 0 ? '10.1.1.1' : '1.1.1.1', 'client'),
      });
      const kind = local.map(p).kind;
      assert.equal(kind, local.kindOf(p), `pair ${i}`);
      kinds.push(kind);
    }
    assert.deepEqual(
      kinds,
      [0, 1, 0, 1, 0, 1, 0, 1].map((k) => (k === 0 ? SpanKind.SERVER : SpanKind.CLIENT)),
    );
  });

  test('an end before the start never gives a negative span', () => {
    const m = mapper.map(pair({ response: { ...pair({}).request, lastSeconds: 1_699_999_999 } }));
    assert.equal(m.durationNanos, 0);
    assert.deepEqual([m.endSeconds, m.endNanos], [m.startSeconds, m.startNanos]);
  });
});
