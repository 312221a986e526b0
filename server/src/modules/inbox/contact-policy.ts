import { Permission, type Principal } from '../identity';
import { forbidden } from '../../shared/errors';

/**
 * The contact rules that are more than the @auth check on the field: the service calls these after loading
 * the objects involved.
 */

/** Merging edits the duplicate too: CONTACTS_EDIT in its workspace. */
export function mayEditContactsIn(principal: Principal, workspaceId: string): boolean {
  return principal.access.can(Permission.CONTACTS_EDIT, workspaceId);
}

export function assertMayEditContactsIn(principal: Principal, workspaceId: string): void {
  if (!mayEditContactsIn(principal, workspaceId)) throw forbidden();
}

/** An opt-out of one workspace is that workspace's (checked by @auth); an organization-wide one is for owners. */
export function mayManageOptOutAt(principal: Principal, workspaceId: string | null): boolean {
  return workspaceId !== null || principal.access.canInOrganization(Permission.ORGANIZATION_OPT_OUTS_MANAGE);
}

export function assertMayManageOptOutAt(principal: Principal, workspaceId: string | null): void {
  if (!mayManageOptOutAt(principal, workspaceId)) throw forbidden('Organization-wide opt-outs are for owners');
}
