import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import type { Connection } from '../../graphql/pagination';
import { Int } from 'type-graphql';
import { listAuditLog } from './audit';
import { Organization, Workspace } from './organization.entity';
import { Permission } from './permissions';
import { AuditLogConnection, WorkspaceViewerCan } from './team.types';
import type { AuditLogEntry } from './team.entity';

@Resolver(() => Workspace)
export class WorkspaceResolver {
  @Query(() => Organization)
  @Auth(Permission.ORGANIZATION_READ, { scope: 'anywhere' })
  organization(@Ctx() ctx: RequestContext): Promise<Organization> {
    return ctx.em.findOneOrFail(Organization, { id: ctx.principal!.organizationId });
  }

  @Query(() => [Workspace], { description: 'The workspaces the caller reaches, parents before children.' })
  @Auth([])
  workspaces(@Ctx() ctx: RequestContext): Promise<Workspace[]> {
    return ctx.services.workspaces.reachable(ctx.em, ctx.principal!);
  }

  @Query(() => Workspace)
  @Auth(Permission.WORKSPACE_READ, { scope: { arg: 'id' } })
  workspace(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Workspace> {
    return ctx.em.findOneOrFail(Workspace, { id });
  }

  @Mutation(() => Workspace, { description: 'Creates a workspace, at the top of the tree or under a parent.' })
  @Auth(Permission.WORKSPACES_CREATE, { scope: 'organization' })
  async createWorkspace(
    @Arg('name') name: string,
    @Arg('parentId', () => ID, { nullable: true }) parentId: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Workspace> {
    const workspace = await ctx.services.workspaces.create(ctx.em, ctx.principal!, { name, parentId });
    // The caller's access was loaded before the workspace existed: extend it, or the answer's own fields
    // (checked against the new workspace) would say NOT_FOUND and invite a duplicate-making retry.
    const principal = ctx.principal!;
    principal.access = principal.access.withWorkspace(workspace.id, [...workspace.ancestorIds].reverse());
    return workspace;
  }

  @Mutation(() => Workspace)
  @Auth(Permission.WORKSPACE_SETTINGS_MANAGE, { scope: { arg: 'id' } })
  renameWorkspace(@Arg('id', () => ID) id: string, @Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<Workspace> {
    return ctx.services.workspaces.rename(ctx.em, ctx.principal!, id, name);
  }

  @Mutation(() => Organization, { description: "Renames the caller's organization (organization settings)." })
  @Auth(Permission.ORGANIZATION_SETTINGS_MANAGE, { scope: 'organization' })
  renameOrganization(@Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<Organization> {
    return ctx.services.workspaces.renameOrganization(ctx.em, ctx.principal!, name);
  }

  @Query(() => AuditLogConnection, { description: 'Who changed what, newest first: a workspace (and below), or the organization.' })
  @Auth(Permission.AUDIT_LOG_READ, { scope: { arg: 'workspaceId' } })
  auditLog(
    @Arg('workspaceId', () => ID, { nullable: true }) workspaceId: string | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<AuditLogEntry>> {
    return listAuditLog(ctx.em, { workspaceId, first, after });
  }

  @FieldResolver(() => WorkspaceViewerCan)
  @Auth([])
  viewerCan(@Root() ws: Workspace, @Ctx() ctx: RequestContext): WorkspaceViewerCan {
    const held = ctx.principal!.access.permissionsIn(ws.id);
    return {
      permissions: [...held],
      inviteUsers: held.has(Permission.USERS_INVITE),
      manageUsers: held.has(Permission.USERS_MANAGE),
      manageApiKeys: held.has(Permission.API_KEYS_MANAGE),
      manageAgentGroups: held.has(Permission.AGENT_GROUPS_MANAGE),
      readAuditLog: held.has(Permission.AUDIT_LOG_READ),
    };
  }
}
