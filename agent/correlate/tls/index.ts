import type { MatcherDescriptor } from '../matcher.ts';
import { TlsMatcher } from './matcher.ts';

/** TLS handshakes: ClientHello -> ServerHello per connection, on any port (rules in matcher.ts). */
export const tlsMatcher: MatcherDescriptor = {
  name: 'tls',
  enabled: () => true,
  create: (context) => new TlsMatcher(context),
};
