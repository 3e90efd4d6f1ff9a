/**
 * PostgreSQL: pairs queries and their results on the wire (matcher.ts has the rules), spans per
 * the database semantic conventions (sql/db-span.ts), query text by --db-query-text.
 */
import { DB_SYSTEM_NAME_VALUE_POSTGRESQL } from '../../export/otel/semconv-stable.ts';
import { StreamMatcher } from '../matcher.ts';
import { hasServerPorts, type ProtocolDescriptor, serverPortsOption } from '../protocol.ts';
import { kDbHistograms, mapDbSpan } from '../sql/db-span.ts';
import { dbQueryTextOption } from '../sql/query-text.ts';
import { type PostgresqlDetail, PostgresqlStreamProtocol } from './matcher.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** Server ports whose TCP streams are read as PostgreSQL. */
    postgresqlPorts: number[];
  }
}

export type { PostgresqlDetail } from './matcher.ts';

export const postgresqlMatcher: ProtocolDescriptor<PostgresqlDetail> = {
  name: 'postgresql',
  label: 'PostgreSQL',
  color: '#336791',
  options: [
    serverPortsOption('postgresqlPorts', {
      flag: 'postgresql-ports',
      describe: 'server ports of PostgreSQL (empty: off)',
      default: [5432],
    }),
    dbQueryTextOption,
  ],
  // Measured 3.2 KB (PostgreSQL) and 3.7 KB (MySQL) per unanswered query on its own connection, kept bytes included.
  pending: { weight: 1, bytesPerEntry: 4096 },
  enabled: hasServerPorts('postgresqlPorts'),
  create: (context) => new StreamMatcher(new PostgresqlStreamProtocol(context)),
  spans: {
    histograms: kDbHistograms,
    create: () => ({
      map(pair, detail, span) {
        mapDbSpan(
          pair,
          {
            system: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
            operation: detail?.operation ?? null,
            phase: detail?.message === 'startup' ? 'startup' : null,
            namespace: detail?.namespace ?? null,
            query: detail?.query ?? null,
            statusCode: detail?.sqlstate ?? null,
            batchSize: detail?.batch_size ?? null,
          },
          span,
        );
      },
    }),
  },
  report: {
    errorRule: 'PostgreSQL ErrorResponse',
    isError: (detail) => detail.sqlstate !== null,
    what: (detail) =>
      `${detail?.operation ?? detail?.message ?? '?'} ${detail?.namespace ?? ''} → ${detail?.sqlstate ?? 'ok'}`,
  },
};
