import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Principal } from './principal';
import { actorOf, audit } from './audit';
import { checkName } from '../../shared/input';
import { Organization } from './organization.entity';
import { ORGANIZATION_PERMISSIONS, Permission } from './permissions';
import { CustomRole, Membership } from './user.entity';
import { AccessChangeKind, recordAccessChange } from '../../realtime';

/**
 * An organization's own named permission sets. Defining one needs CUSTOM_ROLES_MANAGE (owners); granting it is
 * an ordinary grant (the granter must hold every permission in it where it grants it).
 */
export class CustomRoleService {
  private check(permissions: Permission[]): Permission[] {
    const unique = [...new Set(permissions)];
    if (!unique.length) throw badInput('A custom role needs at least one permission', { field: 'permissions' });
    const orgOnly = unique.filter((p) => ORGANIZATION_PERMISSIONS.has(p) || p === Permission.OWNERS_MANAGE);
    if (orgOnly.length) throw badInput('Custom roles carry workspace permissions only', { field: 'permissions', invalid: orgOnly });
    return unique;
  }

  async create(em: EntityManager, principal: Principal, input: { name: string; permissions: Permission[] }): Promise<CustomRole> {
    const name = checkName(input.name, 'name', 100);
    const permissions = this.check(input.permissions);
    return em.transactional(async (tx) => {
      if (await tx.findOne(CustomRole, { name })) throw new DomainError(ErrorCode.CONFLICT, 'A custom role with this name exists', { field: 'name' });
      const role = tx.create(CustomRole, { organization: tx.getReference(Organization, principal.organizationId), name, permissions });
      audit(tx, actorOf(principal), { action: 'customRole.create', targetType: 'CustomRole', targetId: role.id, after: { name, permissions } });
      return role;
    });
  }

  async update(em: EntityManager, principal: Principal, id: string, input: { name?: string | null; permissions?: Permission[] | null }): Promise<CustomRole> {
    return em.transactional(async (tx) => {
      const role = await tx.findOne(CustomRole, { id });
      if (!role) throw notFound('Custom role');
      const before = { name: role.name, permissions: role.permissions };
      if (input.name != null) role.name = checkName(input.name, 'name', 100);
      if (input.permissions != null) role.permissions = this.check(input.permissions);
      audit(tx, actorOf(principal), { action: 'customRole.update', targetType: 'CustomRole', targetId: id, before, after: { name: role.name, permissions: role.permissions } });
      // Whoever holds it (and their API keys): every socket of the organization re-checks.
      await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.CUSTOM_ROLE });
      return role;
    });
  }

  async delete(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const role = await tx.findOne(CustomRole, { id });
      if (!role) throw notFound('Custom role');
      const holders = await tx.count(Membership, { customRoleIds: { $contains: [id] } });
      if (holders) throw new DomainError(ErrorCode.CONFLICT, `${holders} membership(s) still hold this role; remove it from them first`);
      audit(tx, actorOf(principal), { action: 'customRole.delete', targetType: 'CustomRole', targetId: id, before: { name: role.name, permissions: role.permissions } });
      tx.remove(role);
      await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.CUSTOM_ROLE });
      return true;
    });
  }

  async list(em: EntityManager): Promise<CustomRole[]> {
    return em.find(CustomRole, {}, { orderBy: { name: 'asc' } });
  }
}
