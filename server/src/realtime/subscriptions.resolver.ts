import { Arg, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql';
import { GraphQLError } from 'graphql';
import { Auth } from '../graphql/auth';
import type { Principal } from '../modules/identity/principal';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../shared/errors';
import { loadObjectScope } from '../graphql/object-scope';
import { Permission } from '../modules/identity/permissions';
import { mayReadThread } from '../modules/inbox/visibility';
import { EventType, type LoggedEvent } from './events';
import { openLive } from './live';
import { AgentDashboard, LiveEvent, UnreadBadge } from './realtime.types';
import { openBadges, type UnreadBadge as Badge } from './badges';
import type { AgentDashboardSnapshot } from './dashboards';

const THREAD_EVENTS = new Set<string>([EventType.THREAD_CREATED, EventType.THREAD_UPDATED, EventType.MESSAGE_ADDED, EventType.MESSAGE_STATUS, EventType.NOTE_ADDED, EventType.TAGS_CHANGED, EventType.ASSIGNMENT_CHANGED]);

/** May this subscriber see this thread event? From the thread's state after the event; both sides of a transfer see it. */
function threadVisible(event: LoggedEvent, principal: Principal, groups: readonly string[]): boolean {
  const t = event.payload.thread;
  if (!t) return false;
  if (event.type === EventType.NOTE_ADDED && !principal.access.can(Permission.NOTES_READ, event.workspaceId)) return false;
  const a = event.payload.assignment;
  if (a && (a.fromUserId === principal.userId || (a.fromGroupId !== null && groups.includes(a.fromGroupId)))) {
    if (principal.access.can(Permission.THREADS_READ, event.workspaceId)) return true;
  }
  return mayReadThread(principal, { workspaceId: event.workspaceId, assigneeUserId: t.assigneeUserId, assigneeGroupId: t.assigneeGroupId }, groups);
}

/** What the GraphQL LiveEvent type reads: the payload flattened, each part tagged with its workspace. */
export function toLiveEvent(e: LoggedEvent): LiveEvent {
  const ws = { workspaceId: e.workspaceId };
  return {
    cursor: e.cursor,
    type: e.type as EventType,
    workspaceId: e.workspaceId,
    threadId: e.threadId ?? null,
    occurredAt: e.occurredAt,
    thread: e.payload.thread ? { ...e.payload.thread, ...ws } : null,
    message: e.payload.message ? { ...e.payload.message, ...ws } : null,
    note: e.payload.note ? { ...e.payload.note, ...ws } : null,
    tagIds: e.payload.tagIds ?? null,
    assignment: e.payload.assignment ? { ...e.payload.assignment, ...ws } : null,
    alert: e.payload.alert ? { ...e.payload.alert, ...ws } : null,
  };
}

function live(ctx: RequestContext) {
  if (!ctx.live) throw new GraphQLError('Subscriptions are not available here', { extensions: { code: ErrorCode.UNAVAILABLE } });
  return ctx.live;
}

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => LiveEvent, {
    description: 'Everything that happens on one thread: messages, delivery statuses, notes, tags, status, assignment.',
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      const found = await loadObjectScope('Thread', ctx, args.threadId);
      if (!found || found.hidden) throw new GraphQLError('Thread not found', { extensions: { code: ErrorCode.NOT_FOUND } });
      const workspaceId = found.workspaceIds[0]!;
      return openLive(ctx, live(ctx), {
        name: 'threadEvents',
        workspaceIds: [workspaceId],
        after: args.after,
        allowed: (p) => p.access.can(Permission.THREADS_READ, workspaceId),
        groupsMatter: (p) => !p.access.can(Permission.THREADS_READ_ALL, workspaceId),
        accept: (e, p, groups) => e.threadId === args.threadId && THREAD_EVENTS.has(e.type) && threadVisible(e, p, groups),
      });
    },
  })
  @Auth(Permission.THREADS_READ, { scope: { object: 'Thread', arg: 'threadId' } })
  threadEvents(
    @Root() event: LoggedEvent,
    @Arg('threadId', () => ID) _threadId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): LiveEvent {
    return toLiveEvent(event);
  }

  @Subscription(() => LiveEvent, {
    description: 'Every thread event of a workspace the subscriber may read, including new threads.',
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      return openLive(ctx, live(ctx), {
        name: 'inboxEvents',
        workspaceIds: [args.workspaceId],
        after: args.after,
        allowed: (p) => p.access.can(Permission.THREADS_READ, args.workspaceId),
        groupsMatter: (p) => !p.access.can(Permission.THREADS_READ_ALL, args.workspaceId),
        accept: (e, p, groups) => THREAD_EVENTS.has(e.type) && threadVisible(e, p, groups),
      });
    },
  })
  @Auth(Permission.THREADS_READ)
  inboxEvents(
    @Root() event: LoggedEvent,
    @Arg('workspaceId', () => ID) _workspaceId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): LiveEvent {
    return toLiveEvent(event);
  }

  @Subscription(() => LiveEvent, {
    description: 'Assignment changes: every one for supervisors and admins; for agents, those they are on either side of.',
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      return openLive(ctx, live(ctx), {
        name: 'assignmentTransfers',
        workspaceIds: [args.workspaceId],
        after: args.after,
        allowed: (p) => p.access.can(Permission.THREADS_READ, args.workspaceId),
        accept: (e, p, groups) => {
          const a = e.payload.assignment;
          if (e.type !== EventType.ASSIGNMENT_CHANGED || !a) return false;
          if (p.access.can(Permission.THREADS_ASSIGN, e.workspaceId)) return true;
          const mine = (user: string | null, group: string | null) => user === p.userId || (group !== null && groups.includes(group));
          return mine(a.fromUserId, a.fromGroupId) || mine(a.toUserId, a.toGroupId);
        },
      });
    },
  })
  @Auth(Permission.THREADS_READ)
  assignmentTransfers(
    @Root() event: LoggedEvent,
    @Arg('workspaceId', () => ID) _workspaceId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): LiveEvent {
    return toLiveEvent(event);
  }

  @Subscription(() => LiveEvent, {
    description: 'Keyword alerts of a workspace (auditors and admins).',
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      return openLive(ctx, live(ctx), {
        name: 'keywordAlerts',
        workspaceIds: [args.workspaceId],
        after: args.after,
        allowed: (p) => p.access.can(Permission.KEYWORD_ALERTS_RECEIVE, args.workspaceId),
        groupsMatter: () => false,
        accept: (e, p) => e.type === EventType.KEYWORD_ALERT && p.access.can(Permission.KEYWORD_ALERTS_RECEIVE, e.workspaceId),
      });
    },
  })
  @Auth(Permission.KEYWORD_ALERTS_RECEIVE)
  keywordAlerts(
    @Root() event: LoggedEvent,
    @Arg('workspaceId', () => ID) _workspaceId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): LiveEvent {
    return toLiveEvent(event);
  }
}

export { Ctx };

@Resolver()
export class DashboardSubscriptionResolver {
  @Subscription(() => AgentDashboard, {
    description: "Supervisors' live agent dashboard: availability, open and waiting threads, median first response today.",
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      const deps = live(ctx);
      if (!deps.dashboards) throw new GraphQLError('Dashboards are not available here', { extensions: { code: ErrorCode.UNAVAILABLE } });
      return deps.dashboards.open(ctx, deps, args.workspaceId);
    },
  })
  @Auth(Permission.AGENT_DASHBOARD_VIEW)
  agentDashboard(@Root() snapshot: AgentDashboardSnapshot, @Arg('workspaceId', () => ID) _workspaceId: string): AgentDashboard {
    return snapshot;
  }

  @Subscription(() => UnreadBadge, {
    description: "The subscriber's unread badge: a count now, then every change. Sent while not OFFLINE, or always with UNREAD_BADGES_WHEN_OFFLINE.",
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      return openBadges(ctx, live(ctx), args.workspaceId);
    },
  })
  @Auth(Permission.THREADS_READ)
  unreadCounts(@Root() badge: Badge, @Arg('workspaceId', () => ID) _workspaceId: string): UnreadBadge {
    return badge;
  }
}
