import { createHash } from 'node:crypto';
import { EventType as OrmEventType } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { TAKE_EVENT_WRITER_LOCK } from './event-writer-lock';
import { plainTransaction } from './plain-transaction';

/**
 * The hot writes (a send, an inbound message, a provider id, a batch of delivery receipts) are a few
 * hand-written statements in one transaction. `SqlTx` is that transaction as those statements see it:
 * statements with `?` placeholders, and the key under which the event log notes the workspaces to wake
 * after commit (realtime/event-log.ts appendEvents).
 */
export interface SqlTx {
  /** Runs one statement (`?` placeholders) in the transaction and returns its rows. */
  all<T extends object>(sql: string, params: readonly unknown[]): Promise<T[]>;
  /** The object the event log keys this transaction's pending wake-ups by (they are published after commit). */
  readonly wakeKey: object;
  /** The EntityManager of the transaction, when it runs on the ORM's (`sqlTransaction(..., { entityReads: true })`). */
  readonly em: EntityManager | null;
}

/** An EntityManager inside a transaction, as a SqlTx (its statements run through the ORM's connection). */
export function ormSql(em: EntityManager): SqlTx {
  const trx = em.getTransactionContext() as object | undefined;
  if (!trx) throw new Error('ormSql needs an EntityManager inside a transaction');
  return {
    all: <T extends object>(sql: string, params: readonly unknown[]) => em.getConnection().execute<T[]>(sql, [...params], 'all', trx),
    wakeKey: trx,
    em,
  };
}

/** A SqlTx or an EntityManager inside a transaction (callers on the entity path: the campaign sender, workers). */
export function asSql(tx: SqlTx | EntityManager): SqlTx {
  return 'wakeKey' in tx ? tx : ormSql(tx);
}

/**
 * A text[] parameter as a Postgres array literal (`?::text[]`): the same string whether the statement runs on
 * the ORM's path (parameters inlined) or bound, so one statement shape serves any number of values.
 */
