/**
 * A protocol on the ordered request/response base (ordered-exchange.ts) that is read on its
 * configured server ports (PostgreSQL, MySQL, Redis, memcached): claims a connection by its
 * server port (the connection then checks the content and counts what does not frame) and
 * leaves the pending requests, expiry and flush to its OrderedExchange.
 */
import type { MatcherContext } from '../matcher.ts';
import type { StreamConsumer, StreamProtocol, TcpConnectionInfo } from './consumer.ts';
import { OrderedExchange, type OrderedExchangeSkips, type OrderedRequest } from './ordered-exchange.ts';
import { PortSet } from './port-set.ts';

export abstract class OrderedPortProtocol<Request extends OrderedRequest> implements StreamProtocol {
  readonly name: string;
  readonly exchange: OrderedExchange<Request>;
  readonly #ports: PortSet;

  constructor(
    context: MatcherContext,
    name: string,
    reasons: OrderedExchangeSkips,
    limits: { maxQueuedRequests: number },
    ports: readonly number[],
  ) {
    this.name = name;
    this.exchange = new OrderedExchange(context, name, reasons, limits);
    this.#ports = new PortSet(ports);
  }

  claim(connection: TcpConnectionInfo): StreamConsumer | null {
    return this.#ports.has(connection.serverPort) ? this.connect(connection) : null;
  }

  /** The consumer of a connection to one of the server ports. */
  protected abstract connect(connection: TcpConnectionInfo): StreamConsumer;

  pendingCount(): number {
    return this.exchange.pendingCount();
  }

  expire(seconds: number, nanos: number): void {
    this.exchange.expire(seconds, nanos);
  }

  flush(): void {
    this.exchange.flush();
  }
}
