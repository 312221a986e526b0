import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Principal } from './principal';
import { uuidArray } from '../../db/tenant';
import { actorOf, audit } from './audit';
import { checkName } from '../../shared/input';
import { Organization, Workspace } from './organization.entity';
import { AgentGroup, AgentGroupMember } from './team.entity';
import { User, UserStatus } from './user.entity';
import { AccessChangeKind, recordAccessChange } from '../../realtime';

/** Teams inside a workspace; threads can be assigned to them and agents take work from their queues. */
export class AgentGroupService {
  async create(em: EntityManager, principal: Principal, input: { workspaceId: string; name: string }): Promise<AgentGroup> {
    const name = checkName(input.name, 'name', 100);
    return em.transactional(async (tx) => {
      const workspace = await tx.findOne(Workspace, { id: input.workspaceId });
      if (!workspace) throw notFound('Workspace');
      await this.assertNameFree(tx, input.workspaceId, name);
      const group = tx.create(AgentGroup, { organization: tx.getReference(Organization, principal.organizationId), workspace, name });
      audit(tx, actorOf(principal), { action: 'agentGroup.create', targetType: 'AgentGroup', targetId: group.id, workspaceId: input.workspaceId, after: { name } });
      return group;
    });
  }

  private async assertNameFree(em: EntityManager, workspaceId: string, name: string, exceptId?: string): Promise<void> {
    const clash = await em.findOne(AgentGroup, { workspace: workspaceId, name, ...(exceptId ? { id: { $ne: exceptId } } : {}) });
    if (clash) throw new DomainError(ErrorCode.CONFLICT, 'An agent group with this name already exists here', { field: 'name' });
  }

  async rename(em: EntityManager, principal: Principal, id: string, newName: string): Promise<AgentGroup> {
    const name = checkName(newName, 'name', 100);
    return em.transactional(async (tx) => {
      const group = await tx.findOne(AgentGroup, { id });
      if (!group) throw notFound('Agent group');
      await this.assertNameFree(tx, group.workspaceId, name, id);
      const before = group.name;
      group.name = name;
      audit(tx, actorOf(principal), { action: 'agentGroup.rename', targetType: 'AgentGroup', targetId: id, workspaceId: group.workspaceId, before: { name: before }, after: { name } });
      return group;
    });
  }

  async delete(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const group = await tx.findOne(AgentGroup, { id });
      if (!group) throw notFound('Agent group');
      // Its members stop seeing the group's threads (their sockets reload their groups).
      const members = await tx.find(AgentGroupMember, { group: id });
      for (const m of members) await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.AGENT_GROUP, userId: m.user.id });
      await tx.nativeDelete(AgentGroupMember, { group: id });
      audit(tx, actorOf(principal), { action: 'agentGroup.delete', targetType: 'AgentGroup', targetId: id, workspaceId: group.workspaceId, before: { name: group.name } });
      tx.remove(group);
      return true;
    });
  }

  async addMember(em: EntityManager, principal: Principal, groupId: string, userId: string): Promise<AgentGroup> {
    return em.transactional(async (tx) => {
      const group = await tx.findOne(AgentGroup, { id: groupId });
      if (!group) throw notFound('Agent group');
      const user = await tx.findOne(User, { id: userId });
      if (!user) throw notFound('User');
      if (user.status === UserStatus.DEACTIVATED) throw badInput('This user is deactivated', { field: 'userId' });
      // Members must reach the group's workspace (a membership on it, an ancestor, or the organization).
      const ws = await tx.findOneOrFail(Workspace, { id: group.workspaceId });
      const reach = await tx.getConnection().execute<{ n: string }[]>(
        `select count(*) as n from memberships where organization_id = ? and user_id = ?
           and (workspace_id is null or workspace_id = any(?::uuid[]))`,
        [principal.organizationId, userId, uuidArray([ws.id, ...ws.ancestorIds])],
        'all',
        tx.getTransactionContext(),
      );
      if (Number(reach[0]?.n ?? 0) === 0) throw badInput('This user is not a member of the group\'s workspace', { field: 'userId' });
      const exists = await tx.findOne(AgentGroupMember, { group, user });
      if (!exists) {
        tx.create(AgentGroupMember, { organization: group.organization, group, user });
        audit(tx, actorOf(principal), { action: 'agentGroup.addMember', targetType: 'AgentGroup', targetId: groupId, workspaceId: group.workspaceId, after: { userId } });
        await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.AGENT_GROUP, userId });
      }
      return group;
    });
  }

  async removeMember(em: EntityManager, principal: Principal, groupId: string, userId: string): Promise<AgentGroup> {
    return em.transactional(async (tx) => {
      const group = await tx.findOne(AgentGroup, { id: groupId });
      if (!group) throw notFound('Agent group');
      const removed = await tx.nativeDelete(AgentGroupMember, { group: groupId, user: userId });
      if (removed) {
        audit(tx, actorOf(principal), { action: 'agentGroup.removeMember', targetType: 'AgentGroup', targetId: groupId, workspaceId: group.workspaceId, before: { userId } });
        await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.AGENT_GROUP, userId });
      }
      return group;
    });
  }

  async list(em: EntityManager, workspaceId: string): Promise<AgentGroup[]> {
    return em.find(AgentGroup, { workspace: workspaceId }, { orderBy: { name: 'asc', id: 'asc' } });
  }

  /** Member ids of many groups in one query (the members field's DataLoader). */
  async memberIdsOf(em: EntityManager, groupIds: readonly string[]): Promise<Map<string, string[]>> {
    const rows = await em.find(AgentGroupMember, { group: { $in: [...groupIds] } });
    const out = new Map<string, string[]>(groupIds.map((id) => [id, []]));
    for (const r of rows) out.get(r.group.id)?.push(r.user.id);
    return out;
  }
}
