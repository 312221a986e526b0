import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import type { Connection } from '../../graphql/pagination';
import { Permission } from '../identity';
import { KeywordAlert, KeywordRule, Tag, Template, WorkspaceSettings } from './catalogue.entity';
import { KeywordAlertConnection, WebhookSecret } from './inbox.types';
import { Thread } from './thread.entity';

@Resolver()
export class CatalogueResolver {
  @Query(() => [Tag])
  @Auth(Permission.WORKSPACE_READ)
  tags(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<Tag[]> {
    return ctx.em.find(Tag, { workspace: workspaceId }, { orderBy: { name: 'asc' } });
  }

  @Mutation(() => Tag)
  @Auth(Permission.TAGS_MANAGE)
  createTag(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('name') name: string,
    @Arg('color', () => String, { nullable: true }) color: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Tag> {
    return ctx.services.catalogue.createTag(ctx.em, ctx.principal!, workspaceId, name, color);
  }

  @Mutation(() => Boolean)
  @Auth(Permission.TAGS_MANAGE, { scope: { object: 'Tag', arg: 'id' } })
  deleteTag(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.catalogue.deleteTag(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Thread)
  @Auth(Permission.TAGS_APPLY, { scope: { object: 'Thread', arg: 'threadId' } })
  applyTag(@Arg('threadId', () => ID) threadId: string, @Arg('tagId', () => ID) tagId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.catalogue.tagThread(ctx.em, ctx.principal!, threadId, tagId, true);
  }

  @Mutation(() => Thread)
  @Auth(Permission.TAGS_APPLY, { scope: { object: 'Thread', arg: 'threadId' } })
  removeTag(@Arg('threadId', () => ID) threadId: string, @Arg('tagId', () => ID) tagId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.catalogue.tagThread(ctx.em, ctx.principal!, threadId, tagId, false);
  }

  @Query(() => [Template])
  @Auth(Permission.TEMPLATES_READ)
  templates(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<Template[]> {
    return ctx.em.find(Template, { workspace: workspaceId }, { orderBy: { name: 'asc' } });
  }

  @Mutation(() => Template, { description: 'Variables look like {{contact.firstName}} (contact fields and custom fields).' })
  @Auth(Permission.TEMPLATES_MANAGE)
  createTemplate(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('name') name: string, @Arg('body') body: string, @Ctx() ctx: RequestContext): Promise<Template> {
    return ctx.services.catalogue.saveTemplate(ctx.em, ctx.principal!, { workspaceId, name, body });
  }

  @Mutation(() => Template)
  @Auth(Permission.TEMPLATES_MANAGE, { scope: { object: 'Template', arg: 'id' } })
  updateTemplate(@Arg('id', () => ID) id: string, @Arg('name') name: string, @Arg('body') body: string, @Ctx() ctx: RequestContext): Promise<Template> {
    return ctx.services.catalogue.saveTemplate(ctx.em, ctx.principal!, { id, name, body });
  }

  @Mutation(() => Boolean)
  @Auth(Permission.TEMPLATES_MANAGE, { scope: { object: 'Template', arg: 'id' } })
  deleteTemplate(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.catalogue.deleteTemplate(ctx.em, ctx.principal!, id);
  }

  @Query(() => WorkspaceSettings)
  @Auth(Permission.WORKSPACE_READ)
  workspaceSettings(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<WorkspaceSettings> {
    return ctx.services.catalogue.settingsOf(ctx.em, ctx.principal!, workspaceId);
  }

  @Mutation(() => WorkspaceSettings, { description: 'Office hours: a time zone and a weekly schedule (null: always open).' })
  @Auth(Permission.OFFICE_HOURS_MANAGE)
  setOfficeHours(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('timeZone') timeZone: string,
    @Arg('weeklyHours', () => GraphQLJSONObject, { nullable: true }) weeklyHours: Record<string, unknown> | null,
    @Ctx() ctx: RequestContext,
  ): Promise<WorkspaceSettings> {
    return ctx.services.catalogue.setOfficeHours(ctx.em, ctx.principal!, workspaceId, timeZone, weeklyHours);
  }

  @Mutation(() => WorkspaceSettings, { description: 'The out-of-hours auto-response, the first-contact greeting and the opt-out/opt-in confirmations.' })
  @Auth(Permission.AUTO_RESPONSES_MANAGE)
  setAutoResponses(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('autoResponse', () => String, { nullable: true }) autoResponse: string | null,
    @Arg('greeting', () => String, { nullable: true }) greeting: string | null,
    @Arg('optOutReply', () => String, { nullable: true }) optOutReply: string | null,
    @Arg('optInReply', () => String, { nullable: true }) optInReply: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<WorkspaceSettings> {
    return ctx.services.catalogue.setAutoResponses(ctx.em, ctx.principal!, workspaceId, { autoResponse, greeting, optOutReply, optInReply });
  }

  @Mutation(() => WebhookSecret, { description: 'A new signing secret for POST /webhooks/inbound; the previous one stops working.' })
  @Auth(Permission.WEBHOOKS_MANAGE)
  async rotateWebhookSecret(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<WebhookSecret> {
    return { workspaceId, secret: await ctx.services.catalogue.rotateWebhookSecret(ctx.em, ctx.principal!, workspaceId) };
  }

  @Query(() => [KeywordRule])
  @Auth(Permission.KEYWORD_ALERTS_RECEIVE)
  keywordRules(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<KeywordRule[]> {
    return ctx.em.find(KeywordRule, { workspace: workspaceId }, { orderBy: { name: 'asc' } });
  }

  @Mutation(() => KeywordRule, { description: 'Words or phrases (case- and accent-insensitive) that raise an alert on inbound and outbound text.' })
  @Auth(Permission.KEYWORD_RULES_MANAGE)
  createKeywordRule(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('name') name: string,
    @Arg('phrases', () => [String]) phrases: string[],
    @Ctx() ctx: RequestContext,
  ): Promise<KeywordRule> {
    return ctx.services.catalogue.saveKeywordRule(ctx.em, ctx.principal!, { workspaceId, name, phrases });
  }

  @Mutation(() => KeywordRule)
  @Auth(Permission.KEYWORD_RULES_MANAGE, { scope: { object: 'KeywordRule', arg: 'id' } })
  updateKeywordRule(
    @Arg('id', () => ID) id: string,
    @Arg('name') name: string,
    @Arg('phrases', () => [String]) phrases: string[],
    @Arg('active', () => Boolean, { nullable: true }) active: boolean | null,
    @Ctx() ctx: RequestContext,
  ): Promise<KeywordRule> {
    return ctx.services.catalogue.saveKeywordRule(ctx.em, ctx.principal!, { id, name, phrases, active });
  }

  @Mutation(() => Boolean)
  @Auth(Permission.KEYWORD_RULES_MANAGE, { scope: { object: 'KeywordRule', arg: 'id' } })
  deleteKeywordRule(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.catalogue.deleteKeywordRule(ctx.em, ctx.principal!, id);
  }

  @Query(() => KeywordAlertConnection)
  @Auth(Permission.KEYWORD_ALERTS_RECEIVE)
  keywordAlerts(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<KeywordAlert>> {
    return ctx.services.catalogue.alerts(ctx.em, workspaceId, { first, after });
  }
}
