import type { MatcherDescriptor } from '../matcher.ts';
import { DnsMatcher } from './matcher.ts';

/** DNS over UDP and TCP on options.dnsPorts (rules in matcher.ts). */
export const dnsMatcher: MatcherDescriptor = {
  name: 'dns',
  enabled: (options) => options.dnsPorts.length > 0,
  create: (context) => new DnsMatcher(context),
};
