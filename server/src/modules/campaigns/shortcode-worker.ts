import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { appendEvent, EventType, LogConsumer, type LogConsumerOptions, type LoggedEvent } from '../../realtime';
import type { Logger } from '../../observability/logger';
import { applyParkedReceipts, type ChannelProvider } from '../inbox';
import { keywordOf } from './shortcode.service';

/** The worker's row of report_rollup_cursors (a generic (name, position) table of event-log tailers). */
export const SHORTCODE_CURSOR = 'shortcode-keywords';

export type ShortcodeWorkerOptions = LogConsumerOptions;

interface Candidate {
  event: LoggedEvent;
  messageId: string;
  keyword: string;
}

interface KeywordRow {
  id: string;
  organization_id: string;
  workspace_id: string;
  keyword: string;
  group_id: string;
  auto_reply: string;
}

/**
 * Applies shortcode keywords to inbound messages without touching the inbox's inbound path: it tails the event
 * log (THREAD_CREATED / MESSAGE_ADDED of an INBOUND message) from a durable cursor, moved in the same
 * transaction as what it writes (a LogConsumer, realtime/log-consumer.ts, like the report rollups). Each inbound keyword message is one row of
 * shortcode_keyword_hits (unique per inbound message id): a batch read twice (a crash, another process)
 * subscribes and replies nothing more. One subscription per contact and keyword (a unique rule).
 *
 * The automatic reply is a QUEUED message written with the hit; it is handed to the channel after commit, with
 * its message id as the channel's idempotency key, and `reply_sent_at` marks it handed over. A reply committed
 * but never handed over (a crash) is sent on the next pass.
 */
export class ShortcodeWorker extends LogConsumer {
  constructor(orm: MikroORM, private readonly channel: ChannelProvider, logger: Logger, opts: ShortcodeWorkerOptions = {}) {
    super(orm, logger, SHORTCODE_CURSOR, opts);
  }

  /** Hands the replies of the pass to the channel once its batches are committed. */
  protected override afterPass(): Promise<number> {
    return this.dispatch();
  }

  protected async apply(tx: EntityManager, events: readonly LoggedEvent[]): Promise<number> {
    const run = <T>(sql: string, params: unknown[]) => tx.getConnection().execute<T[]>(sql, params, 'all', tx.getTransactionContext());
    const candidates: Candidate[] = [];
    for (const event of events) {
      if (event.type !== EventType.THREAD_CREATED && event.type !== EventType.MESSAGE_ADDED) continue;
      const m = event.payload.message;
      if (!m || m.direction !== 'INBOUND' || !event.threadId) continue;
      const keyword = keywordOf(m.body);
      if (keyword) candidates.push({ event, messageId: m.id, keyword });
    }
    if (!candidates.length) return 0;
    // One statement finds the keywords of every candidate (each on (organization_id, workspace_id, keyword)).
    const keywords = await run<KeywordRow>(
      `select k.id, k.organization_id, k.workspace_id, k.keyword, k.group_id, k.auto_reply
         from unnest(?::uuid[], ?::uuid[], ?::text[]) as x(org, ws, kw)
         join shortcode_keywords k on k.organization_id = x.org and k.workspace_id = x.ws and k.keyword = x.kw
        where k.active`,
      [`{${candidates.map((c) => c.event.organizationId).join(',')}}`, `{${candidates.map((c) => c.event.workspaceId).join(',')}}`, `{${candidates.map((c) => c.keyword).join(',')}}`],
    );
    const byKey = new Map(keywords.map((k) => [`${k.organization_id}/${k.workspace_id}/${k.keyword}`, k]));
    let applied = 0;
    for (const c of candidates) {
      const k = byKey.get(`${c.event.organizationId}/${c.event.workspaceId}/${c.keyword}`);
      if (!k) continue;
      const org = k.organization_id;
      const hit = await run<{ id: string }>(
        `insert into shortcode_keyword_hits (id, organization_id, workspace_id, keyword_id, inbound_message_id, thread_id, outcome, created_at)
         values (gen_random_uuid(), ?, ?, ?, ?, ?, 'PENDING', now())
         on conflict (organization_id, inbound_message_id) do nothing returning id`,
        [org, k.workspace_id, k.id, c.messageId, c.event.threadId],
      );
      if (!hit.length) continue; // applied before: nothing more
      applied++;
      const [thread] = await run<{ id: string; contact_id: string; phone: string | null; status: string; archived: boolean; assignee_user_id: string | null; assignee_group_id: string | null; campaign_id: string | null; opted_out: boolean }>(
        `select t.id, t.contact_id, c.phone, t.status, t.archived, t.assignee_user_id, t.assignee_group_id, t.campaign_id,
                exists (select 1 from opt_outs o where o.organization_id = t.organization_id and o.address = c.phone and o.reversed_at is null
                          and (o.until is null or o.until > now()) and (o.workspace_id = t.workspace_id or o.workspace_id is null)) as opted_out
           from threads t join contacts c on c.organization_id = t.organization_id and c.id = t.contact_id
          where t.organization_id = ? and t.id = ? for update of t`,
        [org, c.event.threadId],
      );
      if (!thread || thread.opted_out || !thread.phone) {
        await run(`update shortcode_keyword_hits set outcome = 'OPTED_OUT', contact_id = ? where organization_id = ? and id = ?`, [thread?.contact_id ?? null, org, hit[0]!.id]);
        continue;
      }
      const subscribed = await run<{ id: string }>(
        `insert into shortcode_subscriptions (id, organization_id, keyword_id, contact_id, workspace_id, source, inbound_message_id, created_at)
         values (gen_random_uuid(), ?, ?, ?, ?, 'KEYWORD', ?, now())
         on conflict (organization_id, keyword_id, contact_id) do update set opted_out_at = null, opted_out_by_id = null, inbound_message_id = excluded.inbound_message_id
           where shortcode_subscriptions.opted_out_at is not null
         returning id`,
        [org, k.id, thread.contact_id, k.workspace_id, c.messageId],
      );
      await run(
        `insert into campaign_group_members (id, organization_id, group_id, contact_id, created_at)
         values (gen_random_uuid(), ?, ?, ?, date_trunc('milliseconds', now())) on conflict (organization_id, group_id, contact_id) do nothing`,
        [org, k.group_id, thread.contact_id],
      );
      const now = new Date();
      const replyId = randomUUID();
      await run(
        `insert into messages (id, organization_id, workspace_id, thread_id, direction, body, status, automated, created_at)
         values (?, ?, ?, ?, 'OUTBOUND', ?, 'QUEUED', true, ?)`,
        [replyId, org, k.workspace_id, thread.id, k.auto_reply, now],
      );
      // The keyword answered itself: the thread waits for nobody.
      await run(`update threads set last_activity_at = ?, last_message_preview = ?, needs_response = false where organization_id = ? and id = ?`, [now, k.auto_reply.slice(0, 160), org, thread.id]);
      await run(`update shortcode_keyword_hits set outcome = ?, contact_id = ?, reply_message_id = ? where organization_id = ? and id = ?`, [subscribed.length ? 'SUBSCRIBED' : 'ALREADY_SUBSCRIBED', thread.contact_id, replyId, org, hit[0]!.id]);
      await appendEvent(tx, {
        organizationId: org,
        workspaceId: k.workspace_id,
        type: EventType.MESSAGE_ADDED,
        threadId: thread.id,
        payload: {
          thread: { id: thread.id, status: thread.status, archived: thread.archived, needsResponse: false, assigneeUserId: thread.assignee_user_id, assigneeGroupId: thread.assignee_group_id, lastActivityAt: now.toISOString(), campaignId: thread.campaign_id },
          message: { id: replyId, direction: 'OUTBOUND', body: k.auto_reply, status: 'QUEUED', authorId: null, automated: true, createdAt: now.toISOString() },
        },
      });
    }
    return applied;
  }

