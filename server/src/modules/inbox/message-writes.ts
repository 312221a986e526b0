import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvents } from '../../realtime';
import { EventType, type MessageState, type NewEvent, type ThreadState } from '../../realtime';
import type { Actor, AuditInput } from '../identity';
import { foldText } from './addresses';
import type { DeliveryStatus, ThreadStatus } from './thread.entity';

/**
 * Hand-written statements for the hot writes (a send, a batch of delivery receipts): a few round trips
 * inside the caller's `em.transactional` (so the event-writer lock is held), no entity hydration. What they
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
  tx: EntityManager,
  args: { organizationId: string; threadId: string; authorId: string | null; idempotencyKey: string | null; now: Date },
): Promise<SendTarget | null> {
  const rows = await tx.getConnection().execute<SendTarget[]>(
    `select t.id, t.workspace_id, t.status, t.archived, t.assignee_user_id, t.assignee_group_id, t.campaign_id, t.first_response_at, t.snoozed_until, c.phone,
            exists (select 1 from opt_outs o where o.organization_id = t.organization_id and o.address = c.phone
                       and (o.workspace_id = t.workspace_id or o.workspace_id is null) and o.reversed_at is null and (o.until is null or o.until > ?)) as opted_out,
            (select m.id from messages m where ?::varchar is not null and m.organization_id = t.organization_id and m.workspace_id = t.workspace_id
                and m.author_id = ? and m.idempotency_key = ? and m.thread_id = t.id) as existing_id,
            ${RULES_OF_THREAD} as rules
       from threads t left join contacts c on c.organization_id = t.organization_id and c.id = t.contact_id
      where t.organization_id = ? and t.id = ?
        for update of t`,
    [args.now, args.idempotencyKey, args.authorId, args.idempotencyKey, args.organizationId, args.threadId],
    'all',
    tx.getTransactionContext(),
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
  tx: EntityManager,
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
export async function lockReceiptTargets(tx: EntityManager, organizationId: string, providerMessageIds: readonly string[]): Promise<ReceiptTarget[]> {
  return tx.getConnection().execute<ReceiptTarget[]>(
    `select m.id, m.provider_message_id, m.workspace_id, m.thread_id, m.body, m.status, m.error, m.author_id, m.automated, m.created_at,
            t.status as t_status, t.archived as t_archived, t.needs_response as t_needs_response, t.assignee_user_id as t_assignee_user_id,
            t.assignee_group_id as t_assignee_group_id, t.last_activity_at as t_last_activity_at, t.campaign_id as t_campaign_id
       from messages m join threads t on t.organization_id = m.organization_id and t.id = m.thread_id
      where m.organization_id = ? and m.provider_message_id in (${providerMessageIds.map(() => '?').join(', ')}) and m.direction = 'OUTBOUND'
      order by m.id
        for update of m`,
    [organizationId, ...providerMessageIds],
    'all',
    tx.getTransactionContext(),
  );
}

/** One statement: every changed message's final status, and one MESSAGE_STATUS event per step, in order. */
export async function writeReceipts(
  tx: EntityManager,
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