export const pgTextArray = (values: ReadonlyArray<string | null>) => `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;

/** The pg client knex's pool hands out (only what is used here). */
interface PgClient {
  query(config: { text: string; values?: unknown[]; name?: string }): Promise<{ rows: object[] }>;
  query(text: string): Promise<unknown>;
  __knex__disposed?: unknown;
}

interface KnexClient {
  acquireConnection(): Promise<PgClient>;
  releaseConnection(connection: PgClient): Promise<unknown>;
}

/**
 * Statements with at most this many parameters are prepared once per connection (named): Postgres parses them
 * once and, after a few runs, plans them once. Larger ones (a batch of receipts with a VALUES list per receipt)
 * come in too many shapes to keep prepared on every connection.
 */
const MAX_PREPARED_PARAMS = 64;

const MAX_SHAPES = 2000;
const compiled = new Map<string, { text: string; name: string | undefined; params: number }>();

/** `?` placeholders (outside quoted literals and identifiers) as `$1..$n`, and a statement name for it. */
function compile(sql: string): { text: string; name: string | undefined; params: number } {
  let c = compiled.get(sql);
  if (c) return c;
  let n = 0;
  let text = '';
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      text += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      text += ch;
    } else if (ch === '?') {
      text += `$${++n}`;
    } else {
      text += ch;
    }
  }
  // The shapes are the hot paths' statements, a bounded set. Should a caller ever build statement texts without
  // bound (values written into the text), past MAX_SHAPES they are neither kept nor prepared: a connection
  // never holds more than MAX_SHAPES prepared statements.
  const keep = compiled.size < MAX_SHAPES;
  c = { text, name: keep && n <= MAX_PREPARED_PARAMS ? `sb_${createHash('sha1').update(text).digest('hex').slice(0, 20)}` : undefined, params: n };
  if (keep) compiled.set(sql, c);
  return c;
}

/** A transaction on one pg connection taken from the ORM's pool, outside knex and the ORM's transaction machinery. */
class PgSqlTx implements SqlTx {
  readonly wakeKey = {};
  readonly em = null;

  constructor(
    private readonly client: PgClient,
    private readonly log: (sql: string) => void,
  ) {}

  async all<T extends object>(sql: string, params: readonly unknown[]): Promise<T[]> {
    const c = compile(sql);
    if (c.params !== params.length) throw new Error(`statement has ${c.params} placeholders, ${params.length} parameters given`);
    this.log(sql);
    const res = await this.client.query({ text: c.text, values: params as unknown[], ...(c.name ? { name: c.name } : {}) });
    return res.rows as T[];
  }

  async simple(sql: string): Promise<void> {
    this.log(sql);
    await this.client.query(sql);
  }
}

/**
 * What a plain-SQL read outside a transaction needs: the pool's connection. An EntityManager has it, so such a
 * read takes either a request's fork or `RequestContext.reader` (no fork: forking costs more than the read).
 */
export type SqlReader = Pick<EntityManager, 'getConnection'>;

/** A SqlReader, or an EntityManager that may be inside a transaction (sqlQuery then runs in it). */
type PoolHandle = SqlReader & Partial<Pick<EntityManager, 'getTransactionContext'>>;

/** The ORM's connection as far as the statements here use it. */
type OrmConnection = ReturnType<EntityManager['getConnection']>;

const loggedByConnection = new WeakMap<object, boolean>();
/** Whether the ORM logs queries (its `debug` option), asked once per connection. */
function queryLogged(conn: OrmConnection): boolean {
  let logged = loggedByConnection.get(conn);
  if (logged === undefined) {
    const debug = (conn as unknown as { config: { get(key: 'debug'): unknown } }).config.get('debug');
    logged = debug === true || (Array.isArray(debug) && debug.includes('query'));
    loggedByConnection.set(conn, logged);
  }
  return logged;
}

/** The ORM's pool and query logger, for statements run on its connections directly. */
function poolOf(conn: OrmConnection): { pool: KnexClient; log: (sql: string) => void } {
  const logQuery = (conn as unknown as { logQuery(sql: string): void }).logQuery.bind(conn);
  return { pool: conn.getKnex().client as unknown as KnexClient, log: queryLogged(conn) ? logQuery : () => undefined };
}

/**
 * One read statement (`?` placeholders) outside any transaction, on a pg connection of the ORM's pool driven
 * directly as sqlTransaction drives it: bound parameters, prepared per connection, no knex or ORM formatting
 * of the statement (which cost more than the statement's round trip on the hot reads: a credential by its hash,
 * a webhook's secret, a thread's row, subscribing's safe line). Reported to the ORM's query logger.
 */
export async function sqlRead<T extends object>(conn: OrmConnection, sql: string, params: readonly unknown[]): Promise<T[]> {
  const { pool, log } = poolOf(conn);
  const client = await pool.acquireConnection();
  try {
    return await new PgSqlTx(client, log).all<T>(sql, params);
  } finally {
    await pool.releaseConnection(client);
  }
}

/** sqlRead through an EntityManager (or `RequestContext.reader`); inside an ORM transaction, in that transaction. */
export async function sqlQuery<T extends object>(on: PoolHandle, sql: string, params: readonly unknown[]): Promise<T[]> {
  if (on.getTransactionContext?.()) return ormSql(on as EntityManager).all<T>(sql, params);
  return sqlRead<T>(on.getConnection('write'), sql, params);
}

/**
 * Runs `cb` as one transaction for hand-written statements. Outside a transaction it runs on a pg connection
 * of the ORM's own pool, driven directly: `BEGIN` and the event-writer lock (event-writer-lock.ts: first, before
 * the transaction has an id) in one round trip, bound parameters, statements prepared per connection, then
 * `COMMIT`; after commit (never after a rollback) the ORM's afterTransactionCommit event goes out with this
 * transaction's wake-up key, so WakeupSubscriber publishes the workspaces of the events it appended once, as
 * for an ORM transaction. Every statement is reported to the ORM's query logger (statement-count tests).
 *
 * Inside an ORM transaction (a caller's `em.transactional`), or when `entityReads` asks for an EntityManager
 * bound to the transaction (a rare branch that loads an entity), it is `plainTransaction` on the ORM's path.
 */
export async function sqlTransaction<T>(em: EntityManager, cb: (tx: SqlTx) => Promise<T>, opts: { entityReads?: boolean } = {}): Promise<T> {
  if (em.getTransactionContext() || opts.entityReads) return plainTransaction(em, (tx) => cb(ormSql(tx)));
  const { pool: knexClient, log } = poolOf(em.getConnection('write'));
  const client = await knexClient.acquireConnection();
  const tx = new PgSqlTx(client, log);
  const events = em.getEventManager();
  let ret: T;
  try {
    await tx.simple(`BEGIN; ${TAKE_EVENT_WRITER_LOCK}`);
    ret = await cb(tx);
    await tx.simple('COMMIT');
  } catch (err) {
    await events.dispatchEvent(OrmEventType.afterTransactionRollback, { em, transaction: tx.wakeKey });
    // Also when BEGIN's own round trip failed half way. A connection that cannot roll back is broken: knex's
    // pool discards it instead of handing it out again.
    await tx.simple('ROLLBACK').catch((rollbackErr: unknown) => (client.__knex__disposed = rollbackErr));
    throw err;
  } finally {
    await knexClient.releaseConnection(client);
  }
  await events.dispatchEvent(OrmEventType.afterTransactionCommit, { em, transaction: tx.wakeKey });
  return ret;
}
