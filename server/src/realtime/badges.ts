import { IsolationLevel } from '@mikro-orm/core';
import type { RequestContext } from '../graphql/context';
import { Permission } from '../modules/identity';
import { availabilityOf, mayReadThread, threadStreamAccess, unreadThreadsOf } from '../modules/inbox';
import { EventType } from './events';
import { LiveSubscription, type LiveDeps } from './live-subscription';
import { seenBySnapshot } from './snapshot';

export interface UnreadBadge {
  workspaceId: string;
  threads: number;
  messages: number;
}

/**
 * The subscriber's unread badge for a workspace: counted once at subscription, then kept in memory from the
 * events (an inbound message adds one, the subscriber reading a thread clears it, losing sight of a thread
 * drops it). Sent while the subscriber is not OFFLINE, or always with UNREAD_BADGES_WHEN_OFFLINE.
 *
 * The count is taken after registering with the hub, in one repeatable-read snapshot; of the events the hub
 * delivers afterwards, exactly those whose transaction that snapshot already saw are skipped.
 */
export async function openBadges(ctx: RequestContext, deps: LiveDeps, workspaceId: string): Promise<AsyncIterableIterator<UnreadBadge>> {
  const counts = new Map<string, number>();
  /** Each counted thread's assignee, to drop the threads a narrowed principal no longer sees. */
  const assignees = new Map<string, { assigneeUserId: string | null; assigneeGroupId: string | null }>();
  let availability = 'OFFLINE';
  const badge = (): UnreadBadge => ({ workspaceId, threads: counts.size, messages: [...counts.values()].reduce((a, b) => a + b, 0) });
  const mayReceive = () => availability !== 'OFFLINE' || sub.principal.access.can(Permission.UNREAD_BADGES_WHEN_OFFLINE, workspaceId);
  const publish = () => {
    if (mayReceive()) sub.push(badge());
  };

  const sub: LiveSubscription<UnreadBadge> = new LiveSubscription<UnreadBadge>(ctx, deps, {
    name: 'unreadCounts',
    workspaceIds: [workspaceId],
    // Readers of every thread count the same whatever their groups.
    ...threadStreamAccess(workspaceId),
    onEvent: (event) => {
      const principal = sub.principal;
      const t = event.payload.thread;
      let changed = false;
      if (event.type === EventType.AVAILABILITY_CHANGED && event.payload.availability?.userId === principal.userId) {
        availability = event.payload.availability.availability;
        changed = true;
      } else if (event.type === EventType.THREAD_READ && event.payload.read?.userId === principal.userId && event.threadId) {
        changed = counts.delete(event.threadId);
      } else if (t && event.threadId) {
        const visible = !t.archived && mayReadThread(principal, { workspaceId, assigneeUserId: t.assigneeUserId, assigneeGroupId: t.assigneeGroupId }, sub.groups);
        if (!visible) {
          changed = counts.delete(event.threadId);
        } else {
          assignees.set(event.threadId, { assigneeUserId: t.assigneeUserId, assigneeGroupId: t.assigneeGroupId });
          if ((event.type === EventType.MESSAGE_ADDED || event.type === EventType.THREAD_CREATED) && event.payload.message?.direction === 'INBOUND') {
            counts.set(event.threadId, (counts.get(event.threadId) ?? 0) + 1);
            changed = true;
          }
        }
      }
      if (changed) publish();
    },
    onReauthorized: () => {
      let changed = false;
      for (const threadId of [...counts.keys()]) {
        const a = assignees.get(threadId);
        if (!a || !mayReadThread(sub.principal, { workspaceId, ...a }, sub.groups)) changed = counts.delete(threadId) || changed;
      }
      if (changed) publish();
    },
  });

  return sub.open(async (_head, fork) => {
    const principal = sub.principal;
    const snapshot = await fork().transactional(
      async (tx) => {
        // The first statement fixes the transaction's snapshot; the counts below read exactly it.
        const [snap] = await tx.getConnection().execute<Array<{ snapshot: string }>>('select pg_current_snapshot()::text as snapshot', [], 'all', tx.getTransactionContext());
        availability = await availabilityOf(tx, principal.organizationId, principal.userId);
        for (const r of await unreadThreadsOf(tx, principal.organizationId, principal.userId, workspaceId)) {
          const assignee = { assigneeUserId: r.assigneeUserId, assigneeGroupId: r.assigneeGroupId };
          if (mayReadThread(principal, { workspaceId, ...assignee }, sub.groups)) {
            counts.set(r.threadId, r.unread);
            assignees.set(r.threadId, assignee);
          }
        }
        return snap!.snapshot;
      },
      { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
    );
    sub.push(badge());
    return seenBySnapshot(snapshot);
  });
}
