import type { EntityManager } from '@mikro-orm/postgresql';
import type { SqlReader } from '../../db/sql-transaction';
import { badInput, notFound } from '../../shared/errors';
import type { Principal } from '../identity';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import { uuidArray } from '../../db/tenant';
import type { Clock } from '../../shared/clock';
import { actorOf, audit } from '../identity';
import { Message, Thread, ThreadStatus } from './thread.entity';
import { emitThreadEvent, EventType } from './events';
import { assertMaySearchThreadsIn, threadReadableSql } from './thread-policy';
import type { Tag } from './catalogue.entity';
import type { Contact } from './contact.entity';
import {
  CONTACT_JSON,
  jsonTime,
  contactFromRow,
  MESSAGE_COLUMNS,
  messageFromRow,
  messageKey,
  tagFromRow,
  THREAD_COLUMNS,
  threadFromRow,
  type ContactRow,
  type MessageRowOut,
  type TagRow,
  type ThreadRow,
} from './list-rows';

/** A thread page with what its statement also read for the page's field resolvers. */
export interface ThreadPage {
  connection: Connection<Thread>;
  contacts: Map<string, Contact | null>;
  tags: Map<string, Tag[]>;
  unread: Map<string, number>;
}

export interface ThreadFilter {
  status?: ThreadStatus | null;
  archived?: boolean | null;
  /** "me", "unassigned", or a user id. */
  assignee?: string | null;
  agentGroupId?: string | null;
  tagId?: string | null;
  needsResponse?: boolean | null;
  campaignId?: string | null;
  unread?: boolean | null;
  search?: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function idArg(value: string, field: string): string {
  if (!UUID.test(value)) throw badInput(`${field} is not an id`, { field });
  return value;
}

/** Thread lists, status changes and read cursors. */
export class ThreadService {
  constructor(private readonly clock: Clock) {}

  /**
   * One page of a workspace's threads, newest activity first, as one statement returning plain rows (no
   * entity hydration): the page (every filter served by an index leading with organization_id, the
   * visibility rule of thread-policy.ts in SQL) and, when the query asks for them, each thread's contact,
   * tags and unread count for the viewer. The caller primes its DataLoaders with those.
   */
  async list(
    em: SqlReader,
    principal: Principal,
    groups: readonly string[],
    args: { workspaceId: string; filter?: ThreadFilter | null; first?: number | null; after?: string | null },
    include: { contact?: boolean; tags?: boolean; unread?: boolean } = {},
  ): Promise<ThreadPage> {
    const size = pageSize(args.first);
    const page = this.listQuery(principal, groups, args, size, THREAD_COLUMNS);
    const params = [...page.params];
    const extra: string[] = [];
    if (include.contact) extra.push(`(select ${CONTACT_JSON} from contacts c where c.organization_id = t.organization_id and c.id = t.contact_id) as contact_json`);
    if (include.tags) {
      extra.push(`(select coalesce(json_agg(json_build_object('id', g.id, 'created_at', ${jsonTime('g.created_at')}, 'organization_id', g.organization_id, 'workspace_id', g.workspace_id,
          'name', g.name, 'color', g.color) order by tt.created_at, tt.id), '[]'::json)
         from thread_tags tt join tags g on g.organization_id = tt.organization_id and g.id = tt.tag_id
        where tt.organization_id = t.organization_id and tt.thread_id = t.id) as tags_json`);
    }
    if (include.unread) {
      extra.push(`(select count(*) from messages m where m.organization_id = t.organization_id and m.thread_id = t.id and m.direction = 'INBOUND'
          and m.created_at > coalesce((select rc.read_at from read_cursors rc where rc.organization_id = t.organization_id and rc.user_id = ? and rc.thread_id = t.id), '-infinity')) as unread_n`);
      params.push(principal.userId);
    }
    const rows = await em.getConnection().execute<Array<ThreadRow & { contact_json?: ContactRow | null; tags_json?: TagRow[]; unread_n?: string | number }>>(
      `with page as (${page.sql}) select t.*${extra.map((e) => `, ${e}`).join('')} from page t order by t.last_activity_at desc, t.id desc`,
      params,
    );
    const contacts = new Map<string, Contact | null>();
    const tags = new Map<string, Tag[]>();
    const unread = new Map<string, number>();
    const threads = rows.map((r) => {
      if (include.contact) contacts.set(r.contact_id, r.contact_json ? contactFromRow(r.contact_json) : null);
      if (include.tags) tags.set(r.id, (r.tags_json ?? []).map(tagFromRow));
      if (include.unread) unread.set(r.id, Number(r.unread_n ?? 0));
      return this.wake(threadFromRow(r));
    });
    return { connection: toConnection(threads, size, (t) => [t.lastActivityAt.toISOString(), t.id]), contacts, tags, unread };
  }

