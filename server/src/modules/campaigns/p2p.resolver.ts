import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import type { Connection } from '../../graphql/pagination';
import { assertUserPrincipal, Permission } from '../identity';
import { Campaign } from './campaign.entity';
import { TexterInvite } from './p2p.entity';
import {
  CampaignAssignment,
  CampaignReply,
  CampaignTexterRow,
  CampaignThreadRowConnection,
  TexterCampaign,
  TexterCampaignConnection,
  TexterInviteCreated,
  type CampaignThreadRow,
} from './p2p.types';

const CAMPAIGN = (arg = 'campaignId') => ({ object: 'Campaign', arg });

/**
 * Peer-to-peer campaigns: texter links (CAMPAIGNS_MANAGE), what texters do (THREADS_REQUEST, and they must
 * have joined the campaign: NOT_CAMPAIGN_TEXTER otherwise), what supervisors see. Thin: one service call each.
 */
@Resolver(() => Campaign)
export class PeerToPeerResolver {
  @Mutation(() => TexterInviteCreated, { description: 'A texter link for a peer-to-peer campaign; the secret is returned once. Default lifetime 7 days.' })
  @Auth(Permission.CAMPAIGNS_MANAGE, { scope: CAMPAIGN() })
  createTexterInvite(
    @Arg('campaignId', () => ID) campaignId: string,
    @Arg('expiresInHours', () => Int, { nullable: true }) expiresInHours: number | null,
    @Ctx() ctx: RequestContext,
  ): Promise<TexterInviteCreated> {
    return ctx.services.p2p.createInvite(ctx.em, ctx.principal!, campaignId, expiresInHours);
  }

  @Mutation(() => TexterInvite, { description: 'Revokes a texter link: nobody joins through it any more (those who joined stay).' })
  @Auth(Permission.CAMPAIGNS_MANAGE, { scope: CAMPAIGN() })
  revokeTexterInvite(@Arg('campaignId', () => ID) campaignId: string, @Arg('inviteId', () => ID) inviteId: string, @Ctx() ctx: RequestContext): Promise<TexterInvite> {
    return ctx.services.p2p.revokeInvite(ctx.em, ctx.principal!, campaignId, inviteId);
  }

  @FieldResolver(() => [TexterInvite], { description: 'The texter links of the campaign, newest first.' })
  @Auth(Permission.CAMPAIGNS_MANAGE)
  texterInvites(@Root() campaign: Campaign, @Ctx() ctx: RequestContext): Promise<TexterInvite[]> {
    return ctx.services.p2p.invites(ctx.em, campaign.id);
  }

  @Mutation(() => TexterCampaign, { description: "Joins the campaign of a texter link (user sessions; THREADS_REQUEST in the campaign's workspace)." })
  @Auth(Permission.THREADS_REQUEST)
  async joinCampaign(@Arg('token') token: string, @Ctx() ctx: RequestContext): Promise<TexterCampaign> {
    const campaign = await ctx.services.p2p.join(ctx.em, ctx.principal!, token);
    return ctx.services.p2p.texterCampaign(ctx.em, ctx.principal!, campaign.id);
  }

