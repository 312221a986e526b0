import type { EntityManager } from '@mikro-orm/postgresql';
import { Access, type Grant } from './access';
import { permissionsOf, type Permission } from './permissions';

export interface MembershipRow {
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
  return accessFromRows(organizationId, tree, memberships, apiKey);
}

/**
 * The same two reads as loadAccess, as two json columns of the caller's own statement (`organization` and
 * `user` are its SQL expressions): authentication reads the credential and the access it grants in one round
 * trip. Gives `tree` (json array of [id, ancestor_ids]) and `memberships` (json array of MembershipRow).
 */
export function accessColumns(organization: string, user: string): string {
  return `(select coalesce(json_agg(json_build_array(w.id, w.ancestor_ids)), '[]'::json) from workspaces w where w.organization_id = ${organization}) as tree,
          (select coalesce(json_agg(json_build_object(
                    'workspace_id', m.workspace_id, 'roles', m.roles::text[], 'add_ons', m.add_ons::text[],
                    'custom_permissions', (select array_agg(distinct p)::text[] from custom_roles cr, unnest(cr.permissions::text[]) p
                                            where cr.organization_id = m.organization_id and cr.id = any(m.custom_role_ids)))), '[]'::json)
             from memberships m where m.organization_id = ${organization} and m.user_id = ${user}) as memberships`;
}

/** An Access from the rows loadAccess reads (or accessColumns gives, the tree as [id, ancestor_ids] pairs). */
export function accessFromRows(
  organizationId: string,
  tree: ReadonlyArray<{ id: string; ancestor_ids: string[] | null } | [string, string[] | null]>,
  memberships: readonly MembershipRow[],
  apiKey?: { workspaceId: string; permissions: readonly Permission[] },
): Access {
  const ancestors = new Map<string, string[]>();
  // Nearest ancestor first, as Access expects.
  for (const w of tree) {
    const [id, ancestorIds] = Array.isArray(w) ? w : [w.id, w.ancestor_ids];
    ancestors.set(id, [...(ancestorIds ?? [])].reverse());
  }
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
