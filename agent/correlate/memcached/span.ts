/**
 * memcached pairs as spans, per the OpenTelemetry database client span conventions (semconv
 * v1.44 db/database-spans.md, Stable; no memcached-specific page): db.system.name "memcached",
 * db.operation.name the command as sent, db.query.text the command with its keys (values and
 * other arguments `?`: matcher.ts), ERROR/CLIENT_ERROR/SERVER_ERROR as db.response.status_code
 * and error.type. No db.namespace (memcached has none). Span name `{command} {server}:{port}`.
 * Metric: db.client.operation.duration.
 */
import type { Attributes } from '@opentelemetry/api';
import { str } from '../../export/otel/detail-values.ts';
import {
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  METRIC_DB_CLIENT_OPERATION_DURATION,
} from '../../export/otel/semconv-stable.ts';
import type { ProtocolSpans } from '../protocol.ts';
import { isKnownCommand, type MemcachedDetail } from './matcher.ts';

export const kMemcachedSystemName = 'memcached';

export const memcachedSpans: ProtocolSpans<MemcachedDetail> = {
  histograms: [METRIC_DB_CLIENT_OPERATION_DURATION],
  create: () => ({
    map(pair, detail, span) {
      const attributes = span.attributes;
      const command = str(detail?.command) ?? '';
      attributes[ATTR_DB_SYSTEM_NAME] = kMemcachedSystemName;
      if (command !== '') attributes[ATTR_DB_OPERATION_NAME] = command;
      const query = str(detail?.query);
      if (query !== null) attributes[ATTR_DB_QUERY_TEXT] = query;
      const error = span.matched ? str(detail?.error) : null;
      if (error !== null) {
        attributes[ATTR_DB_RESPONSE_STATUS_CODE] = error;
        span.errorType = error;
      }
      const server = pair.ipVersion === 6 ? `[${span.server}]` : span.server;
      const target = `${server}:${pair.serverPort}`;
      span.name = command === '' ? target : `${command} ${target}`;
      if (span.matched) {
        const metricAttributes: Attributes = {
          [ATTR_DB_SYSTEM_NAME]: kMemcachedSystemName,
          // Low cardinality: a command memcached does not know is _OTHER here.
          [ATTR_DB_OPERATION_NAME]: isKnownCommand(command) ? command : '_OTHER',
          [ATTR_SERVER_PORT]: pair.serverPort,
          [ATTR_SERVICE_NAME]: span.serviceName,
        };
        if (error !== null) {
          metricAttributes[ATTR_DB_RESPONSE_STATUS_CODE] = error;
          metricAttributes[ATTR_ERROR_TYPE] = error;
        }
        span.metric = {
          name: METRIC_DB_CLIENT_OPERATION_DURATION,
          value: span.seconds,
          attributes: metricAttributes,
        };
      }
    },
  }),
};
