import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, notFound } from '../../shared/errors';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import type { Clock } from '../../shared/clock';
import type { Principal } from '../identity';
import { actorOf, audit, type Actor } from '../identity';
import { Organization, Workspace } from '../identity';
import type { PhoneNumberService } from './phone-numbers.service';
import { appendEvent } from '../../realtime';
import { TENANT_FILTER } from '../../db/tenant';
import { EventType, type CampaignProgressState } from '../../realtime';
import { Campaign, CampaignGroup, CampaignKind, CampaignStatus, RecipientStatus, type ContactFilterSpec } from './campaign.entity';
import type { CampaignInput, CampaignPreflight, MissingVariables } from './campaign.types';
import { filterSql, toFilterSpec } from './groups.service';
import { assertEditable, assertFrom, assertHasTargets, assertTransition } from './policy';
import { missingVariables, templateVariables, type TemplateContact } from './template';

const MAX_TEMPLATE = 1600;
const MAX_SCRIPTS = 50;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
/** Rows per INSERT of recipients. */
const CHUNK = 5_000;
/** Why a recipient was never sent. */
export const SKIP_OPTED_OUT_WORKSPACE = 'OPTED_OUT_WORKSPACE';
export const SKIP_OPTED_OUT_ORGANIZATION = 'OPTED_OUT_ORGANIZATION';
export const SKIP_MISSING_VARIABLE = 'MISSING_VARIABLE';

interface TargetRow {
  id: string;
  phone: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  custom_fields: Record<string, unknown>;
  opt_out: string | null;
}

function asTemplateContact(r: TargetRow): TemplateContact {
  return { firstName: r.first_name, lastName: r.last_name, phone: r.phone, email: r.email, customFields: r.custom_fields ?? {} };
}

function text(v: string | null | undefined, field: string, max: number): string | null {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  if (t.length > max) throw badInput(`${field} has at most ${max} characters`, { field });
  return t || null;
}

/** Campaigns: compose, preflight, the status machine, recipients materialised once at the first start. */
export class CampaignService {
  /** Called after a commit that made a campaign RUNNING (the sender enqueues its job). */
  onRunning: (campaign: { id: string; organizationId: string }) => void = () => undefined;
  /** Called after a commit that scheduled a campaign or moved its start (the sender enqueues its start job). */
  onScheduled: (campaign: { id: string; organizationId: string; startAt: Date | null }) => void = () => undefined;

  constructor(
    private readonly clock: Clock,
    private readonly phoneNumbers: PhoneNumberService,
  ) {}

