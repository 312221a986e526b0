import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { GraphQLError } from 'graphql';
import { loadObjectScope } from '../../graphql/object-scope';
import { ErrorCode } from '../../shared/errors';
import { EventType, type LoggedEvent } from '../../realtime';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { loaderFor } from '../../graphql/loaders';
import type { Connection } from '../../graphql/pagination';
import { Permission } from '../identity';
import { Campaign, CampaignGroup, CampaignKind, CampaignStatus } from './campaign.entity';
import {
  CampaignConnection,
  CampaignGroupConnection,
  CampaignGroupMemberConnection,
  CampaignGroupViewerCan,
  CampaignInput,
  CampaignPreflight,
  CampaignProgress,
  CampaignViewerCan,
  GroupChangeReport,
  GroupContactsInput,
  ResponseScriptType,
  type CampaignGroupMemberNode,
} from './campaign.types';
import { progressOf } from './campaigns.service';

@Resolver(() => CampaignGroup)
export class CampaignGroupResolver {
  @Query(() => CampaignGroupConnection, { description: 'Campaign groups of a workspace, newest first.' })
  @Auth(Permission.CAMPAIGNS_READ)
  campaignGroups(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<CampaignGroup>> {
    return ctx.services.campaignGroups.list(ctx.em, workspaceId, { first, after });
  }

  @Query(() => CampaignGroup)
  @Auth(Permission.CAMPAIGNS_READ, { scope: { object: 'CampaignGroup', arg: 'id' } })
  campaignGroup(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<CampaignGroup> {
    return ctx.em.findOneOrFail(CampaignGroup, { id });
  }

  @Mutation(() => CampaignGroup)
  @Auth(Permission.CAMPAIGN_GROUPS_MANAGE)
  createCampaignGroup(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<CampaignGroup> {
    return ctx.services.campaignGroups.create(ctx.em, ctx.principal!, workspaceId, name);
  }

  @Mutation(() => CampaignGroup)
  @Auth(Permission.CAMPAIGN_GROUPS_MANAGE, { scope: { object: 'CampaignGroup', arg: 'id' } })
  renameCampaignGroup(@Arg('id', () => ID) id: string, @Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<CampaignGroup> {
    return ctx.services.campaignGroups.rename(ctx.em, ctx.principal!, id, name);
  }

  @Mutation(() => Boolean, { description: 'Deletes the group and its memberships; the contacts stay.' })
  @Auth(Permission.CAMPAIGN_GROUPS_MANAGE, { scope: { object: 'CampaignGroup', arg: 'id' } })
  deleteCampaignGroup(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.campaignGroups.delete(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => GroupChangeReport, { description: 'Adds contacts by ids, a filter or CSV (one per call); bad rows are reported, the rest commit together.' })
  @Auth(Permission.CAMPAIGN_GROUPS_ADD_CONTACTS, { scope: { object: 'CampaignGroup', arg: 'groupId' } })
  addContactsToCampaignGroup(@Arg('groupId', () => ID) groupId: string, @Arg('input') input: GroupContactsInput, @Ctx() ctx: RequestContext): Promise<GroupChangeReport> {
    return ctx.services.campaignGroups.addContacts(ctx.em, ctx.principal!, groupId, input);
  }

  @Mutation(() => GroupChangeReport, { description: 'Removes contacts by ids, a filter or CSV (phones); the contacts stay.' })
  @Auth(Permission.CAMPAIGN_GROUPS_ADD_CONTACTS, { scope: { object: 'CampaignGroup', arg: 'groupId' } })
  removeContactsFromCampaignGroup(@Arg('groupId', () => ID) groupId: string, @Arg('input') input: GroupContactsInput, @Ctx() ctx: RequestContext): Promise<GroupChangeReport> {
    return ctx.services.campaignGroups.removeContacts(ctx.em, ctx.principal!, groupId, input);
  }

  @FieldResolver(() => Int, { description: 'How many contacts the group holds.' })
  size(@Root() group: CampaignGroup, @Ctx() ctx: RequestContext): Promise<number> {
    return loaderFor<string, number>(ctx, 'campaignGroupSize', (ids) => ctx.services.campaignGroups.sizes(ctx.em, ctx.principal!.organizationId, ids), 0).load(group.id);
  }

  @FieldResolver(() => CampaignGroupMemberConnection, { description: 'Members, most recently added first.' })
  members(
    @Root() group: CampaignGroup,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<CampaignGroupMemberNode>> {
    return ctx.services.campaignGroups.members(ctx.em, group, { first, after });
  }

  @FieldResolver(() => CampaignGroupViewerCan)
  viewerCan(@Root() group: CampaignGroup, @Ctx() ctx: RequestContext): CampaignGroupViewerCan {
    const held = ctx.principal!.access.permissionsIn(group.workspaceId);
    return { rename: held.has(Permission.CAMPAIGN_GROUPS_MANAGE), delete: held.has(Permission.CAMPAIGN_GROUPS_MANAGE), addContacts: held.has(Permission.CAMPAIGN_GROUPS_ADD_CONTACTS) };
  }
}

@Resolver(() => Campaign)
export class CampaignResolver {
  @Query(() => CampaignConnection, { description: 'Campaigns of a workspace, newest first.' })
  @Auth(Permission.CAMPAIGNS_READ)
  campaigns(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('status', () => CampaignStatus, { nullable: true }) status: CampaignStatus | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<Campaign>> {
    return ctx.services.campaigns.list(ctx.em, workspaceId, { first, after, status });
  }

  @Query(() => Campaign)
  @Auth(Permission.CAMPAIGNS_READ, { scope: { object: 'Campaign', arg: 'id' } })
  campaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign> {
    return ctx.em.findOneOrFail(Campaign, { id });
  }

  @Query(() => CampaignPreflight, { description: 'What starting would do now: recipients, opted-out ones, contacts missing a variable of the message.' })
  @Auth(Permission.CAMPAIGNS_MANAGE, { scope: { object: 'Campaign', arg: 'id' } })
  campaignPreflight(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<CampaignPreflight> {
    return ctx.services.campaigns.preflight(ctx.em, id);
  }

  @Query(() => CampaignProgress)
  @Auth(Permission.CAMPAIGNS_READ, { scope: { object: 'Campaign', arg: 'id' } })
  async campaignProgressNow(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<CampaignProgress> {
    const campaign = await ctx.em.findOneOrFail(Campaign, { id });
    return { ...(await progressOf(ctx.em, campaign)), workspaceId: campaign.workspaceId };
  }

  @Mutation(() => Campaign)
  @Auth(Permission.CAMPAIGNS_MANAGE)
  createCampaign(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('input') input: CampaignInput, @Ctx() ctx: RequestContext): Promise<Campaign> {
    return ctx.services.campaigns.create(ctx.em, ctx.principal!, workspaceId, input);
  }

  @Mutation(() => Campaign, { description: 'Edits a DRAFT or SCHEDULED campaign; omitted fields keep their value.' })
  @Auth(Permission.CAMPAIGNS_MANAGE, { scope: { object: 'Campaign', arg: 'id' } })
  updateCampaign(@Arg('id', () => ID) id: string, @Arg('input') input: CampaignInput, @Ctx() ctx: RequestContext): Promise<Campaign> {
    return ctx.services.campaigns.update(ctx.em, ctx.principal!, id, input);
  }

  @Mutation(() => Campaign, { description: 'DRAFT -> SCHEDULED (startAt must be set, in the future).' })
  @Auth(Permission.CAMPAIGNS_START, { scope: { object: 'Campaign', arg: 'id' } })
  scheduleCampaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign> {
    return ctx.services.campaigns.schedule(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Campaign, { description: 'DRAFT or SCHEDULED -> RUNNING: materialises the recipients once and, for a broadcast, starts sending.' })
  @Auth(Permission.CAMPAIGNS_START, { scope: { object: 'Campaign', arg: 'id' } })
  startCampaign(
    @Arg('id', () => ID) id: string,
    @Arg('skipMissingVariables', () => Boolean, { nullable: true, description: 'Skip (and count) contacts missing a variable instead of refusing the start.' }) skip: boolean | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Campaign> {
    return ctx.services.campaigns.start(ctx.em, ctx.principal!, id, skip ?? false);
  }

  @Mutation(() => Campaign, { description: 'RUNNING -> PAUSED: no further sends until resumed.' })
  @Auth(Permission.CAMPAIGNS_START, { scope: { object: 'Campaign', arg: 'id' } })
  pauseCampaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign> {
    return ctx.services.campaigns.pause(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Campaign, { description: 'PAUSED -> RUNNING: sending resumes where it stopped.' })
  @Auth(Permission.CAMPAIGNS_START, { scope: { object: 'Campaign', arg: 'id' } })
  resumeCampaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign> {
    return ctx.services.campaigns.resume(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Campaign, { description: 'Any state before COMPLETED -> CANCELLED: nothing more is sent.' })
  @Auth(Permission.CAMPAIGNS_START, { scope: { object: 'Campaign', arg: 'id' } })
  cancelCampaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign> {
    return ctx.services.campaigns.cancel(ctx.em, ctx.principal!, id);
  }

  @Subscription(() => CampaignProgress, {
    description: 'The counts of a campaign, once per batch of sends or status change (not per message).',
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      const found = await loadObjectScope('Campaign', ctx, args.campaignId);
      if (!found) throw new GraphQLError('Campaign not found', { extensions: { code: ErrorCode.NOT_FOUND } });
      if (!ctx.live) throw new GraphQLError('Subscriptions are not available here', { extensions: { code: ErrorCode.UNAVAILABLE } });
      const workspaceId = found.workspaceIds[0]!;
      return ctx.live.stream(ctx, {
        name: 'campaignProgress',
        workspaceIds: [workspaceId],
        after: args.after,
        allowed: (p) => p.access.can(Permission.CAMPAIGNS_READ, workspaceId),
        groupsMatter: () => false,
        accept: (e) => e.type === EventType.CAMPAIGN_PROGRESS && e.payload.campaign?.campaignId === args.campaignId,
      });
    },
  })
  @Auth(Permission.CAMPAIGNS_READ, { scope: { object: 'Campaign', arg: 'campaignId' } })
  campaignProgress(
    @Root() event: LoggedEvent,
    @Arg('campaignId', () => ID) _campaignId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): CampaignProgress {
    return { ...event.payload.campaign!, workspaceId: event.workspaceId, cursor: event.cursor };
  }

  @FieldResolver(() => [ResponseScriptType], { description: 'Canned replies shown to texters.' })
  responseScripts(@Root() campaign: Campaign): ResponseScriptType[] {
    return campaign.responseScripts;
  }

  @FieldResolver(() => CampaignViewerCan)
  viewerCan(@Root() campaign: Campaign, @Ctx() ctx: RequestContext): CampaignViewerCan {
    const held = ctx.principal!.access.permissionsIn(campaign.workspaceId);
    const manage = held.has(Permission.CAMPAIGNS_MANAGE);
    const start = held.has(Permission.CAMPAIGNS_START);
    const s = campaign.status;
    return {
      edit: manage && (s === CampaignStatus.DRAFT || s === CampaignStatus.SCHEDULED),
      start: start && (s === CampaignStatus.DRAFT || s === CampaignStatus.SCHEDULED),
      pause: start && s === CampaignStatus.RUNNING,
      resume: start && s === CampaignStatus.PAUSED,
      cancel: start && s !== CampaignStatus.COMPLETED && s !== CampaignStatus.CANCELLED,
      inviteTexters: manage && campaign.kind === CampaignKind.PEER_TO_PEER && s !== CampaignStatus.COMPLETED && s !== CampaignStatus.CANCELLED,
    };
  }
}
