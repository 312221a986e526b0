import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShop, type Shop } from './support';
import { collect, type Stream } from '../realtime/support';
import { eventually } from '../support/wait';

const ORDER_EVENTS = `subscription($w: ID!) { orderEvents(workspaceId: $w) { cursor type workspaceId order { id status threadId totalAmount paidAmount } payment { id status amount rejectionReason } comment { body } } }`;

describe('commerce: the acceptance walk-through and who sees which orders', () => {
  let s: Shop;
  let ingestKey: string;
  const ws = (token: string) => s.server.wsClient({ connectionParams: { authorization: `Bearer ${token}` } });
  const orderStream = (token: string): Stream => collect(ws(token), ORDER_EVENTS, { w: s.W.id }, (d) => d.orderEvents, () => true);

  beforeAll(async () => {
    s = await openShop();
    const key = await s.ok(s.admin.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "whatsapp gateway", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: s.W.id });
    ingestKey = key.createApiKey.secret;
  });
  afterAll(() => s.server.close());

  it('catalogue -> order from the reply -> payment recorded, rejected, reopened, reconciled; the order admin sees it live and the dashboard counts it', async () => {
    const [tee, mug] = [await s.product('ACC-TEE', 1500, { description: 'Cotton tee' }), await s.product('ACC-MUG', 800)];
    // Live first: the order admin's order stream, another agent's (who must see none of it), the supervisor's dashboard.
    const adminStream = orderStream(s.orderAdmin.token);
    const otherStream = orderStream(s.otherAgent.token);
    const dashboard = collect(ws(s.supervisor.token), `subscription($w: ID!) { agentDashboard(workspaceId: $w) { agents { userId name ordersCreatedToday ordersPaidToday } } }`, { w: s.W.id }, (d) => d.agentDashboard, () => true);
    await dashboard.waitFor(1, 60_000);
    // A customer writes in; the supervisor gives the thread to the agent and sends the catalogue.
    const inbound = await s.ok(ingestKey, `mutation($w: ID!) { ingestInboundMessage(input: { workspaceId: $w, from: "+15558000001", body: "What do you sell?" }) { threadId } }`, { w: s.W.id });
    const threadId = inbound.ingestInboundMessage.threadId as string;
    await s.ok(s.supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: threadId, u: s.agent.id });
    const catalog = await s.ok(s.supervisor.token, `mutation($t: ID!, $p: [ID!]!) { sendCatalog(threadId: $t, productIds: $p) { productIds } }`, { t: threadId, p: [tee, mug] });
    expect(catalog.sendCatalog.productIds).toEqual([tee, mug]);
    expect(s.channel.sent.at(-1)!.body).toContain('ACC-TEE');
    // The reply, and the agent's order from it.
    await s.ok(ingestKey, `mutation($w: ID!) { ingestInboundMessage(input: { workspaceId: $w, from: "+15558000001", body: "2 tees and a mug please" }) { threadId } }`, { w: s.W.id });
    const created = await s.ok(s.agent.token, `mutation($i: CreateOrderInput!) { createOrder(input: $i) { id status totalAmount threadId contactId } }`, {
      i: { threadId, place: true, idempotencyKey: 'walkthrough-order-1', lines: [{ productId: tee, quantity: 2 }, { productId: mug, quantity: 1 }] },
    });
    const orderId = created.createOrder.id as string;
    expect(created.createOrder).toMatchObject({ status: 'PLACED', totalAmount: 3800, threadId });
    // The reconciler: record, reject, reopen, reconcile.
    const paymentId = (await s.ok(s.reconciler.token, `mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { id } }`, {
      i: { orderId, amount: 3800, method: 'bank transfer', externalReference: 'BANK-778', proofUrl: 'https://proof.example.test/778.jpg', idempotencyKey: 'walkthrough-pay-1' },
    })).recordPayment.id as string;
    await s.ok(s.reconciler.token, `mutation($id: ID!) { rejectPayment(id: $id, reason: "Reference not on the statement yet") { status } }`, { id: paymentId });
    await s.ok(s.reconciler.token, `mutation($id: ID!) { reopenOrder(id: $id) { status } }`, { id: orderId });
    await s.ok(s.reconciler.token, `mutation($id: ID!) { reconcilePayment(id: $id) { status } }`, { id: paymentId });
    await s.ok(s.reconciler.token, `mutation($id: ID!) { commentOnOrder(id: $id, body: "Matched on the statement") { id } }`, { id: orderId });

    // orderEvents showed every step, live, to the order admin.
    const events = await adminStream.waitFor(6, 60_000);
    expect(events.map((e: any) => [e.type, e.order.status, e.payment?.status ?? null])).toEqual([
      ['ORDER_CREATED', 'PLACED', null],
      ['PAYMENT_RECORDED', 'PLACED', 'PENDING'],
      ['PAYMENT_UPDATED', 'REJECTED', 'REJECTED'],
      ['ORDER_UPDATED', 'PLACED', 'PENDING'],
      ['PAYMENT_UPDATED', 'PAID', 'RECONCILED'],
      ['ORDER_COMMENTED', 'PAID', null],
    ]);
    expect(events[2].payment.rejectionReason).toBe('Reference not on the statement yet');
    expect(events[4].order).toMatchObject({ id: orderId, paidAmount: 3800, totalAmount: 3800 });

    // The dashboard counts the agent's order, created and paid today.
    await eventually(
      () => dashboard.events.at(-1),
      (snap: any) => snap?.agents.some((a: any) => a.userId === s.agent.id && a.ordersCreatedToday === 1 && a.ordersPaidToday === 1),
      { what: "the dashboard to count the agent's order" },
    );

    // The other agent saw none of it: a sentinel order in their own thread is the first thing on their stream.
    const theirs = await s.thread('+15558000002', s.otherAgent);
    const sentinel = await s.ok(s.otherAgent.token, `mutation($t: ID!) { createOrder(input: { threadId: $t, lines: [{ description: "sentinel", quantity: 1, unitAmount: 1 }] }) { id } }`, { t: theirs });
    const seen = await otherStream.waitFor(1, 60_000);
    expect(seen.map((e: any) => e.order.id)).toEqual([sentinel.createOrder.id]);

    // The order admin reads the order, with names of the people on it, and nothing else of the workspace.
    const read = await s.ok(s.orderAdmin.token, `query($id: ID!) { order(id: $id) { status paidAmount createdBy { name } payments { status decidedById } comments { body } } }`, { id: orderId });
    expect(read.order).toMatchObject({ status: 'PAID', paidAmount: 3800, createdBy: { name: 'Agent' }, payments: [{ status: 'RECONCILED', decidedById: s.reconciler.id }] });
    for (const e of [adminStream, otherStream, dashboard]) e.dispose();
  });

  it('an ORDER_ADMIN reads no threads, tags, agent groups, settings or user lists', async () => {
    const thread = await s.thread('+15558100001', null);
    const w = { w: s.W.id };
    expect(await s.code(s.orderAdmin.token, `query($w: ID!) { threads(workspaceId: $w) { edges { node { id } } } }`, w)).toBe('FORBIDDEN');
    expect(await s.code(s.orderAdmin.token, `query($id: ID!) { thread(id: $id) { id } }`, { id: thread })).toMatch(/FORBIDDEN|NOT_FOUND/);
    expect(await s.code(s.orderAdmin.token, `query($w: ID!) { tags(workspaceId: $w) { id } }`, w)).toBe('FORBIDDEN');
    expect(await s.code(s.orderAdmin.token, `query($w: ID!) { agentGroups(workspaceId: $w) { id } }`, w)).toBe('FORBIDDEN');
    expect(await s.code(s.orderAdmin.token, `query($w: ID!) { workspaceSettings(workspaceId: $w) { timeZone } }`, w)).toBe('FORBIDDEN');
    expect(await s.code(s.orderAdmin.token, `query($w: ID!) { users(workspaceId: $w) { edges { node { id } } } }`, w)).toBe('FORBIDDEN');
    expect(await s.code(s.orderAdmin.token, `query($w: ID!) { contacts(workspaceId: $w) { edges { node { id } } } }`, w)).toBe('FORBIDDEN');
    await s.ok(s.orderAdmin.token, `query($w: ID!) { orders(workspaceId: $w) { edges { node { id } } } products(workspaceId: $w) { edges { node { id } } } }`, w);
  });

  describe('who sees which orders', () => {
    let inMine: string, inOthers: string, independentMine: string, independentOthers: string;
    beforeAll(async () => {
      const line = [{ description: 'x', quantity: 1, unitAmount: 100 }];
      const mk = async (token: string, threadId: string) => (await s.ok(token, `mutation($i: CreateOrderInput!) { createOrder(input: $i) { id } }`, { i: { threadId, lines: line } })).createOrder.id as string;
      inMine = await mk(s.agent.token, await s.thread('+15558200001', s.agent));
      inOthers = await mk(s.otherAgent.token, await s.thread('+15558200002', s.otherAgent));
      const ind = async (token: string) => (await s.ok(token, `mutation($i: CreateIndependentOrderInput!) { createIndependentOrder(input: $i) { id } }`, { i: { workspaceId: s.W.id, lines: line } })).createIndependentOrder.id as string;
      independentMine = await ind(s.independentAgent.token);
      independentOthers = await ind(s.orderAdmin.token);
    });
    const listed = async (token: string) =>
      new Set((await s.ok(token, `query($w: ID!) { orders(workspaceId: $w, first: 100) { edges { node { id } } } }`, { w: s.W.id })).orders.edges.map((e: any) => e.node.id));

    it('an agent sees the orders of threads they can see, not those of threads they cannot', async () => {
      const mine = await listed(s.agent.token);
      expect(mine.has(inMine)).toBe(true);
      expect(mine.has(inOthers)).toBe(false);
      expect(await s.code(s.agent.token, `query($id: ID!) { order(id: $id) { id } }`, { id: inOthers })).toBe('NOT_FOUND');
    });

    it('an agent sees their own independent orders and not other independent orders', async () => {
      const theirs = await listed(s.independentAgent.token);
      expect(theirs.has(independentMine)).toBe(true);
      expect(theirs.has(independentOthers)).toBe(false);
      expect(await s.code(s.independentAgent.token, `query($id: ID!) { order(id: $id) { id } }`, { id: independentOthers })).toBe('NOT_FOUND');
    });

    it('supervisors, stakeholders, admins and order admins see every order of their workspace', async () => {
      for (const who of [s.supervisor, s.stakeholder, s.admin, s.orderAdmin]) {
        const all = await listed(who.token);
        for (const id of [inMine, inOthers, independentMine, independentOthers]) expect(all.has(id)).toBe(true);
      }
    });

    it('nobody sees orders of a workspace they do not reach, and auditors see no orders at all', async () => {
      expect(await s.code(s.siblingSupervisor.token, `query($id: ID!) { order(id: $id) { id } }`, { id: inMine })).toBe('NOT_FOUND');
      expect(await s.code(s.auditor.token, `query($w: ID!) { orders(workspaceId: $w) { edges { node { id } } } }`, { w: s.W.id })).toBe('FORBIDDEN');
    });

    it('viewerCan on an order says what the viewer may do now', async () => {
      const q = `query($id: ID!) { order(id: $id) { viewerCan { place cancel fulfill delete comment recordPayment reopen } } }`;
      expect((await s.ok(s.agent.token, q, { id: inMine })).order.viewerCan).toEqual({ place: true, cancel: false, fulfill: false, delete: false, comment: true, recordPayment: false, reopen: false });
      expect((await s.ok(s.orderAdmin.token, q, { id: inMine })).order.viewerCan).toEqual({ place: true, cancel: true, fulfill: false, delete: true, comment: true, recordPayment: false, reopen: false });
    });

    it('orderEvents is refused to those without ORDERS_READ', async () => {
      const denied = collect(ws(s.auditor.token), ORDER_EVENTS, { w: s.W.id }, (d) => d.orderEvents, () => true);
      await denied.waitForEnd(60_000);
      expect(JSON.stringify(denied.errors)).toContain('FORBIDDEN');
    });
  });
});
