import { registerObjectScope } from '../../graphql/object-scope';
import { KeywordRule, Tag, Template } from './catalogue.entity';
import { Contact, OptOut } from './contact.entity';
import { Thread } from './thread.entity';
import { groupsOf, mayReadThread, threadReach } from './thread-policy';
import { threadRow } from './thread-rows';
import { firstMessagesAsked, threadWithFirstMessages } from './message-pages';

/**
 * Where inbox objects live. A thread the caller may not read (an agent, someone else's thread) is hidden.
 * Reads (queries, subscribing) take the thread as a plain row (`threadRow`: one indexed statement, batched and
 * kept for the request, no entity hydration), which the `thread(id)` field then returns; mutations load the
 * managed entity, which their transaction finds in the identity map rather than reading it again. A query
 * that asks for the thread's first message page reads it with the thread (the check's `info` says so).
 */
registerObjectScope('Thread', async (ctx, id, purpose, info) => {
  // `thread(id) { messages(first: n) }`: the thread and that page in one statement (message-pages.ts).
  const first = purpose === 'read' && info && ctx.principal ? firstMessagesAsked(info) : undefined;
  const thread =
    purpose === 'write' || !ctx.principal
      ? await ctx.em.findOne(Thread, { id })
      : first !== undefined
        ? await threadWithFirstMessages(ctx, id, first)
        : await threadRow(ctx, id);
  if (!thread) return null;
  // The caller's agent groups matter only to those who read the threads assigned to them.
  const groups = threadReach(ctx.principal!, thread.workspaceId) === 'assigned' ? await groupsOf(ctx) : [];
  return { workspaceIds: [thread.workspaceId], hidden: !mayReadThread(ctx.principal!, thread, groups) };
});

registerObjectScope('Contact', async (ctx, id) => {
  const c = await ctx.em.findOne(Contact, { id, mergedIntoId: null });
  return c ? { workspaceIds: [c.workspaceId] } : null;
});

registerObjectScope('OptOut', async (ctx, id) => {
  const o = await ctx.em.findOne(OptOut, { id });
  return o ? { workspaceIds: [o.workspaceId] } : null;
});

registerObjectScope('Tag', async (ctx, id) => {
  const t = await ctx.em.findOne(Tag, { id });
  return t ? { workspaceIds: [t.workspaceId] } : null;
});

registerObjectScope('Template', async (ctx, id) => {
  const t = await ctx.em.findOne(Template, { id });
  return t ? { workspaceIds: [t.workspaceId] } : null;
});

registerObjectScope('KeywordRule', async (ctx, id) => {
  const r = await ctx.em.findOne(KeywordRule, { id });
  return r ? { workspaceIds: [r.workspaceId] } : null;
});
