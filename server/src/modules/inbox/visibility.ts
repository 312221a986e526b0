import type { Principal } from '../identity/principal';
import type { RequestContext } from '../../graphql/context';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Permission } from '../identity/permissions';
import { AgentGroupMember } from '../identity/team.entity';

export interface ThreadLike {
  workspaceId: string;
  assigneeUserId: string | null;
  assigneeGroupId: string | null;
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

/**
 * Who reads a thread: everyone with THREADS_READ_ALL in its workspace (supervisors, admins, stakeholders,
 * auditors, viewers); others with THREADS_READ (agents) only threads assigned to them or to one of their groups.
 */
export function mayReadThread(principal: Principal, thread: ThreadLike, groups: readonly string[]): boolean {
  const access = principal.access;
  if (access.can(Permission.THREADS_READ_ALL, thread.workspaceId)) return true;
  if (!access.can(Permission.THREADS_READ, thread.workspaceId)) return false;
  if (thread.assigneeUserId === principal.userId) return true;
  return thread.assigneeGroupId !== null && groups.includes(thread.assigneeGroupId);
}
