import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Auth, Public } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { unauthenticated } from '../../graphql/errors';
import { AuthPayload, SignUpInput, Viewer } from './identity.types';
import { RevokedSessions } from './team.types';
import { assertUserPrincipal } from './policy';
import { User } from './user.entity';

/**
 * The rest of the operation (the payload's user, say) is read as the user who just signed in: the new
 * session becomes the request's principal, with the access it really has.
 */
async function signedIn(ctx: RequestContext, result: { token: string; user: User }): Promise<AuthPayload> {
  ctx.principal = await ctx.services.authentication.authenticate(ctx.em, result.token);
  return { token: result.token, user: result.user };
}

/** Signing up, logging in and out, accepting an invitation, and `me`. */
@Resolver(() => Viewer)
export class IdentityResolver {
  @Query(() => Viewer, { description: 'The caller: who they are and what they may do where.' })
  @Auth([])
  me(@Ctx() ctx: RequestContext): Viewer {
    const p = ctx.principal;
    if (!p) throw unauthenticated();
    return {
      userId: p.userId,
      organizationId: p.organizationId,
      kind: p.kind === 'user' ? 'USER' : 'API_KEY',
      apiKeyId: p.apiKeyId ?? null,
      permissions: [
        ...(p.access.isOrganizationMember ? [{ workspaceId: null, permissions: [...p.access.organizationWide] }] : []),
        ...p.access.reachableWorkspaces().map((workspaceId) => ({ workspaceId, permissions: [...p.access.permissionsIn(workspaceId)] })),
      ],
    };
  }

  @FieldResolver(() => User, { description: 'The user (for an API key, its creator).' })
  user(@Root() viewer: Viewer, @Ctx() ctx: RequestContext): Promise<User> {
    return ctx.em.findOneOrFail(User, { id: viewer.userId });
  }

  @Mutation(() => AuthPayload, { description: 'Creates an organization, its first workspace and its first OWNER.' })
  @Public('creating an account is how one gets a credential')
  async signUp(@Arg('input') input: SignUpInput, @Ctx() ctx: RequestContext): Promise<AuthPayload> {
    return signedIn(ctx, await ctx.services.authentication.signUp(ctx.em, input));
  }

  @Mutation(() => AuthPayload)
  @Public('logging in is how one gets a credential; throttled per account and address')
  async login(@Arg('email') email: string, @Arg('password') password: string, @Ctx() ctx: RequestContext): Promise<AuthPayload> {
    return signedIn(ctx, await ctx.services.authentication.login(ctx.em, { email, password, clientAddress: ctx.clientAddress }));
  }

  @Mutation(() => AuthPayload, { description: 'Accepts an invitation: sets name and password, joins, and logs in.' })
  @Public('the one-time invitation token is the credential; throttled per address')
  async acceptInvitation(
    @Arg('token') token: string,
    @Arg('name') name: string,
    @Arg('password') password: string,
    @Ctx() ctx: RequestContext,
  ): Promise<AuthPayload> {
    return signedIn(ctx, await ctx.services.team.acceptInvitation(ctx.em, { token, name, password, clientAddress: ctx.clientAddress }));
  }

  @Mutation(() => Boolean, { description: 'Ends the current session (user sessions only: FORBIDDEN for an API key).' })
  @Auth([])
  logout(@Ctx() ctx: RequestContext): Promise<boolean> {
    assertUserPrincipal(ctx.principal!);
    return ctx.services.authentication.logout(ctx.em, ctx.principal!);
  }

  @Mutation(() => RevokedSessions, { description: "Ends every session of the caller's user, this one included (user sessions only: FORBIDDEN for an API key)." })
  @Auth([])
  async revokeAllSessions(@Ctx() ctx: RequestContext): Promise<RevokedSessions> {
    assertUserPrincipal(ctx.principal!);
    return { count: await ctx.services.authentication.revokeSessionsOf(ctx.em, ctx.principal!.userId) };
  }
}
