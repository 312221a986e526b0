import { GraphQLError } from 'graphql';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../graphql/errors';
import { TENANT_FILTER } from '../db/tenant';
import { Permission } from '../modules/identity/permissions';
import { loadGroups, mayReadThread } from '../modules/inbox/visibility';
import { EventType } from './events';
import { safeHead } from './event-log';
import { compareCursor } from './events';
import type { LiveSubscriber } from './hub';
import type { LiveDeps } from './live';
import { PushQueue } from './queue';

export interface UnreadBadge {
  workspaceId: string;
  threads: number;
  messages: number;
}

/**
 * The subscriber's unread badge for a workspace: counted once at subscription, then kept in memory from the
 * events (an inbound message adds one, the subscriber reading a thread clears it, losing sight of a thread
 * drops it). Sent while the subscriber is not OFFLINE, or always with UNREAD_BADGES_WHEN_OFFLINE.
 */
export async function openBadges(ctx: RequestContext, deps: LiveDeps, workspaceId: string): Promise<AsyncIterableIterator<UnreadBadge>> {
  let principal = ctx.principal!;
  const em = deps.orm.em.fork({ clear: true, useContext: false });
  em.setFilterParams(TENANT_FILTER, { organizationId: principal.organizationId });
  let groups = await loadGroups(em, principal.userId);
  let last = await safeHead(em);
  const conn = em.getConnection();
  const [me] = await conn.execute<Array<{ availability: string }>>('select availability from users where organization_id = ? and id = ?', [principal.organizationId, principal.userId]);
  let availability = me?.availability ?? 'OFFLINE';
  const rows = await conn.execute<Array<{ thread_id: string; n: string; assignee_user_id: string | null; assignee_group_id: string | null }>>(
    `select m.thread_id, count(*) as n, t.assignee_user_id, t.assignee_group_id from messages m
       join threads t on t.organization_id = m.organization_id and t.id = m.thread_id
       left join read_cursors rc on rc.organization_id = m.organization_id and rc.thread_id = m.thread_id and rc.user_id = ?
      where m.organization_id = ? and t.workspace_id = ? and not t.archived and m.direction = 'INBOUND'
        and m.created_at > coalesce(rc.read_at, '-infinity')
      group by m.thread_id, t.assignee_user_id, t.assignee_group_id`,
    [principal.userId, principal.organizationId, workspaceId],
  );
  const counts = new Map<string, number>();
  for (const r of rows) {
    if (mayReadThread(principal, { workspaceId, assigneeUserId: r.assignee_user_id, assigneeGroupId: r.assignee_group_id }, groups)) counts.set(r.thread_id, Number(r.n));
  }

  const badge = (): UnreadBadge => ({ workspaceId, threads: counts.size, messages: [...counts.values()].reduce((a, b) => a + b, 0) });
  const mayReceive = () => availability !== 'OFFLINE' || principal.access.can(Permission.UNREAD_BADGES_WHEN_OFFLINE, workspaceId);
  const queue = new PushQueue<UnreadBadge>(() => {
    deps.hub.unregister(sub);
    deps.metrics?.activeSubscriptions.dec();
  });
  const publish = () => {
    if (mayReceive()) queue.push(badge());
  };

  const sub: LiveSubscriber = {
    organizationId: principal.organizationId,
    userId: principal.userId,
    workspaceIds: new Set([workspaceId]),
    deliver: (event) => {
      if (compareCursor(event, last) <= 0) return;
      last = { xid: event.xid, id: event.id };
      const t = event.payload.thread;
      let changed = false;
      if (event.type === EventType.AVAILABILITY_CHANGED && event.payload.availability?.userId === principal.userId) {
        availability = event.payload.availability.availability;
        changed = true;
      } else if (event.type === EventType.THREAD_READ && event.payload.read?.userId === principal.userId && event.threadId) {
        changed = counts.delete(event.threadId);
      } else if (t && event.threadId) {
        const visible = !t.archived && mayReadThread(principal, { workspaceId, assigneeUserId: t.assigneeUserId, assigneeGroupId: t.assigneeGroupId }, groups);
        if (!visible) changed = counts.delete(event.threadId);
        else if ((event.type === EventType.MESSAGE_ADDED || event.type === EventType.THREAD_CREATED) && event.payload.message?.direction === 'INBOUND') {
          counts.set(event.threadId, (counts.get(event.threadId) ?? 0) + 1);
          changed = true;
        }
      }
      if (changed) publish();
    },
    accessChanged: () => {
      const fork = deps.orm.em.fork({ clear: true, useContext: false });
      void (async () => {
        const fresh = ctx.credential ? await deps.services.authentication.authenticate(fork, ctx.credential) : null;
        if (!fresh || !fresh.access.can(Permission.THREADS_READ, workspaceId)) {
          queue.fail(new GraphQLError('Your access changed: this subscription has ended', { extensions: { code: ErrorCode.FORBIDDEN } }));
          return;
        }
        principal = fresh;
        ctx.principal = fresh;
        groups = await loadGroups(fork, fresh.userId);
      })().catch(() => undefined);
    },
  };
  deps.hub.register(sub);
  deps.metrics?.activeSubscriptions.inc();
  queue.push(badge());
  return queue;
}
