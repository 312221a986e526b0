import type { Principal } from '../modules/identity';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../shared/errors';
import { compareCursor, decodeEventCursor, type LoggedEvent } from './events';
import type { MikroORM } from '@mikro-orm/postgresql';
import { readRange, safeHead, type LogPosition } from './event-log';
import { LiveSubscription, type LiveDeps } from './live-subscription';
import { liveError } from '../graphql/errors';
import { CoalescedReads } from '../shared/coalesce';

export type { LiveDeps } from './live-subscription';

export interface SubscriptionSpec {
  /** Metrics label: the subscription field. */
  name: string;
  workspaceIds: string[];
  after?: string | null;
  /** Whether this subscriber receives this event, decided from cached state only. */
  accept(event: LoggedEvent, principal: Principal, groups: readonly string[]): boolean;
  /** Whether the subscription may go on at all (checked again whenever the socket's access changes). */
  allowed(principal: Principal): boolean;
  /** Whether agent groups can change what this principal receives (default: yes). */
  groupsMatter?(principal: Principal): boolean;
}

const REPLAY_PAGE = 500;

/**
 * The safe line for subscriptions starting without a cursor, one read for all that start together (10k sockets
 * subscribing at once make a handful of reads, not 10k). A caller never joins a read that started before it
 * asked (it waits for the next one), so the line it gets is at least the one when it subscribed. safeHead only
 * takes the driver's connection: no EntityManager fork. Back-to-back reads are spaced: a burst of subscribers
 * shares one read per interval (a subscriber waits at most that long), one after a quiet spell reads at once.
 */
const SAFE_HEAD_SPACING_MS = 20;
const safeHeads = new WeakMap<MikroORM, CoalescedReads<LogPosition>>();
function sharedSafeHead(orm: MikroORM): Promise<LogPosition> {
  let reads = safeHeads.get(orm);
  if (!reads) safeHeads.set(orm, (reads = new CoalescedReads(SAFE_HEAD_SPACING_MS)));
  return reads.read('safeHead', () => safeHead(orm.em));
}

/**
 * Opens a live event stream: replays from `after` (if given) up to the hub's position H at registration,
 * then the events the hub delivers after H, with no gap and no duplicate (strictly in cursor order). Each
 * event is authorised for this subscriber at delivery from cached access; the lifecycle (live-subscription.ts)
 * re-authorises on access changes.
 */
export async function openLive(ctx: RequestContext, deps: LiveDeps, spec: SubscriptionSpec): Promise<AsyncIterableIterator<LoggedEvent>> {
  const sub = new LiveSubscription<LoggedEvent>(ctx, deps, {
    name: spec.name,
    workspaceIds: spec.workspaceIds,
    allowed: spec.allowed,
    groupsMatter: spec.groupsMatter,
    onEvent: (event) => {
      if (spec.accept(event, sub.principal, sub.groups)) sub.push(event);
    },
  });
  return sub.open(async (head, fork) => {
    let from = head;
    if (spec.after) {
      const em = fork();
      const decoded = decodeEventCursor(spec.after);
      if (!decoded) throw liveError(ErrorCode.BAD_USER_INPUT, 'Invalid cursor');
      const watermark = await em.getConnection().execute<Array<{ xid: string; event_id: string }>>('select xid::text as xid, event_id::text as event_id from event_log_watermark');
      if (watermark[0] && compareCursor(decoded, { xid: watermark[0].xid, id: watermark[0].event_id }) < 0) {
        throw liveError(ErrorCode.CURSOR_EXPIRED, 'This cursor is older than the event log keeps; reload and subscribe without it');
      }
      // Exactly (after, H]: the hub has passed every one of them, so they are committed; later ones arrive live.
      // The first page is read here; the rest a page at a time as the socket takes them (LiveSubscription).
      let last = decoded;
      const scope = { organizationId: sub.principal.organizationId, workspaceIds: spec.workspaceIds };
      const page = async (): Promise<boolean> => {
        const batch = await readRange(em, last, head, REPLAY_PAGE, scope);
        const accepted: LoggedEvent[] = [];
        for (const event of batch) {
          last = event;
          if (spec.accept(event, sub.principal, sub.groups)) accepted.push(event);
        }
        sub.pushReplay(accepted);
        return batch.length === REPLAY_PAGE;
      };
      const more = await page();
      const reflected = reflectedUpTo(compareCursor(decoded, head) > 0 ? decoded : head);
      return more ? { reflected, more: page } : reflected;
    } else {
      // From now: events already committed when subscribing (up to the safe line) are not sent.
      const now = await sharedSafeHead(deps.orm);
      if (compareCursor(now, head) > 0) from = now;
    }
    return reflectedUpTo(from);
  });
}

/** Events at or before `from` are already in the stream (replayed, or committed before subscribing). */
function reflectedUpTo(from: { xid: string; id: string }): (event: LoggedEvent) => boolean {
  const upTo = { xid: from.xid, id: from.id };
  // The hub hands events over in cursor order: once one is past `from`, every later one is.
  let passed = false;
  return (event) => {
    if (passed) return false;
    if (compareCursor(event, upTo) <= 0) return true;
    passed = true;
    return false;
  };
}
