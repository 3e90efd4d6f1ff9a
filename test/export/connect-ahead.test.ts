/**
 * The agent's first OTLP/gRPC exporter opens its connection as it is made
 * (otlp-transport.ts createConnectedGrpcDelegate), and its first request uses that connection;
 * a failed early attempt sends the first request through a fresh channel (fresh-channel.ts), so
 * a collector that comes up in between gets it, as when the first request connected itself.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getChannelzHandlers } from '@grpc/grpc-js';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { FreshChannel } from '../../agent/export/otel/fresh-channel.ts';
import {
  FreshChannelRequestExporter,
  OtlpBytesExporter,
} from '../../agent/export/otel/otlp-bytes-exporter.ts';
import type { EncodedRequest } from '../../agent/export/otel/request-batcher.ts';
import { freePort } from './otlp-receiver.ts';

/** A gRPC endpoint that answers every call with an empty message, and counts connections and calls. */
async function startCollector(port = 0) {
  const counts = { connections: 0, calls: 0 };
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    counts.connections++;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      counts.calls++;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.alloc(5));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    counts,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const request: EncodedRequest = { bytes: new Uint8Array(0), spans: 0 };

interface ChannelInfo {
  id: string;
  callsStarted: number;
}

/** grpc-js's open channels to `url` (its channelz registry), with the calls each started. */
function channelsTo(url: string): Promise<ChannelInfo[]> {
  const target = url.replace('http://', '');
  return new Promise((resolve, reject) => {
    const handlers = getChannelzHandlers() as unknown as {
      GetTopChannels(
        call: { request: { start_channel_id: number; max_results: number } },
        callback: (
          error: Error | null,
          result: {
            channel: { ref: { channel_id: string }; data: { target: string; calls_started: number } }[];
          },
        ) => void,
      ): void;
    };
    handlers.GetTopChannels({ request: { start_channel_id: 0, max_results: 1000 } }, (error, result) => {
      if (error) reject(error);
      else
        resolve(
          result.channel
            .filter((channel) => channel.data.target.endsWith(target))
            .map((channel) => ({
              id: channel.ref.channel_id,
              callsStarted: Number(channel.data.calls_started),
            })),
        );
    });
  });
}

function exported(exporter: { export: OtlpBytesExporter['export'] }): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(request, resolve));
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (const started = Date.now(); !condition(); await sleep(5)) {
    if (Date.now() - started > 5000) assert.fail(`timed out waiting for ${what}`);
  }
}

test('the first exporter connects before its first request, which takes that connection', async () => {
  const collector = await startCollector();
  let failures = 0;
  const exporter = new OtlpBytesExporter({ url: collector.url }, 'grpc', () => failures++);
  try {
    await waitFor(() => collector.counts.connections === 1, 'the early connection');
    assert.equal(collector.counts.calls, 0);
    // One channel, made with the exporter: the first request needs no channel of its own (whose
    // name resolution and pick would wait for event-loop turns the agent spends reading).
    const [early, ...others] = await channelsTo(collector.url);
    assert.deepEqual(others, []);
    assert.equal((await exported(exporter)).code, ExportResultCode.SUCCESS);
    assert.deepEqual(collector.counts, { connections: 1, calls: 1 });
    assert.deepEqual(await channelsTo(collector.url), [{ ...early!, callsStarted: 1 }]);
    assert.equal(failures, 0);
  } finally {
    await exporter.shutdown();
    await collector.close();
  }
});

test('without a connect-failure callback (replay) the exporter connects with its first request', async () => {
  const collector = await startCollector();
  const exporter = new OtlpBytesExporter({ url: collector.url }, 'grpc');
  try {
    await sleep(200);
    assert.equal(collector.counts.connections, 0);
    assert.equal((await exported(exporter)).code, ExportResultCode.SUCCESS);
    assert.deepEqual(collector.counts, { connections: 1, calls: 1 });
  } finally {
    await exporter.shutdown();
    await collector.close();
  }
});

test('a collector that comes up after the early connection failed gets the first request (fresh channel)', async () => {
  const port = await freePort();
  let made = 0;
  const channel = new FreshChannel(
    'traces',
    (userAgent, connectFailed) => {
      made++;
      return new OtlpBytesExporter(
        { url: `http://127.0.0.1:${port}`, ...(userAgent === undefined ? {} : { userAgent }) },
        'grpc',
        connectFailed,
      );
    },
    true,
  );
  const exporter = new FreshChannelRequestExporter(channel);
  // Refused at once: the early connection failed (its subchannel now in grpc-js's reconnect backoff).
  await sleep(300);
  const collector = await startCollector(port);
  try {
    const result = await exported(exporter);
    assert.equal(result.code, ExportResultCode.SUCCESS, result.error?.message);
    assert.equal(made, 2);
    assert.equal(channel.generation, 1);
  } finally {
    await exporter.shutdown();
    await collector.close();
  }
});
