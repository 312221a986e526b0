import { GraphQLError } from 'graphql';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Principal, RequestContext } from '../graphql/context';
import { ErrorCode } from '../graphql/errors';
import { TENANT_FILTER } from '../db/tenant';
import { loadGroups } from '../modules/inbox/visibility';
import type { Services } from '../services';
import { compareCursor, decodeEventCursor, type LoggedEvent } from './events';
import { readAfter, safeHead } from './event-log';
import type { Hub, LiveSubscriber } from './hub';
import { PushQueue } from './queue';
import type { Metrics } from '../observability/metrics';
import type { Dashboards } from './dashboards';

export interface LiveDeps {
  hub: Hub;
  orm: MikroORM;
  services: Services;
  metrics?: Metrics;
  dashboards?: Dashboards;
}

export interface SubscriptionSpec {
  workspaceIds: string[];
  after?: string | null;
  /** Whether this subscriber receives this event, decided from cached state only. */
  accept(event: LoggedEvent, principal: Principal, groups: readonly string[]): boolean;
  /** Whether the subscription may go on at all (checked again whenever the user's access changes). */
  allowed(principal: Principal): boolean;
}

function coded(code: ErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/**
 * Opens a live stream: replays from `after` (if given) up to now, then goes live, with no gap and no
 * duplicate (events are delivered strictly in cursor order). Each event is authorised for this subscriber at
 * delivery from cached access; an access change re-checks once and ends the stream with FORBIDDEN when lost.
 */
export async function openLive(ctx: RequestContext, deps: LiveDeps, spec: SubscriptionSpec): Promise<AsyncIterableIterator<LoggedEvent>> {
  const principal0 = ctx.principal!;
  const em = deps.orm.em.fork({ clear: true, useContext: false });
  em.setFilterParams(TENANT_FILTER, { organizationId: principal0.organizationId });
  let principal = principal0;
  let groups = await loadGroups(em, principal.userId);

  let last: { xid: string; id: string } = { xid: '0', id: '0' };
  let replaying = true;
  const buffer: LoggedEvent[] = [];
  const queue = new PushQueue<LoggedEvent>(() => {
    deps.hub.unregister(sub);
    deps.metrics?.activeSubscriptions.dec();
  });

  const handle = (event: LoggedEvent) => {
    if (compareCursor(event, last) <= 0) return;
    last = { xid: event.xid, id: event.id };
    if (spec.accept(event, principal, groups)) queue.push(event);
  };

  const sub: LiveSubscriber = {
    organizationId: principal.organizationId,
    userId: principal.userId,
    workspaceIds: new Set(spec.workspaceIds),
    deliver: (event) => (replaying ? buffer.push(event) : handle(event)),
    accessChanged: () => {
      const fork = deps.orm.em.fork({ clear: true, useContext: false });
      void (async () => {
        const fresh = ctx.credential ? await deps.services.authentication.authenticate(fork, ctx.credential) : null;
        if (!fresh || !spec.allowed(fresh)) {
          queue.fail(coded(ErrorCode.FORBIDDEN, 'Your access changed: this subscription has ended'));
          return;
        }
        principal = fresh;
        ctx.principal = fresh;
        groups = await loadGroups(fork, fresh.userId);
      })().catch(() => queue.fail(coded(ErrorCode.UNAVAILABLE, 'Could not re-check access; resubscribe')));
    },
  };

  // Registered first, so every event after the hub's position reaches this stream (buffered until the
  // replay is done); the starting point is then decided, never behind the hub's position at registration.
  const hubAtRegistration = deps.hub.head();
  deps.hub.register(sub);
  deps.metrics?.activeSubscriptions.inc();
  try {
    if (spec.after) {
      const decoded = decodeEventCursor(spec.after);
      if (!decoded) throw coded(ErrorCode.BAD_USER_INPUT, 'Invalid cursor');
      const watermark = await em.getConnection().execute<Array<{ xid: string; event_id: string }>>('select xid::text as xid, event_id::text as event_id from event_log_watermark');
      if (watermark[0] && compareCursor(decoded, { xid: watermark[0].xid, id: watermark[0].event_id }) < 0) {
        throw coded(ErrorCode.CURSOR_EXPIRED, 'This cursor is older than the event log keeps; reload and subscribe without it');
      }
      last = decoded;
    } else {
      const head = await safeHead(em);
      last = compareCursor(head, hubAtRegistration) > 0 ? head : hubAtRegistration;
    }
  } catch (err) {
    deps.hub.unregister(sub);
    deps.metrics?.activeSubscriptions.dec();
    throw err;
  }
  try {
    if (spec.after) {
      for (;;) {
        const batch = await readAfter(em, last, 500, { organizationId: principal.organizationId, workspaceIds: spec.workspaceIds });
        for (const event of batch) handle(event);
        if (batch.length < 500) break;
      }
    }
  } catch (err) {
    queue.fail(err);
  }
  replaying = false;
  for (const event of buffer.splice(0)) handle(event);
  return queue;
}
