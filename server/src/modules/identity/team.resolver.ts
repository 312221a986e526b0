import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { loaderFor } from '../../graphql/loaders';
import { Invitation, InvitationStatus } from './credentials.entity';
import { Permission } from './permissions';
import { mayManageUser, maySetAvailabilityOf, personOf } from './policy';
import {
  InvitationWithToken,
  InviteUserInput,
  UpdateMembershipInput,
  UserConnection,
  UserViewerCan,
} from './team.types';
import { Availability, Membership, User, UserStatus } from './user.entity';
import type { Connection } from '../../graphql/pagination';

function membershipsLoader(ctx: RequestContext) {
  return loaderFor<string, Membership[]>(ctx, 'membershipsByUser', async (userIds) => {
    const rows = await ctx.em.find(Membership, { user: { $in: [...userIds] } });
    const out = new Map<string, Membership[]>();
    for (const m of rows) out.set(m.userId, [...(out.get(m.userId) ?? []), m]);
    return out;
  }, []);
}

/** Invitations, memberships, deactivation, availability and the team list. */
@Resolver(() => User)
export class TeamResolver {
  @Mutation(() => InvitationWithToken, { description: 'Invites a user; only owners invite owners; nobody grants what they lack.' })
  @Auth(Permission.USERS_INVITE, { scope: { arg: 'input.workspaceId' } })
  async inviteUser(@Arg('input') input: InviteUserInput, @Ctx() ctx: RequestContext): Promise<InvitationWithToken> {
    return ctx.services.team.invite(ctx.em, ctx.principal!, { ...input, workspaceId: input.workspaceId ?? null, addOns: input.addOns ?? [] });
  }

  @Mutation(() => InvitationWithToken, { description: 'A new token and 7 more days; the previous token stops working.' })
  @Auth(Permission.USERS_INVITE, { scope: { object: 'Invitation', arg: 'id' } })
  resendInvitation(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<InvitationWithToken> {
    return ctx.services.team.resendInvitation(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Invitation)
  @Auth(Permission.USERS_INVITE, { scope: { object: 'Invitation', arg: 'id' } })
  revokeInvitation(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Invitation> {
    return ctx.services.team.revokeInvitation(ctx.em, ctx.principal!, id);
  }

  @Query(() => [Invitation], { description: 'Invitations on a workspace, or organization-wide ones when workspaceId is null.' })
  @Auth(Permission.USERS_INVITE, { scope: { arg: 'workspaceId' } })
  async invitations(
    @Arg('workspaceId', () => ID, { nullable: true }) workspaceId: string | null,
    @Arg('status', () => InvitationStatus, { nullable: true }) status: InvitationStatus | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Invitation[]> {
    const rows = await ctx.em.find(Invitation, { workspace: workspaceId ?? null }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: 500 });
    const now = ctx.services.clock.now();
    return status ? rows.filter((i) => i.statusAt(now) === status) : rows;
  }

  @Mutation(() => Membership, { nullable: true, description: "Sets a user's roles and add-ons at one level; empty lists remove the membership (returns null)." })
  @Auth(Permission.USERS_MANAGE, { scope: { arg: 'input.workspaceId' } })
  updateMembership(@Arg('input') input: UpdateMembershipInput, @Ctx() ctx: RequestContext): Promise<Membership | null> {
    return ctx.services.team.updateMembership(ctx.em, ctx.principal!, {
      userId: input.userId,
      workspaceId: input.workspaceId ?? null,
      roles: input.roles,
      addOns: input.addOns ?? [],
      customRoleIds: input.customRoleIds ?? null,
    });
  }

  @Mutation(() => User, { description: 'Ends their sessions, the API keys they created and their live subscriptions; history is kept.' })
  @Auth(Permission.USERS_MANAGE, { scope: { object: 'User', arg: 'userId' } })
  deactivateUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: RequestContext): Promise<User> {
    return ctx.services.team.deactivateUser(ctx.em, ctx.principal!, userId);
  }

  @Mutation(() => User)
  @Auth(Permission.USERS_MANAGE, { scope: { object: 'User', arg: 'userId' } })
  reactivateUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: RequestContext): Promise<User> {
    return ctx.services.team.reactivateUser(ctx.em, ctx.principal!, userId);
  }

  @Mutation(() => User, { description: "Sets the caller's availability (user sessions only), or (supervisors) an agent's in their workspaces." })
  @Auth([])
  setAvailability(
    @Arg('availability', () => Availability) availability: Availability,
    @Arg('userId', () => ID, { nullable: true }) userId: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<User> {
    return ctx.services.team.setAvailability(ctx.em, ctx.principal!, availability, userId);
  }

  @Query(() => UserConnection, { description: 'The team: users the caller may see, by status, optionally on one workspace.' })
  @Auth(Permission.USERS_READ, { scope: 'anywhere' })
  users(
    @Arg('status', () => UserStatus, { nullable: true }) status: UserStatus | null,
    @Arg('workspaceId', () => ID, { nullable: true }) workspaceId: string | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<User>> {
    return ctx.services.team.listUsers(ctx.em, ctx.principal!, { status, workspaceId, first, after });
  }

  @FieldResolver(() => [Membership], { nullable: true, description: 'Where this user holds roles.' })
  @Auth(Permission.USERS_READ, { scope: 'anywhere' })
  memberships(@Root() user: User, @Ctx() ctx: RequestContext): Promise<Membership[]> {
    return membershipsLoader(ctx).load(user.id);
  }

  @FieldResolver(() => UserViewerCan)
  @Auth([])
  async viewerCan(@Root() user: User, @Ctx() ctx: RequestContext): Promise<UserViewerCan> {
    const access = ctx.principal!.access;
    const memberships = await membershipsLoader(ctx).load(user.id);
    return {
      manage: mayManageUser(access, memberships.map((m) => ({ level: m.workspaceId, spec: m }))),
      setAvailability: maySetAvailabilityOf(access, personOf(ctx.principal!), user.id, memberships.map((m) => m.workspaceId)),
    };
  }
}

@Resolver(() => Invitation)
export class InvitationFieldsResolver {
  @FieldResolver(() => InvitationStatus)
  status(@Root() invitation: Invitation, @Ctx() ctx: RequestContext): InvitationStatus {
    return invitation.statusAt(ctx.services.clock.now());
  }
}
