import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvent } from '../../realtime';
import { EventType, type EventPayload, type MessageState, type ThreadState } from '../../realtime';
import type { KeywordAlert } from './catalogue.entity';
import type { Message, Thread } from './thread.entity';

export function threadState(t: Thread): ThreadState {
  return {
    id: t.id,
    status: t.status,
    archived: t.archived,
    needsResponse: t.needsResponse,
    assigneeUserId: t.assigneeUserId,
    assigneeGroupId: t.assigneeGroupId,
    lastActivityAt: t.lastActivityAt.toISOString(),
    campaignId: t.campaignId,
  };
}

export function messageState(m: Message): MessageState {
  return {
    id: m.id,
    direction: m.direction,
    body: m.body,
    status: m.status,
    authorId: m.authorId,
    automated: m.automated,
    createdAt: m.createdAt.toISOString(),
  };
}

/** Appends a thread event in the caller's transaction, carrying the thread's state after the change. */
export function emitThreadEvent(em: EntityManager, type: EventType, thread: Thread, payload: Omit<EventPayload, 'thread'> = {}): Promise<void> {
  return appendEvent(em, {
    organizationId: thread.organization.id,
    workspaceId: thread.workspaceId,
    type,
    threadId: thread.id,
    payload: { ...payload, thread: threadState(thread) },
  });
}

export async function emitAlerts(em: EntityManager, thread: Thread, alerts: KeywordAlert[]): Promise<void> {
  for (const a of alerts) {
    await emitThreadEvent(em, EventType.KEYWORD_ALERT, thread, { alert: { id: a.id, ruleId: a.ruleId, messageId: a.messageId, matched: a.matched } });
  }
}

export { EventType };