  private async apply(tx: EntityManager, campaign: Campaign, input: CampaignInput): Promise<void> {
    if (input.name !== undefined && input.name !== null) {
      const n = input.name.trim();
      if (!n || n.length > 100) throw badInput('A campaign name has 1 to 100 characters', { field: 'name' });
      campaign.name = n;
    }
    if (input.description !== undefined) campaign.description = text(input.description, 'description', 2000);
    if (input.kind) campaign.kind = input.kind;
    if (input.messageTemplate !== undefined && input.messageTemplate !== null) {
      const t = input.messageTemplate.trim();
      if (!t || t.length > MAX_TEMPLATE) throw badInput(`The message has 1 to ${MAX_TEMPLATE} characters`, { field: 'messageTemplate' });
      templateVariables(t);
      campaign.messageTemplate = t;
    }
    if (input.responseScripts) {
      if (input.responseScripts.length > MAX_SCRIPTS) throw badInput(`At most ${MAX_SCRIPTS} response scripts`, { field: 'responseScripts' });
      campaign.responseScripts = input.responseScripts.map((s, i) => {
        const name = text(s.name, `responseScripts.${i}.name`, 100);
        const body = text(s.body, `responseScripts.${i}.body`, MAX_TEMPLATE);
        if (!name || !body) throw badInput('A response script has a name and a body', { field: `responseScripts.${i}` });
        templateVariables(body);
        return { name, body };
      });
    }
    if (input.targetGroupIds) {
      const ids = [...new Set(input.targetGroupIds)];
      const found = await tx.count(CampaignGroup, { id: { $in: ids }, workspace: campaign.workspaceId });
      if (found !== ids.length) throw badInput('A target group does not exist in this workspace', { field: 'targetGroupIds' });
      campaign.targetGroupIds = ids;
    }
    if (input.contactFilter !== undefined) campaign.contactFilter = toFilterSpec(input.contactFilter);
    if (input.senderNumber !== undefined) {
      if (input.senderNumber === null || input.senderNumber === '') campaign.senderNumber = null;
      else {
        // A campaign sends from one of its workspace's registered numbers, under that number's name unless
        // the campaign names itself.
        const registered = await this.phoneNumbers.requireRegistered(tx, campaign.workspaceId, input.senderNumber, 'senderNumber');
        campaign.senderNumber = registered.number;
        if (input.senderName === undefined && !campaign.senderName) campaign.senderName = registered.displayName;
      }
    }
    if (input.senderName !== undefined) campaign.senderName = text(input.senderName, 'senderName', 100);
    if (input.startAt !== undefined) campaign.startAt = input.startAt;
    for (const key of ['quietHoursStart', 'quietHoursEnd'] as const) {
      if (input[key] === undefined) continue;
      const v = input[key];
      if (v !== null && !HHMM.test(v)) throw badInput(`${key} is HH:MM`, { field: key });
      campaign[key] = v;
    }
    if (!campaign.quietHoursStart !== !campaign.quietHoursEnd) throw badInput('Quiet hours need both a start and an end', { field: 'quietHoursEnd' });
    if (input.maxThreadsPerRequest !== undefined && input.maxThreadsPerRequest !== null) {
      if (!Number.isInteger(input.maxThreadsPerRequest) || input.maxThreadsPerRequest < 1 || input.maxThreadsPerRequest > 500) throw badInput('maxThreadsPerRequest is 1..500', { field: 'maxThreadsPerRequest' });
      campaign.maxThreadsPerRequest = input.maxThreadsPerRequest;
    }
  }

  async create(em: EntityManager, principal: Principal, workspaceId: string, input: CampaignInput): Promise<Campaign> {
    if (!input.name) throw badInput('A campaign needs a name', { field: 'name' });
    if (!input.messageTemplate) throw badInput('A campaign needs a message', { field: 'messageTemplate' });
    return em.transactional(async (tx) => {
      const campaign = tx.create(Campaign, {
        organization: tx.getReference(Organization, principal.organizationId),
        workspace: tx.getReference(Workspace, workspaceId),
        name: input.name!,
        messageTemplate: input.messageTemplate!,
        createdById: principal.userId,
      });
      await this.apply(tx, campaign, input);
      audit(tx, actorOf(principal), { action: 'campaign.create', targetType: 'Campaign', targetId: campaign.id, workspaceId, after: { name: campaign.name, kind: campaign.kind } });
      return campaign;
    });
  }

  async update(em: EntityManager, principal: Principal, id: string, input: CampaignInput): Promise<Campaign> {
    const updated = await em.transactional(async (tx) => {
      const campaign = await tx.findOne(Campaign, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!campaign) throw notFound('Campaign');
      assertEditable(campaign);
      await this.apply(tx, campaign, input);
      audit(tx, actorOf(principal), { action: 'campaign.update', targetType: 'Campaign', targetId: id, workspaceId: campaign.workspaceId, after: { ...input } as Record<string, unknown> });
      return campaign;
    });
    if (updated.status === CampaignStatus.SCHEDULED && input.startAt !== undefined) this.onScheduled({ id, organizationId: updated.organization.id, startAt: updated.startAt });
    return updated;
  }

