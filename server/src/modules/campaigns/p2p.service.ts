import { createHash, randomBytes } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, forbidden, notFound } from '../../shared/errors';
import { decodeCursor, encodeCursor, pageSize, type Connection } from '../../graphql/pagination';
import type { Clock } from '../../shared/clock';
import { actorOf, assertUserPrincipal, audit, Organization, Permission, type Principal } from '../identity';
import { Contact, type MessagingService, type Thread } from '../inbox';
import { EventType, appendEvents, type NewEvent } from '../../realtime';
import { Campaign, CampaignKind, CampaignRecipient, CampaignStatus, RecipientStatus } from './campaign.entity';
import { emitProgress, SKIP_OPTED_OUT_WORKSPACE } from './campaigns.service';
import { CampaignTexter, TexterInvite } from './p2p.entity';
import type { CampaignAssignment, CampaignReply, CampaignTexterRow, CampaignThreadRow, TexterCampaign } from './p2p.types';
import { assertHandsOutThreads, assertPeerToPeer, assertRequestSize } from './policy';
import { renderFor, templateVariables, type TemplateContact } from './template';

/** Texter links are bearer secrets: a prefix that says what they are, 256 random bits, stored as SHA-256. */
const TOKEN_PREFIX = 'sbt_';
const DEFAULT_INVITE_HOURS = 7 * 24;
const MAX_INVITE_HOURS = 90 * 24;
const MAX_ASSIGNMENTS = 500;

export function newTexterToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashTexterToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The typed refusal for a texter acting in a campaign they did not join (not a missing permission). */
export function notJoined(): DomainError {
  return new DomainError(ErrorCode.NOT_CAMPAIGN_TEXTER, 'You have not joined this campaign: open its texter link first', { field: 'campaignId' });
}

/** A timestamp from a raw row (the driver may hand back a string). */
function toDate(v: unknown): Date | null {
  return v === null || v === undefined ? null : new Date(v as string);
}

function asTemplateContact(c: Contact): TemplateContact {
  return { firstName: c.firstName, lastName: c.lastName, phone: c.phone, email: c.email, customFields: c.customFields ?? {} };
}

interface RecipientRow {
  id: string;
  contact_id: string;
  thread_id: string | null;
  status: RecipientStatus;
  message_id: string | null;
  sent_at: Date | null;
}

/**
 * Peer-to-peer campaigns (seeds 001/004): texter links, joining, batches of contacts handed out with
 * FOR UPDATE SKIP LOCKED (never the same contact to two texters), initial messages sent one by one through the
 * inbox's send path (idempotent per recipient), replies claimed; and what supervisors see of it all.
 */
export class PeerToPeerService {
  constructor(private readonly clock: Clock) {}

  // ------------------------------------------------------------ links (CAMPAIGNS_MANAGE)

  async createInvite(em: EntityManager, principal: Principal, campaignId: string, expiresInHours: number | null): Promise<{ invite: TexterInvite; token: string }> {
    const hours = expiresInHours ?? DEFAULT_INVITE_HOURS;
    if (!Number.isInteger(hours) || hours < 1 || hours > MAX_INVITE_HOURS) throw badInput(`expiresInHours is 1..${MAX_INVITE_HOURS}`, { field: 'expiresInHours' });
    return em.transactional(async (tx) => {
      const campaign = await tx.findOne(Campaign, { id: campaignId });
      if (!campaign) throw notFound('Campaign');
      assertPeerToPeer(campaign);
      const token = newTexterToken();
      const invite = tx.create(TexterInvite, {
        organization: tx.getReference(Organization, principal.organizationId),
        campaign,
        workspaceId: campaign.workspaceId,
        tokenHash: hashTexterToken(token),
        createdById: principal.userId,
        expiresAt: new Date(this.clock.now().getTime() + hours * 3_600_000),
      });
      audit(tx, actorOf(principal), { action: 'campaign.texterInvite.create', targetType: 'Campaign', targetId: campaignId, workspaceId: campaign.workspaceId, after: { inviteId: invite.id, expiresAt: invite.expiresAt.toISOString() } });
      return { invite, token };
    });
  }

