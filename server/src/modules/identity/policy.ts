import type { Access } from './access';
import type { Principal } from './principal';
import { ADD_ONS, Permission, ROLE_PRESETS, Role, permissionsOf, type AddOn } from './permissions';
import { badInput, DomainError, ErrorCode, forbidden } from '../../shared/errors';

/**
 * The team rules, each a sentence. Services call these after loading the objects involved; the @auth
 * directive has already checked the caller's permission where the object lives.
 */

/** Where a grant sits: a workspace (reaching everything below it) or the organization (null). */
export type Level = string | null;

export interface GrantSpec {
  roles: readonly Role[];
  addOns: readonly AddOn[];
  /** Permissions of the custom roles in the grant. */
  customPermissions?: readonly Permission[];
}

function heldAt(access: Access, level: Level): ReadonlySet<Permission> {
  return level === null ? access.organizationWide : access.permissionsIn(level);
}

export function grantedBy(spec: GrantSpec): Set<Permission> {
  return permissionsOf(spec.roles, spec.addOns, spec.customPermissions ?? []);
}

/** Only owners make, unmake or touch owners. */
export function touchesOwners(...specs: Array<GrantSpec | null | undefined>): boolean {
  return specs.some((s) => s?.roles.includes(Role.OWNER));
}

/** A grant is well-formed: OWNER is organization-wide, and organization permissions only exist there. */
export function assertGrantShape(level: Level, spec: GrantSpec): void {
  if (spec.roles.includes(Role.OWNER) && level !== null) {
    throw badInput('OWNER is an organization-wide role: grant it without a workspace', { field: 'roles' });
  }
  for (const r of spec.roles) if (!ROLE_PRESETS[r]) throw badInput(`Unknown role ${r}`, { field: 'roles' });
  for (const a of spec.addOns) if (!ADD_ONS[a]) throw badInput(`Unknown add-on ${a}`, { field: 'addOns' });
}

/**
 * An actor may give a grant at a level when it holds `permission` (USERS_INVITE or USERS_MANAGE) there,
 * holds OWNERS_MANAGE if the grant involves OWNER, and never gives a permission it lacks at that level.
 */
export function assertMayGrant(access: Access, permission: Permission, level: Level, spec: GrantSpec): void {
  assertGrantShape(level, spec);
  const held = heldAt(access, level);
  if (!held.has(permission)) throw forbidden();
  if (touchesOwners(spec) && !access.canInOrganization(Permission.OWNERS_MANAGE)) {
    throw forbidden('Only owners can grant the OWNER role');
  }
  const missing = [...grantedBy(spec)].filter((p) => !held.has(p));
  if (missing.length) {
    throw new DomainError(ErrorCode.FORBIDDEN, 'You cannot grant permissions you do not hold', { missing });
  }
}

/**
 * An actor may change or remove an existing grant when it holds USERS_MANAGE there and the grant is no
 * wider than its own (it manages people at its level or below); owners' grants need OWNERS_MANAGE.
 */
function refusalToChange(access: Access, level: Level, existing: GrantSpec): DomainError | null {
  const held = heldAt(access, level);
  if (!held.has(Permission.USERS_MANAGE)) return forbidden();
  if (touchesOwners(existing)) {
    return access.canInOrganization(Permission.OWNERS_MANAGE) ? null : forbidden('Only owners can change an owner');
  }
  if ([...grantedBy(existing)].some((p) => !held.has(p))) return forbidden('This user holds permissions you do not; ask someone above you');
  return null;
}

export function mayChange(access: Access, level: Level, existing: GrantSpec): boolean {
  return refusalToChange(access, level, existing) === null;
}

export function assertMayChange(access: Access, level: Level, existing: GrantSpec): void {
  const refusal = refusalToChange(access, level, existing);
  if (refusal) throw refusal;
}

/**
 * An actor manages a user (deactivates, reactivates them) when it may change every grant the user holds; a
 * user with no grant at all is managed from the organization (USERS_MANAGE there).
 */
