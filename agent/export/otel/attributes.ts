/**
 * wirespan's own span, metric and resource attribute keys.
 *
 * NOT ON OFFICIAL SPEC: every key in this file is a project convention under the `wirespan.`
 * prefix (OpenTelemetry's rule for vendor-specific names), documented in
 * docs/output.md "Attributes". Keys that the semantic conventions define come from
 * `@opentelemetry/semantic-conventions` (stable, `ATTR_*`) or ./semconv.ts (copies of
 * Development/proposed keys). Keep every wirespan.* key here, in one place.
 */

/** Matcher that produced the pair: "dns", "http", "tcp", "udp", "relay". */
export const ATTR_WIRESPAN_PROTOCOL = 'wirespan.protocol';

/**
 * Request's last byte, as an exact offset from the span start (the request's first byte), in
 * integer nanoseconds. With the span's start and end these give all four capture edge times
 * exactly: request last = start + this.
 */
export const ATTR_WIRESPAN_REQUEST_LAST_OFFSET_NS = 'wirespan.request.last_offset_ns';
/** Response's first byte as an exact offset from the span start, in integer nanoseconds (time to first byte). */
export const ATTR_WIRESPAN_RESPONSE_FIRST_OFFSET_NS = 'wirespan.response.first_offset_ns';
/** Packets carrying the request (for a TCP handshake: SYN copies). */
export const ATTR_WIRESPAN_REQUEST_PACKETS = 'wirespan.request.packets';
/** Payload (L7) bytes of the request. */
export const ATTR_WIRESPAN_REQUEST_BYTES = 'wirespan.request.bytes';
export const ATTR_WIRESPAN_RESPONSE_PACKETS = 'wirespan.response.packets';
export const ATTR_WIRESPAN_RESPONSE_BYTES = 'wirespan.response.bytes';

/** Unanswered pairs: why the request was given up (expired, evicted, end_of_input, connection_closed). */
export const ATTR_WIRESPAN_UNANSWERED_REASON = 'wirespan.unanswered.reason';
/** true when the pair's connection lost bytes in the capture during the exchange (absent otherwise). */
export const ATTR_WIRESPAN_CAPTURE_GAP = 'wirespan.capture.gap';

/**
 * `unanswered flood` spans (span-flood.ts): unanswered pairs of one client and protocol in one
 * interval of capture time beyond the per-source limit, counted into this one span instead of
 * exported one by one.
 */
export const ATTR_WIRESPAN_FLOOD_COUNT = 'wirespan.flood.count';
/** `unanswered flood` spans: the limit (unanswered spans per source and interval exported one by one). */
export const ATTR_WIRESPAN_FLOOD_LIMIT = 'wirespan.flood.limit';
/** `unanswered flood` spans: `source` (one client address) or `all_sources` (one protocol, every source). */
export const ATTR_WIRESPAN_FLOOD_SCOPE = 'wirespan.flood.scope';

/** Capture file holding the request's first packet (when the exporter was given the file names). */
export const ATTR_WIRESPAN_SOURCE_FILE = 'wirespan.source.file';
/** 1-based packet number (as Wireshark numbers frames) of the request's first packet in that file. */
export const ATTR_WIRESPAN_SOURCE_PACKET = 'wirespan.source.packet';

/** DNS: number of answer records in the response (the answers themselves are not decoded). */
export const ATTR_WIRESPAN_DNS_ANSWER_COUNT = 'wirespan.dns.answer_count';
/** DNS: the message id. */
export const ATTR_WIRESPAN_DNS_ID = 'wirespan.dns.id';
/** DNS: question class mnemonic ("IN", "CH", ...). */
export const ATTR_WIRESPAN_DNS_QUESTION_CLASS = 'wirespan.dns.question.class';
/** DNS: query copies beyond the first (retransmissions); only when > 0. */
export const ATTR_WIRESPAN_DNS_RETRANSMISSIONS = 'wirespan.dns.retransmissions';

/** TCP handshake: SYN copies seen (only when the SYN was retransmitted). */
export const ATTR_WIRESPAN_TCP_SYNS = 'wirespan.tcp.syns';

