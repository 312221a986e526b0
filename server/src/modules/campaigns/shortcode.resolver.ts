import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { loaderFor } from '../../graphql/loaders';
import type { Connection } from '../../graphql/pagination';
import { Permission } from '../identity';
import { CampaignGroup } from './campaign.entity';
import { ShortcodeKeyword } from './shortcode.entity';
import { ShortcodeKeywordInput, ShortcodeSubscriber, ShortcodeSubscriberConnection, SubscribersAdded } from './shortcode.types';

/** Shortcode keywords and subscribers of a workspace (SHORTCODE_MANAGE, checked in the workspace named). */
@Resolver(() => ShortcodeKeyword)
export class ShortcodeResolver {
  @Query(() => [ShortcodeKeyword], { description: 'The opt-in keywords of a workspace, alphabetically.' })
  @Auth(Permission.SHORTCODE_MANAGE)
  shortcodeKeywords(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<ShortcodeKeyword[]> {
    return ctx.services.shortcodes.list(ctx.em, workspaceId);
  }

  @Mutation(() => ShortcodeKeyword, { description: 'An opt-in keyword: a contact texting it joins the group and gets the automatic reply.' })
  @Auth(Permission.SHORTCODE_MANAGE)
  createShortcodeKeyword(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('input') input: ShortcodeKeywordInput, @Ctx() ctx: RequestContext): Promise<ShortcodeKeyword> {
    return ctx.services.shortcodes.create(ctx.em, ctx.principal!, workspaceId, input);
  }

  @Mutation(() => ShortcodeKeyword, { description: 'Edits a keyword (omitted fields keep their value); active: false stops it answering.' })
  @Auth(Permission.SHORTCODE_MANAGE)
  updateShortcodeKeyword(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('keywordId', () => ID) keywordId: string,
    @Arg('input') input: ShortcodeKeywordInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ShortcodeKeyword> {
    return ctx.services.shortcodes.update(ctx.em, ctx.principal!, workspaceId, keywordId, input);
  }

  @Mutation(() => Boolean, { description: 'Deletes a keyword and its subscriptions; the group and its members stay.' })
  @Auth(Permission.SHORTCODE_MANAGE)
  deleteShortcodeKeyword(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('keywordId', () => ID) keywordId: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.shortcodes.delete(ctx.em, ctx.principal!, workspaceId, keywordId);
  }

  @Query(() => ShortcodeSubscriberConnection, { description: 'Subscribers of a keyword, most recent first.' })
  @Auth(Permission.SHORTCODE_MANAGE)
  shortcodeSubscribers(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('keywordId', () => ID) keywordId: string,
    @Arg('includeOptedOut', () => Boolean, { nullable: true }) includeOptedOut: boolean | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<ShortcodeSubscriber>> {
    return ctx.services.shortcodes.subscribers(ctx.em, workspaceId, keywordId, { first, after, includeOptedOut });
  }

  @Mutation(() => SubscribersAdded, { description: 'Subscribes contacts of the workspace to a keyword by hand (they join its group).' })
  @Auth(Permission.SHORTCODE_MANAGE)
  addShortcodeSubscribers(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('keywordId', () => ID) keywordId: string,
    @Arg('contactIds', () => [ID]) contactIds: string[],
    @Ctx() ctx: RequestContext,
  ): Promise<SubscribersAdded> {
    return ctx.services.shortcodes.addSubscribers(ctx.em, ctx.principal!, workspaceId, keywordId, contactIds);
  }

  @Mutation(() => ShortcodeSubscriber, { description: "Opts a subscriber out of a keyword: they leave its group; who and when are kept." })
  @Auth(Permission.SHORTCODE_MANAGE)
  optOutShortcodeSubscriber(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('subscriptionId', () => ID) subscriptionId: string, @Ctx() ctx: RequestContext): Promise<ShortcodeSubscriber> {
    return ctx.services.shortcodes.optOut(ctx.em, ctx.principal!, workspaceId, subscriptionId);
  }

  @FieldResolver(() => CampaignGroup, { nullable: true, description: 'The group texting contacts join.' })
  @Auth(Permission.CAMPAIGNS_READ)
  group(@Root() keyword: ShortcodeKeyword, @Ctx() ctx: RequestContext): Promise<CampaignGroup | null> {
    return loaderFor<string, CampaignGroup | null>(ctx, 'campaignGroupById', async (ids) => {
      const rows = await ctx.em.find(CampaignGroup, { id: { $in: [...ids] } });
      return new Map(rows.map((g) => [g.id, g]));
    }, null).load(keyword.group.id);
  }
}
