import type { EntityManager } from '@mikro-orm/postgresql';
import { EVENT_WRITER_LOCK } from '../db/event-writer-lock';
import { asSql, sqlRead, type SqlTx } from '../db/sql-transaction';
import { encodeEventCursor, type LoggedEvent, type NewEvent } from './events';

/** Workspaces touched by a transaction's events, published as wake-ups once it commits. */
const pendingWakeups = new WeakMap<object, Set<string>>();

/**
 * Appends an event in the caller's transaction: the change and its event commit together or not at all.
 * `xid` is the appending transaction's id; readers deliver only below the oldest running event writer (the
 * safe line below), so an event never overtakes one that commits later with a smaller id.
 */
export async function appendEvent(em: EntityManager, event: NewEvent): Promise<void> {
  const trx = em.getTransactionContext();
  if (!trx) throw new Error('appendEvent must run inside the mutation\'s transaction');
  await em.getConnection().execute(
    `insert into events (organization_id, workspace_id, type, thread_id, payload) values (?, ?, ?, ?, ?::jsonb)`,
    [event.organizationId, event.workspaceId, event.type, event.threadId ?? null, JSON.stringify(event.payload)],
    'run',
    trx,
  );
  let set = pendingWakeups.get(trx);
  if (!set) pendingWakeups.set(trx, (set = new Set()));
  set.add(event.workspaceId);
}

/**
 * Appends several events with one statement, in order, in the caller's transaction (hot paths: a send, a batch
 * of delivery receipts). `leading` is an optional `with ...` clause of the caller's own data-modifying CTEs,
 * so the change and its events are one round trip; they commit together exactly as with appendEvent.
 */
export async function appendEvents(tx: EntityManager | SqlTx, events: readonly NewEvent[], leading?: { sql: string; params: unknown[] }): Promise<void> {
  if (!events.length) throw new Error('appendEvents needs at least one event');
  if (!('wakeKey' in tx) && !tx.getTransactionContext()) throw new Error('appendEvents must run inside the mutation\'s transaction');
  const sql = asSql(tx);
  const params: unknown[] = [...(leading?.params ?? [])];
  for (const e of events) params.push(e.organizationId, e.workspaceId, e.type, e.threadId ?? null, JSON.stringify(e.payload));
  await sql.all(`${leading?.sql ?? ''} insert into events (organization_id, workspace_id, type, thread_id, payload) values ${events.map(() => '(?, ?, ?, ?, ?::jsonb)').join(', ')}`, params);
  let set = pendingWakeups.get(sql.wakeKey);
  if (!set) pendingWakeups.set(sql.wakeKey, (set = new Set()));
  for (const e of events) set.add(e.workspaceId);
}

/** The workspaces to wake for a committed transaction (called by the ORM's after-commit hook). */
export function takeWakeups(trx: object | undefined): string[] {
  if (!trx) return [];
  const set = pendingWakeups.get(trx);
  pendingWakeups.delete(trx);
  return set ? [...set] : [];
}

interface EventRow {
  id: string;
  xid: string;
  organization_id: string;
  workspace_id: string;
  type: string;
  thread_id: string | null;
  payload: NewEvent['payload'];
  created_at: Date;
}

export function toLogged(r: EventRow): LoggedEvent {
  return {
    id: String(r.id),
    xid: String(r.xid),
    cursor: encodeEventCursor(String(r.xid), String(r.id)),
    organizationId: r.organization_id,
    workspaceId: r.workspace_id,
    type: r.type as LoggedEvent['type'],
    threadId: r.thread_id,
    payload: r.payload,
    occurredAt: new Date(r.created_at).toISOString(),
  };
}

