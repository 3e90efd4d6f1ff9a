import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import type { Pair } from '../../../agent/correlate/pair.ts';
import type { StreamConsumer } from '../../../agent/correlate/tcp-stream/consumer.ts';
import { TcpConnectionInfo } from '../../../agent/correlate/tcp-stream/consumer.ts';
import {
  type OrderedRequest,
  orderedExchangeSkips,
} from '../../../agent/correlate/tcp-stream/ordered-exchange.ts';
import { OrderedPortProtocol } from '../../../agent/correlate/tcp-stream/ordered-port-protocol.ts';
import { SkipCounters } from '../../../agent/shared/skips.ts';

const kConsumer: StreamConsumer = { onData() {}, onGap() {}, onClose() {} };

/** Hands out kConsumer for every connection its base lets through. */
class PortsOnly extends OrderedPortProtocol<OrderedRequest> {
  connected = 0;

  protected connect(): StreamConsumer {
    this.connected++;
    return kConsumer;
  }
}

function connectionTo(serverPort: number): TcpConnectionInfo {
  const connection = new TcpConnectionInfo();
  connection.serverPort = serverPort;
  connection.clientPort = 40000;
  return connection;
}

test('claims exactly the connections to its server ports, whatever the client port', () => {
  const emitted: Pair[] = [];
  const protocol = new PortsOnly(
    {
      options: defaultCorrelateOptions(),
      sink: { emit: (pair) => emitted.push(pair) },
      skips: new SkipCounters(),
    },
    'redis',
    orderedExchangeSkips('redis'),
    { maxQueuedRequests: 4 },
    [16379, 6380],
  );
  assert.equal(protocol.name, 'redis');
  const claim = (port: number) => protocol.claim(connectionTo(port));
  assert.equal(claim(16379), kConsumer);
  assert.equal(claim(6380), kConsumer);
  assert.equal(claim(6379), null);
  assert.equal(claim(40000), null);
  assert.equal(protocol.connected, 2);
  // Pending requests live in the exchange: nothing queued, nothing to emit.
  assert.equal(protocol.pendingCount(), protocol.exchange.pendingCount());
  protocol.expire(2_000_000_000, 0);
  protocol.flush();
  assert.equal(emitted.length, 0);
});
