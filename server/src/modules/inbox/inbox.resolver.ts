import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { badInput, notFound } from '../../shared/errors';
import { loaderFor, primedLoaderFor } from '../../graphql/loaders';
import type { Connection } from '../../graphql/pagination';
import { Permission } from '../identity';
import { assertUserPrincipal } from '../identity';
import { Tag } from './catalogue.entity';
import { Contact } from './contact.entity';
import {
  InboundMessageInput,
  InboundReceipt,
  MessageConnection,
  SendMessageInput,
  StartThreadInput,
  ThreadConnection,
  ThreadFilterInput,
  ThreadViewerCan,
  UnreadCounts,
} from './inbox.types';
import { AssignmentEvent, Message, Note, Thread, ThreadStatus } from './thread.entity';
import { groupsOf, threadReach } from './thread-policy';
import { ReadAction } from '../reports';
import { threadRow } from './thread-rows';
import { firstMessagePages } from './message-pages';

const THREAD = (arg = 'threadId') => ({ object: 'Thread', arg });

/** Every field name selected under a field (fragments followed): what a thread page's statement should also read. */
function selectedNames(info: GraphQLResolveInfo): Set<string> {
  const names = new Set<string>();
  const walk = (set: SelectionSetNode | undefined) => {
    for (const sel of set?.selections ?? []) {
      if (sel.kind === 'Field') {
        names.add(sel.name.value);
        walk(sel.selectionSet);
      } else if (sel.kind === 'InlineFragment') walk(sel.selectionSet);
      else walk(info.fragments[sel.name.value]?.selectionSet);
    }
  };
  for (const node of info.fieldNodes) walk(node.selectionSet);
  return names;
}

/** The per-request loaders of a thread's contact, tags and unread count (a thread page primes them). */
function contactLoader(ctx: RequestContext) {
  return primedLoaderFor<string, Contact | null>(ctx, 'contactById', async (ids) => {
    const rows = await ctx.em.find(Contact, { id: { $in: [...ids] } });
    return new Map(rows.map((c) => [c.id, c]));
  }, null);
}

function tagsLoader(ctx: RequestContext) {
  return primedLoaderFor<string, Tag[]>(ctx, 'tagsByThread', (ids) => ctx.services.catalogue.tagsOf(ctx.em, ids), []);
}

function unreadLoader(ctx: RequestContext) {
  return primedLoaderFor<string, number>(ctx, 'unreadByThread', (ids) => ctx.services.threads.unreadCounts(ctx.reader, ctx.principal!.userId, ids, ctx.principal!.organizationId), 0);
}

/** The caller's agent groups, read only when the visibility rule needs them (agents: threads of their groups). */
async function groupsIfNeeded(ctx: RequestContext, workspaceId: string): Promise<string[]> {
  return threadReach(ctx.principal!, workspaceId) === 'assigned' ? groupsOf(ctx) : [];
}

