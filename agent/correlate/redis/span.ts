/**
 * Redis pairs as spans, per the OpenTelemetry semantic conventions for Redis client operations
 * (semconv v1.44, db/redis.md, status Development; the db.* attributes used are Stable):
 * db.system.name "redis", db.operation.name the command as sent, db.namespace the database
 * index when SELECT was seen, db.query.text sanitized (keys kept, values `?`: matcher.ts),
 * db.response.status_code and error.type the error prefix, db.operation.batch.size for EXEC,
 * db.stored_procedure.name for EVALSHA/FCALL. Span name `{command} {target}` with target the
 * script name or `server.address:server.port` (the Redis rule keeps the numeric namespace out of
 * span names). Metric: db.client.operation.duration.
 */
import type { Attributes } from '@opentelemetry/api';
import { int, str } from '../../export/otel/detail-values.ts';
import {
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_STORED_PROCEDURE_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  METRIC_DB_CLIENT_OPERATION_DURATION,
} from '../../export/otel/semconv-stable.ts';
import type { ProtocolSpans } from '../protocol.ts';
import { isKnownCommand } from './commands.ts';
import type { RedisDetail } from './matcher.ts';

export const kRedisSystemName = 'redis';

export const redisSpans: ProtocolSpans<RedisDetail> = {
  histograms: [METRIC_DB_CLIENT_OPERATION_DURATION],
  create: () => ({
    map(pair, detail, span) {
      const attributes = span.attributes;
      const command = str(detail?.command) ?? '';
      // The metric's operation stays low-cardinality: a name Redis does not know is _OTHER there.
      const operation = isKnownCommand(command.toUpperCase()) ? command : '_OTHER';
      attributes[ATTR_DB_SYSTEM_NAME] = kRedisSystemName;
      if (command !== '') attributes[ATTR_DB_OPERATION_NAME] = command;
      const namespace = str(detail?.db);
      if (namespace !== null) attributes[ATTR_DB_NAMESPACE] = namespace;
      const query = str(detail?.query);
      if (query !== null) attributes[ATTR_DB_QUERY_TEXT] = query;
      const script = str(detail?.script);
      if (script !== null) attributes[ATTR_DB_STORED_PROCEDURE_NAME] = script;
      const batch = int(detail?.batch_size);
      // A batch is two or more operations (or an empty one): an EXEC of one command is a single operation.
      if (batch !== null && batch !== 1) attributes[ATTR_DB_OPERATION_BATCH_SIZE] = batch;
      const error = span.matched ? str(detail?.error) : null;
      if (error !== null) {
        attributes[ATTR_DB_RESPONSE_STATUS_CODE] = error;
        span.errorType = error;
      }
      const server = pair.ipVersion === 6 ? `[${span.server}]` : span.server;
      const target = script ?? `${server}:${pair.serverPort}`;
      span.name = command === '' ? target : `${command} ${target}`;
      if (span.matched) {
        const metricAttributes: Attributes = {
          [ATTR_DB_SYSTEM_NAME]: kRedisSystemName,
          [ATTR_DB_OPERATION_NAME]: operation,
          [ATTR_SERVER_PORT]: pair.serverPort,
          [ATTR_SERVICE_NAME]: span.serviceName,
        };
        if (namespace !== null) metricAttributes[ATTR_DB_NAMESPACE] = namespace;
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
