/** Correlation settings with their defaults. The CLI and config files fill these in. */
import { applyMemoryBudget, kDefaultMemoryBudgetMiB } from './memory-budget.ts';
import type { TcpReassemblyOptions } from './tcp-stream/reassembly.ts';

export interface CorrelateOptions {
  /** Server ports on which UDP and TCP traffic is DNS. */
  dnsPorts: number[];
  /**
   * Which copy of a retransmitted DNS query a pair's latency starts from:
   * 'first' (tshark's dns.time and dns.response_to: the first copy; also what the user
   * waited) or 'last' (the copy the answer most likely answers: the resolver's own time).
   */
  dnsLatencyFrom: 'first' | 'last';
  /** Server ports for generic UDP request/reply pairing. */
  udpPorts: number[];
  /** Keep HTTP query strings in targets (default false: redacted as "?REDACTED"). */
  httpKeepQuery: boolean;
  /** Payload relay matching (off unless enabled). */
  relay: {
    enabled: boolean;
    /** CIDRs (IPv4/IPv6) inside the relaying system. */
    internalNetworks: string[];
    /** Also pair when the outgoing packet goes back to the sender (endpoints reversed). */
    matchEcho: boolean;
    /** Also pair across transports (e.g. UDP in, TCP out). */
    crossTransport: boolean;
  };
  /** How long a request may wait for its response, in capture-time nanoseconds, per protocol. */
  timeoutNanos: { dns: number; http: number; tcp: number; udp: number; relay: number };
  /**
   * Hard cap of pending requests per protocol; the oldest is evicted (and counted) beyond it.
   * Default: derived from the memory budget (memory-budget.ts).
   */
  maxPending: { dns: number; http: number; tcp: number; udp: number; relay: number };
  /** TCP reassembly caps (HTTP and DNS over TCP). Default: derived from the memory budget. */
  reassembly: TcpReassemblyOptions;
}

const kSecond = 1_000_000_000;

export function defaultCorrelateOptions(): CorrelateOptions {
  const options: CorrelateOptions = {
    dnsPorts: [53],
    dnsLatencyFrom: 'first',
    // Kerberos, NTP, SNMP, RADIUS auth/accounting, memcached: one request, one reply from the same port.
    // TFTP (69) is absent: its server answers from a new port, so no reply would ever pair.
    // One-way protocols (syslog 514, NetFlow/IPFIX, StatsD 8125) are deliberately absent.
    udpPorts: [88, 123, 161, 1812, 1813, 11211],
    httpKeepQuery: false,
    relay: { enabled: false, internalNetworks: ['192.168.0.0/16'], matchEcho: false, crossTransport: false },
    timeoutNanos: {
      dns: 30 * kSecond,
      http: 30 * kSecond,
      tcp: 30 * kSecond,
      udp: 30 * kSecond,
      relay: 30 * kSecond,
    },
    maxPending: { dns: 1, http: 1, tcp: 1, udp: 1, relay: 1 },
    reassembly: {} as TcpReassemblyOptions,
  };
  applyMemoryBudget(options, kDefaultMemoryBudgetMiB);
  return options;
}
