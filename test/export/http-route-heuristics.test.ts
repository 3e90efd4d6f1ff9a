/**
 * Heuristic route templating (agent/export/otel/http-route-heuristics.ts) on real-looking paths,
 * and how the HTTP span mapping uses it: after configured templates, for the span name,
 * http.route/url.template and the latency point; off with httpRouteHeuristics: false.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseAddress } from '../../agent/correlate/relay/networks.ts';
import { heuristicRoute } from '../../agent/export/otel/http-route-heuristics.ts';
import { type PairData, SpanMapper } from '../../agent/export/otel/span-mapper.ts';

describe('heuristicRoute', () => {
  const cases: [string, string][] = [
    ['/api/users/42', '/api/users/{id}'],
    ['/api/users/42/orders/1337', '/api/users/{id}/orders/{id}'],
    ['/v1/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301', '/v1/orders/{uuid}'],
    ['/v1/orders/3F2504E0-4F89-11D3-9A0C-0305E82C3301/items', '/v1/orders/{uuid}/items'],
    [
      '/repos/acme/wirespan/commits/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b',
      '/repos/acme/wirespan/commits/{hash}',
    ],
    ['/blobs/sha256:9f86d081884c7d65', '/blobs/sha256:9f86d081884c7d65'], // not all hex: kept
    ['/reset-password/aZ3kP9qLm2Xv7TbQ4wR8yU1o', '/reset-password/{token}'],
    ['/s/sess_4f9a8b7c6d5e4f3a2b1cZZ', '/s/{token}'],
    ['/blog/release-notes-2024-version-11', '/blog/release-notes-2024-version-11'], // a slug
    ['/reports/2024-05-01/summary', '/reports/{date}/summary'],
    ['/users/ann@example.com/profile', '/users/{email}/profile'],
    ['/users/ann%40example.com', '/users/{email}'],
    ['/static/js/main.3f9a8b7c.js', '/static/js/main.{hash}.js'],
    ['/static/app.css', '/static/app.css'],
    ['/assets/logo.png', '/assets/logo.png'],
    ['/healthz', '/healthz'],
    ['/', '/'],
    ['', ''],
    ['/api/v1/items/', '/api/v1/items/'],
    ['//double//42', '//double//{id}'],
    ['/a/deadbeef', '/a/deadbeef'], // short hex words are words
    ['/search', '/search'], // query strings are split off before (and redacted at parse time)
  ];
  for (const [path, route] of cases) {
    test(`${JSON.stringify(path)} -> ${JSON.stringify(route)}`, () => {
      assert.equal(heuristicRoute(path), route);
    });
  }
  test('a path without id-like segments is returned as is (no new string)', () => {
    const path = '/api/orders';
    assert.equal(heuristicRoute(path), path);
  });
  test('the same routes as the rules written as regular expressions only (property)', () => {
    // Characters that decide the rules, many of each, so that every rule gets hit.
    const char = fc.constantFrom(...'0123456789abcdefABCDEFxyzXYZ-_+=@%.:~ é\n'.split(''), '%40');
    const of = (chars: string, minLength: number, maxLength: number) =>
      fc.array(fc.constantFrom(...chars.split('')), { minLength, maxLength }).map((c) => c.join(''));
    const segment = fc.oneof(
      fc.array(char, { maxLength: 40 }).map((chars) => chars.join('')),
      // Around each rule's length and character set.
      of('0123456789abcdefABCDEF', 14, 18),
      of('0123456789abcdef-', 35, 37),
      of('0123456789-', 9, 11),
      of('0123456789aZ_-+=', 18, 22),
      of('0123456789abcdef.x', 7, 20),
      fc.constantFrom(
        '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
        '2024-05-01',
        'ann@example.com',
        'main.3f9a8b7c.js',
        'aZ3kP9qLm2Xv7TbQ4wR8yU1o',
        'release-notes-2024-version-11',
        '9f86d081884c7d65',
      ),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const path = `/${segments.join('/')}`;
        assert.equal(heuristicRoute(path), referenceRoute(path), JSON.stringify(path));
      }),
      { numRuns: 20_000 },
    );
    for (const path of ['/1234567890abcdef', '/ABCDEFABCDEFABCDEF', '/2024-05-0x', '/12-34-5678', '/a%b.c']) {
      assert.equal(heuristicRoute(path), referenceRoute(path), path);
    }
  });
});

/** The rules of http-route-heuristics.ts as its file comment states them, a regular expression each. */
function referenceRoute(path: string): string {
  const placeholder = (segment: string): string | null => {
    if (/^[^@]+(?:@|%40)[^@]+\.[^@]+$/.test(segment)) return '{email}';
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(segment)) return '{uuid}';
    if (/^\d{4}-\d{2}-\d{2}$/.test(segment)) return '{date}';
    if (/^\d+$/.test(segment)) return '{id}';
    if (/^[0-9a-f]{16,}$/i.test(segment)) return '{hash}';
    if (
      /^[A-Za-z0-9_+=-]{20,}$/.test(segment) &&
      /\d/.test(segment) &&
      /[A-Za-z]/.test(segment) &&
      !/^(?:[A-Za-z]+|\d+)(?:[-_](?:[A-Za-z]+|\d+))*$/.test(segment)
    ) {
      return '{token}';
    }
    if (segment.includes('.')) {
      const parts = segment
        .split('.')
        .map((part) => (/^(?=[0-9a-f]*\d)[0-9a-f]{8,}$/i.test(part) ? '{hash}' : part));
      if (parts.some((part) => part === '{hash}')) return parts.join('.');
    }
    return null;
  };
  return path
    .split('/')
    .map((segment) => (segment === '' ? segment : (placeholder(segment) ?? segment)))
    .join('/');
}

