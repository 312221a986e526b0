import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Principal } from '../identity';
import { uuidArray } from '../../db/tenant';
import { actorOf, audit } from '../identity';
import { Workspace } from '../identity';
import { AgentGroup } from '../identity';
import { User, UserStatus } from '../identity';
import { AssignmentEvent, Thread, ThreadStatus } from './thread.entity';
import { emitThreadEvent, EventType } from './events';
import { wakeDueThreads } from './snooze';
import { systemClock, type Clock } from '../../shared/clock';

export interface AssignTarget {
  userId?: string | null;
  groupId?: string | null;
}

/** Who works a thread: assign, unassign, transfer, take the next one, claim a campaign reply. */
export class AssignmentService {
  /**
   * Asked before a campaign reply is claimed, inside the claim's transaction: the campaigns module sets it
   * (services.ts) so that only a peer-to-peer campaign's texters claim its replies (the inbox cannot import it).
   */
  claimGuard: (tx: EntityManager, principal: Principal, thread: Thread) => Promise<void> = async () => undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  /** The assignee must be active and reach the thread's workspace with THREADS_READ; a group must live there. */
  private async checkTarget(em: EntityManager, thread: Thread, target: AssignTarget): Promise<{ user: User | null; group: AgentGroup | null }> {
    if (!target.userId && !target.groupId) throw badInput('Give a userId or a groupId', { field: 'userId' });
    let user: User | null = null;
    let group: AgentGroup | null = null;
    if (target.userId) {
      user = await em.findOne(User, { id: target.userId });
      if (!user) throw notFound('User');
      if (user.status !== UserStatus.ACTIVE) throw badInput('This user is not active', { field: 'userId' });
      const ws = await em.findOneOrFail(Workspace, { id: thread.workspaceId });
      const reach = await em.getConnection().execute<Array<{ n: string }>>(
        `select count(*) as n from memberships where organization_id = ? and user_id = ? and (workspace_id is null or workspace_id = any(?::uuid[]))`,
        [thread.organization.id, user.id, uuidArray([ws.id, ...ws.ancestorIds])],
        'all',
        em.getTransactionContext(),
      );
      if (!Number(reach[0]?.n)) throw badInput("This user is not a member of the thread's workspace", { field: 'userId' });
    }
    if (target.groupId) {
      group = await em.findOne(AgentGroup, { id: target.groupId, workspace: thread.workspaceId });
      if (!group) throw notFound('Agent group');
    }
    return { user, group };
  }

  private async record(em: EntityManager, principal: Principal, thread: Thread, kind: string, to: { user: User | null; group: AgentGroup | null }, reason?: string | null) {
    const from = { userId: thread.assigneeUserId, groupId: thread.assigneeGroupId };
    thread.assigneeUser = to.user ? em.getReference(User, to.user.id) as never : null;
    thread.assigneeGroup = to.group ? (em.getReference(AgentGroup, to.group.id) as never) : null;
    const event = em.create(AssignmentEvent, {
      organization: thread.organization,
      workspace: thread.workspace,
      thread,
      kind,
      actorId: principal.userId,
      fromUserId: from.userId,
      fromGroupId: from.groupId,
      toUserId: to.user?.id ?? null,
      toGroupId: to.group?.id ?? null,
      reason: reason?.slice(0, 1000) ?? null,
    });
    audit(em, actorOf(principal), {
      action: `thread.${kind}`,
      targetType: 'Thread',
      targetId: thread.id,
      workspaceId: thread.workspaceId,
      before: from,
      after: { userId: to.user?.id ?? null, groupId: to.group?.id ?? null, reason: reason ?? null },
    });
    await emitThreadEvent(em, EventType.ASSIGNMENT_CHANGED, thread, {
      assignment: { kind, actorId: principal.userId, fromUserId: from.userId, fromGroupId: from.groupId, toUserId: to.user?.id ?? null, toGroupId: to.group?.id ?? null, reason: reason ?? null },
    });
    return event;
  }

