/**
 * The collector is unreachable (a closed port on loopback): emit() keeps working, shutdown()
 * resolves within its bound and reports the failure once, every span counted as failed.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { createOtelExporter } from '../../agent/export/otel/index.ts';
import { replayPairs } from '../helpers/replay-pairs.ts';

const demo = path.resolve(import.meta.dirname, '../fixtures/demo.pcap');

/** A loopback port that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('dead collector: shutdown resolves in bounded time and reports the failure', async () => {
  const port = await closedPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const { pairs } = replayPairs([demo]);
  const exporter = await createOtelExporter({
    endpoint,
    exportTimeoutMillis: 1500,
    shutdownTimeoutMillis: 4000,
  });
  for (const pair of pairs) exporter.emit(pair);
  const started = performance.now();
  const result = await exporter.shutdown();
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 4500, `shutdown took ${Math.round(elapsed)} ms`);
  assert.equal(result.exported, 0);
  assert.equal(result.failed, pairs.length, 'every span counted as failed');
  assert.equal(result.dropped, 0);
  assert.ok(result.error);
  assert.match(result.error, new RegExp(`OTLP trace export to ${endpoint} failed: .*UNAVAILABLE`));
  assert.match(result.error, new RegExp(`${pairs.length} spans not exported`));
  assert.match(result.error, /OTLP metric export to .* failed/);
  assert.equal(result.error.split('\n').length, 1, 'one line to print');
  const counters = exporter.counters;
  assert.ok(counters.traceExportErrors >= 1);
  assert.ok(counters.metricExportErrors >= 1);
  assert.equal(counters.pairs, pairs.length);
});

test('a collector that accepts connections but never answers: shutdown gives up at its deadline', async () => {
  // A black hole: TCP connections are accepted and then ignored (no HTTP/2 handshake, no reply).
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const { pairs } = replayPairs([demo]);
    // Export timeout longer than the shutdown bound: shutdown must not wait for it.
    const exporter = await createOtelExporter({
      endpoint: `http://127.0.0.1:${port}`,
      exportTimeoutMillis: 4000,
      shutdownTimeoutMillis: 1200,
      metrics: false,
    });
    for (const pair of pairs) exporter.emit(pair);
    const started = performance.now();
    const result = await exporter.shutdown();
    const elapsed = performance.now() - started;
    assert.ok(
      elapsed < 2800,
      `shutdown took ${Math.round(elapsed)} ms (bound 1200 ms, export timeout 4000 ms)`,
    );
    assert.equal(result.exported, 0);
    assert.equal(result.failed, pairs.length);
    assert.match(result.error ?? '', /gave up after \d+ ms/);
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
});
