import { randomUUID } from 'node:crypto';
import { pgTextArray, type SqlTx } from '../../db/sql-transaction';
import { appendEvents } from '../../realtime';
import { EventType, type MessageState, type NewEvent, type ThreadState } from '../../realtime';
import type { Actor, AuditInput } from '../identity';
import { foldText } from './addresses';
import type { DeliveryStatus, ThreadStatus } from './thread.entity';

/**
 * Hand-written statements for the hot writes (a send, an inbound message, a batch of delivery receipts): a few
 * round trips in the caller's `sqlTransaction` (db/sql-transaction.ts: the event-writer lock is held, the
 * statements are prepared per connection), no entity hydration. What they
 * write is exactly what the entity path writes: the same rows, the same audit entry, the same events with
 * the same payloads, in the same transaction.
 */

/** The thread of a send, locked, with what the send checks read in the same statement. */
export interface SendTarget {
  id: string;
  workspace_id: string;
  status: ThreadStatus;
  archived: boolean;
  assignee_user_id: string | null;
  assignee_group_id: string | null;
  campaign_id: string | null;
  first_response_at: Date | null;
  snoozed_until: Date | null;
  phone: string | null;
  opted_out: boolean;
  /** The author's earlier message with this idempotency key in this thread, if any. */
  existing_id: string | null;
  rules: KeywordRuleRow[];
}

export interface KeywordRuleRow {
  id: string;
  phrases: string[];
}

/**
 * Locks the thread row (FOR UPDATE, like the entity path) and reads its contact's phone, whether that phone
 * has an active opt-out (index on organization_id, address, workspace_id), an idempotent retry's first
 * message, and the workspace's active keyword rules: one round trip.
 */
export async function lockSendTarget(
  tx: SqlTx,
  args: { organizationId: string; threadId: string; authorId: string | null; idempotencyKey: string | null; now: Date },
): Promise<SendTarget | null> {
  const rows = await tx.all<SendTarget>(
    `select t.id, t.workspace_id, t.status, t.archived, t.assignee_user_id, t.assignee_group_id, t.campaign_id, t.first_response_at, t.snoozed_until, c.phone,
            exists (select 1 from opt_outs o where o.organization_id = t.organization_id and o.address = c.phone
                       and (o.workspace_id = t.workspace_id or o.workspace_id is null) and o.reversed_at is null and (o.until is null or o.until > ?)) as opted_out,
            (select m.id from messages m where ?::varchar is not null and m.organization_id = t.organization_id and m.workspace_id = t.workspace_id
                and m.author_id = ? and m.idempotency_key = ? and m.thread_id = t.id) as existing_id,
            ${RULES_OF_THREAD} as rules
       from threads t left join contacts c on c.organization_id = t.organization_id and c.id = t.contact_id
      where t.organization_id = ? and t.id = ?
        for update of t`,
    [args.now, args.idempotencyKey, args.authorId, args.idempotencyKey, args.organizationId, args.threadId]
  );
  return rows[0] ?? null;
}

/** The active keyword rules of `t`'s workspace as json (index on organization_id, workspace_id). */
const RULES_OF_THREAD = `(select coalesce(json_agg(json_build_object('id', r.id, 'phrases', r.phrases) order by r.id), '[]'::json)
   from keyword_rules r where r.organization_id = t.organization_id and r.workspace_id = t.workspace_id and r.active)`;

/** A message row as the hot writes insert it. */
export interface MessageRow {
  id: string;
  organizationId: string;
  workspaceId: string;
  threadId: string;
  direction: 'INBOUND' | 'OUTBOUND';
  body: string;
  status: DeliveryStatus;
  authorId: string | null;
  automated: boolean;
  idempotencyKey: string | null;
  externalId: string | null;
  createdAt: Date;
}

/** The thread columns a send or an inbound message changes. */
export interface ThreadChange {
  lastActivityAt: Date;
  lastMessagePreview: string;
  needsResponse: boolean;
  firstResponseAt: Date | null;
  status: ThreadStatus;
  snoozedUntil: Date | null;
}

export interface AlertRow {
  id: string;
  ruleId: string;
  matched: string;
}

/**
 * One statement: the message, the thread update, the audit entry, keyword alerts, and their events (the
 * message event first, then one per alert, as the entity path emits them).
 */
