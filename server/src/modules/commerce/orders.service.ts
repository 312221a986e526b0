import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, forbidden, notFound } from '../../shared/errors';
import type { Clock } from '../../shared/clock';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import type { Principal } from '../identity';
import { actorOf, audit } from '../identity';
import { Organization, Workspace } from '../identity';
import { Contact } from '../inbox';
import { Thread } from '../inbox';
import { loadGroups } from '../inbox';
import { uuidArray } from '../../db/tenant';
import { Order, OrderComment, OrderLine, OrderStatus, Product } from './commerce.entity';
import { emitOrderEvent, OrderEventType } from './events';
import { idempotencyKey, text } from './keys';
import { lineTotal, minorUnits, toSafeAmount } from './money';
import { assertDeletable, assertMayOrderFromThread, assertTransition, mayManage, mayPlace, seesEveryOrder } from './policy';
import type { ProductService } from './products.service';

export interface OrderLineInput {
  productId?: string | null;
  description?: string | null;
  quantity: number;
  unitAmount?: number | null;
}

export interface NewOrderInput {
  threadId?: string | null;
  workspaceId?: string | null;
  contactId?: string | null;
  customerName?: string | null;
  lines: OrderLineInput[];
  place?: boolean | null;
  idempotencyKey?: string | null;
}

const MAX_LINES = 100;
const MAX_QUANTITY = 100_000;

/** Orders: created from a thread or independently, placed, cancelled, fulfilled, deleted (soft), commented. */
export class OrderService {
  constructor(
    private readonly clock: Clock,
    private readonly products: ProductService,
  ) {}

  /**
   * Creates an order with its lines; the total is computed here. A retried idempotency key answers with the
   * first order and creates nothing; two racing retries make one order.
   */
  async create(em: EntityManager, principal: Principal, input: NewOrderInput): Promise<Order> {
    const key = idempotencyKey(input.idempotencyKey);
    if (key) {
      const first = await em.findOne(Order, { createdById: principal.userId, idempotencyKey: key });
      if (first) return this.sameRequest(first, input);
    }
    if (!Array.isArray(input.lines) || !input.lines.length || input.lines.length > MAX_LINES) throw badInput(`An order has 1 to ${MAX_LINES} lines`, { field: 'lines' });
    try {
      return await em.transactional((tx) => this.createIn(tx, principal, input, key));
    } catch (err) {
      if (key && err instanceof UniqueConstraintViolationException) {
        const first = await em.fork().findOne(Order, { createdById: principal.userId, idempotencyKey: key });
        if (first) return this.sameRequest(first, input);
      }
      throw err;
    }
  }

  private sameRequest(order: Order, input: NewOrderInput): Order {
    const same = input.threadId ? order.threadId === input.threadId : order.threadId === null && order.workspaceId === input.workspaceId;
    if (!same) throw new DomainError(ErrorCode.CONFLICT, 'This idempotencyKey was used for another order', { field: 'idempotencyKey' });
    return order;
  }

  private async createIn(tx: EntityManager, principal: Principal, input: NewOrderInput, key: string | null): Promise<Order> {
    let workspaceId: string;
    let contact: Contact | null = null;
    let threadId: string | null = null;
    if (input.threadId) {
      const thread = await tx.findOne(Thread, { id: input.threadId });
      if (!thread) throw notFound('Thread');
      assertMayOrderFromThread(principal, thread, await loadGroups(tx, principal.userId));
      workspaceId = thread.workspaceId;
      threadId = thread.id;
      contact = await tx.findOne(Contact, { id: thread.contactId });
    } else {
      if (!input.workspaceId) throw badInput('An independent order needs a workspaceId', { field: 'workspaceId' });
      workspaceId = input.workspaceId;
      if (input.contactId) {
        contact = await tx.findOne(Contact, { id: input.contactId, workspace: workspaceId, mergedIntoId: null });
        if (!contact) throw notFound('Contact');
      }
    }
    const currency = await this.products.currencyOf(tx, workspaceId);
    const order = tx.create(Order, {
      organization: tx.getReference(Organization, principal.organizationId),
      workspace: tx.getReference(Workspace, workspaceId),
      threadId,
      contactId: contact?.id ?? null,
      customerName: text(input.customerName, 'customerName', 200, { optional: true }) ?? contact?.displayName ?? null,
      currency,
      createdById: principal.userId,
      idempotencyKey: key,
      createdAt: this.clock.now(),
    });
    order.totalAmount = await this.addLines(tx, order, input.lines);
    if (input.place) {
      order.status = OrderStatus.PLACED;
      order.placedAt = this.clock.now();
    }
    audit(tx, actorOf(principal), { action: 'order.create', targetType: 'Order', targetId: order.id, workspaceId, after: { threadId, totalAmount: order.totalAmount, currency, status: order.status } });
    await emitOrderEvent(tx, OrderEventType.ORDER_CREATED, order);
    return order;
  }

