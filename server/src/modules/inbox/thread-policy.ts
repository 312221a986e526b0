import type { EntityManager } from '@mikro-orm/postgresql';
import type { RequestContext } from '../../graphql/context';
import { uuidArray } from '../../db/tenant';
import { DomainError, ErrorCode } from '../../shared/errors';
import { AgentGroupMember, Permission, type Principal } from '../identity';
import { EventType, type LoggedEvent } from '../../realtime';

/**
 * Who reads which thread, written once. Everything that shows threads asks here: the object scope of a
 * thread id (scopes.ts), thread lists and unread counts in SQL (threads.service.ts), live events and badges
 * (realtime/subscriptions.resolver.ts, realtime/badges.ts), and who a started thread is assigned to.
 */

export interface ThreadLike {
  workspaceId: string;
  assigneeUserId: string | null;
  assigneeGroupId: string | null;
}

/**
 * The rule: everyone with THREADS_READ_ALL in a workspace (supervisors, admins, stakeholders, auditors,
 * viewers) reads every thread there; others with THREADS_READ (agents) only threads assigned to them or to one
 * of their agent groups; anyone else none.
 */
export type ThreadReach = 'every' | 'assigned' | 'none';

export function threadReach(principal: Principal, workspaceId: string): ThreadReach {
  if (principal.access.can(Permission.THREADS_READ_ALL, workspaceId)) return 'every';
  if (principal.access.can(Permission.THREADS_READ, workspaceId)) return 'assigned';
  return 'none';
}

/** Reads some threads of the workspace (at least those assigned to them). */
export function mayReadThreadsIn(principal: Principal, workspaceId: string): boolean {
  return principal.access.can(Permission.THREADS_READ, workspaceId);
}

/** Reads every thread of the workspace, whatever its assignee (so their agent groups do not matter). */
export function readsEveryThread(principal: Principal, workspaceId: string): boolean {
  return threadReach(principal, workspaceId) === 'every';
}

/**
 * Who may hold a live stream of a workspace's threads, for a LiveSubscription: those who read some threads
 * there; their agent groups matter unless they read every thread.
 */
export function threadStreamAccess(workspaceId: string): { allowed: (p: Principal) => boolean; groupsMatter: (p: Principal) => boolean } {
  return { allowed: (p) => mayReadThreadsIn(p, workspaceId), groupsMatter: (p) => !readsEveryThread(p, workspaceId) };
}

export function mayReadThread(principal: Principal, thread: ThreadLike, groups: readonly string[]): boolean {
  const reach = threadReach(principal, thread.workspaceId);
  switch (reach) {
    case 'every':
      return true;
    case 'none':
      return false;
    case 'assigned':
      return isAssignedTo(principal, thread.assigneeUserId, thread.assigneeGroupId, groups);
  }
}

/**
 * The same rule as an SQL condition on a threads row (`alias`), for the threads of one workspace; null when it
 * does not narrow (the caller reads every thread). Parameters are positional (`?`), in order.
 */
export function threadReadableSql(principal: Principal, workspaceId: string, groups: readonly string[], alias = 't'): { sql: string; params: unknown[] } | null {
  const reach = threadReach(principal, workspaceId);
  switch (reach) {
    case 'every':
      return null;
    case 'none':
      return { sql: 'false', params: [] };
    case 'assigned':
      return { sql: `(${alias}.assignee_user_id = ? or ${alias}.assignee_group_id = any(?::uuid[]))`, params: [principal.userId, uuidArray(groups)] };
  }
}

function isAssignedTo(principal: Principal, userId: string | null, groupId: string | null, groups: readonly string[]): boolean {
  return userId === principal.userId || (groupId !== null && groups.includes(groupId));
}

/**
 * May this subscriber see this event of a thread? From the thread's state after the event; notes need
 * NOTES_READ; both sides of a transfer see it (the previous assignee learns the thread left them).
 */
export function maySeeThreadEvent(principal: Principal, event: LoggedEvent, groups: readonly string[]): boolean {
  const t = event.payload.thread;
  if (!t) return false;
  if (event.type === EventType.NOTE_ADDED && !principal.access.can(Permission.NOTES_READ, event.workspaceId)) return false;
  const a = event.payload.assignment;
  if (a && isAssignedTo(principal, a.fromUserId, a.fromGroupId, groups) && mayReadThreadsIn(principal, event.workspaceId)) return true;
  return mayReadThread(principal, { workspaceId: event.workspaceId, assigneeUserId: t.assigneeUserId, assigneeGroupId: t.assigneeGroupId }, groups);
}

/** Assignment changes: every one for those who assign (THREADS_ASSIGN); for others, those they are on either side of. */
export function maySeeAssignmentChange(principal: Principal, event: LoggedEvent, groups: readonly string[]): boolean {
  const a = event.payload.assignment;
  if (event.type !== EventType.ASSIGNMENT_CHANGED || !a) return false;
  if (principal.access.can(Permission.THREADS_ASSIGN, event.workspaceId)) return true;
  return isAssignedTo(principal, a.fromUserId, a.fromGroupId, groups) || isAssignedTo(principal, a.toUserId, a.toGroupId, groups);
}

/** Matching bodies tells what they say: searching needs the right to read them, not only THREADS_SEARCH. */
export function maySearchThreadsIn(principal: Principal, workspaceId: string): boolean {
  return principal.access.canAll([Permission.THREADS_SEARCH, Permission.MESSAGES_READ_BODY], workspaceId);
}

export function assertMaySearchThreadsIn(principal: Principal, workspaceId: string): void {
  if (!maySearchThreadsIn(principal, workspaceId)) {
    throw new DomainError(ErrorCode.FORBIDDEN, 'Searching conversations needs THREADS_SEARCH and MESSAGES_READ_BODY', { field: 'filter.search' });
  }
}

/** The agent groups the caller belongs to, loaded once per request. */
export async function groupsOf(ctx: RequestContext): Promise<string[]> {
  const key = 'inbox:myGroups';
  let groups = ctx.memo.get(key) as Promise<string[]> | undefined;
  if (!groups) {
    groups = loadGroups(ctx.em, ctx.principal!.userId);
    ctx.memo.set(key, groups);
  }
  return groups;
}

export async function loadGroups(em: EntityManager, userId: string): Promise<string[]> {
  const rows = await em.find(AgentGroupMember, { user: userId });
  return rows.map((r) => r.group.id);
}