  @Query(() => TexterCampaignConnection, { description: 'The campaigns the viewer joined as a texter, most recently joined first.' })
  @Auth(Permission.THREADS_REQUEST)
  texterCampaigns(
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<TexterCampaign>> {
    assertUserPrincipal(ctx.principal!);
    return ctx.services.p2p.texterCampaigns(ctx.em, ctx.principal!, { first, after });
  }

  @Query(() => TexterCampaign, { description: 'A campaign the viewer joined, as a texter sees it.' })
  @Auth(Permission.THREADS_REQUEST, { scope: CAMPAIGN() })
  texterCampaign(@Arg('campaignId', () => ID) campaignId: string, @Ctx() ctx: RequestContext): Promise<TexterCampaign> {
    return ctx.services.p2p.texterCampaign(ctx.em, ctx.principal!, campaignId);
  }

  @Mutation(() => [CampaignAssignment], { description: 'Hands the viewer up to `count` contacts not yet texted (1..maxThreadsPerRequest), each with its thread; never a contact another texter holds. Empty when none are left.' })
  @Auth(Permission.THREADS_REQUEST, { scope: CAMPAIGN() })
  requestCampaignThreads(@Arg('campaignId', () => ID) campaignId: string, @Arg('count', () => Int) count: number, @Ctx() ctx: RequestContext): Promise<CampaignAssignment[]> {
    return ctx.services.p2p.request(ctx.em, ctx.principal!, campaignId, count);
  }

  @Query(() => [CampaignAssignment], { description: "The viewer's contacts in a campaign (up to 500), those still to text with unsentOnly." })
  @Auth(Permission.THREADS_REQUEST, { scope: CAMPAIGN() })
  campaignAssignments(
    @Arg('campaignId', () => ID) campaignId: string,
    @Arg('unsentOnly', () => Boolean, { nullable: true }) unsentOnly: boolean | null,
    @Ctx() ctx: RequestContext,
  ): Promise<CampaignAssignment[]> {
    return ctx.services.p2p.assignments(ctx.em, ctx.principal!, campaignId, unsentOnly ?? false);
  }

  @Mutation(() => CampaignAssignment, { description: "Sends one assigned contact's initial message (the rendered template) through the inbox; sending twice sends once. An opted-out contact is SKIPPED." })
  @Auth([Permission.THREADS_REQUEST, Permission.MESSAGES_SEND], { scope: CAMPAIGN() })
  sendCampaignMessage(@Arg('campaignId', () => ID) campaignId: string, @Arg('recipientId', () => ID) recipientId: string, @Ctx() ctx: RequestContext): Promise<CampaignAssignment> {
    return ctx.services.p2p.send(ctx.em, ctx.principal!, ctx.services.messaging, campaignId, recipientId);
  }

  @Query(() => [CampaignReply], { description: 'Replies in the campaign that nobody holds, oldest first (to claim).' })
  @Auth(Permission.THREADS_REQUEST, { scope: CAMPAIGN() })
  campaignReplies(@Arg('campaignId', () => ID) campaignId: string, @Arg('first', () => Int, { nullable: true }) first: number | null, @Ctx() ctx: RequestContext): Promise<CampaignReply[]> {
    return ctx.services.p2p.replies(ctx.em, ctx.principal!, campaignId, first);
  }

  @Mutation(() => CampaignReply, { description: 'Claims a reply of a campaign the viewer joined: the thread becomes theirs (CONFLICT when someone else holds it).' })
  @Auth(Permission.THREADS_REQUEST, { scope: CAMPAIGN() })
  async claimCampaignReply(@Arg('campaignId', () => ID) campaignId: string, @Arg('threadId', () => ID) threadId: string, @Ctx() ctx: RequestContext): Promise<CampaignReply> {
    assertUserPrincipal(ctx.principal!);
    await ctx.services.p2p.assertClaimable(ctx.em, ctx.principal!, campaignId, threadId);
    const thread = await ctx.services.assignment.claim(ctx.em, ctx.principal!, threadId);
    return { threadId: thread.id, campaignId, workspaceId: thread.workspaceId, contactFirstName: null, lastMessagePreview: thread.lastMessagePreview, lastInboundAt: thread.lastInboundAt };
  }

  @Query(() => [CampaignTexterRow], { description: 'The texters of a campaign, with what each holds and sent.' })
  @Auth([Permission.CAMPAIGNS_READ, Permission.USERS_READ], { scope: CAMPAIGN() })
  campaignTexters(@Arg('campaignId', () => ID) campaignId: string, @Ctx() ctx: RequestContext): Promise<CampaignTexterRow[]> {
    return ctx.services.p2p.texters(ctx.em, campaignId);
  }

  @Query(() => CampaignThreadRowConnection, { description: "Every contact of a started campaign: texter, thread, and opt-out status with who opted them out." })
  @Auth([Permission.CAMPAIGNS_READ, Permission.THREADS_READ_ALL, Permission.OPT_OUTS_READ], { scope: CAMPAIGN() })
  campaignThreads(
    @Arg('campaignId', () => ID) campaignId: string,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<CampaignThreadRow>> {
    return ctx.services.p2p.threads(ctx.em, campaignId, { first, after });
  }
}
