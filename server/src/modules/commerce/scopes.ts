import { registerObjectScope } from '../../graphql/object-scope';
import type { RequestContext } from '../../graphql/context';
import { Thread } from '../inbox';
import { groupsOf } from '../inbox';
import { Order, Payment, Product } from './commerce.entity';
import { mayReadOrder, seesEveryOrder } from './policy';

/** Whether the caller may read this order (one thread lookup for an agent and a thread order). */
export async function orderVisible(ctx: RequestContext, order: Order): Promise<boolean> {
  const principal = ctx.principal!;
  if (seesEveryOrder(principal, order.workspaceId)) return true;
  const thread = order.threadId ? await ctx.em.findOne(Thread, { id: order.threadId }) : null;
  return mayReadOrder(principal, order, thread, await groupsOf(ctx));
}

/** Where commerce objects live. An order the caller may not read (an agent, someone else's) is hidden; a deleted one is gone. */
registerObjectScope('Product', async (ctx, id) => {
  const p = await ctx.em.findOne(Product, { id });
  return p ? { workspaceIds: [p.workspaceId] } : null;
});

registerObjectScope('Order', async (ctx, id) => {
  const order = await ctx.em.findOne(Order, { id, deletedAt: null });
  if (!order) return null;
  return { workspaceIds: [order.workspaceId], hidden: !(await orderVisible(ctx, order)) };
});

registerObjectScope('Payment', async (ctx, id) => {
  const payment = await ctx.em.findOne(Payment, { id });
  const order = payment ? await ctx.em.findOne(Order, { id: payment.orderId, deletedAt: null }) : null;
  if (!payment || !order) return null;
  return { workspaceIds: [order.workspaceId], hidden: !(await orderVisible(ctx, order)) };
});
