/**
 * HTTP/2 matcher (cleartext h2c with prior knowledge, and connections caught mid-way): pairs each
 * stream's request with its response from reassembled TCP streams, as `http` pairs (version "2")
 * or, for gRPC calls, `grpc` pairs. It sees no packets itself: the correlator's TcpReassembly
 * offers connections to `stream`, which claims those whose client starts with the HTTP/2
 * preface or, for connections caught mid-way, whose frames show which side is which (a request's
 * or a response's HEADERS), on any port.
 */

import type { Matcher, MatcherContext, MatcherDescriptor } from '../matcher.ts';
import { Http2StreamProtocol } from './matcher.ts';

class Http2Matcher implements Matcher {
  readonly stream: Http2StreamProtocol;

  constructor(stream: Http2StreamProtocol) {
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

export const http2Matcher: MatcherDescriptor = {
  name: 'http2',
  enabled: () => true,
  create: (context: MatcherContext) => new Http2Matcher(new Http2StreamProtocol(context)),
};

export { Http2StreamProtocol } from './matcher.ts';
