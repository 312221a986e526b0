import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { Auth } from '../graphql/auth';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../shared/errors';
import { liveError } from '../graphql/errors';
import { loadObjectScope } from '../graphql/object-scope';
import { Permission } from '../modules/identity';
import { mayReadThreadsIn, maySeeAssignmentChange, maySeeThreadEvent, threadStreamAccess } from '../modules/inbox';
import { EventType, type LoggedEvent } from './events';
import { openLive } from './live';
import { AgentDashboard, LiveEvent, UnreadBadge } from './realtime.types';
import { openBadges, type UnreadBadge as Badge } from './badges';
import type { AgentDashboardSnapshot } from './dashboards';

const THREAD_EVENTS = new Set<string>([EventType.THREAD_CREATED, EventType.THREAD_UPDATED, EventType.MESSAGE_ADDED, EventType.MESSAGE_STATUS, EventType.NOTE_ADDED, EventType.TAGS_CHANGED, EventType.ASSIGNMENT_CHANGED]);

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
  if (!ctx.live) throw liveError(ErrorCode.UNAVAILABLE, 'Subscriptions are not available here');
  return ctx.live;
}

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => LiveEvent, {
    description: 'Everything that happens on one thread: messages, delivery statuses, notes, tags, status, assignment.',
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      const found = await loadObjectScope('Thread', ctx, args.threadId);
      if (!found || found.hidden) throw liveError(ErrorCode.NOT_FOUND, 'Thread not found');
      const workspaceId = found.workspaceIds[0]!;
      return openLive(ctx, live(ctx), {
        name: 'threadEvents',
        workspaceIds: [workspaceId],
        after: args.after,
        ...threadStreamAccess(workspaceId),
        accept: (e, p, groups) => e.threadId === args.threadId && THREAD_EVENTS.has(e.type) && maySeeThreadEvent(p, e, groups),
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
        ...threadStreamAccess(args.workspaceId),
        accept: (e, p, groups) => THREAD_EVENTS.has(e.type) && maySeeThreadEvent(p, e, groups),
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
        allowed: (p) => mayReadThreadsIn(p, args.workspaceId),
        accept: (e, p, groups) => maySeeAssignmentChange(p, e, groups),
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

@Resolver()
export class DashboardSubscriptionResolver {
  @Subscription(() => AgentDashboard, {
    description: "Supervisors' live agent dashboard: availability, open and waiting threads, median first response today.",
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      const deps = live(ctx);
      if (!deps.dashboards) throw liveError(ErrorCode.UNAVAILABLE, 'Dashboards are not available here');
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
