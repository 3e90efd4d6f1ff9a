/**
 * Redis (RESP2 and RESP3) over TCP: pairs each command with its reply on the Redis ports
 * (rules in matcher.ts, framing in resp.ts, spans in span.ts).
 */
import { StreamMatcher } from '../matcher.ts';
import { hasServerPorts, type ProtocolDescriptor, serverPortsOption } from '../protocol.ts';
import { type RedisDetail, RedisStreamProtocol } from './matcher.ts';
import { redisSpans } from './span.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** Server ports of Redis (RESP). */
    redisPorts: number[];
  }
}

export const redisMatcher: ProtocolDescriptor<RedisDetail> = {
  name: 'redis',
  label: 'Redis',
  color: '#DC382D',
  options: [
    serverPortsOption('redisPorts', {
      flag: 'redis-ports',
      describe: 'server ports of Redis (RESP2/RESP3); an empty list turns Redis pairing off',
      default: [6379],
    }),
  ],
  // Measured 754 B for a short command; the 1024-character query text (UTF-16 keys) adds up to 2 KiB.
  pending: { weight: 2, bytesPerEntry: 3072 },
  enabled: hasServerPorts('redisPorts'),
  create: (context) => new StreamMatcher(new RedisStreamProtocol(context)),
  spans: redisSpans,
  report: {
    errorRule: 'Redis error reply',
    isError: (detail) => detail.error !== null,
    what: (detail) => `${detail?.query ?? detail?.command ?? '?'} → ${detail?.error ?? detail?.reply ?? '-'}`,
  },
};
