/** DNS pairs as spans: `DNS {type}`, dns.* attributes, non-NOERROR rcodes as errors, dns.lookup.duration. */
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_WIRESPAN_DNS_ANSWER_COUNT,
  ATTR_WIRESPAN_DNS_ID,
  ATTR_WIRESPAN_DNS_QUESTION_CLASS,
  ATTR_WIRESPAN_DNS_RETRANSMISSIONS,
} from '../../export/otel/attributes.ts';
import { int, str } from '../../export/otel/detail-values.ts';
import {
  ATTR_DNS_QUESTION_NAME,
  ATTR_DNS_QUESTION_TYPE,
  ATTR_DNS_RESPONSE_CODE,
  METRIC_DNS_LOOKUP_DURATION,
} from '../../export/otel/semconv.ts';
import {
  ATTR_ERROR_TYPE,
  ATTR_NETWORK_TRANSPORT,
  ATTR_SERVICE_NAME,
} from '../../export/otel/semconv-stable.ts';
import type { ProtocolSpans } from '../protocol.ts';
import type { DnsDetail } from './matcher.ts';

/** Span names by question type ("DNS AAAA"), each made once; at most kMaxNames types kept. */
const kMaxNames = 1024;

export const dnsSpans: ProtocolSpans<DnsDetail> = {
  histograms: [METRIC_DNS_LOOKUP_DURATION],
  create: () => {
    const names = new Map<string, string>();
    const spanName = (type: string): string => {
      let name = names.get(type);
      if (name === undefined) {
        name = `DNS ${type}`;
        if (names.size < kMaxNames) names.set(type, name);
      }
      return name;
    };
    return {
      map: (_pair, detail, span) => {
        const attributes = span.attributes;
        const type = str(detail?.type);
        span.name = type === null ? 'DNS' : spanName(type);
        const question = str(detail?.name);
        if (question !== null) attributes[ATTR_DNS_QUESTION_NAME] = question;
        if (type !== null) attributes[ATTR_DNS_QUESTION_TYPE] = type;
        const qclass = str(detail?.class);
        if (qclass !== null) attributes[ATTR_WIRESPAN_DNS_QUESTION_CLASS] = qclass;
        const id = int(detail?.id);
        if (id !== null) attributes[ATTR_WIRESPAN_DNS_ID] = id;
        const retransmissions = int(detail?.retransmissions);
        if (retransmissions !== null && retransmissions > 0) {
          attributes[ATTR_WIRESPAN_DNS_RETRANSMISSIONS] = retransmissions;
        }
        const rcode = str(detail?.rcode);
        if (rcode !== null) {
          attributes[ATTR_DNS_RESPONSE_CODE] = rcode;
          if (rcode !== 'NOERROR' && span.errorType === null) span.errorType = rcode;
        }
        const answers = int(detail?.answers);
        if (answers !== null) attributes[ATTR_WIRESPAN_DNS_ANSWER_COUNT] = answers;
        if (span.matched) {
          const metricAttributes: Attributes = {
            [ATTR_NETWORK_TRANSPORT]: span.transport,
            [ATTR_SERVICE_NAME]: span.serviceName,
          };
          if (type !== null) metricAttributes[ATTR_DNS_QUESTION_TYPE] = type;
          if (span.errorType !== null) metricAttributes[ATTR_ERROR_TYPE] = span.errorType;
          span.metric = {
            name: METRIC_DNS_LOOKUP_DURATION,
            value: span.seconds,
            attributes: metricAttributes,
          };
        }
      },
    };
  },
};