export async function writeMessage(
  tx: SqlTx,
  args: { message: MessageRow; thread: ThreadChange; audit: { actor: Actor; entry: AuditInput }; alerts: AlertRow[]; events: NewEvent[] },
): Promise<void> {
  const { message: m, thread: t, audit, alerts } = args;
  const params: unknown[] = [
    m.id, m.createdAt, m.organizationId, m.workspaceId, m.threadId, m.direction, m.body, m.status, m.authorId, m.automated, m.idempotencyKey, m.externalId,
    t.lastActivityAt, t.lastMessagePreview, t.needsResponse, t.firstResponseAt, t.status, t.snoozedUntil, m.organizationId, m.threadId,
    randomUUID(), new Date(), audit.actor.organizationId, audit.entry.workspaceId ?? null, audit.actor.userId, audit.actor.apiKeyId ?? null,
    audit.entry.action, audit.entry.targetType, audit.entry.targetId, jsonOrNull(audit.entry.before), jsonOrNull(audit.entry.after),
  ];
  let alertSql = '';
  if (alerts.length) {
    alertSql = `, ka as (insert into keyword_alerts (id, created_at, organization_id, workspace_id, rule_id, message_id, thread_id, matched) values ${alerts.map(() => '(?, now(), ?, ?, ?, ?, ?, ?)').join(', ')})`;
    for (const a of alerts) params.push(a.id, m.organizationId, m.workspaceId, a.ruleId, m.id, m.threadId, a.matched);
  }
  await appendEvents(tx, args.events, {
    sql: `with m as (insert into messages (id, created_at, organization_id, workspace_id, thread_id, direction, body, status, author_id, automated, idempotency_key, external_id)
            values (?, ?, ?, ?, ?, ?::message_direction, ?, ?::delivery_status, ?, ?, ?, ?)),
          t as (update threads set last_activity_at = ?, last_message_preview = ?, needs_response = ?, first_response_at = ?, status = ?::thread_status, snoozed_until = ?
            where organization_id = ? and id = ?),
          a as (insert into audit_log (id, created_at, organization_id, workspace_id, actor_user_id, actor_api_key_id, action, target_type, target_id, before, after)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb))${alertSql}`,
    params,
  });
}

function jsonOrNull(v: Record<string, unknown> | null | undefined): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

/** The thread state of an event payload, from a row and the change just written. */
export function threadStateOf(row: Pick<SendTarget, 'id' | 'archived' | 'assignee_user_id' | 'assignee_group_id' | 'campaign_id'>, change: Pick<ThreadChange, 'status' | 'needsResponse' | 'lastActivityAt'>): ThreadState {
  return {
    id: row.id,
    status: change.status,
    archived: row.archived,
    needsResponse: change.needsResponse,
    assigneeUserId: row.assignee_user_id,
    assigneeGroupId: row.assignee_group_id,
    lastActivityAt: change.lastActivityAt.toISOString(),
    campaignId: row.campaign_id,
  };
}

export function messageStateOf(m: MessageRow): MessageState {
  return { id: m.id, direction: m.direction as MessageState['direction'], body: m.body, status: m.status, authorId: m.authorId, automated: m.automated, createdAt: m.createdAt.toISOString() };
}

export function messageEvent(type: EventType, m: MessageRow, thread: ThreadState): NewEvent {
  return { organizationId: m.organizationId, workspaceId: m.workspaceId, type, threadId: m.threadId, payload: { message: messageStateOf(m), thread } };
}

export function alertEvent(m: MessageRow, thread: ThreadState, a: AlertRow): NewEvent {
  return {
    organizationId: m.organizationId,
    workspaceId: m.workspaceId,
    type: EventType.KEYWORD_ALERT,
    threadId: m.threadId,
    payload: { alert: { id: a.id, ruleId: a.ruleId, messageId: m.id, matched: a.matched }, thread },
  };
}

// ------------------------------------------------------------------ keyword rules

/** A workspace's active rules with their phrases folded once: what matchPhrase (rules.ts) does per call. */
interface CompiledRules {
  fingerprint: string;
  rules: Array<{ id: string; phrases: Array<{ phrase: string; folded: string }> }>;
}

const fold = (s: string) => foldText(s).replace(/[^\p{L}\p{N}]+/gu, ' ');
const MAX_CACHED_WORKSPACES = 2_000;
const compiled = new Map<string, CompiledRules>();

/**
 * The workspace's rules compiled once and cached. The rules themselves are read in the statement that locks
 * the thread (no extra round trip), so a cached entry is checked against them: a rule added, edited or
 * deactivated on any process recompiles on the next message, with no invalidation message to lose.
 */