  /** The id query of a thread page (exposed so a test can EXPLAIN every filter against a large table). */
  listQuery(
    principal: Principal,
    groups: readonly string[],
    args: { workspaceId: string; filter?: ThreadFilter | null; after?: string | null },
    size: number,
    columns = 't.id',
  ): { sql: string; params: unknown[] } {
    const after = decodeCursor(args.after, 2) as [string, string] | null;
    const f = args.filter ?? {};
    const params: unknown[] = [principal.organizationId, args.workspaceId];
    const where = ['t.organization_id = ?', 't.workspace_id = ?'];
    where.push(f.archived ? 't.archived = true' : 't.archived = false');
    // A snooze that ran out counts as OPEN even before the sweep persists it.
    if (f.status === ThreadStatus.OPEN) {
      where.push(`t.status in ('OPEN', 'SNOOZED') and (t.status = 'OPEN' or t.snoozed_until <= ?)`);
      params.push(this.clock.now());
    } else if (f.status === ThreadStatus.SNOOZED) {
      where.push(`t.status = 'SNOOZED' and t.snoozed_until > ?`);
      params.push(this.clock.now());
    } else if (f.status) {
      where.push('t.status = ?');
      params.push(f.status);
    }
    if (f.assignee === 'me') {
      where.push('t.assignee_user_id = ?');
      params.push(principal.userId);
    } else if (f.assignee === 'unassigned') {
      where.push('t.assignee_user_id is null');
    } else if (f.assignee) {
      where.push('t.assignee_user_id = ?');
      params.push(idArg(f.assignee, 'filter.assignee'));
    }
    if (f.agentGroupId) {
      where.push('t.assignee_group_id = ?');
      params.push(idArg(f.agentGroupId, 'filter.agentGroupId'));
    }
    if (f.needsResponse !== null && f.needsResponse !== undefined) {
      where.push('t.needs_response = ?');
      params.push(f.needsResponse);
    }
    if (f.campaignId) {
      where.push('t.campaign_id = ?');
      params.push(idArg(f.campaignId, 'filter.campaignId'));
    }
    if (f.tagId) {
      where.push('exists (select 1 from thread_tags tt where tt.organization_id = t.organization_id and tt.tag_id = ? and tt.thread_id = t.id)');
      params.push(idArg(f.tagId, 'filter.tagId'));
    }
    if (f.unread) {
      where.push(`exists (select 1 from messages m where m.organization_id = t.organization_id and m.thread_id = t.id and m.direction = 'INBOUND'
        and m.created_at > coalesce((select rc.read_at from read_cursors rc where rc.organization_id = t.organization_id and rc.user_id = ? and rc.thread_id = t.id), '-infinity'))`);
      params.push(principal.userId);
    }
    if (f.search?.trim()) {
      assertMaySearchThreadsIn(principal, args.workspaceId);
      // Uncorrelated, so the GIN index (organization_id, body_tsv) answers it once for the whole page.
      where.push(`t.id in (select m.thread_id from messages m where m.organization_id = ? and m.body_tsv @@ plainto_tsquery('simple', ?))`);
      params.push(principal.organizationId, f.search.trim().slice(0, 200));
    }
    const readable = threadReadableSql(principal, args.workspaceId, groups);
    if (readable) {
      where.push(readable.sql);
      params.push(...readable.params);
    }
    if (after) {
      where.push('(t.last_activity_at, t.id) < (?::timestamptz, ?::uuid)');
      params.push(after[0], after[1]);
    }
    params.push(size + 1);
    return { sql: `select ${columns} from threads t where ${where.join(' and ')} order by t.last_activity_at desc, t.id desc limit ?`, params };
  }

