import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { GraphQLError } from 'graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { loaderFor } from '../../graphql/loaders';
import type { Connection } from '../../graphql/pagination';
import { ErrorCode } from '../../shared/errors';
import { OrderEventType, type LoggedEvent } from '../../realtime';
import { Permission } from '../identity';
import { User } from '../identity';
import { ImportReport } from '../inbox';
import { CatalogSend, Order, OrderComment, OrderLine, OrderStatus, Payment, PaymentStatus, Product } from './commerce.entity';
import {
  CreateIndependentOrderInput,
  CreateOrderInput,
  OrderConnection,
  OrderEvent,
  OrderViewerCan,
  PaymentViewerCan,
  ProductConnection,
  ProductInput,
  ProductUpdateInput,
  RecordPaymentInput,
} from './commerce.types';
import { mayManage, mayPlace, mayReadOrder, mayReconcile } from './policy';

const ORDER_EVENTS = new Set<string>(Object.values(OrderEventType));

/** What the OrderEvent type reads: the payload flattened, each part tagged with its workspace. */
export function toOrderEvent(e: LoggedEvent): OrderEvent {
  const ws = { workspaceId: e.workspaceId };
  const p = e.payload;
  return {
    cursor: e.cursor,
    type: e.type as OrderEventType,
    workspaceId: e.workspaceId,
    occurredAt: e.occurredAt,
    order: { ...p.order!, status: p.order!.status as OrderStatus, ...ws },
    payment: p.payment ? { ...p.payment, status: p.payment.status as PaymentStatus, ...ws } : null,
    comment: p.comment ? { ...p.comment, ...ws } : null,
  };
}

