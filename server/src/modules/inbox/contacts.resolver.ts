import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import type { Connection } from '../../graphql/pagination';
import { Permission } from '../identity';
import { Contact, OptOut } from './contact.entity';
import { ContactConnection, ContactInput, ImportReport, OptOutConnection, OptOutInput } from './inbox.types';
import { ReadAction } from '../reports';

@Resolver(() => Contact)
export class ContactResolver {
  @Query(() => ContactConnection, { description: 'Contacts, newest first; search matches names, phone and email.' })
  @Auth(Permission.CONTACTS_READ)
  contacts(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('search', () => String, { nullable: true }) search: string | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<Contact>> {
    return ctx.services.contacts.list(ctx.em, ctx.principal!, { workspaceId, search, first, after });
  }

  @Query(() => Contact)
  @Auth(Permission.CONTACTS_READ, { scope: { object: 'Contact', arg: 'id' } })
  async contact(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Contact> {
    const contact = await ctx.em.findOneOrFail(Contact, { id });
    return ctx.services.readAudit.record(ctx.principal, ReadAction.CONTACT, 'Contact', id, contact.workspaceId, contact)!;
  }

  @Mutation(() => Contact)
  @Auth(Permission.CONTACTS_CREATE)
  createContact(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('input') input: ContactInput, @Ctx() ctx: RequestContext): Promise<Contact> {
    return ctx.services.contacts.create(ctx.em, ctx.principal!, workspaceId, input);
  }

  @Mutation(() => Contact, { description: 'Changes the given fields; customFields are merged (a null value removes nothing, it stores null).' })
  @Auth(Permission.CONTACTS_EDIT, { scope: { object: 'Contact', arg: 'id' } })
  updateContact(@Arg('id', () => ID) id: string, @Arg('input') input: ContactInput, @Ctx() ctx: RequestContext): Promise<Contact> {
    return ctx.services.contacts.update(ctx.em, ctx.principal!, id, input);
  }

  @Mutation(() => ImportReport, { description: 'CSV with a header row (firstName, lastName, phone, email; other columns become custom fields).' })
  @Auth(Permission.CONTACTS_IMPORT)
  importContacts(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('csv') csv: string, @Ctx() ctx: RequestContext): Promise<ImportReport> {
    return ctx.services.contacts.importCsv(ctx.em, ctx.principal!, workspaceId, csv);
  }

  @Mutation(() => Contact, { description: 'Merges a duplicate (same phone or email) into the contact kept; its threads move over.' })
  @Auth(Permission.CONTACTS_EDIT, { scope: { object: 'Contact', arg: 'keepId' } })
  mergeContacts(@Arg('keepId', () => ID) keepId: string, @Arg('mergeId', () => ID) mergeId: string, @Ctx() ctx: RequestContext): Promise<Contact> {
    return ctx.services.contacts.merge(ctx.em, ctx.principal!, keepId, mergeId);
  }

  @Query(() => OptOutConnection, { description: "Opt-outs of a workspace, or organization-wide ones when workspaceId is null." })
  @Auth(Permission.OPT_OUTS_READ)
  optOuts(
    @Arg('workspaceId', () => ID, { nullable: true }) workspaceId: string | null,
    @Arg('search', () => String, { nullable: true }) search: string | null,
    @Arg('includeReversed', () => Boolean, { nullable: true }) includeReversed: boolean | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<OptOut>> {
    return ctx.services.contacts.listOptOuts(ctx.em, { workspaceId, search, includeReversed, first, after });
  }

  @Mutation(() => OptOut, { description: 'Opts an address out: on a workspace, or organization-wide (owners); permanent or until a date.' })
  @Auth(Permission.OPT_OUTS_APPLY, { scope: { arg: 'input.workspaceId' } })
  optOut(@Arg('input') input: OptOutInput, @Ctx() ctx: RequestContext): Promise<OptOut> {
    return ctx.em.transactional((tx) =>
      ctx.services.contacts.optOut(tx, { principal: ctx.principal, organizationId: ctx.principal!.organizationId }, { ...input, workspaceId: input.workspaceId ?? null }),
    );
  }

  @Mutation(() => OptOut)
  @Auth(Permission.OPT_OUTS_REVERSE, { scope: { object: 'OptOut', arg: 'id' } })
  reverseOptOut(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<OptOut> {
    return ctx.services.contacts.reverseById(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => ImportReport, { description: 'Opts out a list of addresses (CSV) in one unit.' })
  @Auth(Permission.OPT_OUTS_MANAGE)
  uploadOptOuts(
    @Arg('workspaceId', () => ID, { nullable: true }) workspaceId: string | null,
    @Arg('csv') csv: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ImportReport> {
    return ctx.services.contacts.uploadOptOuts(ctx.em, ctx.principal!, workspaceId, csv, reason);
  }
}
