/**
 * The bundled demo capture (our own loopback traffic, test/tools/make-demo-capture.sh) gives
 * the pairs its script created: what `npm run demo` shows a new user.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonLines, runCli } from '../helpers/run-cli.ts';

test('the demo capture yields the DNS, HTTP, TCP and UDP exchanges its script made', () => {
  const result = runCli(['replay', 'test/fixtures/demo.pcap']);
  assert.equal(result.status, 0, result.stderr);
  const pairs = jsonLines(result.stdout);
  const count = (protocol: string, outcome: string) =>
    pairs.filter((p) => p.protocol === protocol && p.outcome === outcome).length;
  assert.deepEqual(
    {
      dns: [count('dns', 'matched'), count('dns', 'unanswered')],
      http: [count('http', 'matched'), count('http', 'unanswered')],
      tcp: [count('tcp', 'matched'), count('tcp', 'unanswered')],
      udp: [count('udp', 'matched'), count('udp', 'unanswered')],
    },
    { dns: [12, 1], http: [14, 0], tcp: [12, 1], udp: [1, 1] },
  );
  const statuses = pairs
    .filter((p) => p.protocol === 'http')
    .map((p) => (p.http as { status: number }).status)
    .sort();
  assert.ok(
    statuses.includes(404) && statuses.includes(500) && statuses.includes(201),
    `statuses ${statuses}`,
  );
  const search = pairs.find((p) =>
    String((p.http as { target?: string } | undefined)?.target).startsWith('/search'),
  );
  assert.ok(search, 'the /search request was paired');
  assert.equal(
    (search.http as { target: string }).target,
    '/search?REDACTED',
    'query strings are redacted by default',
  );
  const nxdomain = pairs.filter((p) => (p.dns as { rcode?: string } | undefined)?.rcode === 'NXDOMAIN');
  assert.ok(nxdomain.length >= 1, 'an NXDOMAIN answer');
  assert.match(result.stderr, /pairs: dns matched=12/);
});
