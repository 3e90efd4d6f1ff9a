import { ATTR_WIRESPAN_ICMP_ID, ATTR_WIRESPAN_ICMP_SEQ } from '../../export/otel/attributes.ts';
import { int } from '../../export/otel/detail-values.ts';
import { ATTR_NETWORK_TRANSPORT } from '../../export/otel/semconv-stable.ts';
import type { ProtocolDescriptor } from '../protocol.ts';
import { type IcmpDetail, IcmpEchoMatcher } from './matcher.ts';

/** ICMP/ICMPv6 echo: request -> reply by (addresses, identifier, sequence) (rules in matcher.ts). */
export const icmpProtocol: ProtocolDescriptor<IcmpDetail> = {
  name: 'icmp',
  label: 'ICMP echo',
  color: '#999933',
  // Measured: ~455 B per unanswered echo request.
  pending: { weight: 1, bytesPerEntry: 512 },
  enabled: () => true,
  create: (context) => new IcmpEchoMatcher(context),
  spans: {
    create: () => ({
      map(pair, detail, span) {
        span.name = pair.ipVersion === 6 ? 'ICMPv6 echo' : 'ICMP echo';
        // network.transport names OSI transports (tcp, udp, quic...): ICMP is not one.
        delete span.attributes[ATTR_NETWORK_TRANSPORT];
        const id = int(detail?.id);
        if (id !== null) span.attributes[ATTR_WIRESPAN_ICMP_ID] = id;
        const seq = int(detail?.seq);
        if (seq !== null) span.attributes[ATTR_WIRESPAN_ICMP_SEQ] = seq;
      },
    }),
  },
  report: {
    isError: () => false,
    what: (detail) => (detail === null ? 'echo' : `echo id ${detail.id} seq ${detail.seq}`),
  },
};