  async assign(em: EntityManager, principal: Principal, threadId: string, target: AssignTarget): Promise<Thread> {
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!thread) throw notFound('Thread');
      await this.record(tx, principal, thread, 'assign', await this.checkTarget(tx, thread, target));
      return thread;
    });
  }

  async unassign(em: EntityManager, principal: Principal, threadId: string): Promise<Thread> {
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!thread) throw notFound('Thread');
      if (thread.assigneeUserId || thread.assigneeGroupId) await this.record(tx, principal, thread, 'unassign', { user: null, group: null });
      return thread;
    });
  }

  /** Hands a thread to a colleague or a group, with a reason. */
  async transfer(em: EntityManager, principal: Principal, threadId: string, target: AssignTarget, reason: string | null): Promise<Thread> {
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!thread) throw notFound('Thread');
      const to = await this.checkTarget(tx, thread, target);
      if (to.user?.id === thread.assigneeUserId && (to.group?.id ?? null) === thread.assigneeGroupId) {
        throw badInput('The thread is already there', { field: 'userId' });
      }
      await this.record(tx, principal, thread, 'transfer', to, reason);
      return thread;
    });
  }

  /**
   * The oldest waiting unassigned thread of the caller's groups (or of no group), assigned to the caller.
   * FOR UPDATE SKIP LOCKED: concurrent agents each get a different thread, never the same one.
   */
  async takeNext(em: EntityManager, principal: Principal, workspaceId: string, groups: readonly string[]): Promise<Thread | null> {
    return em.transactional(async (tx) => {
      // A snooze that ran out puts its thread back in the queue now, not at the next sweep.
      await wakeDueThreads(tx, this.clock.now(), { organizationId: principal.organizationId, workspaceId });
      const rows = await tx.getConnection().execute<Array<{ id: string }>>(
        `select t.id from threads t
          where t.organization_id = ? and t.workspace_id = ? and t.assignee_user_id is null and t.status = 'OPEN'
            and t.archived = false and (t.assignee_group_id is null or t.assignee_group_id = any(?::uuid[]))
          order by t.last_inbound_at asc nulls last, t.id
          limit 1 for update skip locked`,
        [principal.organizationId, workspaceId, uuidArray(groups)],
        'all',
        tx.getTransactionContext(),
      );
      if (!rows.length) return null;
      const thread = await tx.findOneOrFail(Thread, { id: rows[0]!.id });
      const me = await tx.findOneOrFail(User, { id: principal.userId });
      await this.record(tx, principal, thread, 'take', { user: me, group: thread.assigneeGroup ? await tx.findOne(AgentGroup, { id: thread.assigneeGroupId! }) : null });
      return thread;
    });
  }

  /** A reply in a campaign thread, claimed by an agent who requests campaign work. */
  async claim(em: EntityManager, principal: Principal, threadId: string): Promise<Thread> {
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!thread) throw notFound('Thread');
      if (!thread.campaignId) throw badInput('Only campaign threads are claimed', { field: 'threadId' });
      if (thread.assigneeUserId === principal.userId) return thread;
      if (thread.assigneeUserId) throw new DomainError(ErrorCode.CONFLICT, 'Someone else already claimed this reply');
      if (thread.status === ThreadStatus.CLOSED) throw badInput('The thread is closed', { field: 'threadId' });
      await this.claimGuard(tx, principal, thread);
      const me = await tx.findOneOrFail(User, { id: principal.userId });
      await this.record(tx, principal, thread, 'claim', { user: me, group: null });
      return thread;
    });
  }

  async history(em: EntityManager, threadIds: readonly string[]): Promise<Map<string, AssignmentEvent[]>> {
    const rows = await em.find(AssignmentEvent, { thread: { $in: [...threadIds] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    const out = new Map<string, AssignmentEvent[]>();
    for (const e of rows) out.set(e.threadId, [...(out.get(e.threadId) ?? []), e]);
    return out;
  }
}
