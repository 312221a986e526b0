import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvent } from '../../realtime';
import { OrderEventType, type EventPayload, type OrderState } from '../../realtime';
import { Thread } from '../inbox';
import type { Order, Payment } from './commerce.entity';

export { OrderEventType };

/** The order after the change, with its thread's assignee now: what each subscriber's visibility is decided on. */
export async function orderState(em: EntityManager, order: Order): Promise<OrderState> {
  const thread = order.threadId ? await em.findOne(Thread, { id: order.threadId }) : null;
  return {
    id: order.id,
    status: order.status,
    threadId: order.threadId,
    threadAssigneeUserId: thread?.assigneeUserId ?? null,
    threadAssigneeGroupId: thread?.assigneeGroupId ?? null,
    createdById: order.createdById,
    currency: order.currency,
    totalAmount: order.totalAmount,
    paidAmount: order.paidAmount,
    deleted: order.deletedAt !== null,
  };
}

export function paymentState(p: Payment): NonNullable<EventPayload['payment']> {
  return { id: p.id, status: p.status, amount: p.amount, rejectionReason: p.rejectionReason };
}

/** Appends an order event in the caller's transaction (the change and its event commit together). */
export async function emitOrderEvent(em: EntityManager, type: OrderEventType, order: Order, extra: Omit<EventPayload, 'order'> = {}): Promise<void> {
  await appendEvent(em, {
    organizationId: order.organization.id,
    workspaceId: order.workspaceId,
    type,
    payload: { ...extra, order: await orderState(em, order) },
  });
}
