import type { EntityManager } from '@mikro-orm/postgresql';
import { Access, type Grant } from './access';
import { permissionsOf, type Permission } from './permissions';

interface MembershipRow {
  workspace_id: string | null;
  roles: string[];
  add_ons: string[];
  custom_permissions: string[] | null;
}

/**
 * Builds a principal's Access from the database: two queries (the organization's workspace tree, and the
 * user's memberships with their custom roles' permissions). Called once per HTTP request and once per
 * socket (refreshed when memberships change), never per field or per event.
 */
export async function loadAccess(
  em: EntityManager,
  organizationId: string,
  userId: string,
  apiKey?: { workspaceId: string; permissions: readonly Permission[] },
): Promise<Access> {
  const conn = em.getConnection();
  const [tree, memberships] = await Promise.all([
    conn.execute<{ id: string; ancestor_ids: string[] }[]>(
      'select id, ancestor_ids from workspaces where organization_id = ?',
      [organizationId],
    ),
    conn.execute<MembershipRow[]>(
      `select m.workspace_id, m.roles::text[] as roles, m.add_ons::text[] as add_ons,
              (select array_agg(distinct p)::text[] from custom_roles cr, unnest(cr.permissions::text[]) p
                where cr.organization_id = m.organization_id and cr.id = any(m.custom_role_ids)) as custom_permissions
         from memberships m
        where m.organization_id = ? and m.user_id = ?`,
      [organizationId, userId],
    ),
  ]);
  const ancestors = new Map<string, string[]>();
  // Nearest ancestor first, as Access expects.
  for (const w of tree) ancestors.set(w.id, [...(w.ancestor_ids ?? [])].reverse());
  const grants: Grant[] = memberships.map((m) => ({
    workspaceId: m.workspace_id,
    permissions: permissionsOf(m.roles as never[], m.add_ons as never[], (m.custom_permissions ?? []) as Permission[]),
  }));
  if (!apiKey) return new Access(organizationId, grants, ancestors);
  // An API key holds its own permissions on its workspace, never more than its creator holds there today.
  const creator = new Access(organizationId, grants, ancestors);
  const allowed = apiKey.permissions.filter((p) => creator.can(p, apiKey.workspaceId));
  return new Access(organizationId, [{ workspaceId: apiKey.workspaceId, permissions: new Set(allowed) }], ancestors);
}
