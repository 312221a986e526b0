import PgBoss from 'pg-boss';
import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import { TENANT_FILTER } from '../../db/tenant';
import type { Logger } from '../../observability/logger';
import type { Clock } from '../../shared/clock';
import type { ChannelProvider } from '../inbox';
import { Contact } from '../inbox';
import { DeliveryStatus, Message, MessageDirection, Thread } from '../inbox';
import { WorkspaceSettings } from '../inbox';
import { Campaign, CampaignStatus } from './campaign.entity';
import { emitProgress } from './campaigns.service';
import { inQuietHours } from './policy';
import { renderFor } from './template';

export const SEND_QUEUE = 'campaign-send';
/** pg-boss keeps its tables in a schema of its own (never a tenant table: see tests/identity/schema-lint.test.ts). */
export const PGBOSS_SCHEMA = 'pgboss';

export interface SenderOptions {
  databaseUrl: string;
  /** Messages per second per workspace. */
  ratePerSecond: number;
  /** A recipient claimed this long ago and still SENDING belongs to a sender that died: it is sent again. */
  leaseSeconds: number;
  batchSize: number;
}

interface Claimed {
  id: string;
  contact_id: string;
  phone: string;
  message_id: string;
  thread_id: string | null;
}

/**
 * Sends broadcast campaigns through pg-boss jobs (one job per campaign run; any number may run at once and
 * on any process: recipients are claimed with FOR UPDATE SKIP LOCKED). Each batch is two short transactions:
 * the claim (threads and QUEUED messages written, recipients SENDING with a fixed message id), then, after the
 * provider calls, the outcome (SENT/FAILED and one CAMPAIGN_PROGRESS event). A sender that dies between them
 * leaves SENDING rows whose lease runs out; they are sent again with the same message id, which a provider
 * takes as its idempotency key (ChannelProvider's `messageId`), so a contact is never texted twice.
 */
export class CampaignSender {
  private boss: PgBoss | null = null;
  private starting: Promise<PgBoss> | null = null;
  private stopped = false;
  /** Per workspace: when the next send may start (the rate limit of this process). */
  private readonly nextSlot = new Map<string, number>();

  constructor(
    private readonly orm: MikroORM,
    private readonly provider: ChannelProvider,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: SenderOptions,
  ) {}