  /** Revoking twice is harmless: the first time stands. */
  async revokeInvite(em: EntityManager, principal: Principal, campaignId: string, inviteId: string): Promise<TexterInvite> {
    return em.transactional(async (tx) => {
      const invite = await tx.findOne(TexterInvite, { id: inviteId, campaign: campaignId });
      if (!invite) throw badInput('No such texter link for this campaign', { field: 'inviteId' });
      if (!invite.revokedAt) {
        invite.revokedAt = this.clock.now();
        invite.revokedById = principal.userId;
        audit(tx, actorOf(principal), { action: 'campaign.texterInvite.revoke', targetType: 'Campaign', targetId: campaignId, workspaceId: invite.workspaceId, after: { inviteId } });
      }
      return invite;
    });
  }

  invites(em: EntityManager, campaignId: string): Promise<TexterInvite[]> {
    return em.find(TexterInvite, { campaign: campaignId }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: 100 });
  }

  // ------------------------------------------------------------ texters (THREADS_REQUEST)

  /**
   * Joins the campaign of a texter link. The link is checked first (invalid, revoked, expired: typed errors),
   * then the caller's right where the campaign lives: THREADS_REQUEST in its workspace. Joining twice is one join.
   */
  async join(em: EntityManager, principal: Principal, token: string): Promise<Campaign> {
    assertUserPrincipal(principal);
    const hash = hashTexterToken(String(token ?? ''));
    return em.transactional(async (tx) => {
      const invite = await tx.findOne(TexterInvite, { tokenHash: hash });
      if (!invite) throw new DomainError(ErrorCode.INVITATION_INVALID, 'This texter link is not valid', { field: 'token' });
      if (invite.revokedAt) throw new DomainError(ErrorCode.INVITATION_REVOKED, 'This texter link was revoked', { field: 'token' });
      if (invite.expiresAt.getTime() <= this.clock.now().getTime()) throw new DomainError(ErrorCode.INVITATION_EXPIRED, 'This texter link has expired', { field: 'token' });
      if (!principal.access.can(Permission.THREADS_REQUEST, invite.workspaceId)) throw forbidden("Joining a campaign needs THREADS_REQUEST in the campaign's workspace");
      const campaign = await tx.findOneOrFail(Campaign, { id: invite.campaign.id });
      const inserted = await tx.getConnection().execute<Array<{ id: string }>>(
        `insert into campaign_texters (id, organization_id, campaign_id, workspace_id, user_id, invite_id, created_at)
         values (gen_random_uuid(), ?, ?, ?, ?, ?, now()) on conflict (organization_id, campaign_id, user_id) do nothing returning id`,
        [principal.organizationId, campaign.id, campaign.workspaceId, principal.userId, invite.id],
        'all',
        tx.getTransactionContext(),
      );
      if (inserted.length) audit(tx, actorOf(principal), { action: 'campaign.texter.join', targetType: 'Campaign', targetId: campaign.id, workspaceId: campaign.workspaceId, after: { inviteId: invite.id } });
      return campaign;
    });
  }

  /** NOT_CAMPAIGN_TEXTER unless the caller joined this campaign through one of its links. */
  async assertJoined(em: EntityManager, principal: Principal, campaignId: string): Promise<void> {
    if (principal.kind !== 'user' || !(await em.count(CampaignTexter, { campaign: campaignId, userId: principal.userId }))) throw notJoined();
  }

  /** The campaigns the caller joined (and may still work: THREADS_REQUEST there), most recently joined first. */
  async texterCampaigns(em: EntityManager, principal: Principal, args: { first?: number | null; after?: string | null }): Promise<Connection<TexterCampaign>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const rows = await em.getConnection().execute<Array<{ id: string; joined_at: Date; texter_id: string }>>(
      `select t.campaign_id as id, date_trunc('milliseconds', t.created_at) as joined_at, t.id as texter_id
         from campaign_texters t
        where t.organization_id = ? and t.user_id = ?
          ${after ? `and (date_trunc('milliseconds', t.created_at), t.id) < (?::timestamptz, ?::uuid)` : ''}
        order by date_trunc('milliseconds', t.created_at) desc, t.id desc limit ?`,
      [principal.organizationId, principal.userId, ...(after ? after : []), size + 1],
      'all',
      em.getTransactionContext(),
    );
    const campaigns = new Map((await em.find(Campaign, { id: { $in: rows.map((r) => r.id) } })).map((c) => [c.id, c]));
    const counts = await this.myCounts(em, principal, rows.map((r) => r.id));
    const nodes = rows
      .map((r) => ({ r, c: campaigns.get(r.id) }))
      .filter((x): x is { r: (typeof rows)[number]; c: Campaign } => !!x.c && principal.access.can(Permission.THREADS_REQUEST, x.c.workspaceId));
    const page = nodes.slice(0, size);
    return {
      edges: page.map(({ r, c }) => ({ cursor: encodeCursor([new Date(r.joined_at).toISOString(), r.texter_id]), node: this.texterView(c, new Date(r.joined_at), counts.get(c.id)) })),
      pageInfo: { hasNextPage: rows.length > size, endCursor: page.length ? encodeCursor([new Date(page[page.length - 1]!.r.joined_at).toISOString(), page[page.length - 1]!.r.texter_id]) : null },
    };
  }

  async texterCampaign(em: EntityManager, principal: Principal, campaignId: string): Promise<TexterCampaign> {
    const joined = await em.findOne(CampaignTexter, { campaign: campaignId, userId: principal.userId });
    if (!joined || principal.kind !== 'user') throw notJoined();
    const campaign = await em.findOneOrFail(Campaign, { id: campaignId });
    return this.texterView(campaign, joined.createdAt, (await this.myCounts(em, principal, [campaignId])).get(campaignId));
  }

  private texterView(c: Campaign, joinedAt: Date, counts?: { assigned: number; sent: number }): TexterCampaign {
    return {
      id: c.id,
      workspaceId: c.workspaceId,
      name: c.name,
      status: c.status,
      messageTemplate: c.messageTemplate,
      variables: templateVariables(c.messageTemplate),
      responseScripts: c.responseScripts,
      maxThreadsPerRequest: c.maxThreadsPerRequest,
      joinedAt,
      assignedToMe: counts?.assigned ?? 0,
      sentByMe: counts?.sent ?? 0,
    };
  }

  private async myCounts(em: EntityManager, principal: Principal, campaignIds: string[]): Promise<Map<string, { assigned: number; sent: number }>> {
    if (!campaignIds.length) return new Map();
    const rows = await em.getConnection().execute<Array<{ campaign_id: string; assigned: string; sent: string }>>(
      `select campaign_id, count(*) filter (where status = 'ASSIGNED') as assigned, count(*) filter (where status = 'SENT') as sent
         from campaign_recipients where organization_id = ? and campaign_id = any(?::uuid[]) and texter_id = ? group by campaign_id`,
      [principal.organizationId, `{${campaignIds.join(',')}}`, principal.userId],
      'all',
      em.getTransactionContext(),
    );
    return new Map(rows.map((r) => [r.campaign_id, { assigned: Number(r.assigned), sent: Number(r.sent) }]));
  }

  /**
   * Hands the caller up to `count` contacts not yet texted (1..the campaign's maxThreadsPerRequest). One
   * transaction: the recipients are picked FOR UPDATE SKIP LOCKED (a concurrent request skips them, so no contact
   * goes to two texters), each gets a campaign thread assigned to the caller, and the batch one progress event.
   */
  async request(em: EntityManager, principal: Principal, campaignId: string, count: number): Promise<CampaignAssignment[]> {
    await this.assertJoined(em, principal, campaignId);
    return em.transactional(async (tx) => {
      // A share lock: requests run side by side, while a pause or cancel (FOR UPDATE) waits for them, and they for it.
      const campaign = await tx.findOne(Campaign, { id: campaignId }, { lockMode: LockMode.PESSIMISTIC_READ, refresh: true });
      if (!campaign) throw notFound('Campaign');
      assertPeerToPeer(campaign);
      assertHandsOutThreads(campaign);
      assertRequestSize(campaign, count);
      const org = principal.organizationId;
      const run = <T>(sql: string, params: unknown[]) => tx.getConnection().execute<T[]>(sql, params, 'all', tx.getTransactionContext());
      const picked = await run<{ id: string; contact_id: string }>(
        // The pick is a MATERIALIZED CTE: as an IN (subquery) the planner may run the LIMIT ... SKIP LOCKED
        // subquery more than once and hand out more rows than asked for.
        `with picked as materialized (
           select id from campaign_recipients where organization_id = ? and campaign_id = ? and status = 'PENDING'
            order by id limit ? for update skip locked)
         update campaign_recipients r set status = 'ASSIGNED', texter_id = ?, claimed_at = now()
           from picked where r.organization_id = ? and r.id = picked.id
         returning r.id, r.contact_id`,
        [org, campaignId, count, principal.userId, org],
      );
      if (!picked.length) return [];
      const threads = await run<{ id: string; contact_id: string; last_activity_at: Date }>(
        `insert into threads (id, organization_id, workspace_id, contact_id, campaign_id, assignee_user_id, status, archived, needs_response, last_activity_at, created_at)
         select gen_random_uuid(), ?, ?, x, ?, ?, 'OPEN', false, false, now(), now() from unnest(?::uuid[]) as x
         returning id, contact_id, last_activity_at`,
        [org, campaign.workspaceId, campaignId, principal.userId, `{${picked.map((p) => p.contact_id).join(',')}}`],
      );
      const threadOf = new Map(threads.map((t) => [t.contact_id, t]));
      await run(
        `update campaign_recipients r set thread_id = x.thread_id from unnest(?::uuid[], ?::uuid[]) as x(id, thread_id) where r.organization_id = ? and r.id = x.id`,
        [`{${picked.map((p) => p.id).join(',')}}`, `{${picked.map((p) => threadOf.get(p.contact_id)!.id).join(',')}}`, org],
      );
      await run(
        `insert into assignment_events (id, organization_id, workspace_id, thread_id, kind, actor_id, to_user_id, created_at)
         select gen_random_uuid(), ?, ?, x, 'request', ?, ?, now() from unnest(?::uuid[]) as x`,
        [org, campaign.workspaceId, principal.userId, principal.userId, `{${threads.map((t) => t.id).join(',')}}`],
      );
      const events: NewEvent[] = threads.map((t) => ({
        organizationId: org,
        workspaceId: campaign.workspaceId,
        type: EventType.THREAD_CREATED,
        threadId: t.id,
        payload: {
          thread: { id: t.id, status: 'OPEN', archived: false, needsResponse: false, assigneeUserId: principal.userId, assigneeGroupId: null, lastActivityAt: new Date(t.last_activity_at).toISOString(), campaignId },
          assignment: { kind: 'request', actorId: principal.userId, fromUserId: null, fromGroupId: null, toUserId: principal.userId, toGroupId: null, reason: null },
        },
      }));
      await appendEvents(tx, events);
      audit(tx, actorOf(principal), { action: 'campaign.requestThreads', targetType: 'Campaign', targetId: campaignId, workspaceId: campaign.workspaceId, after: { requested: count, assigned: picked.length } });
      await emitProgress(tx, campaign);
      const contacts = new Map((await tx.find(Contact, { id: { $in: picked.map((p) => p.contact_id) } })).map((c) => [c.id, c]));
      return picked.map((p) =>
        this.assignmentView(campaign, { id: p.id, contact_id: p.contact_id, thread_id: threadOf.get(p.contact_id)!.id, status: RecipientStatus.ASSIGNED, message_id: null, sent_at: null }, contacts.get(p.contact_id)!),
      );
    });
  }

  /** The caller's contacts in a campaign: those still to text (unsentOnly) or all, oldest first. */
  async assignments(em: EntityManager, principal: Principal, campaignId: string, unsentOnly: boolean): Promise<CampaignAssignment[]> {
    await this.assertJoined(em, principal, campaignId);
    const campaign = await em.findOneOrFail(Campaign, { id: campaignId });
    const rows = await em.getConnection().execute<RecipientRow[]>(
      `select id, contact_id, thread_id, status, message_id, sent_at from campaign_recipients
        where organization_id = ? and campaign_id = ? and texter_id = ? ${unsentOnly ? `and status = 'ASSIGNED'` : ''}
        order by claimed_at, id limit ${MAX_ASSIGNMENTS}`,
      [principal.organizationId, campaignId, principal.userId],
      'all',
      em.getTransactionContext(),
    );
    const contacts = new Map((await em.find(Contact, { id: { $in: rows.map((r) => r.contact_id) } })).map((c) => [c.id, c]));
    return rows.filter((r) => contacts.has(r.contact_id)).map((r) => this.assignmentView(campaign, r, contacts.get(r.contact_id)!));
  }

  private assignmentView(campaign: Campaign, r: RecipientRow, contact: Contact): CampaignAssignment {
    const t = asTemplateContact(contact);
    return {
      id: r.id,
      campaignId: campaign.id,
      workspaceId: campaign.workspaceId,
      threadId: r.thread_id,
      contactId: r.contact_id,
      firstName: contact.firstName,
      lastName: contact.lastName,
      fields: templateVariables(campaign.messageTemplate).map((v) => {
        const [scope, name] = v.split('.') as [string, string];
        const raw = scope === 'contact' ? t[name as 'firstName'] : t.customFields[name];
        return { name: v, value: raw === null || raw === undefined ? null : String(raw) };
      }),
      message: renderFor(campaign.messageTemplate, t),
      status: r.status,
      messageId: r.message_id,
      sentAt: toDate(r.sent_at),
    };
  }

  /**
   * Sends one contact's initial message: the rendered template, through the inbox's send path, with an
   * idempotency key of the recipient (a retry, or a crash between the send and the ledger update, sends once).
   * A contact who opted out since the request is SKIPPED and nothing is sent.
   */
  async send(em: EntityManager, principal: Principal, messaging: MessagingService, campaignId: string, recipientId: string): Promise<CampaignAssignment> {
    await this.assertJoined(em, principal, campaignId);
    const campaign = await em.findOne(Campaign, { id: campaignId });
    if (!campaign) throw notFound('Campaign');
    assertPeerToPeer(campaign);
    const recipient = await em.findOne(CampaignRecipient, { id: recipientId, campaign: campaignId, texterId: principal.userId }, { refresh: true });
    if (!recipient || !recipient.threadId) throw badInput('This contact is not one of your assignments in this campaign', { field: 'recipientId' });
    const contact = await em.findOneOrFail(Contact, { id: recipient.contactId });
    const view = () => this.assignmentView(campaign, { id: recipient.id, contact_id: recipient.contactId, thread_id: recipient.threadId, status: recipient.status, message_id: recipient.messageId, sent_at: recipient.sentAt }, contact);
    if (recipient.status === RecipientStatus.SENT || recipient.status === RecipientStatus.SKIPPED) return view();
    if (recipient.status !== RecipientStatus.ASSIGNED) throw new DomainError(ErrorCode.CONFLICT, `A ${recipient.status} contact is not sent by a texter`, { field: 'recipientId' });
    assertHandsOutThreads(campaign);
    const body = renderFor(campaign.messageTemplate, asTemplateContact(contact));
    let messageId: string | null = null;
    let skipped = false;
    try {
      const message = await messaging.send(em, principal, { threadId: recipient.threadId, body, idempotencyKey: `campaign:${recipient.id}` });
      messageId = message.id;
    } catch (err) {
      if (!(err instanceof DomainError && err.code === ErrorCode.OPTED_OUT)) throw err;
      skipped = true;
    }
    await em.transactional(async (tx) => {
      const run = (sql: string, params: unknown[]) => tx.getConnection().execute(sql, params, 'run', tx.getTransactionContext());
      if (skipped) await run(`update campaign_recipients set status = 'SKIPPED', skip_reason = ? where organization_id = ? and id = ? and status = 'ASSIGNED'`, [SKIP_OPTED_OUT_WORKSPACE, principal.organizationId, recipient.id]);
      else await run(`update campaign_recipients set status = 'SENT', message_id = ?, sent_at = coalesce(sent_at, now()) where organization_id = ? and id = ? and status = 'ASSIGNED'`, [messageId, principal.organizationId, recipient.id]);
      // The last initial message completes the campaign (replies are still claimed afterwards). Only then is the
      // campaign row locked (and the count taken again under the lock), so texters' sends do not queue on it.
      const left = () => tx.count(CampaignRecipient, { campaign: campaignId, status: { $in: [RecipientStatus.PENDING, RecipientStatus.ASSIGNED] } });
      const done = (await left()) === 0;
      const c = done ? await tx.findOneOrFail(Campaign, { id: campaignId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }) : campaign;
      if (done && c.status === CampaignStatus.RUNNING && (await left()) === 0) {
        c.status = CampaignStatus.COMPLETED;
        c.completedAt = this.clock.now();
        audit(tx, actorOf(principal), { action: 'campaign.completed', targetType: 'Campaign', targetId: campaignId, workspaceId: c.workspaceId, before: { status: CampaignStatus.RUNNING }, after: { status: CampaignStatus.COMPLETED } });
        await tx.flush();
      }
      await emitProgress(tx, c);
    });
    await em.refresh(recipient);
    return view();
  }

  /** Replies waiting in a campaign's threads that nobody holds (to claim), oldest reply first. */
  async replies(em: EntityManager, principal: Principal, campaignId: string, first: number | null): Promise<CampaignReply[]> {
    await this.assertJoined(em, principal, campaignId);
    const campaign = await em.findOneOrFail(Campaign, { id: campaignId });
    const rows = await em.getConnection().execute<Array<{ id: string; first_name: string | null; preview: string | null; last_inbound_at: Date }>>(
      `select t.id, c.first_name, t.last_message_preview as preview, t.last_inbound_at
         from threads t join contacts c on c.organization_id = t.organization_id and c.id = t.contact_id
        where t.organization_id = ? and t.workspace_id = ? and t.campaign_id = ? and t.assignee_user_id is null
          and t.assignee_group_id is null and t.needs_response and t.status = 'OPEN' and not t.archived
        order by t.last_inbound_at, t.id limit ?`,
      [principal.organizationId, campaign.workspaceId, campaignId, pageSize(first)],
      'all',
      em.getTransactionContext(),
    );
    return rows.map((r) => ({ threadId: r.id, campaignId, workspaceId: campaign.workspaceId, contactFirstName: r.first_name, lastMessagePreview: r.preview, lastInboundAt: toDate(r.last_inbound_at) }));
  }

  /** The thread must belong to the campaign (and the caller must have joined it) before the inbox claims it. */
  async assertClaimable(em: EntityManager, principal: Principal, campaignId: string, threadId: string): Promise<void> {
    await this.assertJoined(em, principal, campaignId);
    const rows = await em.getConnection().execute<Array<{ id: string }>>(
      `select id from threads where organization_id = ? and id = ? and campaign_id = ?`,
      [principal.organizationId, threadId, campaignId],
      'all',
      em.getTransactionContext(),
    );
    if (!rows.length) throw badInput('This thread is not part of this campaign', { field: 'threadId' });
  }

  /**
   * The rule the inbox's claimThread asks (AssignmentService.claimGuard): in a peer-to-peer campaign, only its
   * texters claim replies. Those who read every thread of the workspace (supervisors, admins) are not texters
   * and are not held to it; broadcast replies have no texters to join.
   */
  claimGuard = async (tx: EntityManager, principal: Principal, thread: Thread): Promise<void> => {
    if (!thread.campaignId || principal.access.can(Permission.THREADS_READ_ALL, thread.workspaceId)) return;
    const campaign = await tx.findOne(Campaign, { id: thread.campaignId });
    if (!campaign || campaign.kind !== CampaignKind.PEER_TO_PEER) return;
    await this.assertJoined(tx, principal, campaign.id);
  };

  // ------------------------------------------------------------ supervisors

  /** The texters of a campaign with what each holds and sent (one query). */
  async texters(em: EntityManager, campaignId: string): Promise<CampaignTexterRow[]> {
    const campaign = await em.findOneOrFail(Campaign, { id: campaignId });
    const rows = await em.getConnection().execute<Array<{ user_id: string; name: string; email: string; joined_at: Date; assigned: string; sent: string }>>(
      `select t.user_id, u.name, u.email, t.created_at as joined_at,
              (select count(*) from campaign_recipients r where r.organization_id = t.organization_id and r.campaign_id = t.campaign_id and r.texter_id = t.user_id and r.status = 'ASSIGNED') as assigned,
              (select count(*) from campaign_recipients r where r.organization_id = t.organization_id and r.campaign_id = t.campaign_id and r.texter_id = t.user_id and r.status = 'SENT') as sent
         from campaign_texters t join users u on u.organization_id = t.organization_id and u.id = t.user_id
        where t.organization_id = ? and t.campaign_id = ? order by t.created_at, t.id`,
      [campaign.organization.id, campaignId],
      'all',
      em.getTransactionContext(),
    );
    return rows.map((r) => ({ userId: r.user_id, workspaceId: campaign.workspaceId, name: r.name, email: r.email, joinedAt: toDate(r.joined_at)!, assigned: Number(r.assigned), sent: Number(r.sent) }));
  }

  /**
   * Every contact of a started campaign with its texter, thread and opt-out state: whether an active opt-out
   * covers the number, when, how, and who recorded it (null: the contact texted a keyword). Keyset by recipient id.
   */
  async threads(em: EntityManager, campaignId: string, args: { first?: number | null; after?: string | null }): Promise<Connection<CampaignThreadRow>> {
    const campaign = await em.findOneOrFail(Campaign, { id: campaignId });
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const org = campaign.organization.id;
    const rows = await em.getConnection().execute<Array<Record<string, unknown>>>(
      `select r.id, r.contact_id, c.first_name, c.last_name, r.phone, r.status, r.skip_reason, r.texter_id, u.name as texter_name, r.thread_id, r.sent_at,
              o.id as opt_out_id, o.created_at as opted_out_at, o.created_by_id as opted_out_by_id, ob.name as opted_out_by_name, o.source as opt_out_source,
              (o.id is not null and o.workspace_id is null) as opt_out_organization_wide
         from campaign_recipients r
         left join contacts c on c.organization_id = r.organization_id and c.id = r.contact_id
         left join users u on u.organization_id = r.organization_id and u.id = r.texter_id
         left join lateral (
           select o.id, o.created_at, o.created_by_id, o.source, o.workspace_id from opt_outs o
            where o.organization_id = r.organization_id and o.address = r.phone and o.reversed_at is null and (o.until is null or o.until > now())
              and (o.workspace_id = r.workspace_id or o.workspace_id is null)
            order by o.created_at desc limit 1) o on true
         left join users ob on ob.organization_id = r.organization_id and ob.id = o.created_by_id
        where r.organization_id = ? and r.campaign_id = ? ${after ? 'and r.id > ?' : ''}
        order by r.id limit ?`,
      [org, campaignId, ...(after ? [after[1]] : []), size + 1],
      'all',
      em.getTransactionContext(),
    );
    const nodes: CampaignThreadRow[] = rows.map((r) => ({
      recipientId: r.id as string,
      campaignId,
      workspaceId: campaign.workspaceId,
      contactId: r.contact_id as string,
      firstName: (r.first_name as string | null) ?? null,
      lastName: (r.last_name as string | null) ?? null,
      phone: r.phone as string,
      status: r.status as RecipientStatus,
      skipReason: (r.skip_reason as string | null) ?? null,
      texterId: (r.texter_id as string | null) ?? null,
      texterName: (r.texter_name as string | null) ?? null,
      threadId: (r.thread_id as string | null) ?? null,
      sentAt: toDate(r.sent_at),
      optedOut: r.opt_out_id !== null,
      optedOutAt: toDate(r.opted_out_at),
      optedOutById: (r.opted_out_by_id as string | null) ?? null,
      optedOutByName: (r.opted_out_by_name as string | null) ?? null,
      optOutSource: (r.opt_out_source as string | null) ?? null,
      optOutOrganizationWide: r.opt_out_organization_wide === true,
    }));
    const page = nodes.slice(0, size);
    const cursor = (n: CampaignThreadRow) => encodeCursor([new Date(0).toISOString(), n.recipientId]);
    return { edges: page.map((n) => ({ cursor: cursor(n), node: n })), pageInfo: { hasNextPage: nodes.length > size, endCursor: page.length ? cursor(page[page.length - 1]!) : null } };
  }
}
