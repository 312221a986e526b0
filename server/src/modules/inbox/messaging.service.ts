import { randomUUID } from 'node:crypto';
import { checkChannel } from '../../shared/channel-name';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Principal } from '../identity';
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../observability/logger';
import { actorOf, audit } from '../identity';
import { Organization, Workspace } from '../identity';
import { normalizeAddress, normalizePhone } from './addresses';
import type { ChannelProvider } from './channel';
import { DEFAULT_OPT_IN_REPLY, DEFAULT_OPT_OUT_REPLY, KeywordAlert, KeywordRule, Template } from './catalogue.entity';
import { Contact, OptOutSource } from './contact.entity';
import type { ContactService } from './contacts.service';
import { isOpenAt, isStartMessage, isStopMessage, matchPhrase, renderTemplate } from './rules';
import { emitAlerts, emitThreadEvent, EventType, messageState } from './events';
import { AssignmentEvent, DeliveryStatus, Message, MessageDirection, Note, Thread, ThreadStatus } from './thread.entity';
import { readsEveryThread } from './thread-policy';
import { messageFromRow } from './list-rows';
import { User } from '../identity';
import { TENANT_FILTER, type TenantFilterArgs } from '../../db/tenant';
import type { NewEvent } from '../../realtime';
import {
  alertEvent,
  compiledRules,
  lockInboundContact,
  lockReceiptTargets,
  lockSendTarget,
  matchRules,
  messageEvent,
  readInboundTarget,
  threadStateOf,
  writeInbound,
  writeMessage,
  writeReceipts,
  type InboundWrite,
  type MessageRow,
  type ReceiptTarget,
  type ThreadChange,
} from './message-writes';
import { lockProviderMessageIds, parkReceipts, providerMessageIdsLock, takeParkedReceipts } from './parked-receipts';
import { asSql, pgTextArray, sqlTransaction, type SqlTx } from '../../db/sql-transaction';
import { uuidArray } from '../../db/tenant';
import { ProviderIdQueue, type ProviderIdWrite } from './provider-id-queue';

const MAX_BODY = 1600;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A workspace that never saved settings: always open, no greeting, default opt-out/opt-in confirmations. */
const DEFAULT_SETTINGS = {
  timeZone: 'UTC',
  weeklyHours: null,
  autoResponse: null as string | null,
  greeting: null as string | null,
  optOutReply: DEFAULT_OPT_OUT_REPLY as string | null,
  optInReply: DEFAULT_OPT_IN_REPLY as string | null,
};
/** An auto-response goes out at most once per thread in this window. */
const AUTO_RESPONSE_QUIET_MS = 4 * 3_600_000;
const STATUS_RANK: Record<DeliveryStatus, number> = { RECEIVED: 0, QUEUED: 0, SENT: 1, DELIVERED: 2, FAILED: 2 };

/**
 * The statuses a receipt moves a message through: none when it would not move forward (a repeat, or a
 * late one), SENT then the receipt when a final receipt overtakes SENT, otherwise the receipt alone.
 */
export function receiptSteps(current: DeliveryStatus, receipt: DeliveryStatus): DeliveryStatus[] {
  if (STATUS_RANK[receipt] <= STATUS_RANK[current]) return [];
  if (STATUS_RANK[receipt] > STATUS_RANK[DeliveryStatus.SENT] && STATUS_RANK[current] < STATUS_RANK[DeliveryStatus.SENT]) return [DeliveryStatus.SENT, receipt];
  return [receipt];
}

/**
 * Applies receipts of one organization in arrival order inside `tx` (see MessagingService.applyReceipts):
 * per receipt whether it moved its message, and whether its message was found at all.
 */
