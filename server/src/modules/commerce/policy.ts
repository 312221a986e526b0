import type { Principal } from '../identity';
import { Permission } from '../identity';
import { DomainError, ErrorCode, forbidden } from '../../shared/errors';
import { mayReadThread, type ThreadLike } from '../inbox';
import { OrderStatus, PaymentStatus } from './commerce.entity';

/**
 * The rules of orders and payments, each a sentence. The @auth directive has already checked the caller's
 * permission where the object lives; these add what depends on the order itself.
 */

export interface OrderLike {
  workspaceId: string;
  threadId: string | null;
  createdById: string;
}

/** The assignee of an order's thread (null for an independent order, or a thread that is gone). */
export type OrderThread = Pick<ThreadLike, 'assigneeUserId' | 'assigneeGroupId'> | null;

/** Those who see every order of the workspace (supervisors, stakeholders, admins, order admins, reconcilers) see this one. */
export function seesEveryOrder(principal: Principal, workspaceId: string): boolean {
  return principal.access.canAll([Permission.ORDERS_READ, Permission.ORDERS_READ_ALL], workspaceId);
}

/**
 * Who reads an order: everyone who sees every order of its workspace; other ORDERS_READ holders (agents) the
 * orders of threads they can read and the independent orders they created themselves.
 */
export function mayReadOrder(principal: Principal, order: OrderLike, thread: OrderThread, groups: readonly string[]): boolean {
  if (seesEveryOrder(principal, order.workspaceId)) return true;
  if (!principal.access.can(Permission.ORDERS_READ, order.workspaceId)) return false;
  if (order.threadId === null) return order.createdById === principal.userId;
  // Explicit fields: a Thread entity's assignee ids are getters, which a spread would drop.
  return thread !== null && mayReadThread(principal, { workspaceId: order.workspaceId, assigneeUserId: thread.assigneeUserId, assigneeGroupId: thread.assigneeGroupId }, groups);
}

/** An order is made from a conversation only by someone who holds ORDERS_CREATE there and can read the thread. */
export function assertMayOrderFromThread(principal: Principal, thread: ThreadLike, groups: readonly string[]): void {
  if (!principal.access.can(Permission.ORDERS_CREATE, thread.workspaceId) || !mayReadThread(principal, thread, groups)) {
    throw forbidden('You cannot create orders in this conversation');
  }
}

/** Its creator places a draft; so does anyone who may manage the order. */
export function mayPlace(principal: Principal, order: OrderLike): boolean {
  return order.createdById === principal.userId || mayManage(principal, order);
}

/**
 * Cancelling, deleting and fulfilling need ORDERS_MANAGE, on any order for those who see every order, and
 * otherwise (the independent-orders add-on) only on orders the caller created.
 */
export function mayManage(principal: Principal, order: OrderLike): boolean {
  if (!principal.access.can(Permission.ORDERS_MANAGE, order.workspaceId)) return false;
  return seesEveryOrder(principal, order.workspaceId) || order.createdById === principal.userId;
}

/** Reconciling, rejecting and reopening belong to PAYMENTS_RECONCILE holders (the Payment Reconciler add-on). */
export function mayReconcile(principal: Principal, workspaceId: string): boolean {
  return principal.access.can(Permission.PAYMENTS_RECONCILE, workspaceId);
}

/** Where an order may go from each status. */
const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  DRAFT: [OrderStatus.PLACED, OrderStatus.CANCELLED],
  PLACED: [OrderStatus.PAID, OrderStatus.REJECTED, OrderStatus.CANCELLED],
  REJECTED: [OrderStatus.PLACED, OrderStatus.CANCELLED],
  PAID: [OrderStatus.FULFILLED],
  FULFILLED: [],
  CANCELLED: [],
};

/** An order moves only along the status flow; a cancelled order moves nowhere (ORDER_CANCELLED). */
export function assertTransition(from: OrderStatus, to: OrderStatus): void {
  if (from === OrderStatus.CANCELLED) throw new DomainError(ErrorCode.ORDER_CANCELLED, 'This order is cancelled', { from, to });
  if (!NEXT[from].includes(to)) throw new DomainError(ErrorCode.INVALID_TRANSITION, `An order that is ${from} cannot become ${to}`, { from, to });
}

/** Payments are recorded against a placed order only (not a draft, nor one that is rejected, paid or cancelled). */
export function assertAcceptsPayments(status: OrderStatus): void {
  if (status === OrderStatus.CANCELLED) throw new DomainError(ErrorCode.ORDER_CANCELLED, 'This order is cancelled');
  if (status !== OrderStatus.PLACED) throw new DomainError(ErrorCode.INVALID_TRANSITION, `Payments are recorded against PLACED orders; this one is ${status}`, { status });
}

/**
 * A payment is decided once: reconciling or rejecting it again is ALREADY_RECONCILED (or INVALID_TRANSITION
 * for a rejected one: reopen the order first); a cancelled order's payments are never decided.
 */
export function assertPending(payment: PaymentStatus, order: OrderStatus): void {
  if (order === OrderStatus.CANCELLED) throw new DomainError(ErrorCode.ORDER_CANCELLED, 'This order is cancelled');
  if (payment === PaymentStatus.RECONCILED) throw new DomainError(ErrorCode.ALREADY_RECONCILED, 'This payment is already reconciled');
  if (payment === PaymentStatus.REJECTED) throw new DomainError(ErrorCode.INVALID_TRANSITION, 'This payment was rejected: reopen the order first');
  if (order !== OrderStatus.PLACED) throw new DomainError(ErrorCode.INVALID_TRANSITION, `Payments of a ${order} order cannot be decided`, { status: order });
}

/** Reconciled payments never add up to more than the order total: that is AMOUNT_MISMATCH, and nothing changes. */
export function assertFits(paid: bigint, amount: bigint, total: bigint): void {
  if (paid + amount > total) {
    throw new DomainError(ErrorCode.AMOUNT_MISMATCH, 'The payment is more than the order still owes', { owed: String(total - paid), amount: String(amount) });
  }
}

/** An order with reconciled money on it is never deleted (the payments stay accountable); cancel it instead. */
export function assertDeletable(paidAmount: number): void {
  if (paidAmount > 0) throw new DomainError(ErrorCode.INVALID_TRANSITION, 'An order with reconciled payments cannot be deleted');
}
