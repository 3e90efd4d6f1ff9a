import type { ProtocolDescriptor } from '../protocol.ts';
import { type DnsDetail, DnsMatcher } from './matcher.ts';
import { dnsSpans } from './span.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** Server ports on which UDP and TCP traffic is DNS. */
    dnsPorts: number[];
    /**
     * Which copy of a retransmitted DNS query a pair's latency starts from:
     * 'first' (tshark's dns.time and dns.response_to: the first copy; also what the user
     * waited) or 'last' (the copy the answer most likely answers: the resolver's own time).
     */
    dnsLatencyFrom: 'first' | 'last';
  }
}

/** DNS over UDP and TCP on options.dnsPorts (rules in matcher.ts). */
export const dnsMatcher: ProtocolDescriptor<DnsDetail> = {
  name: 'dns',
  color: '#0072B2',
  options: [
    {
      flag: 'dns-ports',
      describe: 'server ports carrying DNS (UDP and TCP)',
      type: 'ports',
      default: [53],
      apply: (options, ports) => {
        options.dnsPorts = ports;
      },
    },
    {
      flag: 'dns-latency-from',
      describe:
        'retransmitted DNS queries: measure from the first copy (as tshark, and as the user waited) or the last one',
      type: 'choice',
      choices: ['first', 'last'],
      default: 'first',
      apply: (options, from) => {
        options.dnsLatencyFrom = from as 'first' | 'last';
      },
    },
  ],
  pending: { weight: 3, bytesPerEntry: 1536 },
  enabled: (options) => options.dnsPorts.length > 0,
  create: (context) => new DnsMatcher(context),
  spans: dnsSpans,
  report: {
    errorRule: 'DNS rcode ≠ NOERROR',
    isError: (detail) => typeof detail.rcode === 'string' && detail.rcode !== 'NOERROR',
    what: (detail) => `${detail?.type ?? '?'} ${detail?.name ?? ''} ${detail?.rcode ?? ''}`.trim(),
  },
};