export async function applyReceiptsIn(
  tx: SqlTx,
  organizationId: string,
  receipts: ReadonlyArray<{ providerMessageId: string; status: DeliveryStatus; error?: string | null }>,
  now: Date,
): Promise<{ applied: boolean[]; matched: boolean[] }> {
  if (!receipts.length) return { applied: [], matched: [] };
  const rows = await lockReceiptTargets(tx, organizationId, [...new Set(receipts.map((r) => r.providerMessageId))]);
  const byProvider = new Map<string, ReceiptTarget>();
  for (const r of rows) if (!byProvider.has(r.provider_message_id)) byProvider.set(r.provider_message_id, r);
  const changed = new Map<string, { id: string; status: DeliveryStatus; statusUpdatedAt: Date; error: string | null }>();
  const events: NewEvent[] = [];
  const applied = receipts.map((receipt) => {
    const m = byProvider.get(receipt.providerMessageId);
    if (!m) return false;
    const steps = receiptSteps(m.status, receipt.status);
    if (!steps.length) return false;
    for (const step of steps) {
      m.status = step;
      if (step === receipt.status) m.error = receipt.error ?? null;
      const row: MessageRow = {
        id: m.id,
        organizationId,
        workspaceId: m.workspace_id,
        threadId: m.thread_id,
        direction: MessageDirection.OUTBOUND,
        body: m.body,
        status: step,
        authorId: m.author_id,
        automated: m.automated,
        idempotencyKey: null,
        externalId: null,
        createdAt: new Date(m.created_at),
      };
      const thread = threadStateOf(
        { id: m.thread_id, archived: m.t_archived, assignee_user_id: m.t_assignee_user_id, assignee_group_id: m.t_assignee_group_id, campaign_id: m.t_campaign_id },
        { status: m.t_status, needsResponse: m.t_needs_response, lastActivityAt: new Date(m.t_last_activity_at) },
      );
      events.push(messageEvent(EventType.MESSAGE_STATUS, row, thread));
    }
    changed.set(m.id, { id: m.id, status: m.status, statusUpdatedAt: now, error: m.error });
    return true;
  });
  if (events.length) await writeReceipts(tx, organizationId, [...changed.values()], events);
  return { applied, matched: receipts.map((r) => byProvider.has(r.providerMessageId)) };
}

/**
 * The writer's side of parked receipts: in the transaction that makes these provider message ids' messages
 * visible (inserts them, or writes their provider ids), applies the receipts parked for them, in arrival
 * order, each step one MESSAGE_STATUS event as usual. Returns how many receipts it took. `locked`: the caller
 * took the lock already, in an earlier statement of this transaction (providerMessageIdsLock).
 */
export async function applyParkedReceipts(on: SqlTx | EntityManager, organizationId: string, providerMessageIds: readonly string[], now: Date, opts: { locked?: boolean } = {}): Promise<number> {
  if (!providerMessageIds.length) return 0;
  const tx = asSql(on);
  if (!opts.locked) await lockProviderMessageIds(tx, organizationId, providerMessageIds);
  const parked = await takeParkedReceipts(tx, organizationId, providerMessageIds);
  if (parked.length) await applyReceiptsIn(tx, organizationId, parked, now);
  return parked.length;
}

/** A message row just written by hand as a plain Message (not managed: the inbound path never flushes it). */
function plainMessage(m: MessageRow): Message {
  return messageFromRow({
    id: m.id,
    created_at: m.createdAt,
    organization_id: m.organizationId,
    workspace_id: m.workspaceId,
    thread_id: m.threadId,
    direction: m.direction as MessageDirection,
    body: m.body,
    status: m.status,
    status_updated_at: null,
    error: null,
    author_id: m.authorId,
    automated: m.automated,
    idempotency_key: m.idempotencyKey,
    provider_message_id: null,
    external_id: m.externalId,
  });
}

/** A unique rule refused a write, from an entity flush or from a hand-written statement (SQLSTATE 23505). */
function isUniqueViolation(err: unknown): boolean {
  return err instanceof UniqueConstraintViolationException || (err as { code?: unknown } | null)?.code === '23505';
}

function checkBody(body: string): string {
  const b = body.trim();
  if (!b) throw badInput('The message is empty', { field: 'body' });
  if (b.length > MAX_BODY) throw badInput(`Messages have at most ${MAX_BODY} characters`, { field: 'body' });
  return b;
}

function checkKey(key: string | null | undefined): string | null {
  if (key === null || key === undefined) return null;
  if (!/^[\w.:-]{8,200}$/.test(key)) throw badInput('idempotencyKey: 8 to 200 letters, digits, _ . : -', { field: 'idempotencyKey' });
  return key;
}

