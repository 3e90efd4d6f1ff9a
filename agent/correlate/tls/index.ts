import { StreamMatcher } from '../matcher.ts';
import type { ProtocolDescriptor } from '../protocol.ts';
import { type TlsDetail, TlsStreamProtocol } from './matcher.ts';
import { tlsSpans } from './span.ts';

/** TLS handshakes: ClientHello -> ServerHello per connection, on any port (rules in matcher.ts). */
export const tlsProtocol: ProtocolDescriptor<TlsDetail> = {
  name: 'tls',
  label: 'TLS',
  color: '#44AA99',
  // Measured: ~2.2 KB per unanswered ClientHello, its TCP connection state included.
  pending: { weight: 1, bytesPerEntry: 2560 },
  enabled: () => true,
  create: (context) => new StreamMatcher(new TlsStreamProtocol(context)),
  spans: tlsSpans,
  report: {
    isError: (detail) => detail.alert !== undefined,
    errorRule: 'a TLS alert instead of a handshake',
    what: (detail) => {
      if (detail === null) return 'handshake';
      const name = detail.sni ?? 'no SNI';
      if (detail.alert !== undefined) return `${name} → alert ${detail.alert.description}`;
      return detail.version === null ? name : `${name} TLS ${detail.version}`;
    },
  },
};
