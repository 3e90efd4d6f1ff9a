/**
 * memcached text protocol over TCP: pairs each command with its reply on the memcached ports
 * (rules in matcher.ts, framing in text.ts, spans in span.ts). memcached over UDP is paired by
 * the generic UDP matcher (port 11211 in --udp-ports).
 */
import { StreamMatcher } from '../matcher.ts';
import { hasServerPorts, type ProtocolDescriptor, serverPortsOption } from '../protocol.ts';
import { type MemcachedDetail, MemcachedStreamProtocol } from './matcher.ts';
import { memcachedSpans } from './span.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** Server ports of memcached over TCP (text protocol). */
    memcachedPorts: number[];
  }
}

export const memcachedMatcher: ProtocolDescriptor<MemcachedDetail> = {
  name: 'memcached',
  label: 'memcached',
  color: '#4B8BBE',
  options: [
    serverPortsOption('memcachedPorts', {
      flag: 'memcached-ports',
      describe:
        'server ports of memcached over TCP (text protocol; memcached over UDP is paired by --udp-ports); an empty list turns it off',
      default: [11211],
    }),
  ],
  // Measured 610 B for a short command; the 1024-character query text (UTF-16 keys) adds up to 2 KiB.
  pending: { weight: 1, bytesPerEntry: 3072 },
  enabled: hasServerPorts('memcachedPorts'),
  create: (context) => new StreamMatcher(new MemcachedStreamProtocol(context)),
  spans: memcachedSpans,
  report: {
    errorRule: 'memcached ERROR, CLIENT_ERROR or SERVER_ERROR',
    isError: (detail) => detail.error !== null,
    what: (detail) => `${detail?.query ?? detail?.command ?? '?'} → ${detail?.status ?? '-'}`,
  },
};
