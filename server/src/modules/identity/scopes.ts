import { registerObjectScope } from '../../graphql/object-scope';
import { ApiKey, Invitation } from './credentials.entity';
import { Workspace } from './organization.entity';
import { AgentGroup } from './team.entity';
import { CustomRole, Membership, User } from './user.entity';

/**
 * Where identity objects live, for `@Auth(..., { scope: { object, arg } })`. Lookups run under the tenant
 * filter: another organization's id is simply not found.
 */
registerObjectScope('Workspace', async (ctx, id) => ((await ctx.em.findOne(Workspace, { id })) ? { workspaceIds: [id] } : null));

registerObjectScope('Invitation', async (ctx, id) => {
  const inv = await ctx.em.findOne(Invitation, { id });
  return inv ? { workspaceIds: [inv.workspaceId] } : null;
});

registerObjectScope('ApiKey', async (ctx, id) => {
  const key = await ctx.em.findOne(ApiKey, { id });
  return key ? { workspaceIds: [key.workspaceId] } : null;
});

registerObjectScope('AgentGroup', async (ctx, id) => {
  const group = await ctx.em.findOne(AgentGroup, { id });
  return group ? { workspaceIds: [group.workspaceId] } : null;
});

/** A user lives wherever they hold memberships; with none (an invitee), at the organization level. */
registerObjectScope('User', async (ctx, id) => {
  const user = await ctx.em.findOne(User, { id });
  if (!user) return null;
  const memberships = await ctx.em.find(Membership, { user: id });
  const levels = memberships.map((m) => m.workspaceId);
  return { workspaceIds: levels.length ? levels : [null] };
});

/** Custom roles belong to the organization as a whole. */
registerObjectScope('CustomRole', async (ctx, id) => ((await ctx.em.findOne(CustomRole, { id })) ? { workspaceIds: [null] } : null));
