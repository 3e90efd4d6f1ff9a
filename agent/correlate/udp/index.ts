import { udpSpanName } from '../../export/otel/port-names.ts';
import type { ProtocolDescriptor } from '../protocol.ts';
import { UdpMatcher } from './matcher.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** Server ports for generic UDP request/reply pairing. */
    udpPorts: number[];
  }
}

/** Generic UDP request/reply on options.udpPorts (rules in matcher.ts). */
export const udpMatcher: ProtocolDescriptor = {
  name: 'udp',
  color: '#CC79A7',
  options: [
    {
      flag: 'udp-ports',
      describe: 'server ports for generic UDP request/reply pairing',
      type: 'ports',
      // Kerberos, NTP, SNMP, RADIUS auth/accounting, memcached: one request, one reply from the same port.
      // TFTP (69) is absent: its server answers from a new port, so no reply would ever pair.
      // One-way protocols (syslog 514, NetFlow/IPFIX, StatsD 8125) are deliberately absent.
      default: [88, 123, 161, 1812, 1813, 11211],
      apply: (options, ports) => {
        options.udpPorts = ports;
      },
    },
  ],
  pending: { weight: 1, bytesPerEntry: 512 },
  enabled: (options) => options.udpPorts.length > 0,
  create: (context) => new UdpMatcher(context),
  spans: {
    create: () => ({
      map(pair, _detail, span) {
        span.name = udpSpanName(pair.serverPort);
      },
    }),
  },
};