export interface InboundInput {
  workspaceId: string;
  from: string;
  body: string;
  externalId?: string | null;
  /** Default "sms". */
  channel?: string | null;
}


/** Sending, receiving, delivery receipts, notes; every write one transaction, sends after commit. */
export class MessagingService {
  /** Provider ids of concurrent sends, written together (provider-id-queue.ts). */
  private readonly providerIds = new ProviderIdQueue((em, organizationId, writes) => this.writeProviderIds(em, organizationId, writes));

  constructor(
    private readonly clock: Clock,
    private readonly contacts: ContactService,
    private readonly provider: ChannelProvider,
    private readonly logger: Logger,
  ) {}

  /**
   * Provider ids of an organization's sent messages, in one transaction: one statement writes them and takes
   * their advisory locks (parked-receipts.ts); the next, a later snapshot, applies the receipts parked under
   * them, in order.
   */
  private async writeProviderIds(em: EntityManager, organizationId: string, writes: readonly ProviderIdWrite[]): Promise<void> {
    const providerIds = writes.map((w) => w.providerMessageId);
    await sqlTransaction(em, async (tx) => {
      const lock = providerMessageIdsLock(organizationId, providerIds);
      await tx.all(
        `with l as materialized (select ${lock.sql} as n)
         update messages m set provider_message_id = v.pid from l, unnest(?::uuid[], ?::text[]) as v(id, pid) where m.organization_id = ? and m.id = v.id`,
        [...lock.params, uuidArray(writes.map((w) => w.messageId)), pgTextArray(providerIds), organizationId],
      );
      await applyParkedReceipts(tx, organizationId, providerIds, this.clock.now(), { locked: true });
    });
  }

  /** Keyword rules of the workspace matched against a message; each match is an alert in the same transaction. */
  private async scanKeywords(em: EntityManager, message: Message, thread: Thread): Promise<KeywordAlert[]> {
    const rules = await em.find(KeywordRule, { workspace: thread.workspaceId, active: true });
    const alerts: KeywordAlert[] = [];
    for (const rule of rules) {
      const matched = matchPhrase(message.body, rule.phrases);
      if (matched) alerts.push(em.create(KeywordAlert, { organization: thread.organization, workspace: thread.workspace, rule, message, thread, matched }));
    }
    return alerts;
  }

  private touch(thread: Thread, message: Message): void {
    thread.lastActivityAt = message.createdAt;
    thread.lastMessagePreview = message.body.slice(0, 160);
  }

  private outbound(em: EntityManager, thread: Thread, body: string, extra: Partial<Message>): Message {
    const message = em.create(Message, {
      organization: thread.organization,
      workspace: thread.workspace,
      thread,
      direction: MessageDirection.OUTBOUND,
      body,
      status: DeliveryStatus.QUEUED,
      createdAt: this.clock.now(),
      ...extra,
    } as never);
    this.touch(thread, message);
    return message;
  }

  private async resolveBody(em: EntityManager, thread: Thread, input: { body?: string | null; templateId?: string | null }): Promise<string> {
    if (input.templateId) {
      const template = await em.findOne(Template, { id: input.templateId, workspace: thread.workspaceId });
      if (!template) throw notFound('Template');
      const contact = await em.findOneOrFail(Contact, { id: thread.contactId });
      return checkBody(renderTemplate(template.body, { contact: { ...contact.customFields, firstName: contact.firstName, lastName: contact.lastName, phone: contact.phone, email: contact.email } }));
    }
    return checkBody(input.body ?? '');
  }