/**
 * The safe line: every event below it is committed and visible to this statement, and every event appended
 * later sorts above it. It is the smallest running transaction id of the statement's snapshot, skipping the
 * ones proven to be running non-writers, or the snapshot's xmax when none is left.
 *
 * Why this is sound: take x in the snapshot's xip (running when the snapshot was taken). pg_locks is read
 * after the snapshot, in one pass over the lock table during which no lock can be taken or released (one
 * materialised read of pg_lock_status, which holds every lock partition while it copies). If x still holds
 * its transactionid lock then, x is the current transaction of the backend (pid) holding it; had x been a
 * writer, that backend would hold the writer lock too: taken before x existed, and released after x's
 * transactionid lock (Postgres releases a transaction's regular locks before its advisory ones). So only a
 * running non-writer is skipped. If x's lock is gone, x has ended (or is just being assigned), and it holds
 * the line (its rows are invisible to this snapshot). A transaction with no id yet gets one at or above xmax.
 *
 * Backends are matched by pid, not by virtualtransaction: pg_locks reads a holder's local transaction id
 * afresh for each lock row, and a transaction that is committing clears it between the rows of one pass, so
 * its two locks can show two different virtual transactions. Matching by that once let the line pass a
 * committing writer whose event this snapshot could not see: a lost event (found by Hub.audit, SB_HUB_AUDIT=1).
 *
 * Not monotonic (a skipped non-writer that ends before the next read holds the next line), so readers never
 * treat the line as a position; the hub keeps the highest line it has proven and passes it back as a floor.
 */
const SAFE_LINE_CTES = `locks as materialized (
     select locktype, transactionid, pid, classid, objid, objsubid, database, mode, granted from pg_locks
      where locktype in ('transactionid', 'advisory')),
   writers as (
     select pid from locks
      where locktype = 'advisory' and classid = ${EVENT_WRITER_LOCK.classId}::oid and objid = ${EVENT_WRITER_LOCK.objectId}::oid
        and objsubid = 2 and database = (select oid from pg_database where datname = current_database())),
   running_non_writers as (
     select transactionid from locks
      where locktype = 'transactionid' and mode = 'ExclusiveLock' and granted and pid is not null
        and pid not in (select pid from writers where pid is not null)),
   safe as (
     select coalesce(
       (select min(x) from pg_snapshot_xip(pg_current_snapshot()) as x
         where not exists (select 1 from running_non_writers n where n.transactionid = ((x::text::bigint % 4294967296)::text)::xid)),
       pg_snapshot_xmax(pg_current_snapshot())) as l)`;

export const SAFE_LINE = `(with ${SAFE_LINE_CTES} select l from safe)`;

export interface LogPosition {
  xid: string;
  id: string;
}

export interface LogRead {
  events: LoggedEvent[];
  /** The safe line of this read, at least the floor passed in: a proven bound to pass to the next read. */
  line: string;
  /** With `diagnose`: the statement's snapshot and the transactions it proved to be running non-writers. */
  snapshot?: string;
  nonWriters?: string;
}

/**
 * Events after a position, in cursor order, up to the safe line (or the floor, a line proven by an earlier
 * read, when that is higher). Cross-tenant on purpose: one tailer per process reads for all its
 * subscribers; each event is then authorised per subscriber.
 */
export async function readLog(
  em: EntityManager,
  after: LogPosition,
  limit: number,
  floor = '0',
  scope?: { organizationId: string; workspaceIds: string[] },
  diagnose = false,
): Promise<LogRead> {
  const params: unknown[] = [floor, after.xid, after.id];
  let where = `(e.xid, e.id) > (?::xid8, ?::bigint) and e.xid < line.l`;
  if (scope) {
    where += ` and e.organization_id = ? and e.workspace_id = any(?::uuid[])`;
    params.push(scope.organizationId, `{${scope.workspaceIds.join(',')}}`);
  }
  params.push(limit);
  const diagnostics = diagnose
    ? `, pg_current_snapshot()::text as snapshot, (select string_agg(transactionid::text, ',') from running_non_writers) as non_writers`
    : '';
  const rows = await em.getConnection().execute<Array<Partial<EventRow> & { line: string; snapshot?: string; non_writers?: string | null }>>(
    `with ${SAFE_LINE_CTES}, line as (select greatest((select l from safe), ?::xid8) as l)
     select line.l::text as line, e.id, e.xid::text as xid, e.organization_id, e.workspace_id, e.type, e.thread_id, e.payload, e.created_at${diagnostics}
       from line left join lateral (
         select * from events e where ${where} order by e.xid, e.id limit ?) e on true`,
    params,
  );
  const read: LogRead = { line: rows[0]?.line ?? floor, events: rows.filter((r) => r.id != null).map((r) => toLogged(r as EventRow)) };
  if (diagnose) {
    read.snapshot = rows[0]?.snapshot;
    read.nonWriters = rows[0]?.non_writers ?? '';
  }
  return read;
}

