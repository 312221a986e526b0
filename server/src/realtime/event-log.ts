import type { EntityManager } from '@mikro-orm/postgresql';
import { encodeEventCursor, type LoggedEvent, type NewEvent } from './events';

/** Workspaces touched by a transaction's events, published as wake-ups once it commits. */
const pendingWakeups = new WeakMap<object, Set<string>>();

/**
 * Appends an event in the caller's transaction: the change and its event commit together or not at all.
 * `xid` is the appending transaction's id; readers deliver only below the oldest running transaction, so
 * an event never overtakes one that commits later with a smaller id (see STACK-NOTES: commit order).
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
 * The safe line: every transaction of this database below it has finished, every later one sorts after it.
 * It is the snapshot's xmin, except that transactions proven to run in another database of the cluster are
 * skipped: only this database's transactions write events, and a long write elsewhere (a restore, another
 * application, a test database being created) must not hold live delivery back. A running transaction we
 * cannot attribute (no pg_stat_activity row visible to us, a prepared transaction) still holds the line.
 */
const SAFE_LINE = `coalesce(
  (select min(x) from pg_snapshot_xip(pg_current_snapshot()) as x
    where not exists (select 1 from pg_stat_activity a
                       where a.backend_xid = ((x::text::bigint % 4294967296)::text)::xid
                         and a.datname is distinct from current_database())),
  pg_snapshot_xmax(pg_current_snapshot()))`;

/**
 * Events after a position, in cursor order, up to the safe line. Cross-tenant on purpose: one tailer per
 * process reads for all its subscribers; each event is then authorised per subscriber.
 */
export async function readAfter(em: EntityManager, after: { xid: string; id: string }, limit: number, scope?: { organizationId: string; workspaceIds: string[] }) {
  const params: unknown[] = [after.xid, after.id];
  let where = `(xid, id) > (?::xid8, ?::bigint) and xid < ${SAFE_LINE}`;
  if (scope) {
    where += ` and organization_id = ? and workspace_id = any(?::uuid[])`;
    params.push(scope.organizationId, `{${scope.workspaceIds.join(',')}}`);
  }
  params.push(limit);
  const rows = await em.getConnection().execute<EventRow[]>(
    `select id, xid::text as xid, organization_id, workspace_id, type, thread_id, payload, created_at from events where ${where} order by xid, id limit ?`,
    params,
  );
  return rows.map(toLogged);
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
      order by xid, id limit ?`,
    [after.xid, after.id, upTo.xid, upTo.id, scope.organizationId, `{${scope.workspaceIds.join(',')}}`, limit],
  );
  return rows.map(toLogged);
}

/** The newest safe position (where a fresh tailer starts). */
export async function safeHead(em: EntityManager): Promise<{ xid: string; id: string }> {
  const rows = await em.getConnection().execute<Array<{ xid: string | null; id: string | null }>>(
    `select xid::text as xid, id::text as id from events where xid < ${SAFE_LINE} order by xid desc, id desc limit 1`,
  );
  return rows[0]?.xid ? { xid: rows[0].xid, id: rows[0].id! } : { xid: '0', id: '0' };
}

/** The oldest event still kept (a cursor before it has lost events: CURSOR_EXPIRED). */
export async function oldestRetained(em: EntityManager): Promise<{ xid: string; id: string } | null> {
  const rows = await em.getConnection().execute<Array<{ xid: string; id: string }>>(`select xid::text as xid, id::text as id from events order by xid, id limit 1`);
  return rows[0] ?? null;
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
      `select xid::text as xid, id::text as id from events where created_at < now() - make_interval(days => ?) order by xid desc, id desc limit 1`,
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