export function compiledRules(workspaceId: string, rows: readonly KeywordRuleRow[]): CompiledRules {
  const fingerprint = rows.map((r) => `${r.id}\u0000${r.phrases.join('\u0000')}`).join('\u0001');
  const hit = compiled.get(workspaceId);
  if (hit && hit.fingerprint === fingerprint) return hit;
  const entry: CompiledRules = {
    fingerprint,
    rules: rows.map((r) => ({ id: r.id, phrases: r.phrases.map((phrase) => ({ phrase, folded: fold(phrase).trim() })).filter((p) => p.folded) })),
  };
  if (compiled.size >= MAX_CACHED_WORKSPACES) compiled.delete(compiled.keys().next().value!);
  compiled.set(workspaceId, entry);
  return entry;
}

/** Each rule's first phrase found in the text (word boundaries, case- and accent-insensitive), as matchPhrase. */
export function matchRules(rules: CompiledRules, text: string): Array<{ ruleId: string; matched: string }> {
  if (!rules.rules.length) return [];
  const folded = ` ${fold(text)} `;
  const out: Array<{ ruleId: string; matched: string }> = [];
  for (const rule of rules.rules) {
    const hit = rule.phrases.find((p) => folded.includes(` ${p.folded} `));
    if (hit) out.push({ ruleId: rule.id, matched: hit.phrase });
  }
  return out;
}

/** For tests: how many workspaces have compiled rules. */
export function compiledRulesCacheSize(): number {
  return compiled.size;
}

// ------------------------------------------------------------------ delivery receipts

export interface ReceiptTarget {
  id: string;
  provider_message_id: string;
  workspace_id: string;
  thread_id: string;
  body: string;
  status: DeliveryStatus;
  error: string | null;
  author_id: string | null;
  automated: boolean;
  created_at: Date;
  t_status: ThreadStatus;
  t_archived: boolean;
  t_needs_response: boolean;
  t_assignee_user_id: string | null;
  t_assignee_group_id: string | null;
  t_last_activity_at: Date;
  t_campaign_id: string | null;
}

/**
 * The outbound messages of a batch of receipts, locked in id order (receipt batches on two processes never
 * deadlock), with their threads' state for the events: one round trip.
 */
export async function lockReceiptTargets(tx: SqlTx, organizationId: string, providerMessageIds: readonly string[]): Promise<ReceiptTarget[]> {
  return tx.all<ReceiptTarget>(
    `select m.id, m.provider_message_id, m.workspace_id, m.thread_id, m.body, m.status, m.error, m.author_id, m.automated, m.created_at,
            t.status as t_status, t.archived as t_archived, t.needs_response as t_needs_response, t.assignee_user_id as t_assignee_user_id,
            t.assignee_group_id as t_assignee_group_id, t.last_activity_at as t_last_activity_at, t.campaign_id as t_campaign_id
       from messages m join threads t on t.organization_id = m.organization_id and t.id = m.thread_id
      where m.organization_id = ? and m.provider_message_id = any(?::text[]) and m.direction = 'OUTBOUND'
      order by m.id
        for update of m`,
    [organizationId, pgTextArray(providerMessageIds)]
  );
}

/** One statement: every changed message's final status, and one MESSAGE_STATUS event per step, in order. */
export async function writeReceipts(
  tx: SqlTx,
  organizationId: string,
  changed: ReadonlyArray<{ id: string; status: DeliveryStatus; statusUpdatedAt: Date; error: string | null }>,
  events: NewEvent[],
): Promise<void> {
  const params: unknown[] = [];
  for (const c of changed) params.push(c.id, c.status, c.statusUpdatedAt, c.error);
  params.push(organizationId);
  await appendEvents(tx, events, {
    sql: `with u as (update messages m set status = v.status::delivery_status, status_updated_at = v.at::timestamptz, error = v.error
            from (values ${changed.map(() => '(?::uuid, ?, ?, ?::text)').join(', ')}) as v(id, status, at, error)
           where m.organization_id = ? and m.id = v.id)`,
    params,
  });
}

// ------------------------------------------------------------------ inbound messages

/**
 * The first statement of an inbound message: an earlier copy of this delivery (by external id), or else the
 * workspace's contact for the phone, locked (FOR UPDATE) when it is there, inserted when new. A concurrent
 * first message of a new phone meets the unique rule: ON CONFLICT DO UPDATE takes the row lock, the loser waits
 * and gets the winner's row (its update writes the phone it already has). A known contact is only locked, not
 * rewritten: no new row version per message. One round trip.
 */