/** Events after a position up to the safe line (see readLog). */
export async function readAfter(em: EntityManager, after: LogPosition, limit: number, scope?: { organizationId: string; workspaceIds: string[] }) {
  return (await readLog(em, after, limit, '0', scope)).events;
}

/**
 * Events in (after, upTo], in cursor order, with no safe-line bound: `upTo` is a position the hub has already
 * delivered, so every event at or below it is committed (its transaction was below the safe line when the hub
 * read it). A new subscription replays exactly this range, then the events the hub delivers after `upTo`.
 */
export async function readRange(
  em: EntityManager,
  after: { xid: string; id: string },
  upTo: { xid: string; id: string },
  limit: number,
  scope: { organizationId: string; workspaceIds: string[] },
) {
  const rows = await em.getConnection().execute<EventRow[]>(
    `select id, xid::text as xid, organization_id, workspace_id, type, thread_id, payload, created_at from events
      where (xid, id) > (?::xid8, ?::bigint) and (xid, id) <= (?::xid8, ?::bigint)
        and organization_id = ? and workspace_id = any(?::uuid[])
      order by events.xid, events.id limit ?`,
    [after.xid, after.id, upTo.xid, upTo.id, scope.organizationId, `{${scope.workspaceIds.join(',')}}`, limit],
  );
  return rows.map(toLogged);
}

/** The newest safe position (where a fresh tailer starts). */
export async function safeHead(em: EntityManager, floor = '0'): Promise<LogPosition> {
  // Outside any transaction (it reads the line as of now): bound and prepared on a pool connection (sqlRead).
  const rows = await sqlRead<{ xid: string | null; id: string | null }>(
    em.getConnection(),
    `select xid::text as xid, id::text as id from events where xid < greatest(${SAFE_LINE}, ?::xid8) order by events.xid desc, events.id desc limit 1`,
    [floor],
  );
  return rows[0]?.xid ? { xid: rows[0].xid, id: rows[0].id! } : { xid: '0', id: '0' };
}

/**
 * Deletes events older than the retention window and remembers the newest deleted position: a client
 * resuming from before it has missed events and gets CURSOR_EXPIRED instead of a silent gap.
 */
export async function pruneEvents(em: EntityManager, retentionDays: number): Promise<number> {
  return em.transactional(async (tx) => {
    const trx = tx.getTransactionContext();
    const conn = tx.getConnection();
    const edge = await conn.execute<Array<{ xid: string; id: string }>>(
      `select xid::text as xid, id::text as id from events where created_at < now() - make_interval(days => ?) order by events.xid desc, events.id desc limit 1`,
      [retentionDays],
      'all',
      trx,
    );
    if (!edge[0]) return 0;
    const deleted = await conn.execute<Array<{ id: string }>>(
      `delete from events where (xid, id) <= (?::xid8, ?::bigint) returning id`,
      [edge[0].xid, edge[0].id],
      'all',
      trx,
    );
    await conn.execute(
      `insert into event_log_watermark (id, xid, event_id) values (1, ?::xid8, ?::bigint)
       on conflict (id) do update set xid = excluded.xid, event_id = excluded.event_id`,
      [edge[0].xid, edge[0].id],
      'run',
      trx,
    );
    return deleted.length;
  });
}
