/**
 * TLS handshakes as spans: `TLS handshake`, the semantic conventions' tls.* attributes
 * (registry "tls", Development, as in @opentelemetry/semantic-conventions 1.45.0), the SNI as
 * server.address (tls.client.server_name is deprecated in its favour), alerts as errors.
 */

import {
  ATTR_WIRESPAN_TLS_ALERT_FROM,
  ATTR_WIRESPAN_TLS_ALERT_LEVEL,
  ATTR_WIRESPAN_TLS_CLIENT_ALPN,
  ATTR_WIRESPAN_TLS_CLIENT_VERSIONS,
  ATTR_WIRESPAN_TLS_HANDSHAKE_NS,
  ATTR_WIRESPAN_TLS_HELLO_RETRY,
} from '../../export/otel/attributes.ts';
import { int, str } from '../../export/otel/detail-values.ts';
import {
  ATTR_TLS_CIPHER,
  ATTR_TLS_ESTABLISHED,
  ATTR_TLS_NEXT_PROTOCOL,
  ATTR_TLS_PROTOCOL_NAME,
  ATTR_TLS_PROTOCOL_VERSION,
} from '../../export/otel/semconv.ts';
import { ATTR_SERVER_ADDRESS } from '../../export/otel/semconv-stable.ts';
import type { ProtocolSpans } from '../protocol.ts';
import type { TlsDetail } from './matcher.ts';

export const tlsSpans: ProtocolSpans<TlsDetail> = {
  create: () => ({
    map(_pair, detail, span) {
      span.name = 'TLS handshake';
      if (detail === null) return;
      const attributes = span.attributes;
      const sni = str(detail.sni);
      if (sni !== null) attributes[ATTR_SERVER_ADDRESS] = sni;
      const version = str(detail.version);
      if (version !== null) {
        attributes[ATTR_TLS_PROTOCOL_NAME] = version === '3.0' ? 'ssl' : 'tls';
        attributes[ATTR_TLS_PROTOCOL_VERSION] = version;
      }
      const cipher = str(detail.cipher);
      if (cipher !== null) attributes[ATTR_TLS_CIPHER] = cipher;
      const alpn = str(detail.alpn);
      if (alpn !== null) attributes[ATTR_TLS_NEXT_PROTOCOL] = alpn;
      if (Array.isArray(detail.versions_offered))
        attributes[ATTR_WIRESPAN_TLS_CLIENT_VERSIONS] = detail.versions_offered;
      if (Array.isArray(detail.alpn_offered) && detail.alpn_offered.length > 0) {
        attributes[ATTR_WIRESPAN_TLS_CLIENT_ALPN] = detail.alpn_offered;
      }
      const handshake = int(detail.handshake_ns);
      if (handshake !== null) {
        // The server's Finished was seen (TLS 1.2): the negotiation succeeded.
        attributes[ATTR_WIRESPAN_TLS_HANDSHAKE_NS] = handshake;
        attributes[ATTR_TLS_ESTABLISHED] = true;
      }
      if (detail.hello_retry === true) attributes[ATTR_WIRESPAN_TLS_HELLO_RETRY] = true;
      const alert = detail.alert;
      if (alert !== undefined) {
        attributes[ATTR_TLS_ESTABLISHED] = false;
        attributes[ATTR_WIRESPAN_TLS_ALERT_FROM] = alert.from;
        attributes[ATTR_WIRESPAN_TLS_ALERT_LEVEL] = alert.level;
        if (span.errorType === null) span.errorType = alert.description;
      }
    },
  }),
};
