import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Auth, Public } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { unauthenticated } from '../../shared/errors';
import { AuthPayload, SignUpInput, Viewer } from './identity.types';
import { RevokedSessions } from './team.types';
import { assertUserPrincipal } from './policy';
import { User } from './user.entity';

/**
 * The rest of the operation (the payload's user, say) is read as the user who just signed in: the new
 * session becomes the request's principal, with the access it really has.
 */
async function signedIn(ctx: RequestContext, result: { token: string; user: User; deviceToken?: string }): Promise<AuthPayload> {
  ctx.principal = await ctx.services.authentication.authenticate(ctx.em, result.token);
  return { token: result.token, user: result.user, deviceToken: result.deviceToken ?? null };
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

  @Mutation(() => AuthPayload, {
    description:
      'Creates an organization, its first workspace and its first OWNER. FORBIDDEN when the server runs with SIGNUP=closed ' +
      '(the production default): there the first owner is made with `npm run create-owner`.',
  })
  @Public('creating an account is how one gets a credential')
  async signUp(@Arg('input') input: SignUpInput, @Ctx() ctx: RequestContext): Promise<AuthPayload> {
    return signedIn(ctx, await ctx.services.authentication.signUp(ctx.em, input));
  }

  @Mutation(() => AuthPayload, {
    description:
      'Too many attempts answer RATE_LIMITED (HTTP 429, Retry-After). Pass the deviceToken of an earlier login from this device: ' +
      'a known device is throttled on its own, not by the account-wide counter.',
  })
  @Public('logging in is how one gets a credential; throttled per account and address')
  async login(
    @Arg('email') email: string,
    @Arg('password') password: string,
    @Arg('deviceToken', () => String, { nullable: true }) deviceToken: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<AuthPayload> {
    return signedIn(ctx, await ctx.services.authentication.login(ctx.em, { email, password, deviceToken, clientAddress: ctx.clientAddress }));
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
    const p = ctx.principal!;
    assertUserPrincipal(p);
    const count = await ctx.services.authentication.revokeSessionsOf(ctx.em, p.userId);
    return { count };
  }

  @Mutation(() => RevokedSessions, {
    description:
      "Changes the signed-in user's password (not an API key's: FORBIDDEN). Ends the user's other sessions (count) and keeps this one.",
  })
  @Auth([])
  async changePassword(
    @Arg('currentPassword') currentPassword: string,
    @Arg('newPassword') newPassword: string,
    @Ctx() ctx: RequestContext,
  ): Promise<RevokedSessions> {
    const p = ctx.principal!;
    const { revokedSessions } = await ctx.services.authentication.changePassword(ctx.em, p, { currentPassword, newPassword });
    return { count: revokedSessions };
  }

  @Mutation(() => Boolean, {
    description:
      'Mails a one-time password reset token (valid 1 hour) if an active account has this address. Always answers true: ' +
      'the answer never tells whether an account exists. Throttled per address and account (RATE_LIMITED, HTTP 429).',
  })
  @Public('the forgotten-password flow is for people without a credential; throttled, and says nothing about accounts')
  async requestPasswordReset(@Arg('email') email: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    await ctx.services.passwordReset.request(ctx.em, { email, clientAddress: ctx.clientAddress });
    return true;
  }

  @Mutation(() => Boolean, {
    description:
      'Sets a new password with a mailed reset token (single use, 1 hour). Ends every session of the user: log in afterwards. ' +
      'A bad, used or expired token is INVALID_CREDENTIALS.',
  })
  @Public('the one-time mailed reset token is the credential; throttled per address')
  async resetPassword(@Arg('token') token: string, @Arg('newPassword') newPassword: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    await ctx.services.passwordReset.reset(ctx.em, { token, newPassword, clientAddress: ctx.clientAddress });
    return true;
  }
}