  async list(em: EntityManager, workspaceId: string, args: { first?: number | null; after?: string | null; status?: CampaignStatus | null }): Promise<Connection<Campaign>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const where: Record<string, unknown> = { workspace: workspaceId };
    if (args.status) where.status = args.status;
    if (after) where.$or = [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }];
    const rows = await em.find(Campaign, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1 });
    return toConnection(rows, size, (c) => [c.createdAt.toISOString(), c.id]);
  }

  /**
   * The contacts a campaign reaches now: its groups' members and its filter's matches with a phone, one per
   * phone number (the oldest contact wins), each with the level of an active opt-out, if any.
   */
  private async targets(em: EntityManager, campaign: Campaign): Promise<TargetRow[]> {
    const org = campaign.organization.id;
    const ws = campaign.workspaceId;
    // Contacts and memberships imported a moment ago have no planner statistics yet: planned on "1 row"
    // estimates, a nested loop rescans the members once per contact (30 s for 10k contacts, hours for 100k).
    // Hash joins are linear whatever the estimates, so nested loops are off for this statement (the opt-out
    // lookup per phone stays one: a lateral join has no other plan).
    const reach: string[] = [];
    const params: unknown[] = [];
    if (campaign.targetGroupIds.length) {
      reach.push(`select m.contact_id as id from campaign_group_members m where m.organization_id = ? and m.group_id = any(?::uuid[])`);
      params.push(org, `{${campaign.targetGroupIds.join(',')}}`);
    }
    if (campaign.contactFilter) {
      const f = filterSql(campaign.contactFilter as ContactFilterSpec);
      reach.push(`select c.id from contacts c where c.organization_id = ? and c.workspace_id = ? and (${f.sql})`);
      params.push(org, ws, ...f.params);
    }
    if (!reach.length) return [];
    params.push(org, ws, org, ws);
    const select = async (tx: EntityManager): Promise<TargetRow[]> => {
      const setNestLoop = (on: boolean) => tx.getConnection().execute(`set local enable_nestloop = ${on ? 'on' : 'off'}`, [], 'run', tx.getTransactionContext());
      await setNestLoop(false);
      const rows = await tx.getConnection().execute<TargetRow[]>(
        `with reach as (${reach.join(' union ')})
       select t.*, oo.level as opt_out from (
         select distinct on (c.phone) c.id, c.phone, c.first_name, c.last_name, c.email, c.custom_fields
           from reach r
           join contacts c on c.organization_id = ? and c.id = r.id
          where c.workspace_id = ? and c.merged_into_id is null and c.phone is not null
          order by c.phone, c.created_at, c.id) t
       left join lateral (
         select case when bool_or(o.workspace_id is null) then '${SKIP_OPTED_OUT_ORGANIZATION}' else '${SKIP_OPTED_OUT_WORKSPACE}' end as level
           from opt_outs o
          where o.organization_id = ? and o.address = t.phone and o.reversed_at is null and (o.until is null or o.until > now())
            and (o.workspace_id = ? or o.workspace_id is null)
         having count(*) > 0) oo on true`,
        params,
        'all',
        tx.getTransactionContext(),
      );
      await setNestLoop(true);
      return rows;
    };
    return em.getTransactionContext() ? select(em) : em.transactional(select);
  }

  /** What a start would do now: recipients, opted-out ones, and each contact missing a variable of the message. */
  async preflight(em: EntityManager, id: string): Promise<CampaignPreflight> {
    const campaign = await em.findOne(Campaign, { id });
    if (!campaign) throw notFound('Campaign');
    const rows = await this.targets(em, campaign);
    const variables = templateVariables(campaign.messageTemplate);
    const missing: MissingVariables[] = [];
    let missingCount = 0;
    for (const r of rows) {
      if (r.opt_out) continue;
      const m = missingVariables(variables, asTemplateContact(r));
      if (m.length) {
        missingCount++;
        if (missing.length < 1000) missing.push({ contactId: r.id, missing: m });
      }
    }
    return { recipients: rows.length, optedOut: rows.filter((r) => r.opt_out).length, variables, missingVariables: missing, missingVariablesCount: missingCount };
  }

  /** DRAFT -> SCHEDULED: a start time in the future is required. */
  async schedule(em: EntityManager, principal: Principal, id: string): Promise<Campaign> {
    const c = await this.transition(em, principal, id, CampaignStatus.SCHEDULED, async (_tx, c) => {
      assertHasTargets(c);
      if (!c.startAt || c.startAt.getTime() <= this.clock.now().getTime()) throw badInput('Set startAt in the future to schedule', { field: 'startAt' });
    });
    this.onScheduled({ id, organizationId: c.organization.id, startAt: c.startAt });
    return c;
  }

  /**
   * The start of a SCHEDULED campaign at its time, by the system (the sender's start job): as `start`, with
   * contacts missing a variable skipped and counted (nobody is there to decide otherwise).
   */
  startScheduled(em: EntityManager, id: string): Promise<Campaign> {
    const organizationId = (em.getFilterParams(TENANT_FILTER) as { organizationId?: string } | undefined)?.organizationId;
    if (!organizationId) throw new Error('startScheduled needs the tenant filter set');
    return this.start(em, { organizationId, userId: null }, id, true);
  }

  /**
   * DRAFT/SCHEDULED -> RUNNING: materialises the recipients once (deduplicated by phone; opted-out ones, and
   * with `skipMissingVariables` those missing a variable, recorded as SKIPPED with the reason). A contact
   * missing a variable otherwise refuses the start (BAD_USER_INPUT naming how many; see campaignPreflight).
   */
  async start(em: EntityManager, principal: Principal | Actor, id: string, skipMissingVariables: boolean): Promise<Campaign> {
    return this.transition(em, principal, id, CampaignStatus.RUNNING, async (tx, c) => {
      assertFrom(c, CampaignStatus.RUNNING, [CampaignStatus.DRAFT, CampaignStatus.SCHEDULED]);
      assertHasTargets(c);
      if (c.materializedAt) return;
      const rows = await this.targets(tx, c);
      const variables = templateVariables(c.messageTemplate);
      const status: string[] = [];
      const reason: Array<string | null> = [];
      let missing = 0;
      for (const r of rows) {
        const gaps = r.opt_out ? [] : missingVariables(variables, asTemplateContact(r));
        if (gaps.length) missing++;
        const why = r.opt_out ?? (gaps.length ? SKIP_MISSING_VARIABLE : null);
        status.push(why ? RecipientStatus.SKIPPED : RecipientStatus.PENDING);
        reason.push(why);
      }
      if (missing && !skipMissingVariables) {
        throw badInput(`${missing} contact(s) have no value for a variable of the message: fill them, or start with skipMissingVariables`, { field: 'messageTemplate', missingVariablesCount: missing });
      }
      if (!rows.length) throw badInput('The campaign reaches no contact with a phone number', { field: 'targetGroupIds' });
      for (let i = 0; i < rows.length; i += CHUNK) {
        const slice = rows.slice(i, i + CHUNK);
        await tx.getConnection().execute(
          `insert into campaign_recipients (id, organization_id, campaign_id, workspace_id, contact_id, phone, status, skip_reason)
           select gen_random_uuid(), ?, ?, ?, x.contact_id, x.phone, x.status::campaign_recipient_status, x.reason
             from unnest(?::uuid[], ?::text[], ?::text[], ?::text[]) as x(contact_id, phone, status, reason)
           on conflict (organization_id, campaign_id, phone) do nothing`,
          [c.organization.id, c.id, c.workspaceId, `{${slice.map((r) => r.id).join(',')}}`, `{${slice.map((r) => r.phone).join(',')}}`, `{${status.slice(i, i + CHUNK).join(',')}}`, toPgArray(reason.slice(i, i + CHUNK))],
          'run',
          tx.getTransactionContext(),
        );
      }
      c.materializedAt = this.clock.now();
    });
  }

  pause(em: EntityManager, principal: Principal, id: string): Promise<Campaign> {
    return this.transition(em, principal, id, CampaignStatus.PAUSED);
  }

  resume(em: EntityManager, principal: Principal, id: string): Promise<Campaign> {
    return this.transition(em, principal, id, CampaignStatus.RUNNING, async (_tx, c) => assertFrom(c, CampaignStatus.RUNNING, [CampaignStatus.PAUSED]));
  }

  cancel(em: EntityManager, principal: Principal, id: string): Promise<Campaign> {
    return this.transition(em, principal, id, CampaignStatus.CANCELLED);
  }

  /** One status move in one transaction, under the campaign's row lock, with its audit row and progress event. */
  private async transition(em: EntityManager, principal: Principal | Actor, id: string, to: CampaignStatus, check?: (tx: EntityManager, c: Campaign) => Promise<void>): Promise<Campaign> {
    const campaign = await em.transactional(async (tx) => {
      const c = await tx.findOne(Campaign, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!c) throw notFound('Campaign');
      assertTransition(c, to);
      await check?.(tx, c);
      const from = c.status;
      c.status = to;
      if (to === CampaignStatus.RUNNING) c.startedAt ??= this.clock.now();
      if (to === CampaignStatus.CANCELLED) c.completedAt = this.clock.now();
      audit(tx, 'access' in principal ? actorOf(principal) : principal, { action: `campaign.${to.toLowerCase()}`, targetType: 'Campaign', targetId: id, workspaceId: c.workspaceId, before: { status: from }, after: { status: to } });
      await tx.flush();
      await emitProgress(tx, c);
      return c;
    });
    if (campaign.status === CampaignStatus.RUNNING && campaign.kind === CampaignKind.BROADCAST) this.onRunning({ id: campaign.id, organizationId: campaign.organization.id });
    return campaign;
  }
}

