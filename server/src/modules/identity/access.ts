import { Permission } from './permissions';

/** One grant: permissions held on a workspace (and every workspace below it), or organization-wide (null). */
export interface Grant {
  workspaceId: string | null;
  permissions: ReadonlySet<Permission>;
}

/**
 * What a principal may do, per workspace, computed once per request (or per socket, invalidated on change).
 * Checks are synchronous set lookups, so guarding every field costs next to nothing.
 */
export class Access {
  private readonly orgWide = new Set<Permission>();
  private readonly direct = new Map<string, Set<Permission>>();
  private readonly effective = new Map<string, ReadonlySet<Permission>>();

  /**
   * @param ancestors every workspace of the organization -> its ancestors, nearest first (root last).
   * @param ceiling  for API keys: permissions are never wider than this set, wherever granted.
   */
  constructor(
    readonly organizationId: string,
    grants: readonly Grant[],
    private readonly ancestors: ReadonlyMap<string, readonly string[]>,
    ceiling?: ReadonlySet<Permission>,
  ) {
    for (const g of grants) {
      const target = g.workspaceId === null ? this.orgWide : this.directFor(g.workspaceId);
      for (const p of g.permissions) if (!ceiling || ceiling.has(p)) target.add(p);
    }
  }

  private directFor(workspaceId: string): Set<Permission> {
    let set = this.direct.get(workspaceId);
    if (!set) this.direct.set(workspaceId, (set = new Set()));
    return set;
  }

  /** Whether this workspace belongs to the principal's organization. */
  knowsWorkspace(workspaceId: string): boolean {
    return this.ancestors.has(workspaceId);
  }

  /** Permissions held on a workspace: organization-wide ones plus grants on it or any ancestor. */
  permissionsIn(workspaceId: string): ReadonlySet<Permission> {
    const cached = this.effective.get(workspaceId);
    if (cached) return cached;
    const line = this.ancestors.get(workspaceId);
    if (!line) return EMPTY; // another organization's workspace, or none at all
    const out = new Set(this.orgWide);
    for (const ws of [workspaceId, ...line]) for (const p of this.direct.get(ws) ?? []) out.add(p);
    this.effective.set(workspaceId, out);
    return out;
  }

  can(permission: Permission, workspaceId: string): boolean {
    return this.permissionsIn(workspaceId).has(permission);
  }

  canAll(permissions: readonly Permission[], workspaceId: string): boolean {
    const held = this.permissionsIn(workspaceId);
    // A loop, not every(): this runs for every guarded field of every row of a page.
    for (let i = 0; i < permissions.length; i++) if (!held.has(permissions[i]!)) return false;
    return true;
  }

  /** Held organization-wide (an organization-level membership). */
  canInOrganization(permission: Permission): boolean {
    return this.orgWide.has(permission);
  }

  /** Held somewhere: organization-wide or on at least one workspace. A gate; the object's workspace decides. */
  canAnywhere(permission: Permission): boolean {
    if (this.orgWide.has(permission)) return true;
    for (const set of this.direct.values()) if (set.has(permission)) return true;
    return false;
  }

  /** Every workspace of the organization where the permission is held (list queries filter on this). */
  workspacesWith(permission: Permission): string[] {
    const out: string[] = [];
    for (const ws of this.ancestors.keys()) if (this.can(permission, ws)) out.push(ws);
    return out;
  }

  /** Workspaces reached by any grant (the ones the principal is a member of, directly or through a parent). */
  reachableWorkspaces(): string[] {
    const out: string[] = [];
    for (const ws of this.ancestors.keys()) if (this.permissionsIn(ws).size > 0) out.push(ws);
    return out;
  }

  /**
   * The same grants over a tree that also holds a workspace created since this Access was loaded (the
   * creator reads what it just made, in the same request, without a reload).
   */
  withWorkspace(workspaceId: string, ancestorsNearestFirst: readonly string[]): Access {
    const tree = new Map(this.ancestors);
    tree.set(workspaceId, [...ancestorsNearestFirst]);
    const grants: Grant[] = [{ workspaceId: null, permissions: this.orgWide }];
    for (const [ws, permissions] of this.direct) grants.push({ workspaceId: ws, permissions });
    return new Access(this.organizationId, grants, tree);
  }

  /** Permissions held organization-wide. */
  get organizationWide(): ReadonlySet<Permission> {
    return this.orgWide;
  }

  get isOrganizationMember(): boolean {
    return this.orgWide.size > 0;
  }
}

const EMPTY: ReadonlySet<Permission> = new Set();