  /** Starts pg-boss (its schema is created on first use) and the worker; idempotent. */
  start(): Promise<PgBoss> {
    this.starting ??= (async () => {
      const boss = new PgBoss({ connectionString: this.opts.databaseUrl, schema: PGBOSS_SCHEMA, max: 3, supervise: true, schedule: false });
      boss.on('error', (err) => this.logger.warn({ err }, 'pg-boss error'));
      await boss.start();
      await boss.createQueue(SEND_QUEUE);
      await boss.work<{ campaignId: string; organizationId: string }>(SEND_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) await this.run(job.data.campaignId, job.data.organizationId);
      });
      this.boss = boss;
      return boss;
    })();
    return this.starting;
  }

  /** On boot: resume every RUNNING broadcast (a restart continues where the last process stopped). */
  async resumeRunning(): Promise<void> {
    // A system read across organizations: the sender serves them all.
    const rows = await this.orm.em.fork().getConnection().execute<Array<{ id: string; organization_id: string }>>(
      `select id, organization_id from campaigns where status = 'RUNNING' and kind = 'BROADCAST'`,
    );
    if (!rows.length) return;
    await this.start();
    for (const r of rows) await this.enqueue({ id: r.id, organizationId: r.organization_id });
  }

  async enqueue(campaign: { id: string; organizationId: string }): Promise<void> {
    if (this.stopped) return;
    const boss = await this.start();
    await boss.send(SEND_QUEUE, { campaignId: campaign.id, organizationId: campaign.organizationId }, { retryLimit: 10, retryDelay: 2, expireInSeconds: 900 });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.starting) return;
    const boss = await this.starting.catch(() => null);
    await boss?.stop({ graceful: true, wait: true, timeout: 5_000 });
  }

  private em(organizationId: string): EntityManager {
    const em = this.orm.em.fork({ clear: true, useContext: false });
    em.setFilterParams(TENANT_FILTER, { organizationId });
    return em;
  }

  /** Sends batches until the campaign is done, paused, cancelled, in quiet hours, or this process stops. */
  private async run(campaignId: string, organizationId: string): Promise<void> {
    while (!this.stopped) {
      const outcome = await this.batch(campaignId, organizationId);
      if (outcome === 'done') return;
      if (outcome === 'quiet') {
        await this.boss?.send(SEND_QUEUE, { campaignId, organizationId }, { startAfter: 300 });
        return;
      }
      if (outcome === 'wait') {
        // Everything left is leased to another sender: look again once a lease could have run out.
        await this.boss?.send(SEND_QUEUE, { campaignId, organizationId }, { startAfter: Math.max(1, Math.ceil(this.opts.leaseSeconds / 2)) });
        return;
      }
    }
  }

  private async batch(campaignId: string, organizationId: string): Promise<'more' | 'done' | 'quiet' | 'wait'> {
    const em = this.em(organizationId);
    const campaign = await em.findOne(Campaign, { id: campaignId });
    if (!campaign || campaign.status !== CampaignStatus.RUNNING) return 'done';
    const settings = await em.findOne(WorkspaceSettings, { workspace: campaign.workspaceId });
    if (inQuietHours(campaign.quietHoursStart, campaign.quietHoursEnd, settings?.timeZone ?? 'UTC', this.clock.now())) return 'quiet';

    // 1. Claim: a short transaction fixes each recipient's message id and writes its thread and QUEUED message.
    const claimed = await em.transactional(async (tx) => {
      const rows = await tx.getConnection().execute<Claimed[]>(
        `update campaign_recipients r
            set status = 'SENDING', claimed_at = now(), message_id = coalesce(r.message_id, gen_random_uuid())
          where r.id in (select id from campaign_recipients
                          where organization_id = ? and campaign_id = ?
                            and (status = 'PENDING' or (status = 'SENDING' and claimed_at < now() - make_interval(secs => ?)))
                          order by id limit ? for update skip locked)
          returning r.id, r.contact_id, r.phone, r.message_id, r.thread_id`,
        [organizationId, campaignId, this.opts.leaseSeconds, this.opts.batchSize],
        'all',
        tx.getTransactionContext(),
      );
      const fresh = rows.filter((r) => !r.thread_id);
      if (fresh.length) {
        const contacts = new Map((await tx.find(Contact, { id: { $in: fresh.map((r) => r.contact_id) } })).map((c) => [c.id, c]));
        const now = this.clock.now();
        for (const r of fresh) {
          const contact = contacts.get(r.contact_id)!;
          const thread = tx.create(Thread, { organization: campaign.organization, workspace: campaign.workspace, contact, campaignId: campaign.id, lastActivityAt: now, firstResponseAt: now });
          const body = renderFor(campaign.messageTemplate, contact);
          tx.create(Message, { id: r.message_id, organization: campaign.organization, workspace: campaign.workspace, thread, direction: MessageDirection.OUTBOUND, body, status: DeliveryStatus.QUEUED, authorId: campaign.createdById, createdAt: now } as never);
          thread.lastMessagePreview = body.slice(0, 160);
          r.thread_id = thread.id;
        }
        await tx.flush();
        await tx.getConnection().execute(
          `update campaign_recipients r set thread_id = x.thread_id from unnest(?::uuid[], ?::uuid[]) as x(id, thread_id) where r.organization_id = ? and r.id = x.id`,
          [`{${fresh.map((r) => r.id).join(',')}}`, `{${fresh.map((r) => r.thread_id).join(',')}}`, organizationId],
          'run',
          tx.getTransactionContext(),
        );
      }
      return rows;
    });
    if (!claimed.length) {
      const left = await em.getConnection().execute<Array<{ n: string }>>(
        `select count(*) as n from campaign_recipients where organization_id = ? and campaign_id = ? and status in ('PENDING', 'SENDING')`,
        [organizationId, campaignId],
      );
      if (Number(left[0]?.n ?? 0) > 0) return 'wait';
      await this.complete(campaignId, organizationId);
      return 'done';
    }

    // 2. The provider calls, at the workspace's rate. The message id is the provider's idempotency key.
    const bodies = new Map((await em.find(Message, { id: { $in: claimed.map((r) => r.message_id) } }, { fields: ['id', 'body'] })).map((m) => [m.id, m.body]));
    const sent: Array<{ id: string; messageId: string; providerMessageId: string }> = [];
    const failed: Array<{ id: string; messageId: string; error: string }> = [];
    for (const r of claimed) {
      await this.takeSlot(campaign.workspaceId);
      try {
        const { providerMessageId } = await this.provider.send({ organizationId, workspaceId: campaign.workspaceId, messageId: r.message_id, to: r.phone, body: bodies.get(r.message_id) ?? '' });
        sent.push({ id: r.id, messageId: r.message_id, providerMessageId });
      } catch (err) {
        failed.push({ id: r.id, messageId: r.message_id, error: (err as Error).message.slice(0, 500) });
      }
    }

    // 3. The outcome: one short transaction, one progress event for the whole batch.
    await em.transactional(async (tx) => {
      const run = (sql: string, params: unknown[]) => tx.getConnection().execute(sql, params, 'run', tx.getTransactionContext());
      if (sent.length) {
        await run(`update messages m set provider_message_id = x.pid from unnest(?::uuid[], ?::text[]) as x(id, pid) where m.organization_id = ? and m.id = x.id and m.provider_message_id is null`,
          [`{${sent.map((s) => s.messageId).join(',')}}`, `{${sent.map((s) => s.providerMessageId).join(',')}}`, organizationId]);
        await run(`update campaign_recipients set status = 'SENT', sent_at = now() where organization_id = ? and id = any(?::uuid[])`, [organizationId, `{${sent.map((s) => s.id).join(',')}}`]);
      }
      for (const f of failed) {
        await run(`update messages set status = 'FAILED', error = ?, status_updated_at = now() where organization_id = ? and id = ?`, [f.error, organizationId, f.messageId]);
        await run(`update campaign_recipients set status = 'FAILED' where organization_id = ? and id = ?`, [organizationId, f.id]);
      }
      const c = await tx.findOneOrFail(Campaign, { id: campaignId }, { refresh: true });
      await emitProgress(tx, c);
    });
    return 'more';
  }

  private async complete(campaignId: string, organizationId: string): Promise<void> {
    const em = this.em(organizationId);
    await em.transactional(async (tx) => {
      const c = await tx.findOne(Campaign, { id: campaignId, status: CampaignStatus.RUNNING });
      if (!c) return;
      c.status = CampaignStatus.COMPLETED;
      c.completedAt = this.clock.now();
      await tx.flush();
      await emitProgress(tx, c);
    });
  }

  /** Waits for this workspace's next send slot (ratePerSecond, spread evenly). */
  private async takeSlot(workspaceId: string): Promise<void> {
    const gap = 1000 / this.opts.ratePerSecond;
    const now = Date.now();
    const at = Math.max(now, this.nextSlot.get(workspaceId) ?? 0);
    this.nextSlot.set(workspaceId, at + gap);
    if (at - now >= 1) await new Promise((r) => setTimeout(r, at - now));
  }
}
