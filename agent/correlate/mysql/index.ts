/**
 * MySQL and MariaDB: pairs commands and their results on the wire (matcher.ts has the rules),
 * spans per the database semantic conventions (sql/db-span.ts), query text by --db-query-text.
 */
import { StreamMatcher } from '../matcher.ts';
import { hasServerPorts, type ProtocolDescriptor, serverPortsOption } from '../protocol.ts';
import { kDbHistograms, mapDbSpan } from '../sql/db-span.ts';
import { type MysqlDetail, MysqlStreamProtocol } from './matcher.ts';

declare module '../options.ts' {
  interface ProtocolOptions {
    /** Server ports whose TCP streams are read as MySQL/MariaDB. */
    mysqlPorts: number[];
  }
}

export type { MysqlDetail } from './matcher.ts';

export const mysqlMatcher: ProtocolDescriptor<MysqlDetail> = {
  name: 'mysql',
  label: 'MySQL',
  color: '#00758F',
  options: [
    serverPortsOption('mysqlPorts', {
      flag: 'mysql-ports',
      describe: 'server ports of MySQL and MariaDB (empty: off)',
      default: [3306],
    }),
  ],
  // Measured 3.2 KB (PostgreSQL) and 3.7 KB (MySQL) per unanswered query on its own connection, kept bytes included.
  pending: { weight: 1, bytesPerEntry: 4096 },
  enabled: hasServerPorts('mysqlPorts'),
  create: (context) => new StreamMatcher(new MysqlStreamProtocol(context)),
  spans: {
    histograms: kDbHistograms,
    create: () => ({
      map(pair, detail, span) {
        mapDbSpan(
          pair,
          {
            system: detail?.system ?? 'mysql',
            operation: detail?.operation ?? null,
            phase: detail?.command === 'login' ? 'login' : null,
            namespace: detail?.namespace ?? null,
            query: detail?.query ?? null,
            statusCode:
              detail?.error_code === null || detail?.error_code === undefined
                ? null
                : String(detail.error_code),
            batchSize: null,
          },
          span,
        );
      },
    }),
  },
  report: {
    errorRule: 'MySQL ERR packet',
    isError: (detail) => detail.error_code !== null,
    what: (detail) =>
      `${detail?.operation ?? detail?.command ?? '?'} ${detail?.namespace ?? ''} → ${detail?.error_code ?? 'ok'}`,
  },
};
