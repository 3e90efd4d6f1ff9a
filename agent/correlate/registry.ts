/**
 * Every protocol, in the order packets are offered to their matchers (also the order of the
 * summary and the report). One line adds a protocol: its folder's index.ts exports the
 * descriptor (protocol.ts). A pair's protocolId is its protocol's index here.
 */
import { dnsMatcher } from './dns/index.ts';
import { httpMatcher } from './http/index.ts';
import { grpcProtocol } from './http2/index.ts';
import { icmpProtocol } from './icmp/index.ts';
import { memcachedMatcher } from './memcached/index.ts';
import { mysqlMatcher } from './mysql/index.ts';
import { postgresqlMatcher } from './postgresql/index.ts';
import type { ProtocolRegistry } from './protocol.ts';
import { redisMatcher } from './redis/index.ts';
import { relayMatcher } from './relay/index.ts';
import { tcpHandshakeMatcher } from './tcp-handshake/index.ts';
import { tlsProtocol } from './tls/index.ts';
import { udpMatcher } from './udp/index.ts';

export const matcherRegistry: ProtocolRegistry = [
  dnsMatcher,
  httpMatcher,
  grpcProtocol,
  tlsProtocol,
  postgresqlMatcher,
  mysqlMatcher,
  redisMatcher,
  memcachedMatcher,
  tcpHandshakeMatcher,
  udpMatcher,
  relayMatcher,
  icmpProtocol,
];
