import type { CorrelateOptions } from '../options.ts';

/**
 * The protocol's pending-table cap and timeout. Until options.maxPending/timeoutNanos are
 * records keyed by protocol (issue 13 item 1), a protocol without its own entry takes the
 * generic one of its transport family (udp for icmp, tcp for tls).
 */
export function protocolLimits(
  options: CorrelateOptions,
  protocol: 'icmp' | 'tls',
): { maxPending: number; timeoutNanos: number } {
  const fallback = protocol === 'icmp' ? 'udp' : 'tcp';
  const maxPending = options.maxPending as Record<string, number | undefined>;
  const timeouts = options.timeoutNanos as Record<string, number | undefined>;
  return {
    maxPending: maxPending[protocol] ?? options.maxPending[fallback],
    timeoutNanos: timeouts[protocol] ?? options.timeoutNanos[fallback],
  };
}
