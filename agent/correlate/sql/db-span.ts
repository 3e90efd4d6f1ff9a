/**
 * Database pairs as spans, per the OpenTelemetry database semantic conventions (stable since
 * semconv v1.33.0; attribute names from @opentelemetry/semantic-conventions): db.system.name,
 * db.operation.name, db.namespace, db.query.text (already sanitized, raw or absent per
 * --db-query-text), db.response.status_code and error.type on failures, db.operation.batch.size,
 * span name `{db.operation.name} {target}` with target = db.namespace or server.address:port,
 * and the db.client.operation.duration histogram. Shared by every database protocol.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  METRIC_DB_CLIENT_OPERATION_DURATION,
} from '../../export/otel/semconv-stable.ts';
import type { PairData } from '../../export/otel/span-mapper.ts';
import type { SpanDraft } from '../protocol.ts';

/** What a database protocol's detail says about one operation. */
export interface DbOperation {
  /** db.system.name ('postgresql', 'mysql', 'mariadb', 'redis', 'memcached'). */
  system: string;
  /** db.operation.name; null when unknown (the span is named by its target alone). */
  operation: string | null;
  /** A name for spans that are no database operation (a connection's startup/login), else null. */
  phase: string | null;
  namespace: string | null;
  query: string | null;
  /** The database's status code of a failed operation (SQLSTATE, MySQL error number), else null. */
  statusCode: string | null;
  /** Operations sent as one batch (≥ 2), else null. */
  batchSize: number | null;
}

export const kDbHistograms = [METRIC_DB_CLIENT_OPERATION_DURATION] as const;

/** Fills the span from one database operation (see the module comment). */
export function mapDbSpan(pair: PairData, db: DbOperation, span: SpanDraft): void {
  const attributes = span.attributes;
  attributes[ATTR_DB_SYSTEM_NAME] = db.system;
  if (db.operation !== null) attributes[ATTR_DB_OPERATION_NAME] = db.operation;
  if (db.namespace !== null) attributes[ATTR_DB_NAMESPACE] = db.namespace;
  if (db.query !== null) attributes[ATTR_DB_QUERY_TEXT] = db.query;
  if (db.batchSize !== null) attributes[ATTR_DB_OPERATION_BATCH_SIZE] = db.batchSize;
  if (span.matched && db.statusCode !== null) {
    attributes[ATTR_DB_RESPONSE_STATUS_CODE] = db.statusCode;
    span.errorType = db.statusCode;
  }
  const target =
    db.namespace ?? `${pair.ipVersion === 6 ? `[${span.server}]` : span.server}:${pair.serverPort}`;
  const name = db.phase ?? db.operation;
  span.name = name === null ? target : `${name} ${target}`;
  if (!span.matched || db.phase !== null) return;
  const metricAttributes: Attributes = {
    [ATTR_DB_SYSTEM_NAME]: db.system,
    [ATTR_SERVER_ADDRESS]: span.server,
    [ATTR_SERVER_PORT]: pair.serverPort,
    [ATTR_SERVICE_NAME]: span.serviceName,
  };
  if (db.operation !== null) metricAttributes[ATTR_DB_OPERATION_NAME] = db.operation;
  if (db.namespace !== null) metricAttributes[ATTR_DB_NAMESPACE] = db.namespace;
  if (db.statusCode !== null) {
    metricAttributes[ATTR_DB_RESPONSE_STATUS_CODE] = db.statusCode;
    metricAttributes[ATTR_ERROR_TYPE] = db.statusCode;
  }
  span.metric = {
    name: METRIC_DB_CLIENT_OPERATION_DURATION,
    value: span.seconds,
    attributes: metricAttributes,
  };
}
