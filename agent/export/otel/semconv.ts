/**
 * Semantic-convention keys that are not stable, copied here (as the semantic-conventions package
 * recommends for `incubating` entries: they may change or vanish in a minor release). Stable
 * keys: semconv-stable.ts (test/export/semconv.test.ts checks that none of these is stable).
 */

/** Development (semconv registry "dns"): the name being queried, as it appears in the query. */
export const ATTR_DNS_QUESTION_NAME = 'dns.question.name';
/** Development: duration of a DNS lookup (histogram, s). */
export const METRIC_DNS_LOOKUP_DURATION = 'dns.lookup.duration';

/**
 * PRE-REGISTRY: proposed in open-telemetry/semantic-conventions#2432 ("Finish documenting DNS
 * namespace"), not in the registry yet. The question type mnemonic ("A", "AAAA", "MX").
 */
export const ATTR_DNS_QUESTION_TYPE = 'dns.question.type';
/** PRE-REGISTRY (#2432): the response code mnemonic ("NOERROR", "NXDOMAIN", "SERVFAIL"). */
export const ATTR_DNS_RESPONSE_CODE = 'dns.response_code';

/** Development: request body size in bytes (from Content-Length). */
export const ATTR_HTTP_REQUEST_BODY_SIZE = 'http.request.body.size';
/** Development: response body size in bytes (from Content-Length). */
export const ATTR_HTTP_RESPONSE_BODY_SIZE = 'http.response.body.size';
/** Development: low-cardinality template of the path, for CLIENT spans (SERVER spans use http.route). */
export const ATTR_URL_TEMPLATE = 'url.template';

/** Development (semconv registry "tls"): "tls" or "ssl". */
export const ATTR_TLS_PROTOCOL_NAME = 'tls.protocol.name';
/** Development: the negotiated version's number ("1.2", "1.3"). */
export const ATTR_TLS_PROTOCOL_VERSION = 'tls.protocol.version';
/** Development: the negotiated cipher suite's IANA description ("TLS_AES_256_GCM_SHA384"). */
export const ATTR_TLS_CIPHER = 'tls.cipher';
/** Development: the ALPN protocol the server selected ("h2", "http/1.1"). */
export const ATTR_TLS_NEXT_PROTOCOL = 'tls.next_protocol';
/** Development: whether the negotiation succeeded (set only when seen: a Finished or an alert). */
export const ATTR_TLS_ESTABLISHED = 'tls.established';