  /** Writes the lines: product lines copy the product's name and price (same currency as the order); free-text lines bring both. */
  private async addLines(tx: EntityManager, order: Order, lines: OrderLineInput[]): Promise<number> {
    const productIds = [...new Set(lines.map((l) => l.productId).filter((id): id is string => !!id))];
    const products = productIds.length ? await tx.find(Product, { id: { $in: productIds }, workspace: order.workspaceId }) : [];
    const byId = new Map(products.map((p) => [p.id, p]));
    let total = 0n;
    lines.forEach((line, position) => {
      const field = `lines[${position}]`;
      if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) throw badInput(`${field}.quantity is 1 to ${MAX_QUANTITY}`, { field: `${field}.quantity` });
      let description: string;
      let unitAmount: number;
      if (line.productId) {
        const product = byId.get(line.productId);
        if (!product) throw notFound('Product');
        if (!product.active) throw badInput(`${product.sku} is not active`, { field: `${field}.productId` });
        if (product.currency !== order.currency) throw badInput(`${product.sku} is priced in ${product.currency}; this workspace sells in ${order.currency}`, { field: `${field}.productId` });
        description = text(line.description, `${field}.description`, 500, { optional: true }) ?? product.name;
        unitAmount = line.unitAmount == null ? product.priceAmount : minorUnits(line.unitAmount, `${field}.unitAmount`);
      } else {
        description = text(line.description, `${field}.description`, 500)!;
        if (line.unitAmount == null) throw badInput(`${field}.unitAmount is required for a free-text line`, { field: `${field}.unitAmount` });
        unitAmount = minorUnits(line.unitAmount, `${field}.unitAmount`);
      }
      const amount = lineTotal(line.quantity, unitAmount);
      toSafeAmount(amount, `${field} amount`);
      total += amount;
      tx.create(OrderLine, { organization: order.organization, workspace: order.workspace, order, position, productId: line.productId ?? null, description, quantity: line.quantity, unitAmount });
    });
    return toSafeAmount(total);
  }

  /** The order row, locked for the rest of the transaction (every status change and payment decision takes it). */
  async lock(tx: EntityManager, id: string): Promise<Order> {
    const order = await tx.findOne(Order, { id, deletedAt: null }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (!order) throw notFound('Order');
    return order;
  }

  private async move(em: EntityManager, principal: Principal, id: string, to: OrderStatus, may: (o: Order) => boolean, action: string): Promise<Order> {
    return em.transactional(async (tx) => {
      const order = await this.lock(tx, id);
      if (!may(order)) throw forbidden();
      const from = order.status;
      assertTransition(from, to);
      order.status = to;
      const now = this.clock.now();
      if (to === OrderStatus.PLACED) order.placedAt = now;
      if (to === OrderStatus.FULFILLED) order.fulfilledAt = now;
      if (to === OrderStatus.CANCELLED) order.cancelledAt = now;
      audit(tx, actorOf(principal), { action, targetType: 'Order', targetId: id, workspaceId: order.workspaceId, before: { status: from }, after: { status: to } });
      await emitOrderEvent(tx, OrderEventType.ORDER_UPDATED, order);
      return order;
    });
  }

  place(em: EntityManager, principal: Principal, id: string): Promise<Order> {
    return this.move(em, principal, id, OrderStatus.PLACED, (o) => mayPlace(principal, o), 'order.place');
  }

  cancel(em: EntityManager, principal: Principal, id: string): Promise<Order> {
    return this.move(em, principal, id, OrderStatus.CANCELLED, (o) => mayManage(principal, o), 'order.cancel');
  }

  fulfill(em: EntityManager, principal: Principal, id: string): Promise<Order> {
    return this.move(em, principal, id, OrderStatus.FULFILLED, (o) => mayManage(principal, o), 'order.fulfill');
  }

  /** Soft delete: the order leaves every list and lookup; the row, its payments and the audit trail stay. */
  async delete(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const order = await this.lock(tx, id);
      if (!mayManage(principal, order)) throw forbidden();
      assertDeletable(order.paidAmount);
      order.deletedAt = this.clock.now();
      audit(tx, actorOf(principal), { action: 'order.delete', targetType: 'Order', targetId: id, workspaceId: order.workspaceId, before: { status: order.status, totalAmount: order.totalAmount } });
      await emitOrderEvent(tx, OrderEventType.ORDER_UPDATED, order);
      return true;
    });
  }

  async comment(em: EntityManager, principal: Principal, id: string, body: string): Promise<OrderComment> {
    const textBody = text(body, 'body', 5000)!;
    return em.transactional(async (tx) => {
      const order = await tx.findOne(Order, { id, deletedAt: null });
      if (!order) throw notFound('Order');
      const comment = tx.create(OrderComment, { organization: order.organization, workspace: order.workspace, order, authorId: principal.userId, body: textBody, createdAt: this.clock.now() });
      audit(tx, actorOf(principal), { action: 'order.comment', targetType: 'Order', targetId: id, workspaceId: order.workspaceId, after: { commentId: comment.id } });
      await emitOrderEvent(tx, OrderEventType.ORDER_COMMENTED, order, { comment: { id: comment.id, authorId: comment.authorId, body: comment.body, createdAt: comment.createdAt.toISOString() } });
      return comment;
    });
  }

  /**
   * A page of the orders the caller may read in a workspace, newest first: all of them for those who see every
   * order; for agents, orders of threads assigned to them or their groups and their own independent orders.
   * One id query per page, then the rows.
   */
  async list(em: EntityManager, principal: Principal, workspaceId: string, args: { first?: number | null; after?: string | null; status?: OrderStatus | null }): Promise<Connection<Order>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const params: unknown[] = [principal.organizationId, workspaceId];
    let where = 'o.organization_id = ? and o.workspace_id = ? and o.deleted_at is null';
    if (args.status) {
      where += ' and o.status = ?';
      params.push(args.status);
    }
    if (!seesEveryOrder(principal, workspaceId)) {
      const groups = await loadGroups(em, principal.userId);
      where += ` and ((o.thread_id is null and o.created_by_id = ?) or o.thread_id in (
        select t.id from threads t where t.organization_id = o.organization_id and t.workspace_id = o.workspace_id
           and (t.assignee_user_id = ? or t.assignee_group_id = any(?::uuid[]))))`;
      params.push(principal.userId, principal.userId, uuidArray(groups));
    }
    if (after) {
      where += ' and (o.created_at, o.id) < (?::timestamptz, ?::uuid)';
      params.push(after[0], after[1]);
    }
    params.push(size + 1);
    const ids = await em.getConnection().execute<Array<{ id: string }>>(`select o.id from orders o where ${where} order by o.created_at desc, o.id desc limit ?`, params);
    const rows = ids.length ? await em.find(Order, { id: { $in: ids.map((r) => r.id) } }) : [];
    const byId = new Map(rows.map((o) => [o.id, o]));
    const ordered = ids.map((r) => byId.get(r.id)).filter((o): o is Order => !!o);
    return toConnection(ordered, size, (o) => [o.createdAt.toISOString(), o.id]);
  }
}