function toPgArray(values: Array<string | null>): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${v}"`)).join(',')}}`;
}

/** The counts of a campaign, from its recipients and the messages and opt-outs that followed. */
export async function progressOf(em: EntityManager, campaign: Campaign): Promise<CampaignProgressState> {
  const [row] = await em.getConnection().execute<Array<Record<string, string>>>(
    `select count(*) as total,
            count(*) filter (where r.status in ('PENDING', 'SENDING', 'ASSIGNED')) as queued,
            count(*) filter (where r.status = 'SENT') as sent,
            count(*) filter (where r.status = 'FAILED' or m.status = 'FAILED') as failed,
            count(*) filter (where m.status = 'DELIVERED') as delivered,
            count(*) filter (where r.status = 'SKIPPED' and r.skip_reason like 'OPTED_OUT%') as skipped_opted_out,
            count(*) filter (where r.status = 'SKIPPED' and r.skip_reason = '${SKIP_MISSING_VARIABLE}') as skipped_missing,
            count(*) filter (where r.status = 'SENT' and exists (select 1 from messages i where i.organization_id = r.organization_id and i.thread_id = r.thread_id and i.direction = 'INBOUND' and i.created_at >= r.sent_at)) as replied,
            count(*) filter (where r.status = 'SENT' and exists (select 1 from opt_outs o where o.organization_id = r.organization_id and o.address = r.phone and o.created_at >= r.sent_at and o.reversed_at is null)) as opted_out_after
       from campaign_recipients r
       left join messages m on m.organization_id = r.organization_id and m.id = r.message_id
      where r.organization_id = ? and r.campaign_id = ?`,
    [campaign.organization.id, campaign.id],
    'all',
    em.getTransactionContext(),
  );
  const n = (k: string) => Number(row?.[k] ?? 0);
  return {
    campaignId: campaign.id,
    status: campaign.status,
    total: n('total'),
    queued: n('queued'),
    sent: n('sent'),
    delivered: n('delivered'),
    failed: n('failed'),
    skippedOptedOut: n('skipped_opted_out'),
    skippedMissingVariables: n('skipped_missing'),
    replied: n('replied'),
    optedOutAfter: n('opted_out_after'),
  };
}

/** One CAMPAIGN_PROGRESS event with the counts after the caller's change, in the caller's transaction. */
export async function emitProgress(tx: EntityManager, campaign: Campaign): Promise<CampaignProgressState> {
  const state = await progressOf(tx, campaign);
  await appendEvent(tx, { organizationId: campaign.organization.id, workspaceId: campaign.workspaceId, type: EventType.CAMPAIGN_PROGRESS, payload: { campaign: state } });
  return state;
}