/** Products and catalogue messages. */
@Resolver()
export class ProductResolver {
  @Query(() => ProductConnection, { description: 'Products of a workspace, oldest first.' })
  @Auth(Permission.ORDERS_READ)
  products(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('activeOnly', () => Boolean, { nullable: true }) activeOnly: boolean | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<Product>> {
    return ctx.services.products.list(ctx.em, workspaceId, { first, after, activeOnly });
  }

  @Query(() => Product)
  @Auth(Permission.ORDERS_READ, { scope: { object: 'Product', arg: 'id' } })
  product(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Product> {
    return ctx.em.findOneOrFail(Product, { id });
  }

  @Mutation(() => Product, { description: 'The product list is kept by those who manage every order of the workspace.' })
  @Auth([Permission.ORDERS_MANAGE, Permission.ORDERS_READ_ALL])
  createProduct(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('input', () => ProductInput) input: ProductInput, @Ctx() ctx: RequestContext): Promise<Product> {
    return ctx.services.products.create(ctx.em, ctx.principal!, workspaceId, input);
  }

  @Mutation(() => Product)
  @Auth([Permission.ORDERS_MANAGE, Permission.ORDERS_READ_ALL], { scope: { object: 'Product', arg: 'id' } })
  updateProduct(@Arg('id', () => ID) id: string, @Arg('input', () => ProductUpdateInput) input: ProductUpdateInput, @Ctx() ctx: RequestContext): Promise<Product> {
    return ctx.services.products.update(ctx.em, ctx.principal!, id, input);
  }

  @Mutation(() => ImportReport, { description: 'CSV header: sku,name,price,currency[,description,active,imageUrl]; price in major units ("12.50"); a known SKU is updated.' })
  @Auth([Permission.ORDERS_MANAGE, Permission.ORDERS_READ_ALL])
  importProducts(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('csv') csv: string, @Ctx() ctx: RequestContext): Promise<ImportReport> {
    return ctx.services.products.importCsv(ctx.em, ctx.principal!, workspaceId, csv);
  }

  @Mutation(() => String, { description: 'The ISO 4217 currency new orders of the workspace are made in (USD until set).' })
  @Auth(Permission.WORKSPACE_SETTINGS_MANAGE)
  setOrderCurrency(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('currency') currency: string, @Ctx() ctx: RequestContext): Promise<string> {
    return ctx.services.products.setCurrency(ctx.em, ctx.principal!, workspaceId, currency);
  }

  @Mutation(() => CatalogSend, { description: 'Sends a catalogue message (1 to 10 active products) in a thread and records which products went.' })
  @Auth([Permission.CATALOGS_SEND, Permission.MESSAGES_SEND], { scope: { object: 'Thread', arg: 'threadId' } })
  sendCatalog(
    @Arg('threadId', () => ID) threadId: string,
    @Arg('productIds', () => [ID]) productIds: string[],
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<CatalogSend> {
    return ctx.services.products.sendCatalog(ctx.em, ctx.principal!, { threadId, productIds, idempotencyKey });
  }
}

@Resolver(() => CatalogSend)
export class CatalogSendFieldsResolver {
  @FieldResolver(() => [Product])
  @Auth(Permission.ORDERS_READ)
  async products(@Root() send: CatalogSend, @Ctx() ctx: RequestContext): Promise<Product[]> {
    const loader = loaderFor<string, Product | null>(ctx, 'productById', async (ids) => {
      const rows = await ctx.em.find(Product, { id: { $in: [...ids] } });
      return new Map(rows.map((p) => [p.id, p]));
    }, null);
    return (await loader.loadMany(send.productIds)).filter((p): p is Product => p instanceof Product);
  }
}

/** Orders and payments. Resolvers are thin: the rules are in policy.ts, the work in the services. */
@Resolver()
export class OrderResolver {
  @Query(() => OrderConnection, { description: 'Orders the caller may read in a workspace, newest first.' })
  @Auth(Permission.ORDERS_READ)
  orders(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('status', () => OrderStatus, { nullable: true }) status: OrderStatus | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<Order>> {
    return ctx.services.orders.list(ctx.em, ctx.principal!, workspaceId, { first, after, status });
  }

  @Query(() => Order)
  @Auth(Permission.ORDERS_READ, { scope: { object: 'Order', arg: 'id' } })
  order(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Order> {
    return ctx.em.findOneOrFail(Order, { id, deletedAt: null });
  }

  @Mutation(() => Order, { description: 'An order from a conversation the caller can read; the contact and thread are linked.' })
  @Auth([Permission.ORDERS_CREATE, Permission.THREADS_READ], { scope: { object: 'Thread', arg: 'input.threadId' } })
  createOrder(@Arg('input', () => CreateOrderInput) input: CreateOrderInput, @Ctx() ctx: RequestContext): Promise<Order> {
    return ctx.services.orders.create(ctx.em, ctx.principal!, input);
  }

  @Mutation(() => Order, { description: 'An order without a conversation (the Independent Orders add-on, order admins).' })
  @Auth(Permission.ORDERS_CREATE_INDEPENDENT, { scope: { arg: 'input.workspaceId' } })
  createIndependentOrder(@Arg('input', () => CreateIndependentOrderInput) input: CreateIndependentOrderInput, @Ctx() ctx: RequestContext): Promise<Order> {
    return ctx.services.orders.create(ctx.em, ctx.principal!, { ...input, threadId: null });
  }

  @Mutation(() => Order, { description: 'DRAFT -> PLACED, by its creator or an order manager.' })
  @Auth(Permission.ORDERS_READ, { scope: { object: 'Order', arg: 'id' } })
  placeOrder(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Order> {
    return ctx.services.orders.place(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Order)
  @Auth(Permission.ORDERS_MANAGE, { scope: { object: 'Order', arg: 'id' } })
  cancelOrder(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Order> {
    return ctx.services.orders.cancel(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Order, { description: 'PAID -> FULFILLED.' })
  @Auth(Permission.ORDERS_MANAGE, { scope: { object: 'Order', arg: 'id' } })
  fulfillOrder(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Order> {
    return ctx.services.orders.fulfill(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Boolean, { description: 'Soft delete (audited); an order with reconciled payments is cancelled instead.' })
  @Auth(Permission.ORDERS_MANAGE, { scope: { object: 'Order', arg: 'id' } })
  deleteOrder(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.orders.delete(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => OrderComment)
  @Auth(Permission.ORDERS_COMMENT, { scope: { object: 'Order', arg: 'id' } })
  commentOnOrder(@Arg('id', () => ID) id: string, @Arg('body') body: string, @Ctx() ctx: RequestContext): Promise<OrderComment> {
    return ctx.services.orders.comment(ctx.em, ctx.principal!, id, body);
  }

  @Mutation(() => Payment, { description: 'Records a payment (PENDING) against a PLACED order.' })
  @Auth(Permission.ORDERS_READ, { scope: { object: 'Order', arg: 'input.orderId' } })
  recordPayment(@Arg('input', () => RecordPaymentInput) input: RecordPaymentInput, @Ctx() ctx: RequestContext): Promise<Payment> {
    return ctx.services.payments.record(ctx.em, ctx.principal!, input);
  }

  @Mutation(() => Payment, { description: 'Counts the payment toward its order; the order is PAID when nothing is owed. More than owed: AMOUNT_MISMATCH.' })
  @Auth(Permission.PAYMENTS_RECONCILE, { scope: { object: 'Payment', arg: 'id' } })
  reconcilePayment(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Payment> {
    return ctx.services.payments.reconcile(ctx.em, ctx.principal!, id);
  }

  @Mutation(() => Payment, { description: 'Rejects a pending payment; its order is REJECTED until reopened.' })
  @Auth(Permission.PAYMENTS_RECONCILE, { scope: { object: 'Payment', arg: 'id' } })
  rejectPayment(@Arg('id', () => ID) id: string, @Arg('reason') reason: string, @Ctx() ctx: RequestContext): Promise<Payment> {
    return ctx.services.payments.reject(ctx.em, ctx.principal!, id, reason);
  }

  @Mutation(() => Order, { description: 'REJECTED -> PLACED; the rejected payment is PENDING again.' })
  @Auth(Permission.PAYMENTS_RECONCILE, { scope: { object: 'Order', arg: 'id' } })
  reopenOrder(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Order> {
    return ctx.services.payments.reopen(ctx.em, ctx.principal!, id);
  }

  @Subscription(() => OrderEvent, {
    description: 'Order and payment events of a workspace, each for those who may read that order.',
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      if (!ctx.live) throw new GraphQLError('Subscriptions are not available here', { extensions: { code: ErrorCode.UNAVAILABLE } });
      return ctx.live.stream(ctx, {
        name: 'orderEvents',
        workspaceIds: [args.workspaceId],
        after: args.after,
        allowed: (p) => p.access.can(Permission.ORDERS_READ, args.workspaceId),
        groupsMatter: (p) => !p.access.can(Permission.ORDERS_READ_ALL, args.workspaceId),
        accept: (e, p, groups) => {
          const o = e.payload.order;
          if (!ORDER_EVENTS.has(e.type) || !o) return false;
          const thread = o.threadId ? { assigneeUserId: o.threadAssigneeUserId, assigneeGroupId: o.threadAssigneeGroupId } : null;
          return mayReadOrder(p, { workspaceId: e.workspaceId, threadId: o.threadId, createdById: o.createdById }, thread, groups);
        },
      });
    },
  })
  @Auth(Permission.ORDERS_READ)
  orderEvents(
    @Root() event: LoggedEvent,
    @Arg('workspaceId', () => ID) _workspaceId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): OrderEvent {
    return toOrderEvent(event);
  }
}

@Resolver(() => Order)
export class OrderFieldsResolver {
  @FieldResolver(() => [OrderLine])
  @Auth(Permission.ORDERS_READ)
  lines(@Root() order: Order, @Ctx() ctx: RequestContext): Promise<OrderLine[]> {
    return loaderFor<string, OrderLine[]>(ctx, 'orderLines', async (ids) => {
      const rows = await ctx.em.find(OrderLine, { order: { $in: [...ids] } }, { orderBy: { position: 'asc' } });
      return group(rows, (l) => l.order.id);
    }, []).load(order.id);
  }

  @FieldResolver(() => [Payment])
  @Auth(Permission.ORDERS_READ)
  payments(@Root() order: Order, @Ctx() ctx: RequestContext): Promise<Payment[]> {
    return loaderFor<string, Payment[]>(ctx, 'orderPayments', async (ids) => {
      const rows = await ctx.em.find(Payment, { order: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      return group(rows, (p) => p.orderId);
    }, []).load(order.id);
  }

  @FieldResolver(() => [OrderComment])
  @Auth(Permission.ORDERS_READ)
  comments(@Root() order: Order, @Ctx() ctx: RequestContext): Promise<OrderComment[]> {
    return loaderFor<string, OrderComment[]>(ctx, 'orderComments', async (ids) => {
      const rows = await ctx.em.find(OrderComment, { order: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      return group(rows, (c) => c.orderId);
    }, []).load(order.id);
  }

  @FieldResolver(() => User, { nullable: true, description: 'Who made the order (a name is all an order admin sees of a user).' })
  @Auth(Permission.ORDERS_READ)
  createdBy(@Root() order: Order, @Ctx() ctx: RequestContext): Promise<User | null> {
    return loaderFor<string, User | null>(ctx, 'userById', async (ids) => {
      const rows = await ctx.em.find(User, { id: { $in: [...ids] } });
      return new Map(rows.map((u) => [u.id, u]));
    }, null).load(order.createdById);
  }

  @FieldResolver(() => OrderViewerCan)
  @Auth([])
  viewerCan(@Root() order: Order, @Ctx() ctx: RequestContext): OrderViewerCan {
    const p = ctx.principal!;
    const open = [OrderStatus.DRAFT, OrderStatus.PLACED, OrderStatus.REJECTED].includes(order.status);
    return {
      place: order.status === OrderStatus.DRAFT && mayPlace(p, order),
      cancel: open && mayManage(p, order),
      fulfill: order.status === OrderStatus.PAID && mayManage(p, order),
      delete: order.paidAmount === 0 && mayManage(p, order),
      comment: p.access.can(Permission.ORDERS_COMMENT, order.workspaceId),
      recordPayment: order.status === OrderStatus.PLACED && p.access.can(Permission.ORDERS_READ, order.workspaceId),
      reopen: order.status === OrderStatus.REJECTED && mayReconcile(p, order.workspaceId),
    };
  }
}

@Resolver(() => Payment)
export class PaymentFieldsResolver {
  @FieldResolver(() => PaymentViewerCan)
  @Auth([])
  viewerCan(@Root() payment: Payment, @Ctx() ctx: RequestContext): PaymentViewerCan {
    const decidable = payment.status === PaymentStatus.PENDING && mayReconcile(ctx.principal!, payment.workspaceId);
    return { reconcile: decidable, reject: decidable };
  }
}

function group<T>(rows: T[], keyOf: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = out.get(key);
    if (list) list.push(row);
    else out.set(key, [row]);
  }
  return out;
}
