import { ATTR_WIRESPAN_TCP_SYNS } from '../../export/otel/attributes.ts';
import { int } from '../../export/otel/detail-values.ts';
import { spanNamesByPort } from '../../export/otel/port-names.ts';
import type { ProtocolDescriptor } from '../protocol.ts';
import { type TcpDetail, TcpHandshakeMatcher } from './matcher.ts';

const tcpConnectSpanName = spanNamesByPort('TCP connect');

/** TCP handshakes: SYN → SYN-ACK latency per connection attempt (rules in matcher.ts). */
export const tcpHandshakeMatcher: ProtocolDescriptor<TcpDetail> = {
  name: 'tcp',
  color: '#009E73',
  pending: { weight: 2, bytesPerEntry: 1024 },
  enabled: () => true,
  create: (context) => new TcpHandshakeMatcher(context),
  spans: {
    create: () => ({
      map(pair, detail, span) {
        span.name = tcpConnectSpanName(pair.serverPort);
        const syns = int(detail?.syns);
        if (syns !== null) span.attributes[ATTR_WIRESPAN_TCP_SYNS] = syns;
      },
    }),
  },
  report: {
    isError: () => false,
    what: (detail) => `connect${typeof detail?.syns === 'number' ? ` (${detail.syns} SYNs)` : ''}`,
  },
};
