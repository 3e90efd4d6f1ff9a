import {
  ATTR_WIRESPAN_RELAY_OUT_ADDRESS,
  ATTR_WIRESPAN_RELAY_OUT_PORT,
  ATTR_WIRESPAN_RELAY_OUT_TRANSPORT,
} from '../../export/otel/attributes.ts';
import { int, str } from '../../export/otel/detail-values.ts';
import type { CorrelateOptions } from '../options.ts';
import type { ProtocolDescriptor } from '../protocol.ts';
import { type RelayDetail, RelayMatcher } from './matcher.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
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
  }
}

/** options.relay, made on first use (each option spec sets one field). */
function relayOptions(options: CorrelateOptions): CorrelateOptions['relay'] {
  options.relay ??= { enabled: false, internalNetworks: [], matchEcho: false, crossTransport: false };
  return options.relay;
}

/** Payload relay through the internal networks (off unless options.relay.enabled; rules in matcher.ts). */
export const relayMatcher: ProtocolDescriptor<RelayDetail> = {
  name: 'relay',
  color: '#56B4E9',
  shardBy: 'payload',
  options: [
    {
      flag: 'relay',
      describe: 'pair identical payloads entering and leaving --internal-networks',
      type: 'boolean',
      default: false,
      apply: (options, enabled) => {
        relayOptions(options).enabled = enabled;
      },
    },
    {
      flag: 'internal-networks',
      describe: 'CIDRs inside the relaying system (relay mode)',
      type: 'list',
      default: ['192.168.0.0/16'],
      apply: (options, networks) => {
        relayOptions(options).internalNetworks = networks;
      },
    },
    {
      flag: 'relay-echo',
      describe: 'relay: also pair payloads sent back to their sender',
      type: 'boolean',
      default: false,
      apply: (options, echo) => {
        relayOptions(options).matchEcho = echo;
      },
    },
    {
      flag: 'relay-cross-transport',
      describe: 'relay: also pair UDP in with TCP out and vice versa',
      type: 'boolean',
      default: false,
      apply: (options, cross) => {
        relayOptions(options).crossTransport = cross;
      },
    },
  ],
  pending: { weight: 1, bytesPerEntry: 1024 },
  enabled: (options) => options.relay.enabled,
  create: (context) => new RelayMatcher(context),
  spans: {
    create: () => ({
      map(pair, detail, span) {
        span.name = `RELAY ${pair.serverPort}`;
        const out = detail?.out;
        const outAddress = str(out?.address);
        if (outAddress !== null) span.attributes[ATTR_WIRESPAN_RELAY_OUT_ADDRESS] = outAddress;
        const outPort = int(out?.port);
        if (outPort !== null) span.attributes[ATTR_WIRESPAN_RELAY_OUT_PORT] = outPort;
        const outTransport = str(out?.transport);
        if (outTransport !== null) span.attributes[ATTR_WIRESPAN_RELAY_OUT_TRANSPORT] = outTransport;
      },
    }),
  },
  report: {
    isError: () => false,
    what: (detail) => (detail?.out ? `→ ${detail.out.address}:${detail.out.port}` : ''),
  },
};
