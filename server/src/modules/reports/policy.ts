import { badInput } from '../../shared/errors';
import type { Principal } from '../identity';
import type { EventPayload } from '../../realtime';

/**
 * The report rules, each a sentence. Who may read which report is the @auth directive's job (REPORTS_*,
 * USAGE_VIEW, ORGANIZATION_USAGE_VIEW, AUDIT_LOG_READ on the workspace asked about); these say what the
 * numbers mean and which questions are well-formed.
 */

/** A report covers at most this many days (a year, leap day included). */
export const MAX_PERIOD_DAYS = 366;

export interface Period {
  /** First local day, YYYY-MM-DD, in the workspace's time zone. */
  from: string;
  /** Last local day, inclusive. */
  to: string;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseDay(value: string, field: string): number {
  const m = DAY.exec(value);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value) {
    throw badInput(`${field} must be a calendar day, YYYY-MM-DD`, { field: `period.${field}`, reason: 'NOT_A_DAY' });
  }
  return t;
}

/** A period is two calendar days, the end not before the start, at most MAX_PERIOD_DAYS long. */
export function assertPeriod(period: Period): { days: number } {
  const from = parseDay(period.from, 'from');
  const to = parseDay(period.to, 'to');
  if (to < from) throw badInput('The period ends before it starts', { field: 'period.to', reason: 'ENDS_BEFORE_START' });
  const days = (to - from) / 86_400_000 + 1;
  if (days > MAX_PERIOD_DAYS) {
    throw badInput(`A report covers at most ${MAX_PERIOD_DAYS} days`, { field: 'period', reason: 'TOO_LONG', maxDays: MAX_PERIOD_DAYS });
  }
  return { days };
}

/** The local wall-clock bounds of a period: [from 00:00, the day after `to` 00:00). */
export function periodBounds(period: Period): { start: string; end: string } {
  const end = new Date(Date.parse(`${period.to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return { start: `${period.from} 00:00:00`, end: `${end} 00:00:00` };
}

/**
 * Whom an event counts for ("the agent" of a report row): an outbound message counts for its author (the
 * thread's assignee when the system sent it), a transfer for the person it was taken from, everything else
 * for whoever the thread is assigned to after the change.
 */
export function agentOf(type: string, payload: EventPayload): string | null {
  if (payload.message?.direction === 'OUTBOUND' && payload.message.authorId) return payload.message.authorId;
  if (type === 'ASSIGNMENT_CHANGED' && payload.assignment?.kind === 'transfer') return payload.assignment.fromUserId ?? payload.assignment.actorId;
  return payload.thread?.assigneeUserId ?? null;
}

/**
 * A first response is the first outbound message a person wrote (automatic replies do not count) after a
 * contact's first inbound message; its time is measured from that inbound message. Threads a person opened
 * have no first response time.
 */
export function isFirstResponse(message: { direction: string; automated: boolean; authorId: string | null }, awaitingSince: string | null, alreadyResponded: boolean): boolean {
  return message.direction === 'OUTBOUND' && !message.automated && message.authorId !== null && awaitingSince !== null && !alreadyResponded;
}

/** A thread is resolved when it closes; resolution time runs from when it opened (or last reopened). */
export function isResolution(before: string | null, after: string): boolean {
  return before !== null && before !== 'CLOSED' && after === 'CLOSED';
}

/** A thread is "not needing response" when someone clears the flag without replying (a THREAD_UPDATED). */
export function isMarkedNoResponse(type: string, before: boolean | null, after: boolean): boolean {
  return type === 'THREAD_UPDATED' && before === true && !after;
}

/** Someone is an active user of a workspace on a day when they wrote, noted, assigned or read a thread there. */
export function activeUserOf(type: string, payload: EventPayload): string | null {
  if (payload.message?.direction === 'OUTBOUND' && !payload.message.automated && payload.message.authorId) return payload.message.authorId;
  if (type === 'NOTE_ADDED') return payload.note?.authorId ?? null;
  if (type === 'ASSIGNMENT_CHANGED') return payload.assignment?.actorId ?? null;
  if (type === 'THREAD_READ') return payload.read?.userId ?? null;
  return null;
}

/** SMS segments of a body: 160 GSM characters (153 when split), 70 otherwise (67 when split). */
export function segmentsOf(body: string): number {
  const gsm = /^[\x0A\x0D\x20-\x5F\x61-\x7E£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà€]*$/.test(body);
  const length = [...body].length;
  const [single, split] = gsm ? [160, 153] : [70, 67];
  if (length <= single) return 1;
  return Math.ceil(length / split);
}

/** Who read: the person, the API key, and the session (reads are recorded with all three). */
export function readerOf(principal: Principal): { actorUserId: string; actorApiKeyId: string | null; sessionId: string | null } {
  return { actorUserId: principal.userId, actorApiKeyId: principal.apiKeyId ?? null, sessionId: principal.sessionId ?? null };
}