  /**
   * Sends a reply. A retried idempotency key returns the first message and sends nothing; an opted-out
   * contact gets nothing (OPTED_OUT) and nothing is written. The hot path: one transaction of two statements
   * (lock the thread and read what the checks need; write the message, the thread, the audit entry, keyword
   * alerts and the events), see message-writes.ts.
   */
  async send(
    em: EntityManager,
    principal: Principal,
    input: { threadId: string; body?: string | null; templateId?: string | null; idempotencyKey?: string | null },
  ): Promise<Message> {
    const key = checkKey(input.idempotencyKey);
    if (!UUID.test(input.threadId)) throw notFound('Thread');
    let sent: { message: Message; to: string } | { first: string };
    try {
      // A template is an entity read in the transaction: that rare branch runs on the ORM's connection.
      sent = await sqlTransaction(em, async (tx) => {
        const now = this.clock.now();
        // Keys are the author's own, per workspace: someone else's key is no match (and reveals nothing).
        const target = await lockSendTarget(tx, { organizationId: principal.organizationId, threadId: input.threadId, authorId: principal.userId, idempotencyKey: key, now });
        if (!target) throw notFound('Thread');
        if (target.existing_id) return { first: target.existing_id };
        const body = input.templateId && tx.em ? await this.resolveBody(tx.em, await tx.em.findOneOrFail(Thread, { id: target.id }), input) : checkBody(input.body ?? '');
        if (!target.phone) throw badInput('The contact has no phone number to send to', { field: 'threadId' });
        if (target.opted_out) throw new DomainError(ErrorCode.OPTED_OUT, 'This contact has opted out; nothing was sent');
        const row: MessageRow = {
          id: randomUUID(),
          organizationId: principal.organizationId,
          workspaceId: target.workspace_id,
          threadId: target.id,
          direction: MessageDirection.OUTBOUND,
          body,
          status: DeliveryStatus.QUEUED,
          authorId: principal.userId,
          automated: false,
          idempotencyKey: key,
          externalId: null,
          createdAt: now,
        };
        const reopened = target.status !== ThreadStatus.OPEN;
        const change: ThreadChange = {
          lastActivityAt: now,
          lastMessagePreview: body.slice(0, 160),
          needsResponse: false,
          firstResponseAt: target.first_response_at ?? now,
          status: ThreadStatus.OPEN,
          snoozedUntil: reopened ? null : target.snoozed_until,
        };
        const state = threadStateOf(target, change);
        const alerts = matchRules(compiledRules(target.workspace_id, target.rules), body).map((a) => ({ id: randomUUID(), ...a }));
        await writeMessage(tx, {
          message: row,
          thread: change,
          audit: { actor: actorOf(principal), entry: { action: 'message.send', targetType: 'Message', targetId: row.id, workspaceId: target.workspace_id, after: { threadId: target.id } } },
          alerts,
          events: [messageEvent(EventType.MESSAGE_ADDED, row, state), ...alerts.map((a) => alertEvent(row, state, a))],
        });
        // A plain Message, as list pages and the inbound path return (no entity made in the caller's unit of work).
        return { message: plainMessage(row), to: target.phone };
      }, { entityReads: !!input.templateId });
    } catch (err) {
      // Two retries racing with one key: the loser returns the winner's message.
      if (key && isUniqueViolation(err)) {
        const fork = em.fork();
        const thread = await fork.findOne(Thread, { id: input.threadId });
        const first = thread ? await fork.findOne(Message, { idempotencyKey: key, authorId: principal.userId, workspace: thread.workspaceId }) : null;
        if (first) return this.sameThread(first, input.threadId);
      }
      throw err;
    }
    if ('first' in sent) return em.findOneOrFail(Message, { id: sent.first });
    await this.dispatch(em, [sent]);
    return sent.message;
  }

  private sameThread(message: Message, threadId: string): Message {
    if (message.threadId !== threadId) throw new DomainError(ErrorCode.CONFLICT, 'This idempotencyKey was used for another thread', { field: 'idempotencyKey' });
    return message;
  }

