import type { MatcherDescriptor } from '../matcher.ts';
import { IcmpEchoMatcher } from './matcher.ts';

/** ICMP/ICMPv6 echo: request -> reply by (addresses, identifier, sequence) (rules in matcher.ts). */
export const icmpMatcher: MatcherDescriptor = {
  name: 'icmp',
  enabled: () => true,
  create: (context) => new IcmpEchoMatcher(context),
};
