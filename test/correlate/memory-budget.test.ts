import assert from 'node:assert/strict';
import { test } from 'node:test';
import { correlateOptionsFrom } from '../../agent/cli/replay-command.ts';
import {
  applyMemoryBudget,
  capsForMemoryBudget,
  kBytesPerPending,
  kDefaultMemoryBudgetMiB,
  kMemoryBudgetShares,
  kStreamParserBytesPerConnection,
  shareForWorker,
} from '../../agent/correlate/memory-budget.ts';
import { defaultCorrelateOptions } from '../../agent/correlate/options.ts';
import { kConnectionOverheadBytes } from '../../agent/correlate/tcp-stream/reassembly.ts';

const kMiB = 1024 * 1024;

/** Worst-case bytes every capped table holds when full. */
function worstCaseBytes(mib: number): number {
  const caps = capsForMemoryBudget(mib);
  let total = caps.reassembly.maxBufferedBytesTotal + caps.reassembly.maxParserBufferBytesTotal;
  total += caps.reassembly.maxConnections * (kConnectionOverheadBytes + kStreamParserBytesPerConnection);
  for (const [key, bytes] of Object.entries(kBytesPerPending)) total += caps.maxPending[key]! * bytes;
  return total;
}

test('the shares add up to the whole budget', () => {
  const sum = Object.values(kMemoryBudgetShares).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-9, `shares sum to ${sum}`);
});

test('every full table together stays within the budget minus its reserve, at any budget', () => {
  for (const mib of [16, 100, 512, 1000, 4096]) {
    const worst = worstCaseBytes(mib);
    assert.ok(worst <= mib * kMiB * (1 - kMemoryBudgetShares.reserve), `${mib} MiB: ${worst} bytes`);
    // ...and uses most of it (the caps are not needlessly small).
    assert.ok(worst >= mib * kMiB * (1 - kMemoryBudgetShares.reserve) * 0.99, `${mib} MiB: ${worst} bytes`);
  }
});

test('caps scale with the budget; the documented defaults at 512 MiB', () => {
  const caps = capsForMemoryBudget(kDefaultMemoryBudgetMiB);
  assert.deepEqual(caps.maxPending, {
    dns: 30_840,
    udp: 30_840,
    tcp: 30_840,
    http: 7_710,
    relay: 15_420,
    tls: 6_168,
    icmp: 30_840,
    postgresql: 3_855,
    mysql: 3_855,
    redis: 10_280,
    memcached: 5_140,
  });
  assert.equal(caps.reassembly.maxConnections, 39_321);
  assert.equal(caps.reassembly.maxBufferedBytesTotal, Math.floor(512 * kMiB * 0.1));
  const double = capsForMemoryBudget(2 * kDefaultMemoryBudgetMiB);
  // Twice the budget, twice the cap (each cap is floored on its own).
  assert.ok([0, 1].includes(double.maxPending.dns! - 2 * caps.maxPending.dns!));
  assert.throws(() => capsForMemoryBudget(1), RangeError);
  assert.throws(() => capsForMemoryBudget(Number.NaN), RangeError);
});

test('defaults come from the default budget; an explicit --max-pending wins', () => {
  const defaults = defaultCorrelateOptions();
  assert.deepEqual(defaults.maxPending, capsForMemoryBudget(kDefaultMemoryBudgetMiB).maxPending);
  const options = defaultCorrelateOptions();
  applyMemoryBudget(options, 64, 7);
  assert.deepEqual(options.maxPending, {
    dns: 7,
    udp: 7,
    tcp: 7,
    http: 7,
    relay: 7,
    tls: 7,
    icmp: 7,
    postgresql: 7,
    mysql: 7,
    redis: 7,
    memcached: 7,
  });
  assert.equal(options.reassembly.maxConnections, capsForMemoryBudget(64).reassembly.maxConnections);
  const cli = {
    dnsPorts: [53],
    dnsLatencyFrom: 'first' as const,
    udpPorts: [],
    httpKeepQuery: false,
    relay: false,
    internalNetworks: [],
    relayEcho: false,
    relayCrossTransport: false,
    timeoutSeconds: 30,
  };
  assert.deepEqual(
    correlateOptionsFrom({ ...cli, memoryBudgetMiB: 128 }).maxPending,
    capsForMemoryBudget(128).maxPending,
  );
  assert.equal(correlateOptionsFrom({ ...cli, memoryBudgetMiB: 128, maxPending: 5 }).maxPending.dns, 5);
});

test('each worker gets its share of the count caps', () => {
  const options = defaultCorrelateOptions();
  const whole = structuredClone(options);
  shareForWorker(options, 4);
  assert.equal(options.maxPending.dns, Math.ceil(whole.maxPending.dns! / 4));
  assert.equal(options.reassembly.maxConnections, Math.ceil(whole.reassembly.maxConnections / 4));
  assert.equal(
    options.reassembly.maxBufferedBytesTotal,
    Math.ceil(whole.reassembly.maxBufferedBytesTotal / 4),
  );
  // Per connection caps are not divided.
  assert.equal(
    options.reassembly.maxBufferedBytesPerDirection,
    whole.reassembly.maxBufferedBytesPerDirection,
  );
});

test('docs/operating.md "Memory budget" lists every pending cap at 512 MiB as the code computes it', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../docs/operating.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| weight \d+ \| [^|]+\| [\d,]+ \| ([\d,]+) \|$/gm)].map((m) =>
    Number(m[1]!.replaceAll(',', '')),
  );
  const computed = Object.values(capsForMemoryBudget(kDefaultMemoryBudgetMiB).maxPending);
  assert.deepEqual(documented.sort(), computed.sort());
});