  /** A new conversation with a contact (found by id or phone, created when new). */
  async startThread(
    em: EntityManager,
    principal: Principal,
    input: { workspaceId: string; contactId?: string | null; phone?: string | null; body: string; idempotencyKey?: string | null; channel?: string | null },
  ): Promise<Thread> {
    const key = checkKey(input.idempotencyKey);
    checkChannel(input.channel);
    if (key) {
      const first = await em.findOne(Message, { idempotencyKey: key, authorId: principal.userId, workspace: input.workspaceId }, { populate: ['thread'] });
      if (first) return first.thread.getEntity();
    }
    const body = checkBody(input.body);
    let started: { thread: Thread; message: Message };
    try {
      started = await this.startInTransaction(em, principal, input, body, key);
    } catch (err) {
      // Two retries racing with one key: the loser answers with the winner's thread.
      if (key && err instanceof UniqueConstraintViolationException) {
        const first = await em.fork().findOne(Message, { idempotencyKey: key, authorId: principal.userId, workspace: input.workspaceId }, { populate: ['thread'] });
        if (first) return first.thread.getEntity();
      }
      throw err;
    }
    await this.dispatch(em, [{ message: started.message, to: started.thread.contact.getEntity().phone }]);
    return started.thread;
  }

  private startInTransaction(
    em: EntityManager,
    principal: Principal,
    input: { workspaceId: string; contactId?: string | null; phone?: string | null; channel?: string | null },
    body: string,
    key: string | null,
  ): Promise<{ thread: Thread; message: Message }> {
    return em.transactional(async (tx) => {
      let contact: Contact | null = null;
      if (input.contactId) {
        contact = await tx.findOne(Contact, { id: input.contactId, workspace: input.workspaceId, mergedIntoId: null });
        if (!contact) throw notFound('Contact');
      } else if (input.phone) {
        const phone = normalizePhone(input.phone);
        if (!phone) throw badInput('Not a valid phone number', { field: 'phone' });
        ({ contact } = await this.lockContact(tx, principal.organizationId, input.workspaceId, phone));
      } else {
        throw badInput('Give a contactId or a phone', { field: 'contactId' });
      }
      await this.contacts.assertNotOptedOut(tx, input.workspaceId, contact.phone);
      const t = tx.create(Thread, {
        organization: tx.getReference(Organization, principal.organizationId),
        workspace: tx.getReference(Workspace, input.workspaceId),
        contact,
        lastActivityAt: this.clock.now(),
        channel: checkChannel(input.channel),
      });
      // An agent reads only threads assigned to them: the one they start is theirs, or they would lose it at
      // once. Those who read every thread (supervisors) leave it unassigned for the queue.
      if (principal.kind === 'user' && !readsEveryThread(principal, input.workspaceId)) {
        t.assigneeUser = tx.getReference(User, principal.userId) as never;
        tx.create(AssignmentEvent, { organization: t.organization, workspace: t.workspace, thread: t, kind: 'start', actorId: principal.userId, toUserId: principal.userId });
      }
      const m = this.outbound(tx, t, body, { authorId: principal.userId, idempotencyKey: key });
      t.firstResponseAt = m.createdAt;
      const alerts = await this.scanKeywords(tx, m, t);
      audit(tx, actorOf(principal), { action: 'thread.start', targetType: 'Thread', targetId: t.id, workspaceId: input.workspaceId, after: { contactId: contact.id } });
      await emitThreadEvent(tx, EventType.THREAD_CREATED, t, { message: messageState(m) });
      await emitAlerts(tx, t, alerts);
      return { thread: t, message: m };
    });
  }

  /**
   * An inbound message: finds or creates the contact and its thread, stores the message once per external id,
   * applies STOP/START keywords, greeting and out-of-hours auto-response, and keyword alerts.
   */
  async ingest(em: EntityManager, actor: { organizationId: string; principal: Principal | null }, input: InboundInput): Promise<Message> {
    return (await this.ingestWithOutcome(em, actor, input)).message;
  }

