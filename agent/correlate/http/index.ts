/**
 * HTTP/1.x matcher: pairs requests and responses read from reassembled TCP streams. It sees no
 * packets itself (no onPacket): the correlator's TcpReassembly offers connections to
 * `stream`, which claims those whose client starts with a request line, on any port.
 */

import { StreamMatcher } from '../matcher.ts';
import type { ProtocolDescriptor } from '../protocol.ts';
import { type HttpDetail, HttpStreamProtocol } from './matcher.ts';
import { httpSpans } from './span.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** Keep HTTP query strings in targets (default false: redacted as "?REDACTED"). */
    httpKeepQuery: boolean;
  }
}

export const httpMatcher: ProtocolDescriptor<HttpDetail> = {
  name: 'http',
  color: '#E69F00',
  options: [
    {
      flag: 'http-keep-query',
      describe:
        'keep HTTP query strings and ;path parameters in targets (both redacted by default; URL userinfo is always redacted)',
      type: 'boolean',
      default: false,
      apply: (options, keep) => {
        options.httpKeepQuery = keep;
      },
    },
  ],
  pending: { weight: 3, bytesPerEntry: 6144 },
  enabled: () => true,
  create: (context) => new StreamMatcher(new HttpStreamProtocol(context)),
  spans: httpSpans,
  report: {
    errorRule: 'HTTP 5xx',
    isError: (detail) => typeof detail.status === 'number' && detail.status >= 500,
    what: (detail) => `${detail?.method ?? '?'} ${detail?.target ?? ''} → ${detail?.status ?? '-'}`,
  },
};

export { HttpStreamProtocol } from './matcher.ts';
