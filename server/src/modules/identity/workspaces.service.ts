import type { EntityManager } from '@mikro-orm/postgresql';
import { notFound } from '../../shared/errors';
import type { Principal } from './principal';
import { actorOf, audit } from './audit';
import { checkName } from '../../shared/input';
import { Organization, Workspace } from './organization.entity';

/** The workspace tree (subaccounts, locations, groups). */
export class WorkspaceService {
  async create(em: EntityManager, principal: Principal, input: { name: string; parentId?: string | null }): Promise<Workspace> {
    const name = checkName(input.name);
    return em.transactional(async (tx) => {
      const parent = input.parentId ? await tx.findOne(Workspace, { id: input.parentId }) : null;
      if (input.parentId && !parent) throw notFound('Parent workspace');
      const workspace = tx.create(Workspace, {
        organization: tx.getReference(Organization, principal.organizationId),
        name,
        parent,
        ancestorIds: parent ? [...parent.ancestorIds, parent.id] : [],
      });
      audit(tx, actorOf(principal), { action: 'workspace.create', targetType: 'Workspace', targetId: workspace.id, workspaceId: workspace.id, after: { name, parentId: parent?.id ?? null } });
      return workspace;
    });
  }

  async rename(em: EntityManager, principal: Principal, id: string, newName: string): Promise<Workspace> {
    const name = checkName(newName);
    return em.transactional(async (tx) => {
      const ws = await tx.findOne(Workspace, { id });
      if (!ws) throw notFound('Workspace');
      const before = ws.name;
      ws.name = name;
      audit(tx, actorOf(principal), { action: 'workspace.rename', targetType: 'Workspace', targetId: id, workspaceId: id, before: { name: before }, after: { name } });
      return ws;
    });
  }

  /** Renames the caller's organization (ORGANIZATION_SETTINGS_MANAGE), audited at the organization level. */
  async renameOrganization(em: EntityManager, principal: Principal, newName: string): Promise<Organization> {
    const name = checkName(newName);
    return em.transactional(async (tx) => {
      const org = await tx.findOneOrFail(Organization, { id: principal.organizationId });
      const before = org.name;
      org.name = name;
      audit(tx, actorOf(principal), { action: 'organization.rename', targetType: 'Organization', targetId: org.id, workspaceId: null, before: { name: before }, after: { name } });
      return org;
    });
  }

  /** The workspaces the caller reaches, root first. */
  async reachable(em: EntityManager, principal: Principal): Promise<Workspace[]> {
    const ids = principal.access.reachableWorkspaces();
    if (!ids.length) return [];
    const all = await em.find(Workspace, { id: { $in: ids } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    return all.sort((a, b) => a.ancestorIds.length - b.ancestorIds.length);
  }
}