  /**
   * The inbound path, as lean as a send (message-writes.ts): one transaction of three statements. The first
   * finds an earlier copy of the delivery (by external id) or upserts and locks the contact; the second,
   * after that lock, locks the contact's latest open thread and reads the settings, the opt-outs, the recent
   * auto-response and the keyword rules; the third writes the thread, the message and its automatic replies,
   * the opt-out change of a STOP/START, the audit rows, keyword alerts and the events. What is written is
   * what the entity path wrote, in the same order of events.
   */
  async ingestWithOutcome(
    em: EntityManager,
    actor: { organizationId: string; principal: Principal | null },
    input: InboundInput,
  ): Promise<{ message: Message; duplicate: boolean }> {
    const from = normalizePhone(input.from);
    if (!from) throw badInput('from is not a valid phone number', { field: 'from' });
    const body = checkBody(input.body);
    const externalId = input.externalId ? String(input.externalId).slice(0, 200) : null;
    const channel = checkChannel(input.channel);
    const organizationId = actor.organizationId;
    const workspaceId = input.workspaceId;
    let outcome: { existing: string } | { message: Message; replies: Message[] };
    try {
      outcome = await sqlTransaction(em, async (tx) => {
        const contact = await lockInboundContact(tx, { organizationId, workspaceId, phone: from, externalId });
        if (contact.existing_id) return { existing: contact.existing_id };
        if (!contact.contact_id) throw new Error('inbound contact upsert returned no row');
        const now = this.clock.now();
        const target = await readInboundTarget(tx, {
          organizationId,
          workspaceId,
          contactId: contact.contact_id,
          phone: from,
          quietSince: new Date(now.getTime() - AUTO_RESPONSE_QUIET_MS),
          lookForThread: !contact.created,
          channel,
        });
        const settings = target.has_settings
          ? { timeZone: target.time_zone ?? 'UTC', weeklyHours: target.weekly_hours, autoResponse: target.auto_response, greeting: target.greeting, optOutReply: target.opt_out_reply, optInReply: target.opt_in_reply }
          : DEFAULT_SETTINGS;
        const newThread = !target.id;
        const threadId = target.id ?? randomUUID();
        const inbound: MessageRow = {
          id: randomUUID(),
          organizationId,
          workspaceId,
          threadId,
          direction: MessageDirection.INBOUND,
          body,
          status: DeliveryStatus.RECEIVED,
          authorId: null,
          automated: false,
          idempotencyKey: null,
          externalId,
          createdAt: now,
        };
        const reopened = !newThread && target.status !== ThreadStatus.OPEN;
        const thread = {
          id: threadId,
          isNew: newThread,
          contactId: contact.contact_id,
          channel,
          createdAt: new Date(),
          lastInboundAt: now,
          lastActivityAt: now,
          lastMessagePreview: body.slice(0, 160),
          needsResponse: true,
          firstResponseAt: target.first_response_at,
          status: ThreadStatus.OPEN,
          // A closed or snoozed thread reopens (and its snooze ends); an open one keeps what it has.
          snoozedUntil: newThread || reopened ? null : target.snoozed_until,
        } as InboundWrite['thread'];
        const systemActor = actor.principal ? actorOf(actor.principal) : { organizationId, userId: null };
        const audits: InboundWrite['audits'] = [];
        let optOut: InboundWrite['optOut'] = null;
        const activeOptOuts = target.opt_outs.filter((o) => !o.until || new Date(o.until).getTime() > now.getTime());
        const replies: MessageRow[] = [];
        const reply = (text: string) => {
          const at = this.clock.now();
          replies.push({ id: randomUUID(), organizationId, workspaceId, threadId, direction: MessageDirection.OUTBOUND, body: text, status: DeliveryStatus.QUEUED, authorId: null, automated: true, idempotencyKey: null, externalId: null, createdAt: at });
          thread.lastActivityAt = at;
          thread.lastMessagePreview = text.slice(0, 160);
        };
        if (isStopMessage(body)) {
          // As ContactService.optOut: a permanent opt-out of this workspace already active is kept as it is.
          const address = normalizeAddress(from) ?? from;
          const current = activeOptOuts.find((o) => o.workspace_id === workspaceId);
          if (!(current && !current.until)) {
            const o = { id: randomUUID(), address, reason: `Replied "${body.slice(0, 40)}"`.slice(0, 1000), createdAt: new Date() };
            optOut = { insert: o };
            audits.push({ actor: systemActor, entry: { action: 'optOut.create', targetType: 'OptOut', targetId: o.id, workspaceId, after: { address, until: null, reason: o.reason, source: OptOutSource.KEYWORD } } });
          }
          thread.needsResponse = false;
          if (settings.optOutReply) reply(settings.optOutReply);
        } else if (isStartMessage(body)) {
          const active = activeOptOuts[0];
          if (active && active.workspace_id !== null) {
            const reversedAt = this.clock.now();
            optOut = { reverse: { id: active.id, reversedAt, reversedById: actor.principal?.userId ?? null } };
            audits.push({ actor: systemActor, entry: { action: 'optOut.reverse', targetType: 'OptOut', targetId: active.id, workspaceId: active.workspace_id, before: { reversedAt: null }, after: { reversedAt: reversedAt.toISOString() } } });
            thread.needsResponse = false;
            if (settings.optInReply) reply(settings.optInReply);
          }
        } else if (!activeOptOuts.length) {
          if (contact.created && settings.greeting) reply(settings.greeting);
          if (settings.autoResponse && !isOpenAt(settings.weeklyHours, settings.timeZone, now)) {
            // A greeting just queued with the same text counts, as the entity path's count saw it.
            const recent = target.recent_auto || replies.some((r) => r.body === settings.autoResponse);
            if (!recent) reply(settings.autoResponse);
          }
        }
        // The entity path flushed the message's audit entry after the opt-out's.
        audits.push({ actor: systemActor, entry: { action: 'message.receive', targetType: 'Message', targetId: inbound.id, workspaceId, after: { threadId, from } } });
        const state = threadStateOf(
          { id: threadId, archived: false, assignee_user_id: target.assignee_user_id, assignee_group_id: target.assignee_group_id, campaign_id: target.campaign_id },
          thread,
        );
        const alerts = matchRules(compiledRules(workspaceId, target.rules), body).map((a) => ({ id: randomUUID(), ...a }));
        await writeInbound(tx, {
          organizationId,
          workspaceId,
          thread,
          messages: [inbound, ...replies],
          optOut,
          audits,
          alerts,
          events: [
            messageEvent(newThread ? EventType.THREAD_CREATED : EventType.MESSAGE_ADDED, inbound, state),
            ...replies.map((r) => messageEvent(EventType.MESSAGE_ADDED, r, state)),
            ...alerts.map((a) => alertEvent(inbound, state, a)),
          ],
        });
        return { message: plainMessage(inbound), replies: replies.map(plainMessage) };
      });
    } catch (err) {
      // The same delivery twice at once: store it once, answer with the stored copy.
      if (externalId && isUniqueViolation(err)) {
        const stored = await em.fork().findOne(Message, { workspace: workspaceId, externalId });
        if (stored) return { message: stored, duplicate: true };
      }
      throw err;
    }
    if ('existing' in outcome) return { message: await em.findOneOrFail(Message, { id: outcome.existing }), duplicate: true };
    await this.dispatch(em, outcome.replies.map((reply) => ({ message: reply, to: from })));
    return { message: outcome.message, duplicate: false };
  }

