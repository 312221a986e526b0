import PgBoss from 'pg-boss';
import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import { TENANT_FILTER } from '../../db/tenant';
import type { Logger } from '../../observability/logger';
import type { Clock } from '../../shared/clock';
import { DomainError } from '../../shared/errors';
import type { ChannelProvider } from '../inbox';
import { applyParkedReceipts, providerMessageIdsLock, WorkspaceSettings } from '../inbox';
import { appendEvent, EventType, type CampaignProgressState } from '../../realtime';
import { Campaign, CampaignStatus } from './campaign.entity';
import { emitProgress, progressOf, type CampaignService } from './campaigns.service';
import { quietHoursEndAt } from './schedule';
import { renderFor } from './template';

export const SEND_QUEUE = 'campaign-send';
/** Scheduled starts: one job per scheduling, `startAfter` the campaign's start time (durable in pg-boss). */
export const START_QUEUE = 'campaign-start';
/** pg-boss keeps its tables in a schema of its own (never a tenant table: see tests/identity/schema-lint.test.ts). */
export const PGBOSS_SCHEMA = 'pgboss';

export interface SenderOptions {
  databaseUrl: string;
  /** Messages per second per workspace (per sending process). */
  ratePerSecond: number;
  /** A recipient claimed this long ago and still SENDING belongs to a sender that died: it is sent again. */
  leaseSeconds: number;
  /** Recipients per batch (one claim transaction, one outcome transaction, one progress event). */
  batchSize: number;
  /** A job sends for at most this long (default 300 s), then hands over to a fresh job (within pg-boss's 900 s expiry). */
  sliceSeconds?: number;
}

interface JobData {
  campaignId: string;
  organizationId: string;
}

interface Claimed {
  id: string;
  contact_id: string;
  phone: string;
  message_id: string;
  thread_id: string;
  /** Null when the contact was deleted after the recipients were materialised. */
  c_id: string | null;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  custom_fields: Record<string, unknown> | null;
}

interface Outcome {
  recipientId: string;
  contactId: string;
  threadId: string;
  messageId: string;
  body: string;
  providerMessageId: string | null;
  error: string | null;
}

