import type { MatcherDescriptor } from '../matcher.ts';
import { RelayMatcher } from './matcher.ts';

/** Payload relay through the internal networks (off unless options.relay.enabled; rules in matcher.ts). */
export const relayMatcher: MatcherDescriptor = {
  name: 'relay',
  shardBy: 'payload',
  enabled: (options) => options.relay.enabled,
  create: (context) => new RelayMatcher(context),
};
