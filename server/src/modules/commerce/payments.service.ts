import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Clock } from '../../shared/clock';
import type { Principal } from '../identity';
import { actorOf, audit } from '../identity';
import { OrderStatus, Payment, PaymentStatus, type Order } from './commerce.entity';
import { emitOrderEvent, OrderEventType, paymentState } from './events';
import { idempotencyKey, text } from './keys';
import { httpUrl, minorUnits, toSafeAmount } from './money';
import { assertAcceptsPayments, assertFits, assertPending, assertTransition } from './policy';
import type { OrderService } from './orders.service';

export interface PaymentInput {
  orderId: string;
  amount: number;
  method: string;
  externalReference?: string | null;
  proofUrl?: string | null;
  idempotencyKey?: string | null;
}

/**
 * Payments against orders. Every decision locks the order row first, so concurrent reconciliations of one
 * order run one at a time and its paid amount is always the exact sum of its reconciled payments.
 */
export class PaymentService {
  constructor(
    private readonly clock: Clock,
    private readonly orders: OrderService,
  ) {}

  /** Records a payment (PENDING) against a placed order; a retried idempotency key answers with the first. */
  async record(em: EntityManager, principal: Principal, input: PaymentInput): Promise<Payment> {
    const key = idempotencyKey(input.idempotencyKey);
    const amount = minorUnits(input.amount, 'amount', { positive: true });
    const method = text(input.method, 'method', 50)!;
    const externalReference = text(input.externalReference, 'externalReference', 200, { optional: true });
    const proofUrl = input.proofUrl ? httpUrl(input.proofUrl, 'proofUrl') : null;
    if (key) {
      const first = await em.findOne(Payment, { recordedById: principal.userId, idempotencyKey: key });
      if (first) return this.sameOrder(first, input.orderId);
    }
    try {
      return await em.transactional(async (tx) => {
        const order = await this.orders.lock(tx, input.orderId);
        assertAcceptsPayments(order.status);
        const payment = tx.create(Payment, {
          organization: order.organization,
          workspace: order.workspace,
          order,
          amount,
          method,
          externalReference,
          proofUrl,
          recordedById: principal.userId,
          idempotencyKey: key,
          createdAt: this.clock.now(),
        });
        audit(tx, actorOf(principal), { action: 'payment.record', targetType: 'Payment', targetId: payment.id, workspaceId: order.workspaceId, after: { orderId: order.id, amount, method } });
        await emitOrderEvent(tx, OrderEventType.PAYMENT_RECORDED, order, { payment: paymentState(payment) });
        return payment;
      });
    } catch (err) {
      if (key && err instanceof UniqueConstraintViolationException) {
        const first = await em.fork().findOne(Payment, { recordedById: principal.userId, idempotencyKey: key });
        if (first) return this.sameOrder(first, input.orderId);
      }
      throw err;
    }
  }

  private sameOrder(payment: Payment, orderId: string): Payment {
    if (payment.orderId !== orderId) throw new DomainError(ErrorCode.CONFLICT, 'This idempotencyKey was used for another payment', { field: 'idempotencyKey' });
    return payment;
  }

  /** Loads a payment and locks its order (then the payment), in that order everywhere: no deadlock between deciders. */
  private async lockBoth(tx: EntityManager, paymentId: string): Promise<{ order: Order; payment: Payment }> {
    const unlocked = await tx.findOne(Payment, { id: paymentId });
    if (!unlocked) throw notFound('Payment');
    const order = await this.orders.lock(tx, unlocked.orderId);
    const payment = await tx.findOneOrFail(Payment, { id: paymentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    return { order, payment };
  }

  /** Reconciles a pending payment: it counts toward the order, and the order is PAID when nothing is owed. */
  async reconcile(em: EntityManager, principal: Principal, paymentId: string): Promise<Payment> {
    return em.transactional(async (tx) => {
      const { order, payment } = await this.lockBoth(tx, paymentId);
      assertPending(payment.status, order.status);
      assertFits(BigInt(order.paidAmount), BigInt(payment.amount), BigInt(order.totalAmount));
      const now = this.clock.now();
      payment.status = PaymentStatus.RECONCILED;
      payment.decidedById = principal.userId;
      payment.decidedAt = now;
      order.paidAmount = toSafeAmount(BigInt(order.paidAmount) + BigInt(payment.amount), 'paidAmount');
      if (order.paidAmount === order.totalAmount) {
        assertTransition(order.status, OrderStatus.PAID);
        order.status = OrderStatus.PAID;
        order.paidAt = now;
      }
      audit(tx, actorOf(principal), { action: 'payment.reconcile', targetType: 'Payment', targetId: payment.id, workspaceId: order.workspaceId, after: { orderId: order.id, amount: payment.amount, orderStatus: order.status } });
      await emitOrderEvent(tx, OrderEventType.PAYMENT_UPDATED, order, { payment: paymentState(payment) });
      return payment;
    });
  }

  /** Rejects a pending payment with a reason; its order becomes REJECTED until a reconciler reopens it. */
  async reject(em: EntityManager, principal: Principal, paymentId: string, reason: string): Promise<Payment> {
    const why = text(reason, 'reason', 500)!;
    return em.transactional(async (tx) => {
      const { order, payment } = await this.lockBoth(tx, paymentId);
      assertPending(payment.status, order.status);
      assertTransition(order.status, OrderStatus.REJECTED);
      payment.status = PaymentStatus.REJECTED;
      payment.rejectionReason = why;
      payment.decidedById = principal.userId;
      payment.decidedAt = this.clock.now();
      order.status = OrderStatus.REJECTED;
      order.rejectedPaymentId = payment.id;
      audit(tx, actorOf(principal), { action: 'payment.reject', targetType: 'Payment', targetId: payment.id, workspaceId: order.workspaceId, after: { orderId: order.id, reason: why } });
      await emitOrderEvent(tx, OrderEventType.PAYMENT_UPDATED, order, { payment: paymentState(payment) });
      return payment;
    });
  }

  /** Reopens a REJECTED order: it is PLACED again, and the payment whose rejection closed it is PENDING again. */
  async reopen(em: EntityManager, principal: Principal, orderId: string): Promise<Order> {
    return em.transactional(async (tx) => {
      const order = await this.orders.lock(tx, orderId);
      if (order.status === OrderStatus.CANCELLED) throw new DomainError(ErrorCode.ORDER_CANCELLED, 'This order is cancelled');
      if (order.status !== OrderStatus.REJECTED) throw new DomainError(ErrorCode.INVALID_TRANSITION, `Only a REJECTED order is reopened; this one is ${order.status}`, { status: order.status });
      order.status = OrderStatus.PLACED;
      const payment = order.rejectedPaymentId ? await tx.findOne(Payment, { id: order.rejectedPaymentId }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
      if (payment) {
        payment.status = PaymentStatus.PENDING;
        payment.decidedById = null;
        payment.decidedAt = null;
      }
      order.rejectedPaymentId = null;
      audit(tx, actorOf(principal), { action: 'order.reopen', targetType: 'Order', targetId: order.id, workspaceId: order.workspaceId, before: { status: OrderStatus.REJECTED }, after: { status: order.status, paymentId: payment?.id ?? null } });
      await emitOrderEvent(tx, OrderEventType.ORDER_UPDATED, order, payment ? { payment: paymentState(payment) } : {});
      return order;
    });
  }
}
