/** Every protocol matcher, in the order packets are offered to them. One line adds a protocol. */
import { dnsMatcher } from './dns/index.ts';
import { httpMatcher } from './http/index.ts';
import { icmpMatcher } from './icmp/index.ts';
import type { MatcherDescriptor } from './matcher.ts';
import { relayMatcher } from './relay/index.ts';
import { tcpHandshakeMatcher } from './tcp-handshake/index.ts';
import { tlsMatcher } from './tls/index.ts';
import { udpMatcher } from './udp/index.ts';

export const matcherRegistry: readonly MatcherDescriptor[] = [
  dnsMatcher,
  httpMatcher,
  tlsMatcher,
  tcpHandshakeMatcher,
  udpMatcher,
  relayMatcher,
  icmpMatcher,
];
