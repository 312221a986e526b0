import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { loaderFor } from '../../graphql/loaders';
import { Permission } from './permissions';
import { AgentGroup } from './team.entity';
import { User } from './user.entity';

@Resolver(() => AgentGroup)
export class AgentGroupResolver {
  @Query(() => [AgentGroup])
  @Auth(Permission.WORKSPACE_READ)
  agentGroups(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<AgentGroup[]> {
    return ctx.services.agentGroups.list(ctx.em, workspaceId);
  }

  @Mutation(() => AgentGroup)
  @Auth(Permission.AGENT_GROUPS_MANAGE)
  createAgentGroup(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<AgentGroup> {
    return ctx.services.agentGroups.create(ctx.em, ctx.principal!, { workspaceId, name });
  }

  @Mutation(() => AgentGroup)
  @Auth(Permission.AGENT_GROUPS_MANAGE, { scope: { object: 'AgentGroup', arg: 'id' } })
  renameAgentGroup(@Arg('id', () => ID) id: string, @Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<AgentGroup> {
    return ctx.services.agentGroups.rename(ctx.em, ctx.principal!, id, name);
  }

  @Mutation(() => Boolean)
  @Auth(Permission.AGENT_GROUPS_MANAGE, { scope: { object: 'AgentGroup', arg: 'id' } })
  deleteAgentGroup(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.agentGroups.delete(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => AgentGroup)
  @Auth(Permission.AGENT_GROUPS_MANAGE, { scope: { object: 'AgentGroup', arg: 'groupId' } })
  addAgentGroupMember(@Arg('groupId', () => ID) groupId: string, @Arg('userId', () => ID) userId: string, @Ctx() ctx: RequestContext): Promise<AgentGroup> {
    return ctx.services.agentGroups.addMember(ctx.em, ctx.principal!, groupId, userId);
  }

  @Mutation(() => AgentGroup)
  @Auth(Permission.AGENT_GROUPS_MANAGE, { scope: { object: 'AgentGroup', arg: 'groupId' } })
  removeAgentGroupMember(@Arg('groupId', () => ID) groupId: string, @Arg('userId', () => ID) userId: string, @Ctx() ctx: RequestContext): Promise<AgentGroup> {
    return ctx.services.agentGroups.removeMember(ctx.em, ctx.principal!, groupId, userId);
  }

  @FieldResolver(() => [User], { nullable: true })
  @Auth(Permission.WORKSPACE_READ)
  async members(@Root() group: AgentGroup, @Ctx() ctx: RequestContext): Promise<User[]> {
    const ids = await loaderFor<string, string[]>(ctx, 'agentGroupMemberIds', (keys) => ctx.services.agentGroups.memberIdsOf(ctx.em, keys), []).load(group.id);
    const users = loaderFor<string, User | null>(ctx, 'userById', async (keys) => {
      const rows = await ctx.em.find(User, { id: { $in: [...keys] } });
      return new Map(rows.map((u) => [u.id, u]));
    }, null);
    return (await users.loadMany(ids)).filter((u): u is User => u instanceof User);
  }
}