  /**
   * The workspace's contact for a phone number, inserted when there is none (the unique rule on
   * (organization, workspace, phone) settles a race: the loser waits for the winner and finds its row),
   * and locked until the transaction ends, so whatever follows for this contact happens one at a time.
   */
  private async lockContact(tx: EntityManager, organizationId: string, workspaceId: string, phone: string): Promise<{ contact: Contact; created: boolean }> {
    const inserted = await tx.getConnection().execute<Array<{ id: string }>>(
      `insert into contacts (id, organization_id, workspace_id, phone, created_at, updated_at) values (gen_random_uuid(), ?, ?, ?, now(), now())
       on conflict (organization_id, workspace_id, phone) where merged_into_id is null do nothing returning id`,
      [organizationId, workspaceId, phone],
      'all',
      tx.getTransactionContext(),
    );
    const contact = await tx.findOneOrFail(Contact, { workspace: workspaceId, phone, mergedIntoId: null }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    return { contact, created: inserted.length > 0 };
  }

  /** Hands committed outbound messages to the channel; a refusal marks the message FAILED. */
  private async dispatch(em: EntityManager, sends: Array<{ message: Message; to: string | null }>): Promise<void> {
    for (const { message: m, to } of sends) {
      try {
        const { providerMessageId } = await this.provider.send({
          organizationId: m.organization.id,
          workspaceId: m.workspaceId,
          messageId: m.id,
          to: to ?? '',
          body: m.body,
        });
        m.providerMessageId = providerMessageId;
        // With the provider id written, the receipts reported before it was (parked) are applied, in order.
        await this.providerIds.write(em, { organizationId: m.organization.id, messageId: m.id, providerMessageId });
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, messageId: m.id }, 'channel refused a message');
        m.status = DeliveryStatus.FAILED;
        m.error = (err as Error).message.slice(0, 500);
        await em.nativeUpdate(Message, { id: m.id }, { status: DeliveryStatus.FAILED, error: m.error, statusUpdatedAt: this.clock.now() });
      }
    }
  }

  /**
   * A delivery receipt. Receipts arrive late, twice, out of order or at the same moment: the message row is
   * locked, a status only ever moves forward (QUEUED -> SENT -> DELIVERED/FAILED), and every step it moves
   * through is one MESSAGE_STATUS event, in order. A DELIVERED (or FAILED) receipt that overtakes its SENT
   * logs SENT first; the late SENT then changes nothing and logs nothing, like any repeated receipt.
   */
  async applyReceipt(em: EntityManager, providerMessageId: string, status: DeliveryStatus, error?: string): Promise<boolean> {
    const organizationId = (em.getFilterParams(TENANT_FILTER) as TenantFilterArgs | undefined)?.organizationId;
    if (!organizationId) throw new Error('applyReceipt needs the tenant filter set');
    const [applied] = await this.applyReceipts(em, organizationId, [{ providerMessageId, status, error }]);
    return applied!;
  }

  /**
   * A batch of receipts of one organization, in arrival order, as one transaction of two statements (lock
   * the messages; write their final statuses and one event per step). Each receipt does exactly what
   * applyReceipt does alone, applied in order: SENT then DELIVERED for one message in one batch is two
   * steps, two events, in that order. Returns, per receipt, whether it moved its message.
   *
   * Receipts whose message is not there (not committed yet, or its provider id not written yet) are tried
   * once more in a second transaction under their provider ids' advisory locks, and parked when their message
   * is still missing (modules/inbox/parked-receipts.ts): its writer applies them when it commits the message.
   */
  async applyReceipts(em: EntityManager, organizationId: string, receipts: ReadonlyArray<{ providerMessageId: string; status: DeliveryStatus; error?: string | null }>): Promise<boolean[]> {
    if (!receipts.length) return [];
    const first = await sqlTransaction(em, (tx) => applyReceiptsIn(tx, organizationId, receipts, this.clock.now()));
    const missed = receipts.map((_, i) => i).filter((i) => !first.matched[i]);
    if (!missed.length) return first.applied;
    const late = missed.map((i) => receipts[i]!);
    await sqlTransaction(em, async (tx) => {
      await lockProviderMessageIds(tx, organizationId, [...new Set(late.map((r) => r.providerMessageId))]);
      const now = this.clock.now();
      const again = await applyReceiptsIn(tx, organizationId, late, now);
      missed.forEach((i, j) => (first.applied[i] = again.applied[j]!));
      await parkReceipts(tx, organizationId, late.filter((_, j) => !again.matched[j]), now);
    });
    return first.applied;
  }

  async addNote(em: EntityManager, principal: Principal, threadId: string, body: string): Promise<Note> {
    const text = body.trim();
    if (!text || text.length > 5000) throw badInput('Notes have 1 to 5000 characters', { field: 'body' });
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId });
      if (!thread) throw notFound('Thread');
      const note = tx.create(Note, { organization: thread.organization, workspace: thread.workspace, thread, authorId: principal.userId, body: text });
      audit(tx, actorOf(principal), { action: 'note.create', targetType: 'Note', targetId: note.id, workspaceId: thread.workspaceId, after: { threadId } });
      await emitThreadEvent(tx, EventType.NOTE_ADDED, thread, { note: { id: note.id, authorId: note.authorId, body: note.body, createdAt: note.createdAt.toISOString() } });
      return note;
    });
  }
}