const uuidArray = (ids: readonly string[]) => `{${ids.join(',')}}`;
/** A Postgres text[] literal (every element quoted and escaped; null as NULL). */
const textArray = (values: ReadonlyArray<string | null>) => `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;

/**
 * Sends broadcast campaigns through pg-boss jobs. Each batch is two short transactions around the provider
 * calls, all set-based (no ORM unit of work per recipient):
 *
 * 1. claim: `UPDATE campaign_recipients ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)` marks up to batchSize
 *    recipients SENDING and fixes each one's message id and thread id (kept when it already had them);
 * 2. the provider calls, at the workspace's rate, each with the fixed message id as its idempotency key;
 * 3. outcome: the threads and messages (`INSERT ... SELECT FROM unnest(...) ON CONFLICT (id) DO NOTHING`), the
 *    delivery receipts the provider reported before this commit (parked: modules/inbox/parked-receipts.ts),
 *    the recipients SENT or FAILED, and one CAMPAIGN_PROGRESS event for the whole batch.
 *
 * The batches are pipelined: batch k's provider calls run while batch k-1's outcome commits and batch k+1 is
 * claimed, so one process holds at most two claimed, unsent batches (never taken as stale by its own claims);
 * a pause, a cancel, the end of a slice or a shutdown puts them back to PENDING (message ids kept).
 *
 * A sender that dies between 1 and 3 leaves SENDING rows whose lease runs out; they are claimed again with the
 * same message id (which the provider takes as its idempotency key, so the contact is texted once) and the
 * outcome's inserts are idempotent. A recipient once SENT is never claimed again. Any number of jobs may run
 * on any process (SKIP LOCKED); one process runs a campaign at most once at a time.
 */
export class CampaignSender {
  private boss: PgBoss | null = null;
  private starting: Promise<PgBoss> | null = null;
  private stopped = false;
  /** Per workspace: when the next send may start (the rate limit of this process). */
  private readonly nextSlot = new Map<string, number>();
  /** This process's send worker (woken at once when this process enqueues, instead of at its next poll). */
  private sendWorker: string | null = null;
  /** Campaigns a job of this process is sending now. */
  private readonly running = new Set<string>();

  constructor(
    private readonly orm: MikroORM,
    private readonly provider: ChannelProvider,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: SenderOptions,
    private readonly campaigns?: CampaignService,
  ) {}

  /** Starts pg-boss (its schema is created on first use) and the workers; idempotent. */
  start(): Promise<PgBoss> {
    this.starting ??= (async () => {
      const boss = new PgBoss({ connectionString: this.opts.databaseUrl, schema: PGBOSS_SCHEMA, max: 3, supervise: true, schedule: false });
      boss.on('error', (err) => this.logger.warn({ err }, 'pg-boss error'));
      await boss.start();
      await boss.createQueue(SEND_QUEUE);
      await boss.createQueue(START_QUEUE);
      this.sendWorker = await boss.work<JobData>(SEND_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) await this.run(job.data.campaignId, job.data.organizationId);
      });
      await boss.work<JobData>(START_QUEUE, { batchSize: 1, pollingIntervalSeconds: 1 }, async (jobs) => {
        for (const job of jobs) await this.startScheduled(job.data.campaignId, job.data.organizationId);
      });
      this.boss = boss;
      return boss;
    })();
    return this.starting;
  }

  /**
   * On boot: resume every RUNNING broadcast (a restart continues where the last process stopped), and give
   * every SCHEDULED campaign a start job again (its job is durable, but one enqueued after a commit may have
   * been lost with the process; a duplicate finds the campaign started and does nothing).
   */
  async resumeRunning(): Promise<void> {
    // A system read across organizations: the sender serves them all.
    const rows = await this.orm.em.fork().getConnection().execute<Array<{ id: string; organization_id: string; status: string; start_at: Date | string | null }>>(
      `select id, organization_id, status, start_at from campaigns where (status = 'RUNNING' and kind = 'BROADCAST') or status = 'SCHEDULED'`,
    );
    if (!rows.length) return;
    await this.start();
    for (const r of rows) {
      if (r.status === 'RUNNING') await this.enqueue({ id: r.id, organizationId: r.organization_id });
      else await this.scheduleStart({ id: r.id, organizationId: r.organization_id, startAt: r.start_at === null ? null : new Date(r.start_at) });
    }
  }

  async enqueue(campaign: { id: string; organizationId: string }): Promise<void> {
    if (this.stopped) return;
    const boss = await this.start();
    await boss.send(SEND_QUEUE, { campaignId: campaign.id, organizationId: campaign.organizationId }, { retryLimit: 10, retryDelay: 2, expireInSeconds: 900 });
    if (this.sendWorker) boss.notifyWorker(this.sendWorker);
  }

  /** A SCHEDULED campaign's start job, due at its start time (now when null or past). */
  async scheduleStart(campaign: { id: string; organizationId: string; startAt: Date | null }): Promise<void> {
    if (this.stopped) return;
    const boss = await this.start();
    const at = campaign.startAt && campaign.startAt.getTime() > Date.now() ? campaign.startAt : undefined;
    await boss.send(START_QUEUE, { campaignId: campaign.id, organizationId: campaign.organizationId }, { retryLimit: 5, retryDelay: 5, ...(at ? { startAfter: at } : {}) });
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

  /** A start job: starts the campaign if it is still SCHEDULED and due; one moved later waits for its new time. */
  private async startScheduled(campaignId: string, organizationId: string): Promise<void> {
    if (!this.campaigns) return;
    const em = this.em(organizationId);
    const c = await em.findOne(Campaign, { id: campaignId });
    if (!c || c.status !== CampaignStatus.SCHEDULED) return;
    if (c.startAt && c.startAt.getTime() > this.clock.now().getTime() + 1_000) {
      await this.scheduleStart({ id: campaignId, organizationId, startAt: c.startAt });
      return;
    }
    try {
      await this.campaigns.startScheduled(em, campaignId);
    } catch (err) {
      // A campaign that cannot start (it reaches nobody, its status moved meanwhile) stays as it is: no retry.
      if (err instanceof DomainError) this.logger.warn({ err, campaignId }, 'a scheduled campaign could not start');
      else throw err;
    }
  }

  /**
   * Sends batches until the campaign is done, paused, cancelled, in quiet hours, or this slice is over (then a
   * fresh job continues). Pipelined: while batch k is sent, batch k-1's outcome commits and batch k+1 is claimed.
   */
  private async run(campaignId: string, organizationId: string): Promise<void> {
    if (this.running.has(campaignId)) return; // this process sends it already (and hands over when its slice ends)
    this.running.add(campaignId);
    try {
      const until = Date.now() + (this.opts.sliceSeconds ?? 300) * 1000;
      const em = this.em(organizationId);
      const campaign = await em.findOne(Campaign, { id: campaignId });
      if (!campaign || campaign.status !== CampaignStatus.RUNNING) return;
      const settings = await em.findOne(WorkspaceSettings, { workspace: campaign.workspaceId });
      const quietUntil = () => quietHoursEndAt(campaign.quietHoursStart, campaign.quietHoursEnd, settings?.timeZone ?? 'UTC', this.clock.now());
      const again = async (startAfter?: Date | number) => {
        await this.boss?.send(SEND_QUEUE, { campaignId, organizationId }, { retryLimit: 10, retryDelay: 2, expireInSeconds: 900, ...(startAfter ? { startAfter } : {}) });
        if (!startAfter && this.sendWorker) this.boss?.notifyWorker(this.sendWorker);
      };
      const quiet = quietUntil();
      if (quiet) {
        await again(quiet); // quiet hours: again when they end
        return;
      }
      let base: CampaignProgressState | null = null;
      // A pipeline: batch k is sent while batch k-1's outcome transaction commits and batch k+1 is claimed (its own
      // statement, on another connection), so the provider calls, the outcome and the claim overlap. At most two
      // batches are claimed and unsent at a time; whatever is claimed and unsent when the sender stops early goes
      // back to PENDING.
      let current = await this.claim(em, campaign);
      /** The next batch, being claimed. */
      let upcoming: Promise<Claimed[]> | null = null;
      /** Batch k-1's outcome transaction, in flight: the progress counts after it. */
      let settling: Promise<CampaignProgressState> | null = null;
      const inFlight = <T>(p: Promise<T>): Promise<T> => {
        p.catch(() => undefined); // awaited below (or drained in finally): never an unhandled rejection
        return p;
      };
      /** Waits for the work in flight; returns the next batch (claimed, unsent). */
      const drain = async (): Promise<Claimed[]> => {
        const [s, u] = await Promise.allSettled([settling, upcoming]);
        settling = upcoming = null;
        if (s.status === 'rejected') throw s.reason;
        if (u.status === 'rejected') throw u.reason;
        if (s.value) base = s.value;
        return u.value ?? [];
      };
      try {
        for (;;) {
          if (!current.length) {
            current = await drain();
            if (current.length) continue;
            const [row] = await em.getConnection().execute<Array<{ status: string; left: string }>>(
              `select c.status, (select count(*) from campaign_recipients r where r.organization_id = c.organization_id and r.campaign_id = c.id and r.status in ('PENDING', 'SENDING')) as left
                 from campaigns c where c.organization_id = ? and c.id = ?`,
              [organizationId, campaignId],
            );
            if (row?.status !== CampaignStatus.RUNNING) return; // paused or cancelled: resume enqueues again
            // Everything left is leased to another sender: look again once a lease could have run out.
            if (Number(row.left) > 0) await again(Math.max(1, Math.ceil(this.opts.leaseSeconds / 2)));
            else await this.complete(campaignId, organizationId);
            return;
          }
          upcoming ??= inFlight(this.claim(em, campaign, current));
          // Paused or cancelled since the claim: the batch goes back unsent (its message ids kept for a resume).
          if (!(await this.isRunning(em, campaign))) {
            const next = await drain();
            await this.release(em, organizationId, [...current, ...next]);
            return;
          }
          const outcomes = await this.sendAll(campaign, current);
          const stop = this.stopped ? 'stopped' : (quietUntil() ?? (Date.now() > until ? 'slice' : null));
          const next = await drain(); // batch k-1's outcome is committed, batch k+1 claimed
          if (stop) {
            await this.settle(em, campaign, current, outcomes, base);
            await this.release(em, organizationId, next);
            if (stop === 'stopped') return; // a restart resumes RUNNING campaigns
            await again(stop instanceof Date ? stop : undefined);
            return;
          }
          settling = inFlight(this.settle(em, campaign, current, outcomes, base));
          // Batch k+2, claimed while batch k's outcome commits: neither batch k nor batch k+1 is taken as stale.
          upcoming = next.length ? inFlight(this.claim(em, campaign, [...current, ...next])) : null;
          current = next;
        }
      } finally {
        // An error on the way: let the work in flight end (rows claimed and unsent are sent again after their lease).
        if (settling || upcoming) await drain().catch(() => undefined);
      }
    } finally {
      this.running.delete(campaignId);
    }
  }

  /** Claimed and unsent recipients go back to PENDING (their message ids kept: a later claim sends them with the same id). */
  private async release(em: EntityManager, organizationId: string, claimed: readonly Claimed[]): Promise<void> {
    if (!claimed.length) return;
    await em.getConnection().execute(
      `update campaign_recipients set status = 'PENDING', claimed_at = null where organization_id = ? and id = any(?::uuid[]) and status = 'SENDING'`,
      [organizationId, uuidArray(claimed.map((r) => r.id))],
      'run',
    );
  }

  private async isRunning(em: EntityManager, campaign: Campaign): Promise<boolean> {
    const [row] = await em.getConnection().execute<Array<{ status: string }>>(`select status from campaigns where organization_id = ? and id = ?`, [campaign.organization.id, campaign.id]);
    return row?.status === CampaignStatus.RUNNING;
  }

  /** How many recipients one batch claims: no more than a quarter of the lease can send at the rate. */
  private batchSize(): number {
    return Math.max(1, Math.min(this.opts.batchSize, Math.floor((this.opts.ratePerSecond * this.opts.leaseSeconds) / 4)));
  }

  /**
   * Claims a batch while the campaign is RUNNING (one statement): PENDING recipients, and SENDING ones whose
   * sender's lease ran out, become SENDING with their message id and thread id fixed (kept when they had them).
   */
  private claim(em: EntityManager, campaign: Campaign, held: readonly Claimed[] = []): Promise<Claimed[]> {
    const org = campaign.organization.id;
    const size = this.batchSize();
    const running = `exists (select 1 from campaigns k where k.organization_id = ? and k.id = ? and k.status = 'RUNNING')`;
    return em.getConnection().execute<Claimed[]>(
      `with fresh as (
         select id from campaign_recipients
          where organization_id = ? and campaign_id = ? and status = 'PENDING' and ${running}
          limit ? for update skip locked
       ), stale as (
         select id from campaign_recipients
          where organization_id = ? and campaign_id = ? and status = 'SENDING' and claimed_at < now() - make_interval(secs => ?) and id <> all(?::uuid[]) and ${running}
          limit ? for update skip locked
       ), claimed as (
         update campaign_recipients r
            set status = 'SENDING', claimed_at = now(),
                message_id = coalesce(r.message_id, gen_random_uuid()), thread_id = coalesce(r.thread_id, gen_random_uuid())
           from (select id from fresh union all select id from stale) p
          where r.organization_id = ? and r.id = p.id
         returning r.id, r.contact_id, r.phone, r.message_id, r.thread_id
       )
       select u.id, u.contact_id, u.phone, u.message_id, u.thread_id, c.id as c_id, c.first_name, c.last_name, c.email, c.custom_fields
         from claimed u left join contacts c on c.organization_id = ? and c.id = u.contact_id`,
      [org, campaign.id, org, campaign.id, size, org, campaign.id, this.opts.leaseSeconds, uuidArray(held.map((r) => r.id)), org, campaign.id, size, org, org],
      'all',
      em.getTransactionContext(),
    );
  }

  /** The provider calls of a batch, at the workspace's rate (slots reserved in order, calls in flight together). */
  private sendAll(campaign: Campaign, claimed: readonly Claimed[]): Promise<Outcome[]> {
    const organizationId = campaign.organization.id;
    return Promise.all(
      claimed
        .filter((r) => r.c_id)
        .map(async (r): Promise<Outcome> => {
          const body = renderFor(campaign.messageTemplate, { firstName: r.first_name, lastName: r.last_name, phone: r.phone, email: r.email, customFields: r.custom_fields ?? {} });
          const wait = this.reserveSlot(campaign.workspaceId);
          if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
          const out = { recipientId: r.id, contactId: r.contact_id, threadId: r.thread_id, messageId: r.message_id, body };
          try {
            const { providerMessageId } = await this.provider.send({ organizationId, workspaceId: campaign.workspaceId, messageId: r.message_id, to: r.phone, body });
            return { ...out, providerMessageId, error: null };
          } catch (err) {
            return { ...out, providerMessageId: null, error: ((err as Error).message ?? String(err)).slice(0, 500) };
          }
        }),
    );
  }

  /**
   * A batch's outcome, in one transaction of set-based statements: its threads and messages (idempotent
   * inserts), its recipients SENT or FAILED (or SKIPPED: contact deleted), and one progress event. The event's
   * counts are the previous batch's plus this batch's own outcome (`base`; counted in full once per slice), not
   * a count of the whole campaign per batch.
   */
  private async settle(em: EntityManager, campaign: Campaign, claimed: readonly Claimed[], outcomes: readonly Outcome[], base: CampaignProgressState | null): Promise<CampaignProgressState> {
    const organizationId = campaign.organization.id;
    const counts = base ?? (await progressOf(em, campaign));
    return em.transactional(async (tx) => {
      const now = this.clock.now();
      const gone = claimed.filter((r) => !r.c_id);
      const statuses = [...outcomes.map((o) => ({ id: o.recipientId, status: o.error ? 'FAILED' : 'SENT', reason: null as string | null })), ...gone.map((r) => ({ id: r.id, status: 'SKIPPED', reason: 'CONTACT_DELETED' }))];
      const providerIds = outcomes.flatMap((o) => (o.providerMessageId ? [o.providerMessageId] : []));
      // One statement: the threads and messages (idempotent inserts), the recipients SENT, FAILED or SKIPPED, and
      // the lock on the provider message ids under which the parked receipts are taken (next statement).
      const ctes: string[] = [];
      const params: unknown[] = [];
      if (outcomes.length) {
        ctes.push(
          `t as (insert into threads (id, created_at, organization_id, workspace_id, contact_id, status, last_activity_at, first_response_at, campaign_id, last_message_preview)
             select x.id, ?, ?, ?, x.contact_id, 'OPEN', ?, ?, ?, x.preview
               from unnest(?::uuid[], ?::uuid[], ?::text[]) as x(id, contact_id, preview)
             on conflict (id) do nothing)`,
          `m as (insert into messages (id, created_at, organization_id, workspace_id, thread_id, direction, body, status, status_updated_at, error, author_id, provider_message_id)
             select x.id, ?, ?, ?, x.thread_id, 'OUTBOUND', x.body, case when x.error is null then 'QUEUED' else 'FAILED' end::delivery_status,
                    case when x.error is null then null else ?::timestamptz end, x.error, ?, x.pid
               from unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[]) as x(id, thread_id, body, pid, error)
             on conflict (id) do nothing)`,
        );
        params.push(now, organizationId, campaign.workspaceId, now, now, campaign.id, uuidArray(outcomes.map((o) => o.threadId)), uuidArray(outcomes.map((o) => o.contactId)), textArray(outcomes.map((o) => o.body.slice(0, 160))));
        params.push(now, organizationId, campaign.workspaceId, now, campaign.createdById, uuidArray(outcomes.map((o) => o.messageId)), uuidArray(outcomes.map((o) => o.threadId)), textArray(outcomes.map((o) => o.body)), textArray(outcomes.map((o) => o.providerMessageId)), textArray(outcomes.map((o) => o.error)));
      }
      // Only rows still SENDING: a row another sender finished meanwhile (its lease ran out under us) is counted once.
      ctes.push(
        `u as (update campaign_recipients r
            set status = x.status::campaign_recipient_status, sent_at = case when x.status = 'SENT' then now() else r.sent_at end, skip_reason = coalesce(x.reason, r.skip_reason)
           from unnest(?::uuid[], ?::text[], ?::text[]) as x(id, status, reason)
          where r.organization_id = ? and r.id = x.id and r.status = 'SENDING'
          returning x.status)`,
      );
      params.push(uuidArray(statuses.map((s) => s.id)), textArray(statuses.map((s) => s.status)), textArray(statuses.map((s) => s.reason)), organizationId);
      const lock = providerIds.length ? providerMessageIdsLock(organizationId, providerIds) : { sql: '0', params: [] };
      params.push(...lock.params);
      const [moved] = await tx.getConnection().execute<Array<{ moved: string | number; sent: string | number; failed: string | number }>>(
        `with ${ctes.join(', ')}
         select count(*) as moved, count(*) filter (where u.status = 'SENT') as sent, count(*) filter (where u.status = 'FAILED') as failed, ${lock.sql} as locked from u`,
        params,
        'all',
        tx.getTransactionContext(),
      );
      // Receipts the provider reported before this commit were parked (no message yet): applied now, in order.
      if (providerIds.length) await applyParkedReceipts(tx, organizationId, providerIds, now, { locked: true });
      const state: CampaignProgressState = {
        ...counts,
        status: campaign.status,
        queued: Math.max(0, counts.queued - Number(moved!.moved)),
        sent: counts.sent + Number(moved!.sent),
        failed: counts.failed + Number(moved!.failed),
      };
      await appendEvent(tx, { organizationId, workspaceId: campaign.workspaceId, type: EventType.CAMPAIGN_PROGRESS, payload: { campaign: state } });
      return state;
    });
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

  /** Reserves this workspace's next send slot (ratePerSecond, spread evenly); returns how long to wait for it. */
  private reserveSlot(workspaceId: string): number {
    const gap = 1000 / this.opts.ratePerSecond;
    const now = Date.now();
    const at = Math.max(now, this.nextSlot.get(workspaceId) ?? 0);
    this.nextSlot.set(workspaceId, at + gap);
    return at - now;
  }
}
