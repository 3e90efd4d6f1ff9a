import type { MatcherDescriptor } from '../matcher.ts';
import { UdpMatcher } from './matcher.ts';

/** Generic UDP request/reply on options.udpPorts (rules in matcher.ts). */
export const udpMatcher: MatcherDescriptor = {
  name: 'udp',
  enabled: (options) => options.udpPorts.length > 0,
  create: (context) => new UdpMatcher(context),
};
