import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShop, type Shop } from './support';
import { codeOf } from '../support/api';

describe('commerce: payments', () => {
  let s: Shop;
  beforeAll(async () => {
    s = await openShop();
  });
  afterAll(() => s.server.close());

  const order = async (total: number, place = true) => {
    const o = await s.ok(s.orderAdmin.token, `mutation($i: CreateIndependentOrderInput!) { createIndependentOrder(input: $i) { id } }`, {
      i: { workspaceId: s.W.id, place, lines: [{ description: 'Goods', quantity: 1, unitAmount: total }] },
    });
    return o.createIndependentOrder.id as string;
  };
  const record = `mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { id status amount orderId viewerCan { reconcile reject } } }`;
  const pay = async (orderId: string, amount: number, token = s.reconciler.token) =>
    (await s.ok(token, record, { i: { orderId, amount, method: 'bank transfer', externalReference: 'TX-1', proofUrl: 'https://proof.example.test/r.png' } })).recordPayment.id as string;
  const reconcile = `mutation($id: ID!) { reconcilePayment(id: $id) { id status } }`;
  const reject = `mutation($id: ID!, $r: String!) { rejectPayment(id: $id, reason: $r) { id status rejectionReason } }`;
  const reopen = `mutation($id: ID!) { reopenOrder(id: $id) { id status payments { id status } } }`;
  const read = async (id: string) => (await s.ok(s.orderAdmin.token, `query($id: ID!) { order(id: $id) { status totalAmount paidAmount balanceAmount paidAt } }`, { id })).order;

  it('records a PENDING payment against a placed order', async () => {
    const id = await order(1000);
    const p = await s.ok(s.agent.token, record, { i: { orderId: id, amount: 400, method: 'cash' } }).catch(() => null);
    // Agents record only on orders they can see: this independent order is the order admin's.
    expect(p).toBeNull();
    const r = await s.ok(s.reconciler.token, record, { i: { orderId: id, amount: 400, method: 'cash' } });
    expect(r.recordPayment).toMatchObject({ status: 'PENDING', amount: 400, orderId: id, viewerCan: { reconcile: true, reject: true } });
  });

  it('refuses a zero amount and a non-http proof URL with BAD_USER_INPUT, and a draft order with INVALID_TRANSITION', async () => {
    const id = await order(1000);
    expect(await s.code(s.reconciler.token, record, { i: { orderId: id, amount: 0, method: 'cash' } })).toBe('BAD_USER_INPUT');
    expect(await s.code(s.reconciler.token, record, { i: { orderId: id, amount: 5, method: 'cash', proofUrl: 'file:///etc/passwd' } })).toBe('BAD_USER_INPUT');
    const draft = await order(1000, false);
    expect(await s.code(s.reconciler.token, record, { i: { orderId: draft, amount: 5, method: 'cash' } })).toBe('INVALID_TRANSITION');
  });

  it('recordPayment with an idempotency key records once however often it is retried', async () => {
    const id = await order(1000);
    const i = { orderId: id, amount: 100, method: 'card', idempotencyKey: 'payment-key-0001' };
    const rs = await Promise.all(Array.from({ length: 5 }, () => s.ok(s.reconciler.token, record, { i })));
    expect(new Set(rs.map((r) => r.recordPayment.id)).size).toBe(1);
    const o = await s.ok(s.orderAdmin.token, `query($id: ID!) { order(id: $id) { payments { id } } }`, { id });
    expect(o.order.payments).toHaveLength(1);
  });

  it('reconciling the full amount marks the order PAID', async () => {
    const id = await order(1500);
    await s.ok(s.reconciler.token, reconcile, { id: await pay(id, 1500) });
    expect(await read(id)).toMatchObject({ status: 'PAID', paidAmount: 1500, balanceAmount: 0, paidAt: expect.any(String) });
  });

  it('a partial payment is reconciled and leaves the order PLACED with the balance owed', async () => {
    const id = await order(1500);
    await s.ok(s.reconciler.token, reconcile, { id: await pay(id, 500) });
    expect(await read(id)).toMatchObject({ status: 'PLACED', paidAmount: 500, balanceAmount: 1000 });
  });

  it('a payment of more than the order owes is AMOUNT_MISMATCH and changes nothing', async () => {
    const id = await order(1000);
    const p = await pay(id, 1001);
    expect(await s.code(s.reconciler.token, reconcile, { id: p })).toBe('AMOUNT_MISMATCH');
    expect(await read(id)).toMatchObject({ status: 'PLACED', paidAmount: 0 });
  });

  it('reconciling a payment twice is ALREADY_RECONCILED', async () => {
    const id = await order(1000);
    const p = await pay(id, 300);
    await s.ok(s.reconciler.token, reconcile, { id: p });
    expect(await s.code(s.reconciler.token, reconcile, { id: p })).toBe('ALREADY_RECONCILED');
    expect((await read(id)).paidAmount).toBe(300);
  });

  it("reconciling a cancelled order's payment is ORDER_CANCELLED", async () => {
    const id = await order(1000);
    const p = await pay(id, 1000);
    await s.ok(s.orderAdmin.token, `mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id });
    expect(await s.code(s.reconciler.token, reconcile, { id: p })).toBe('ORDER_CANCELLED');
  });

  it('rejecting a payment with a reason makes the order REJECTED; no new payment is taken until it is reopened', async () => {
    const id = await order(1000);
    const p = await pay(id, 1000);
    const r = await s.ok(s.reconciler.token, reject, { id: p, r: 'Proof is unreadable' });
    expect(r.rejectPayment).toMatchObject({ status: 'REJECTED', rejectionReason: 'Proof is unreadable' });
    expect((await read(id)).status).toBe('REJECTED');
    expect(await s.code(s.reconciler.token, record, { i: { orderId: id, amount: 5, method: 'cash' } })).toBe('INVALID_TRANSITION');
    expect(await s.code(s.reconciler.token, reconcile, { id: p })).toBe('INVALID_TRANSITION');
  });

  it('reopening a rejected order makes it PLACED and its rejected payment PENDING, ready to reconcile', async () => {
    const id = await order(1000);
    const p = await pay(id, 1000);
    await s.ok(s.reconciler.token, reject, { id: p, r: 'Wrong reference' });
    const r = await s.ok(s.reconciler.token, reopen, { id });
    expect(r.reopenOrder).toMatchObject({ status: 'PLACED', payments: [{ id: p, status: 'PENDING' }] });
    await s.ok(s.reconciler.token, reconcile, { id: p });
    expect((await read(id)).status).toBe('PAID');
  });

  it('reopening an order that is not REJECTED is INVALID_TRANSITION', async () => {
    const id = await order(1000);
    expect(await s.code(s.reconciler.token, reopen, { id })).toBe('INVALID_TRANSITION');
  });

  it('only PAYMENTS_RECONCILE holders reconcile, reject and reopen: agents, supervisors and order admins are FORBIDDEN', async () => {
    const id = await order(1000);
    const p = await pay(id, 1000);
    for (const who of [s.orderAdmin, s.supervisor, s.stakeholder]) {
      expect(await s.code(who.token, reconcile, { id: p })).toBe('FORBIDDEN');
      expect(await s.code(who.token, reject, { id: p, r: 'x' })).toBe('FORBIDDEN');
      expect(await s.code(who.token, reopen, { id })).toBe('FORBIDDEN');
    }
    const seen = await s.ok(s.orderAdmin.token, `query($id: ID!) { order(id: $id) { payments { viewerCan { reconcile reject } } } }`, { id });
    expect(seen.order.payments[0].viewerCan).toEqual({ reconcile: false, reject: false });
  });

  it('an order with reconciled money is not deleted (INVALID_TRANSITION)', async () => {
    const id = await order(1000);
    await s.ok(s.reconciler.token, reconcile, { id: await pay(id, 10) });
    expect(await s.code(s.orderAdmin.token, `mutation($id: ID!) { deleteOrder(id: $id) }`, { id })).toBe('INVALID_TRANSITION');
  });

  it('1,000 concurrent payment recordings and reconciliations (20 at a time) leave every order balance exact', async () => {
    // 25 orders x 20 payments: 500 payments recorded and 500 reconciliations, 1,000 operations in all.
    const ORDERS = 25;
    const PER_ORDER = 20; // payments of 100 that exactly pay a 2,000 order...
    const EXTRA = 1; // ...and one more each, which must be refused once the order is paid
    const ids = await Promise.all(Array.from({ length: ORDERS }, () => order(PER_ORDER * 100)));
    // Round-robin over the orders: the 20 requests in flight touch different orders and the same order in turn.
    const tasks = Array.from({ length: PER_ORDER + EXTRA }, (_, k) => ids.map((orderId, o) => ({ orderId, key: `bulk-${o}-${k}-payment` }))).flat();
    const outcomes: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const t = tasks[next++]!;
        const r = await s.send(s.reconciler.token, record, { i: { orderId: t.orderId, amount: 100, method: 'card', idempotencyKey: t.key } });
        if (r.errors) {
          outcomes.push(`record:${codeOf(r)}`);
          continue;
        }
        const c = await s.send(s.reconciler.token, reconcile, { id: r.data!.recordPayment.id });
        outcomes.push(c.errors ? `reconcile:${codeOf(c)}` : 'reconciled');
        // A retry of the same reconciliation is refused, never counted twice.
        if (!c.errors && t.key.endsWith('-3-payment')) outcomes.push(`again:${codeOf(await s.send(s.reconciler.token, reconcile, { id: r.data!.recordPayment.id }))}`);
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    expect(outcomes.filter((o) => o === 'reconciled')).toHaveLength(ORDERS * PER_ORDER);
    expect(outcomes.filter((o) => o !== 'reconciled' && !o.startsWith('again:')).every((o) => o === 'record:INVALID_TRANSITION' || o === 'reconcile:INVALID_TRANSITION')).toBe(true);
    expect(outcomes.filter((o) => o.startsWith('again:')).every((o) => o === 'again:ALREADY_RECONCILED')).toBe(true);
    const em = s.server.app.orm.em.fork();
    const rows = await em.getConnection().execute<Array<{ id: string; status: string; total: string; paid: string; reconciled: string; n: string }>>(
      `select o.id, o.status, o.total_amount as total, o.paid_amount as paid,
              coalesce(sum(p.amount) filter (where p.status = 'RECONCILED'), 0) as reconciled,
              count(*) filter (where p.status = 'RECONCILED') as n
         from orders o left join payments p on p.order_id = o.id
        where o.id = any(?::uuid[]) group by o.id`,
      [`{${ids.join(',')}}`],
    );
    expect(rows).toHaveLength(ORDERS);
    for (const r of rows) {
      expect({ status: r.status, total: Number(r.total), paid: Number(r.paid), reconciled: Number(r.reconciled), n: Number(r.n) }).toEqual({ status: 'PAID', total: 2000, paid: 2000, reconciled: 2000, n: PER_ORDER });
    }
  }, 900_000);
});