function refusalToManageUser(access: Access, grants: ReadonlyArray<{ level: Level; spec: GrantSpec }>): DomainError | null {
  for (const { level, spec } of grants) {
    const refusal = refusalToChange(access, level, spec);
    if (refusal) return refusal;
  }
  if (!grants.length && !access.canInOrganization(Permission.USERS_MANAGE)) return forbidden();
  return null;
}

export function mayManageUser(access: Access, grants: ReadonlyArray<{ level: Level; spec: GrantSpec }>): boolean {
  return refusalToManageUser(access, grants) === null;
}

export function assertMayManageUser(access: Access, grants: ReadonlyArray<{ level: Level; spec: GrantSpec }>): void {
  const refusal = refusalToManageUser(access, grants);
  if (refusal) throw refusal;
}

/** The organization always keeps at least one active owner. */
export function assertKeepsAnOwner(otherActiveOwners: number): void {
  if (otherActiveOwners < 1) throw new DomainError(ErrorCode.LAST_OWNER, 'The last owner cannot be removed, demoted or deactivated');
}

/**
 * Actions on "my own" user (sessions, availability, read state, taking or claiming work) belong to a person:
 * an API key carries its creator's id for attribution only and never acts as them.
 */
export function assertUserPrincipal(principal: Principal): void {
  if (principal.kind !== 'user') throw forbidden('API keys cannot act as a user: this action needs a user session');
}

/** The id of the person calling, or null for an API key (which is nobody's "me"). */
export function personOf(principal: Principal): string | null {
  return principal.kind === 'user' ? principal.userId : null;
}

/** Users set their own availability; supervisors set it for people in workspaces where they hold AVAILABILITY_MANAGE. */
export function maySetAvailabilityOf(access: Access, actorUserId: string | null, targetUserId: string, targetLevels: readonly Level[]): boolean {
  if (actorUserId !== null && actorUserId === targetUserId) return true;
  return targetLevels.some((level) =>
    level === null ? access.canInOrganization(Permission.AVAILABILITY_MANAGE) : access.can(Permission.AVAILABILITY_MANAGE, level),
  );
}

export function assertMaySetAvailabilityOf(access: Access, actorUserId: string | null, targetUserId: string, targetLevels: readonly Level[]): void {
  if (!maySetAvailabilityOf(access, actorUserId, targetUserId, targetLevels)) throw forbidden();
}

/**
 * Where the actor reads the team: one workspace where it holds USERS_READ, or else every workspace where it
 * does (null: the whole organization, for an organization-wide USERS_READ).
 */
export function mayReadUsersIn(access: Access, workspaceId: string): boolean {
  return access.can(Permission.USERS_READ, workspaceId);
}

export function assertMayReadUsersIn(access: Access, workspaceId: string): void {
  if (!mayReadUsersIn(access, workspaceId)) throw forbidden();
}

export function workspacesWhereUsersAreRead(access: Access): string[] | null {
  return access.canInOrganization(Permission.USERS_READ) ? null : access.workspacesWith(Permission.USERS_READ);
}

/**
 * Whether the actor manages a user somewhere already, given the levels where the user holds a membership or
 * pending invitation: organization-wide USERS_MANAGE, or an organization-wide level, or a workspace where the
 * actor holds USERS_MANAGE. An admin of one workspace cannot pull in someone who only works in a sibling.
 */
export function managesUserSomewhere(access: Access, userLevels: readonly Level[]): boolean {
  if (access.canInOrganization(Permission.USERS_MANAGE)) return true;
  return userLevels.some((level) => level === null || access.can(Permission.USERS_MANAGE, level));
}

/** An API key is never wider than its creator at its workspace (an API key creating keys is bounded by itself). */
export function assertMayCreateApiKey(access: Access, workspaceId: string, permissions: readonly Permission[]): void {
  const held = access.permissionsIn(workspaceId);
  const missing = permissions.filter((p) => !held.has(p));
  if (missing.length) throw new DomainError(ErrorCode.FORBIDDEN, 'An API key cannot hold permissions its creator lacks', { missing });
}