  async setStatus(
    em: EntityManager,
    principal: Principal,
    threadId: string,
    change: { status?: ThreadStatus; snoozedUntil?: Date | null; archived?: boolean; needsResponse?: boolean },
  ): Promise<Thread> {
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId });
      if (!thread) throw notFound('Thread');
      if (change.status === ThreadStatus.SNOOZED) {
        if (!change.snoozedUntil || change.snoozedUntil.getTime() <= this.clock.now().getTime()) {
          throw badInput('Snooze until a time in the future', { field: 'until' });
        }
      }
      const before = { status: thread.status, snoozedUntil: thread.snoozedUntil?.toISOString() ?? null, archived: thread.archived, needsResponse: thread.needsResponse };
      if (change.status) {
        thread.status = change.status;
        thread.snoozedUntil = change.status === ThreadStatus.SNOOZED ? change.snoozedUntil! : null;
      }
      if (change.archived !== undefined) thread.archived = change.archived;
      if (change.needsResponse !== undefined) thread.needsResponse = change.needsResponse;
      const after = { status: thread.status, snoozedUntil: thread.snoozedUntil?.toISOString() ?? null, archived: thread.archived, needsResponse: thread.needsResponse };
      audit(tx, actorOf(principal), { action: 'thread.update', targetType: 'Thread', targetId: threadId, workspaceId: thread.workspaceId, before, after });
      await emitThreadEvent(tx, EventType.THREAD_UPDATED, thread);
      return thread;
    });
  }

  /**
   * Snoozed threads whose time has come read as open at once; the sweep (snooze.ts) persists the change
   * and emits THREAD_UPDATED, and takeNextThread wakes its queue before picking.
   */
  wake(thread: Thread): Thread {
    if (thread.status === ThreadStatus.SNOOZED && thread.snoozedUntil && thread.snoozedUntil.getTime() <= this.clock.now().getTime()) {
      thread.status = ThreadStatus.OPEN;
      thread.snoozedUntil = null;
    }
    return thread;
  }

  async markRead(em: EntityManager, principal: Principal, threadId: string): Promise<Thread> {
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId });
      if (!thread) throw notFound('Thread');
      await tx.getConnection().execute(
        `insert into read_cursors (id, organization_id, user_id, thread_id, read_at, created_at) values (gen_random_uuid(), ?, ?, ?, now(), now())
         on conflict (organization_id, user_id, thread_id) do update set read_at = excluded.read_at`,
        [principal.organizationId, principal.userId, threadId],
        'run',
        tx.getTransactionContext(),
      );
      // The reader's own badges drop (unreadCounts subscriptions); nobody else is told.
      await emitThreadEvent(tx, EventType.THREAD_READ, thread, { read: { userId: principal.userId } });
      return thread;
    });
  }

  /** Unread inbound messages per thread for one user, in one query. */
  async unreadCounts(em: SqlReader, userId: string, threadIds: readonly string[], organizationId: string): Promise<Map<string, number>> {
    const rows = await em.getConnection().execute<Array<{ thread_id: string; n: string }>>(
      `select m.thread_id, count(*) as n from messages m
         left join read_cursors rc on rc.organization_id = m.organization_id and rc.thread_id = m.thread_id and rc.user_id = ?
        where m.organization_id = ? and m.thread_id = any(?::uuid[]) and m.direction = 'INBOUND'
          and m.created_at > coalesce(rc.read_at, '-infinity')
        group by m.thread_id`,
      [userId, organizationId, uuidArray(threadIds)],
    );
    return new Map(rows.map((r) => [r.thread_id, Number(r.n)]));
  }

  /** The badge: threads with unread inbound messages, and those messages, among the threads the user reads. */
  async workspaceUnread(em: SqlReader, principal: Principal, groups: readonly string[], workspaceId: string): Promise<{ threads: number; messages: number }> {
    const params: unknown[] = [principal.userId, principal.organizationId, workspaceId];
    const readable = threadReadableSql(principal, workspaceId, groups);
    if (readable) params.push(...readable.params);
    const visibility = readable ? `and ${readable.sql}` : '';
    const rows = await em.getConnection().execute<Array<{ threads: string; messages: string }>>(
      `select count(distinct m.thread_id) as threads, count(*) as messages from messages m
         join threads t on t.organization_id = m.organization_id and t.id = m.thread_id
         left join read_cursors rc on rc.organization_id = m.organization_id and rc.thread_id = m.thread_id and rc.user_id = ?
        where m.organization_id = ? and t.workspace_id = ? and t.archived = false and m.direction = 'INBOUND'
          and m.created_at > coalesce(rc.read_at, '-infinity') ${visibility}`,
      params,
    );
    return { threads: Number(rows[0]?.threads ?? 0), messages: Number(rows[0]?.messages ?? 0) };
  }

  /**
   * The first page of messages of many threads in one statement (a keyset page per thread on the index
   * (organization_id, thread_id, created_at, id)), as plain rows: a thread list that shows each thread's
   * latest messages costs one statement, not one per thread, and no entity hydration.
   */
  async firstMessagePages(em: SqlReader, organizationId: string, threadIds: readonly string[], first: number | null): Promise<Map<string, Connection<Message>>> {
    const size = pageSize(first, 50);
    const rows = await em.getConnection().execute<MessageRowOut[]>(
      `select m.* from unnest(?::uuid[]) as x(thread_id)
         cross join lateral (select ${MESSAGE_COLUMNS} from messages m where m.organization_id = ? and m.thread_id = x.thread_id
                              order by m.created_at desc, m.id desc limit ?) m
        order by m.created_at desc, m.id desc`,
      [uuidArray(threadIds), organizationId, size + 1],
    );
    const byThread = new Map<string, Message[]>(threadIds.map((id) => [id, []]));
    for (const r of rows) byThread.get(r.thread_id)?.push(messageFromRow(r));
    return new Map([...byThread].map(([id, list]) => [id, toConnection(list, size, messageKey)]));
  }

  /** A later page of a thread's messages (keyset), as plain rows. */
  async messages(em: SqlReader, organizationId: string, threadId: string, args: { first?: number | null; after?: string | null }): Promise<Connection<Message>> {
    const size = pageSize(args.first, 50);
    const after = decodeCursor(args.after, 2) as [string, string] | null;
    const params: unknown[] = [organizationId, threadId];
    let keyset = '';
    if (after) {
      keyset = 'and (m.created_at, m.id) < (?::timestamptz, ?::uuid)';
      params.push(new Date(after[0]), after[1]);
    }
    params.push(size + 1);
    const rows = await em.getConnection().execute<MessageRowOut[]>(
      `select ${MESSAGE_COLUMNS} from messages m where m.organization_id = ? and m.thread_id = ? ${keyset} order by m.created_at desc, m.id desc limit ?`,
      params,
    );
    return toConnection(rows.map(messageFromRow), size, messageKey);
  }
}