export async function lockInboundContact(
  tx: SqlTx,
  args: { organizationId: string; workspaceId: string; phone: string; externalId: string | null },
): Promise<{ existing_id: string | null; contact_id: string | null; created: boolean }> {
  const rows = await tx.all<{ existing_id: string | null; contact_id: string | null; created: boolean | null }>(
    `with e as (select m.id from messages m where ?::varchar is not null and m.organization_id = ? and m.workspace_id = ? and m.external_id = ?),
          f as (select k.id from contacts k where not exists (select 1 from e) and k.organization_id = ? and k.workspace_id = ? and k.phone = ? and k.merged_into_id is null
                for update of k),
          c as (insert into contacts (id, organization_id, workspace_id, phone, created_at, updated_at)
                select gen_random_uuid(), ?::uuid, ?::uuid, ?::text, now(), now() where not exists (select 1 from e) and not exists (select 1 from f)
                on conflict (organization_id, workspace_id, phone) where merged_into_id is null do update set phone = excluded.phone
                returning id, (xmax = 0) as created)
     select (select id from e) as existing_id, coalesce((select id from f), (select id from c)) as contact_id, coalesce((select created from c), false) as created`,
    [
      args.externalId, args.organizationId, args.workspaceId, args.externalId,
      args.organizationId, args.workspaceId, args.phone,
      args.organizationId, args.workspaceId, args.phone,
    ],
  );
  const r = rows[0]!;
  return { existing_id: r.existing_id, contact_id: r.contact_id, created: !!r.created };
}

export interface OptOutRow {
  id: string;
  workspace_id: string | null;
  until: string | null;
  created_at: string;
}

/** What an inbound message reads once its contact is locked: its open thread (locked), settings, opt-outs, rules. */
export interface InboundTarget {
  id: string | null;
  status: ThreadStatus | null;
  archived: boolean | null;
  assignee_user_id: string | null;
  assignee_group_id: string | null;
  campaign_id: string | null;
  first_response_at: Date | null;
  snoozed_until: Date | null;
  has_settings: boolean;
  time_zone: string | null;
  weekly_hours: Record<string, Array<[string, string]>> | null;
  auto_response: string | null;
  greeting: string | null;
  opt_out_reply: string | null;
  opt_in_reply: string | null;
  /** Unreversed opt-outs of the phone here or organization-wide, oldest first (activity is checked by the caller). */
  opt_outs: OptOutRow[];
  /** An auto-response with the workspace's text went to this thread since `quietSince`. */
  recent_auto: boolean;
  rules: KeywordRuleRow[];
}

/**
 * The second statement, after the contact lock (a new snapshot: a concurrent first message's thread and a
 * concurrent STOP's opt-out are seen): the contact's latest unarchived thread, locked (FOR UPDATE, as the
 * entity path), the workspace's settings, the phone's unreversed opt-outs, whether the auto-response went
 * out recently and the active keyword rules. One round trip.
 */
export async function readInboundTarget(
  tx: SqlTx,
  args: { organizationId: string; workspaceId: string; contactId: string; phone: string; quietSince: Date; lookForThread: boolean; channel: string },
): Promise<InboundTarget> {
  const rows = await tx.all<InboundTarget>(
    `select t.id, t.status, t.archived, t.assignee_user_id, t.assignee_group_id, t.campaign_id, t.first_response_at, t.snoozed_until,
            s.id is not null as has_settings, s.time_zone, s.weekly_hours, s.auto_response, s.greeting, s.opt_out_reply, s.opt_in_reply,
            (select coalesce(json_agg(json_build_object('id', o.id, 'workspace_id', o.workspace_id, 'until', o.until, 'created_at', o.created_at) order by o.created_at, o.id), '[]'::json)
               from opt_outs o where o.organization_id = ? and o.address = ? and (o.workspace_id = ? or o.workspace_id is null) and o.reversed_at is null) as opt_outs,
            (s.auto_response is not null and t.id is not null and exists (
               select 1 from messages m where m.organization_id = ? and m.thread_id = t.id and m.automated and m.body = s.auto_response and m.created_at > ?)) as recent_auto,
            (select coalesce(json_agg(json_build_object('id', r.id, 'phrases', r.phrases) order by r.id), '[]'::json)
               from keyword_rules r where r.organization_id = ? and r.workspace_id = ? and r.active) as rules
       from (select 1) one
       left join lateral (
         select t.* from threads t where ?::boolean and t.organization_id = ? and t.contact_id = ? and t.channel = ? and t.archived = false
          order by t.last_activity_at desc limit 1 for update) t on true
       left join workspace_settings s on s.organization_id = ? and s.workspace_id = ?`,
    [
      args.organizationId, args.phone, args.workspaceId,
      args.organizationId, args.quietSince,
      args.organizationId, args.workspaceId,
      args.lookForThread, args.organizationId, args.contactId, args.channel,
      args.organizationId, args.workspaceId,
    ]
  );
  return rows[0]!;
}