/** TLS: the versions the ClientHello offered ("1.3", "1.2"), GREASE left out. */
export const ATTR_WIRESPAN_TLS_CLIENT_VERSIONS = 'wirespan.tls.client.versions';
/** TLS: the ALPN protocols the ClientHello offered (tls.next_protocol is the one selected). */
export const ATTR_WIRESPAN_TLS_CLIENT_ALPN = 'wirespan.tls.client.alpn';
/** TLS 1.2: ClientHello first byte -> the server's Finished, in integer nanoseconds. */
export const ATTR_WIRESPAN_TLS_HANDSHAKE_NS = 'wirespan.tls.handshake_ns';
/** TLS 1.3: the server answered with a HelloRetryRequest. */
export const ATTR_WIRESPAN_TLS_HELLO_RETRY = 'wirespan.tls.hello_retry';
/** TLS: which side sent the alert ("client", "server"); its description is error.type. */
export const ATTR_WIRESPAN_TLS_ALERT_FROM = 'wirespan.tls.alert.from';
/** TLS: the alert's level ("fatal", "warning"). */
export const ATTR_WIRESPAN_TLS_ALERT_LEVEL = 'wirespan.tls.alert.level';

/** ICMP echo: identifier and sequence number of the ping. */
export const ATTR_WIRESPAN_ICMP_ID = 'wirespan.icmp.id';
export const ATTR_WIRESPAN_ICMP_SEQ = 'wirespan.icmp.seq';

/** Relay: where the payload left for. */
export const ATTR_WIRESPAN_RELAY_OUT_ADDRESS = 'wirespan.relay.out.address';
export const ATTR_WIRESPAN_RELAY_OUT_PORT = 'wirespan.relay.out.port';
export const ATTR_WIRESPAN_RELAY_OUT_TRANSPORT = 'wirespan.relay.out.transport';

// Pipeline-health metric attributes.
/** Metric attribute: the pair's outcome ("matched", "unanswered"). */
export const ATTR_WIRESPAN_OUTCOME = 'wirespan.outcome';
/** Metric attribute: a reason (skip reason, unanswered reason, span drop reason). */
export const ATTR_WIRESPAN_REASON = 'wirespan.reason';
/** Metric attribute: a queue's name. */
export const ATTR_WIRESPAN_QUEUE = 'wirespan.queue';
/** Metric attribute: buffer pool slot state ("free", "used"). */
export const ATTR_WIRESPAN_STATE = 'wirespan.state';
/** Metric attribute: OTLP signal of an export error ("traces", "metrics"). */
export const ATTR_WIRESPAN_SIGNAL = 'wirespan.signal';

// Metric names (instruments), also NOT ON OFFICIAL SPEC.
export const METRIC_WIRESPAN_PAIR_DURATION = 'wirespan.pair.duration';
export const METRIC_WIRESPAN_PAIRS = 'wirespan.pairs';
export const METRIC_WIRESPAN_PACKETS = 'wirespan.packets';
export const METRIC_WIRESPAN_BYTES_READ = 'wirespan.bytes.read';
export const METRIC_WIRESPAN_FILES = 'wirespan.files';
export const METRIC_WIRESPAN_PENDING = 'wirespan.pending';
export const METRIC_WIRESPAN_BUFFER_POOL_SLOTS = 'wirespan.buffer_pool.slots';
export const METRIC_WIRESPAN_QUEUE_DEPTH = 'wirespan.queue.depth';
export const METRIC_WIRESPAN_QUEUE_CAPACITY = 'wirespan.queue.capacity';
export const METRIC_WIRESPAN_LAG = 'wirespan.lag';
export const METRIC_WIRESPAN_SPANS_EXPORTED = 'wirespan.spans.exported';
export const METRIC_WIRESPAN_SPANS_DROPPED = 'wirespan.spans.dropped';
export const METRIC_WIRESPAN_SPANS_SAMPLED_OUT = 'wirespan.spans.sampled_out';
export const METRIC_WIRESPAN_PAIRS_IGNORED = 'wirespan.pairs.ignored';
export const METRIC_WIRESPAN_SPANS_QUEUED = 'wirespan.spans.queued';
export const METRIC_WIRESPAN_TRACEPARENT_INVALID = 'wirespan.traceparent.invalid';
export const METRIC_WIRESPAN_EXPORT_ERRORS = 'wirespan.export.errors';
