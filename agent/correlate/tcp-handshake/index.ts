import type { MatcherDescriptor } from '../matcher.ts';
import { TcpHandshakeMatcher } from './matcher.ts';

/** TCP handshakes: SYN → SYN-ACK latency per connection attempt (rules in matcher.ts). */
export const tcpHandshakeMatcher: MatcherDescriptor = {
  name: 'tcp',
  enabled: () => true,
  create: (context) => new TcpHandshakeMatcher(context),
};