/** Threads, messages and assignment. Thin: arguments in, one service call, result out. */
@Resolver(() => Thread)
export class InboxResolver {
  @Query(() => ThreadConnection, { description: 'A workspace inbox, newest activity first. Agents see their threads and their groups\' queues.' })
  @Auth(Permission.THREADS_READ)
  async threads(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('filter', () => ThreadFilterInput, { nullable: true }) filter: ThreadFilterInput | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<Thread>> {
    const asked = selectedNames(info);
    const include = { contact: asked.has('contact'), tags: asked.has('tags'), unread: asked.has('unreadCount') };
    const page = await ctx.services.threads.list(ctx.reader, ctx.principal!, await groupsIfNeeded(ctx, workspaceId), { workspaceId, filter, first, after }, include);
    // The page's statement read them already: the field resolvers answer them without a promise.
    if (include.contact) {
      const loader = contactLoader(ctx);
      for (const [id, contact] of page.contacts) loader.prime(id, contact);
    }
    if (include.tags) {
      const loader = tagsLoader(ctx);
      for (const [id, tags] of page.tags) loader.prime(id, tags);
    }
    if (include.unread) {
      const loader = unreadLoader(ctx);
      for (const [id, n] of page.unread) loader.prime(id, n);
    }
    return page.connection;
  }

  @Query(() => Thread)
  @Auth(Permission.THREADS_READ, { scope: THREAD('id') })
  async thread(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    // The plain row its scope check read (thread-rows.ts): no second statement, no entity hydration.
    const thread = await threadRow(ctx, id);
    if (!thread) throw notFound('Thread');
    return ctx.services.threads.wake(thread);
  }

  @Query(() => UnreadCounts)
  @Auth(Permission.THREADS_READ)
  async unreadCounts(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<UnreadCounts> {
    return { workspaceId, ...(await ctx.services.threads.workspaceUnread(ctx.em, ctx.principal!, await groupsIfNeeded(ctx, workspaceId), workspaceId)) };
  }

  @Mutation(() => Message, { description: 'Sends a reply. Opted-out contacts: OPTED_OUT, nothing sent. A retried idempotencyKey sends once.' })
  // The send locks and reads the thread itself (message-writes.ts lockSendTarget): the check needs a plain row.
  @Auth(Permission.MESSAGES_SEND, { scope: { ...THREAD('input.threadId'), lookup: 'read' } })
  sendMessage(@Arg('input') input: SendMessageInput, @Ctx() ctx: RequestContext): Promise<Message> {
    return ctx.services.messaging.send(ctx.em, ctx.principal!, input);
  }

  @Mutation(() => Thread, { description: 'Starts a conversation with a contact (by id, or by phone: created when new). An agent who reads only their own threads gets it assigned; supervisors leave it unassigned.' })
  @Auth(Permission.MESSAGES_SEND, { scope: { arg: 'input.workspaceId' } })
  startThread(@Arg('input') input: StartThreadInput, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.messaging.startThread(ctx.em, ctx.principal!, input);
  }

  @Mutation(() => InboundReceipt, { description: 'An inbound message from a channel integration (API keys). A replayed externalId is stored once.' })
  @Auth(Permission.MESSAGES_INGEST, { scope: { arg: 'input.workspaceId' } })
  async ingestInboundMessage(@Arg('input') input: InboundMessageInput, @Ctx() ctx: RequestContext): Promise<InboundReceipt> {
    const { message, duplicate } = await ctx.services.messaging.ingestWithOutcome(ctx.em, { organizationId: ctx.principal!.organizationId, principal: ctx.principal }, input);
    return { messageId: message.id, threadId: message.threadId, duplicate };
  }

  @Mutation(() => Thread, { description: "Marks the thread read for the caller (user sessions only: FORBIDDEN for an API key)." })
  @Auth(Permission.THREADS_READ, { scope: THREAD() })
  markThreadRead(@Arg('threadId', () => ID) threadId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    assertUserPrincipal(ctx.principal!);
    return ctx.services.threads.markRead(ctx.em, ctx.principal!, threadId);
  }

  @Mutation(() => Thread)
  @Auth(Permission.THREADS_CLOSE, { scope: THREAD() })
  closeThread(@Arg('threadId', () => ID) threadId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.threads.setStatus(ctx.em, ctx.principal!, threadId, { status: ThreadStatus.CLOSED });
  }

  @Mutation(() => Thread)
  @Auth(Permission.THREADS_CLOSE, { scope: THREAD() })
  reopenThread(@Arg('threadId', () => ID) threadId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.threads.setStatus(ctx.em, ctx.principal!, threadId, { status: ThreadStatus.OPEN });
  }

  @Mutation(() => Thread)
  @Auth(Permission.THREADS_CLOSE, { scope: THREAD() })
  snoozeThread(@Arg('threadId', () => ID) threadId: string, @Arg('until', () => Date) until: Date, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.threads.setStatus(ctx.em, ctx.principal!, threadId, { status: ThreadStatus.SNOOZED, snoozedUntil: until });
  }

  @Mutation(() => Thread)
  @Auth(Permission.THREADS_ARCHIVE, { scope: THREAD() })
  archiveThread(@Arg('threadId', () => ID) threadId: string, @Arg('archived', { defaultValue: true }) archived: boolean, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.threads.setStatus(ctx.em, ctx.principal!, threadId, { archived });
  }

  @Mutation(() => Thread, { description: 'Marks a thread as not needing a response.' })
  @Auth(Permission.THREADS_MARK_NO_RESPONSE, { scope: THREAD() })
  markNoResponseNeeded(@Arg('threadId', () => ID) threadId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.threads.setStatus(ctx.em, ctx.principal!, threadId, { needsResponse: false });
  }

  @Mutation(() => Note, { description: 'An internal note: never sent to the contact.' })
  @Auth(Permission.NOTES_WRITE, { scope: THREAD() })
  addNote(@Arg('threadId', () => ID) threadId: string, @Arg('body') body: string, @Ctx() ctx: RequestContext): Promise<Note> {
    return ctx.services.messaging.addNote(ctx.em, ctx.principal!, threadId, body);
  }

  @Mutation(() => Thread)
  @Auth(Permission.THREADS_ASSIGN, { scope: THREAD() })
  assignThread(
    @Arg('threadId', () => ID) threadId: string,
    @Arg('userId', () => ID, { nullable: true }) userId: string | null,
    @Arg('groupId', () => ID, { nullable: true }) groupId: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Thread> {
    return ctx.services.assignment.assign(ctx.em, ctx.principal!, threadId, { userId, groupId });
  }

  @Mutation(() => Thread)
  @Auth(Permission.THREADS_ASSIGN, { scope: THREAD() })
  unassignThread(@Arg('threadId', () => ID) threadId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    return ctx.services.assignment.unassign(ctx.em, ctx.principal!, threadId);
  }

  @Mutation(() => Thread, { description: 'Hands the thread to a colleague or an agent group, with a reason (agents need the TRANSFER add-on).' })
  @Auth(Permission.THREADS_TRANSFER, { scope: THREAD() })
  transferThread(
    @Arg('threadId', () => ID) threadId: string,
    @Arg('toUserId', () => ID, { nullable: true }) toUserId: string | null,
    @Arg('toGroupId', () => ID, { nullable: true }) toGroupId: string | null,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Thread> {
    return ctx.services.assignment.transfer(ctx.em, ctx.principal!, threadId, { userId: toUserId, groupId: toGroupId }, reason);
  }

  @Mutation(() => Thread, { nullable: true, description: 'The oldest waiting unassigned thread of your groups, now yours; null when the queue is empty (user sessions only).' })
  @Auth(Permission.THREADS_SELF_ASSIGN)
  async takeNextThread(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<Thread | null> {
    assertUserPrincipal(ctx.principal!);
    return ctx.services.assignment.takeNext(ctx.em, ctx.principal!, workspaceId, await groupsOf(ctx));
  }

  @Mutation(() => Thread, { description: 'Claims a reply in a campaign thread (user sessions only).' })
  @Auth(Permission.THREADS_REQUEST, { scope: { object: 'Thread', arg: 'threadId' } })
  claimThread(@Arg('threadId', () => ID) threadId: string, @Ctx() ctx: RequestContext): Promise<Thread> {
    assertUserPrincipal(ctx.principal!);
    return ctx.services.assignment.claim(ctx.em, ctx.principal!, threadId);
  }

  // ------------------------------------------------------------ fields

  @FieldResolver(() => Contact, { nullable: true })
  @Auth(Permission.CONTACTS_READ)
  contact(@Root() thread: Thread, @Ctx() ctx: RequestContext): Contact | null | Promise<Contact | null> {
    return contactLoader(ctx).load(thread.contactId);
  }

  @FieldResolver(() => [Tag])
  tags(@Root() thread: Thread, @Ctx() ctx: RequestContext): Tag[] | Promise<Tag[]> {
    return tagsLoader(ctx).load(thread.id);
  }

  @FieldResolver(() => Int, { description: "Inbound messages the viewer has not read." })
  unreadCount(@Root() thread: Thread, @Ctx() ctx: RequestContext): number | Promise<number> {
    return unreadLoader(ctx).load(thread.id);
  }

  @FieldResolver(() => String, { nullable: true, description: 'The latest message, shortened (hidden from viewers).' })
  @Auth(Permission.MESSAGES_READ_BODY)
  lastMessagePreview(@Root() thread: Thread): string | null {
    return thread.lastMessagePreview;
  }

  @FieldResolver(() => MessageConnection, { description: 'Messages, newest first.' })
  messages(
    @Root() thread: Thread,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Connection<Message> | Promise<Connection<Message>> {
    if (first !== null && (first < 1 || first > 100)) throw badInput('first must be 1..100', { field: 'first' });
    ctx.services.readAudit.record(ctx.principal, ReadAction.THREAD_MESSAGES, 'Thread', thread.id, thread.workspaceId);
    if (after) return ctx.services.threads.messages(ctx.reader, ctx.principal!.organizationId, thread.id, { first, after });
    return firstMessagePages(ctx, first).load(thread.id);
  }

  @FieldResolver(() => [Note], { nullable: true })
  @Auth(Permission.NOTES_READ)
  notes(@Root() thread: Thread, @Ctx() ctx: RequestContext): Promise<Note[]> {
    return loaderFor<string, Note[]>(ctx, 'notesByThread', async (ids) => {
      const rows = await ctx.em.find(Note, { thread: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } });
      const out = new Map<string, Note[]>();
      for (const n of rows) out.set(n.threadId, [...(out.get(n.threadId) ?? []), n]);
      return out;
    }, []).load(thread.id);
  }

  @FieldResolver(() => [AssignmentEvent])
  assignmentHistory(@Root() thread: Thread, @Ctx() ctx: RequestContext): Promise<AssignmentEvent[]> {
    return loaderFor<string, AssignmentEvent[]>(ctx, 'assignmentByThread', (ids) => ctx.services.assignment.history(ctx.em, ids), []).load(thread.id);
  }

  @FieldResolver(() => ThreadViewerCan)
  viewerCan(@Root() thread: Thread, @Ctx() ctx: RequestContext): ThreadViewerCan {
    const held = ctx.principal!.access.permissionsIn(thread.workspaceId);
    return {
      send: held.has(Permission.MESSAGES_SEND),
      note: held.has(Permission.NOTES_WRITE),
      assign: held.has(Permission.THREADS_ASSIGN),
      transfer: held.has(Permission.THREADS_TRANSFER),
      close: held.has(Permission.THREADS_CLOSE),
      archive: held.has(Permission.THREADS_ARCHIVE),
      tag: held.has(Permission.TAGS_APPLY),
      readBodies: held.has(Permission.MESSAGES_READ_BODY),
    };
  }
}