  /**
   * Hands committed replies to the channel, outside any transaction: every ORM transaction holds the
   * event-writer lock, so a provider call inside one would hold back live delivery for everyone while the
   * provider answers. Each reply is marked handed over after its call; a crash in between, or a second process
   * reading the same row, hands it over again with the same message id, which the provider treats as one send.
   * Within a process the hand-overs run one at a time (a later call waits for the one running).
   */
  dispatch(): Promise<number> {
    const next = this.dispatching.catch(() => 0).then(() => this.handOver());
    this.dispatching = next;
    return next;
  }

  private dispatching: Promise<number> = Promise.resolve(0);

  private async handOver(): Promise<number> {
    const conn = this.orm.em.fork().getConnection();
    let sent = 0;
    for (;;) {
      if (this.stopped) return sent;
      const rows = await conn.execute<Array<{ id: string; organization_id: string; workspace_id: string; reply_message_id: string; body: string; phone: string }>>(
        `select h.id, h.organization_id, h.workspace_id, h.reply_message_id, m.body, c.phone
           from shortcode_keyword_hits h
           join messages m on m.organization_id = h.organization_id and m.id = h.reply_message_id
           join contacts c on c.organization_id = h.organization_id and c.id = h.contact_id
          where h.reply_message_id is not null and h.reply_sent_at is null
          order by h.created_at limit 50`,
        [],
      );
      for (const r of rows) {
        if (this.stopped) return sent;
        try {
          const { providerMessageId } = await this.channel.send({ organizationId: r.organization_id, workspaceId: r.workspace_id, messageId: r.reply_message_id, to: r.phone, body: r.body });
          // With the provider id written, the receipts reported before it was (parked) are applied, in order.
          await this.orm.em.fork({ clear: true, useContext: false }).transactional(async (tx) => {
            await tx.getConnection().execute(`update messages set provider_message_id = ? where organization_id = ? and id = ? and provider_message_id is null`, [providerMessageId, r.organization_id, r.reply_message_id], 'run', tx.getTransactionContext());
            await applyParkedReceipts(tx, r.organization_id, [providerMessageId], new Date());
          });
        } catch (err) {
          await conn.execute(`update messages set status = 'FAILED', error = ?, status_updated_at = now() where organization_id = ? and id = ?`, [(err as Error).message.slice(0, 500), r.organization_id, r.reply_message_id]);
        }
        await conn.execute(`update shortcode_keyword_hits set reply_sent_at = now() where organization_id = ? and id = ? and reply_sent_at is null`, [r.organization_id, r.id]);
        sent++;
      }
      if (rows.length < 50) return sent;
    }
  }
}