function words(text: string): [number, number, number, number, number] {
  const parsed = parseAddress(text)!;
  return [parsed.ipVersion, ...parsed.words];
}

function httpPair(target: string): PairData {
  const edges = {
    firstSeconds: 1,
    firstNanos: 0,
    lastSeconds: 1,
    lastNanos: 5,
    packets: 1,
    bytes: 9,
    fileId: 0,
    packet: 1,
  };
  const [v, c0, c1, c2, c3] = words('10.1.1.1');
  const [, s0, s1, s2, s3] = words('10.2.2.2');
  return {
    outcome: 0,
    unansweredReason: 0,
    givenUpSeconds: 0,
    givenUpNanos: 0,
    protocol: 'http',
    transport: 6,
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
    serverPort: 8080,
    request: edges,
    response: { ...edges, firstNanos: 3, lastNanos: 9 },
    detail: { method: 'GET', target, version: '1.1', status: 200, host: 'shop.test' },
  };
}

describe('HTTP spans with heuristic routes', () => {
  const options = { localNetworks: ['10.2.0.0/16'], serviceMap: [], sourceFiles: null };
  test('on by default: span name, http.route and the latency point', () => {
    const mapper = new SpanMapper({ ...options, httpRoutes: [] });
    const m = mapper.map(httpPair('/api/users/42?REDACTED'));
    assert.equal(m.name, 'GET /api/users/{id}');
    assert.equal(m.attributes['http.route'], '/api/users/{id}');
    assert.equal(m.attributes['url.path'], '/api/users/42', 'the path itself is kept');
    assert.equal(m.metric?.attributes['http.route'], '/api/users/{id}');
  });
  test('a configured template wins over the heuristics', () => {
    const mapper = new SpanMapper({ ...options, httpRoutes: ['/api/users/{userId}'] });
    assert.equal(mapper.map(httpPair('/api/users/42')).name, 'GET /api/users/{userId}');
    assert.equal(mapper.map(httpPair('/api/orders/7')).name, 'GET /api/orders/{id}');
  });
  test('off: {method} only, no http.route', () => {
    const mapper = new SpanMapper({ ...options, httpRoutes: [], httpRouteHeuristics: false });
    const m = mapper.map(httpPair('/api/users/42'));
    assert.equal(m.name, 'GET');
    assert.equal(m.attributes['http.route'], undefined);
    assert.equal(m.metric?.attributes['http.route'], undefined);
  });
});
