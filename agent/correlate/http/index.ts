/**
 * HTTP/1.x matcher: pairs requests and responses read from reassembled TCP streams. It sees no
 * packets itself (no onPacket): the correlator's TcpReassembly offers connections to
 * `stream`, which claims those whose client starts with a request line, on any port.
 */

import type { Matcher, MatcherContext, MatcherDescriptor } from '../matcher.ts';
import type { CorrelateOptions } from '../options.ts';
import { HttpStreamProtocol } from './matcher.ts';

class HttpMatcher implements Matcher {
  readonly stream: HttpStreamProtocol;

  constructor(stream: HttpStreamProtocol) {
    this.stream = stream;
  }

  expire(seconds: number, nanos: number): void {
    this.stream.expire(seconds, nanos);
  }

  flush(): void {
    this.stream.flush();
  }

  pendingCount(): number {
    return this.stream.pendingCount();
  }
}

export const httpMatcher: MatcherDescriptor = {
  name: 'http',
  enabled: (_options: CorrelateOptions) => true,
  create: (context: MatcherContext) => new HttpMatcher(new HttpStreamProtocol(context)),
};

export { HttpStreamProtocol } from './matcher.ts';