export interface InboundWrite {
  organizationId: string;
  workspaceId: string;
  /** A new thread is inserted; otherwise these columns are updated. */
  thread: { id: string; isNew: boolean; contactId: string; channel: string; createdAt: Date; lastInboundAt: Date } & ThreadChange;
  /** The inbound message first, then the automatic replies. */
  messages: MessageRow[];
  optOut: { insert: { id: string; address: string; reason: string; createdAt: Date } } | { reverse: { id: string; reversedAt: Date; reversedById: string | null } } | null;
  audits: Array<{ actor: Actor; entry: AuditInput }>;
  alerts: AlertRow[];
  events: NewEvent[];
}

/** One statement: the thread (inserted or updated), the messages, the opt-out change, audit rows, alerts, events. */
export async function writeInbound(tx: SqlTx, w: InboundWrite): Promise<void> {
  const parts: string[] = [];
  const params: unknown[] = [];
  const t = w.thread;
  if (t.isNew) {
    parts.push(`t as (insert into threads (id, created_at, organization_id, workspace_id, contact_id, status, snoozed_until, archived, needs_response, last_activity_at, last_inbound_at, first_response_at, last_message_preview, channel)
      values (?, ?, ?, ?, ?, ?::thread_status, ?, false, ?, ?, ?, ?, ?, ?))`);
    params.push(t.id, t.createdAt, w.organizationId, w.workspaceId, t.contactId, t.status, t.snoozedUntil, t.needsResponse, t.lastActivityAt, t.lastInboundAt, t.firstResponseAt, t.lastMessagePreview, t.channel);
  } else {
    parts.push(`t as (update threads set last_activity_at = ?, last_message_preview = ?, last_inbound_at = ?, needs_response = ?, status = ?::thread_status, snoozed_until = ?
      where organization_id = ? and id = ?)`);
    params.push(t.lastActivityAt, t.lastMessagePreview, t.lastInboundAt, t.needsResponse, t.status, t.snoozedUntil, w.organizationId, t.id);
  }
  parts.push(`m as (insert into messages (id, created_at, organization_id, workspace_id, thread_id, direction, body, status, author_id, automated, idempotency_key, external_id)
    values ${w.messages.map(() => '(?, ?, ?, ?, ?, ?::message_direction, ?, ?::delivery_status, ?, ?, ?, ?)').join(', ')})`);
  for (const m of w.messages) params.push(m.id, m.createdAt, m.organizationId, m.workspaceId, m.threadId, m.direction, m.body, m.status, m.authorId, m.automated, m.idempotencyKey, m.externalId);
  if (w.optOut && 'insert' in w.optOut) {
    const o = w.optOut.insert;
    parts.push(`o as (insert into opt_outs (id, created_at, organization_id, workspace_id, address, source, until, reason, created_by_id, reversed_at, reversed_by_id)
      values (?, ?, ?, ?, ?, 'KEYWORD'::opt_out_source, null, ?, null, null, null))`);
    params.push(o.id, o.createdAt, w.organizationId, w.workspaceId, o.address, o.reason);
  } else if (w.optOut) {
    const o = w.optOut.reverse;
    parts.push(`o as (update opt_outs set reversed_at = ?, reversed_by_id = ? where organization_id = ? and id = ?)`);
    params.push(o.reversedAt, o.reversedById, w.organizationId, o.id);
  }
  parts.push(`a as (insert into audit_log (id, created_at, organization_id, workspace_id, actor_user_id, actor_api_key_id, action, target_type, target_id, before, after)
    values ${w.audits.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb)').join(', ')})`);
  for (const { actor, entry } of w.audits) {
    params.push(randomUUID(), new Date(), actor.organizationId, entry.workspaceId ?? null, actor.userId, actor.apiKeyId ?? null, entry.action, entry.targetType, entry.targetId, jsonOrNull(entry.before), jsonOrNull(entry.after));
  }
  if (w.alerts.length) {
    const m = w.messages[0]!;
    parts.push(`ka as (insert into keyword_alerts (id, created_at, organization_id, workspace_id, rule_id, message_id, thread_id, matched) values ${w.alerts.map(() => '(?, now(), ?, ?, ?, ?, ?, ?)').join(', ')})`);
    for (const a of w.alerts) params.push(a.id, w.organizationId, w.workspaceId, a.ruleId, m.id, m.threadId, a.matched);
  }
  await appendEvents(tx, w.events, { sql: `with ${parts.join(',\n')}`, params });
}
