import { REPORT_ROLLUP_TABLES } from '../modules/reports/rollup-tables';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './entities';
import { migrationsList } from './migrations';
import { EventWriterLock } from './event-writer-lock';
import type { Logger } from '../observability/logger';
import { currentRequestId } from '../observability/request-scope';

export interface OrmOptions {
  databaseUrl: string;
  logger?: Logger;
  poolMax?: number;
  /**
   * Called with every SQL statement and the id of the request it runs for, if any (query-count assertions in
   * tests, as MikroORM's own tests do, counting only their own request's statements).
   */
  onQuery?: (sql: string, requestId: string | undefined) => void;
  /**
   * Server sessions: a statement running longer, or a transaction left idle longer, is ended by Postgres
   * (an event-writing transaction holds back live delivery while it runs). Unset for migrations and tools.
   */
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
}

export function ormConfig(opts: OrmOptions): Options {
  return {
    clientUrl: opts.databaseUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    migrations: {
      migrationsList,
      path: 'server/src/db/migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
    },
    // Never create or alter tables at run time: migrations do that, reviewed and committed.
    // Tables written with raw SQL, not entities: throttle windows, the event log (realtime/event-log.ts) and
    // the report rollups (modules/reports/rollup-tables.ts), parked delivery receipts (modules/inbox/parked-receipts.ts).
    schemaGenerator: { disableForeignKeys: false, skipTables: ['throttle_windows', 'events', 'event_log_watermark', 'parked_receipts', ...REPORT_ROLLUP_TABLES] },
    discovery: { warnWhenNoEntities: true, requireEntitiesArray: true },
    pool: { min: 0, max: opts.poolMax ?? 10 },
    // Postgres keeps acknowledged writes on disk before answering.
    driverOptions: {
      connection: {
        application_name: 'switchboard',
        ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
        ...(opts.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: opts.idleInTransactionTimeoutMs } : {}),
      },
    },
    // Event writers announce themselves before they get a transaction id (see event-writer-lock.ts).
    subscribers: [new EventWriterLock()],
    forceUtcTimezone: true,
    // Every tenant table filters on its own organization_id: joining related rows to apply their filters too
    // costs joins on every query and, under FOR UPDATE, locks rows of other tables.
    autoJoinRefsForFilters: false,
    // Plain objects from the ORM would bypass the per-request fork; forbid the global identity map.
    allowGlobalContext: false,
    debug: opts.onQuery ? ['query'] : false,
    logger: opts.onQuery
      ? (message: string) => opts.onQuery!(message, currentRequestId())
      : (message: string) => opts.logger?.debug({ orm: message }),
  };
}

export async function initOrm(opts: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(opts));
}

export async function migrateUp(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}
