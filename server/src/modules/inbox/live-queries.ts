import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidArray } from '../../db/tenant';

/**
 * The inbox state that live subscriptions read (realtime/badges.ts, realtime/dashboards.ts), so the SQL on
 * messages, threads, read_cursors and memberships stays in the module that owns those tables. Each function
 * runs in the caller's transaction when there is one (`em` may be a transactional fork).
 */

export interface UnreadThreadRow {
  threadId: string;
  unread: number;
  assigneeUserId: string | null;
  assigneeGroupId: string | null;
}

/**
 * A user's unread inbound messages per unarchived thread of a workspace, with each thread's assignee (the
 * caller applies thread-policy.ts: the rows are every thread's, not only the readable ones).
 */
export async function unreadThreadsOf(em: EntityManager, organizationId: string, userId: string, workspaceId: string): Promise<UnreadThreadRow[]> {
  const rows = await em.getConnection().execute<Array<{ thread_id: string; n: string; assignee_user_id: string | null; assignee_group_id: string | null }>>(
    `select m.thread_id, count(*) as n, t.assignee_user_id, t.assignee_group_id from messages m
       join threads t on t.organization_id = m.organization_id and t.id = m.thread_id
       left join read_cursors rc on rc.organization_id = m.organization_id and rc.thread_id = m.thread_id and rc.user_id = ?
      where m.organization_id = ? and t.workspace_id = ? and not t.archived and m.direction = 'INBOUND'
        and m.created_at > coalesce(rc.read_at, '-infinity')
      group by m.thread_id, t.assignee_user_id, t.assignee_group_id`,
    [userId, organizationId, workspaceId],
    'all',
    em.getTransactionContext(),
  );
  return rows.map((r) => ({ threadId: r.thread_id, unread: Number(r.n), assigneeUserId: r.assignee_user_id, assigneeGroupId: r.assignee_group_id }));
}

/** A user's availability (OFFLINE when the user is gone). */
export async function availabilityOf(em: EntityManager, organizationId: string, userId: string): Promise<string> {
  const [me] = await em
    .getConnection()
    .execute<Array<{ availability: string }>>('select availability from users where organization_id = ? and id = ?', [organizationId, userId], 'all', em.getTransactionContext());
  return me?.availability ?? 'OFFLINE';
}

export interface AgentWorkloadRow {
  userId: string;
  name: string;
  availability: string;
  openThreads: number;
  waitingThreads: number;
  medianFirstResponseSeconds: number | null;
}

/** Agents of a workspace (AGENT role reaching it), with their load and today's median first response. */
export async function agentWorkload(em: EntityManager, organizationId: string, workspaceId: string): Promise<AgentWorkloadRow[]> {
  const conn = em.getConnection();
  const ws = await conn.execute<Array<{ ancestor_ids: string[] | string }>>('select ancestor_ids from workspaces where organization_id = ? and id = ?', [organizationId, workspaceId]);
  const raw = ws[0]?.ancestor_ids ?? [];
  const ancestors = Array.isArray(raw) ? raw : String(raw).replace(/[{}]/g, '').split(',').filter(Boolean);
  const rows = await conn.execute<Array<{ id: string; name: string; availability: string; open: string; waiting: string; median: number | null }>>(
    `with agents as (
       select distinct u.id, u.name, u.availability from users u
         join memberships m on m.organization_id = u.organization_id and m.user_id = u.id
        where u.organization_id = ? and u.status = 'ACTIVE' and 'AGENT' = any(m.roles)
          and (m.workspace_id is null or m.workspace_id = any(?::uuid[])))
     select a.id, a.name, a.availability,
       (select count(*) from threads t where t.organization_id = ? and t.workspace_id = ? and t.assignee_user_id = a.id and t.status = 'OPEN' and not t.archived) as open,
       (select count(*) from threads t where t.organization_id = ? and t.workspace_id = ? and t.assignee_user_id = a.id and t.status = 'OPEN' and not t.archived and t.needs_response) as waiting,
       (select percentile_cont(0.5) within group (order by extract(epoch from t.first_response_at - t.created_at))
          from threads t where t.organization_id = ? and t.workspace_id = ? and t.assignee_user_id = a.id and t.first_response_at >= date_trunc('day', now())) as median
     from agents a order by a.name, a.id`,
    [organizationId, uuidArray([workspaceId, ...ancestors]), organizationId, workspaceId, organizationId, workspaceId, organizationId, workspaceId],
  );
  return rows.map((r) => ({
    userId: r.id,
    name: r.name,
    availability: r.availability,
    openThreads: Number(r.open),
    waitingThreads: Number(r.waiting),
    medianFirstResponseSeconds: r.median === null ? null : Math.round(Number(r.median)),
  }));
}
