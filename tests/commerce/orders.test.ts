import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShop, ORDER_FIELDS, type Shop } from './support';

describe('commerce: products, catalogues and orders', () => {
  let s: Shop;
  beforeAll(async () => {
    s = await openShop();
  });
  afterAll(() => s.server.close());

  const createProduct = `mutation($w: ID!, $i: ProductInput!) { createProduct(workspaceId: $w, input: $i) { id sku priceAmount currency imageUrl active } }`;
  const createOrder = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { ${ORDER_FIELDS} } }`;
  const createIndependent = `mutation($i: CreateIndependentOrderInput!) { createIndependentOrder(input: $i) { ${ORDER_FIELDS} } }`;

  describe('products', () => {
    it('keeps prices as integer minor units of an ISO 4217 currency', async () => {
      const p = await s.ok(s.admin.token, createProduct, { w: s.W.id, i: { sku: 'TEE-1', name: 'Tee', priceAmount: 1999, currency: 'usd', imageUrl: 'https://img.example.test/tee.png' } });
      expect(p.createProduct).toMatchObject({ sku: 'TEE-1', priceAmount: 1999, currency: 'USD', imageUrl: 'https://img.example.test/tee.png', active: true });
    });

    it('refuses an unknown currency, a fractional or negative price and a non-http image URL with BAD_USER_INPUT', async () => {
      const base = { sku: 'BAD-1', name: 'Bad', priceAmount: 100, currency: 'USD' };
      expect(await s.code(s.admin.token, createProduct, { w: s.W.id, i: { ...base, currency: 'XYZ' } })).toBe('BAD_USER_INPUT');
      expect(await s.code(s.admin.token, createProduct, { w: s.W.id, i: { ...base, priceAmount: -1 } })).toBe('BAD_USER_INPUT');
      expect(await s.code(s.admin.token, createProduct, { w: s.W.id, i: { ...base, priceAmount: 10.5 } })).toBe('BAD_USER_INPUT');
      expect(await s.code(s.admin.token, createProduct, { w: s.W.id, i: { ...base, imageUrl: 'javascript:alert(1)' } })).toBe('BAD_USER_INPUT');
      const list = await s.ok(s.admin.token, `query($w: ID!) { products(workspaceId: $w, first: 100) { edges { node { sku } } } }`, { w: s.W.id });
      expect(list.products.edges.map((e: any) => e.node.sku)).not.toContain('BAD-1');
    });

    it('refuses a second product with the same SKU in a workspace with CONFLICT', async () => {
      await s.product('DUP-1', 100);
      expect(await s.code(s.admin.token, createProduct, { w: s.W.id, i: { sku: 'DUP-1', name: 'Again', priceAmount: 1, currency: 'USD' } })).toBe('CONFLICT');
    });

    it('is kept by those who manage every order: agents and supervisors cannot create products', async () => {
      const i = { sku: 'NOPE-1', name: 'Nope', priceAmount: 1, currency: 'USD' };
      expect(await s.code(s.agent.token, createProduct, { w: s.W.id, i })).toBe('FORBIDDEN');
      expect(await s.code(s.supervisor.token, createProduct, { w: s.W.id, i })).toBe('FORBIDDEN');
      await s.ok(s.orderAdmin.token, createProduct, { w: s.W.id, i });
    });

    it('imports a CSV: valid rows commit, each invalid row is reported by line, a known SKU is updated', async () => {
      await s.product('CSV-KNOWN', 100);
      const csv = [
        'sku,name,price,currency,description,active,imageUrl',
        'CSV-1,Mug,12.50,USD,A mug,true,https://img.example.test/mug.png',
        'CSV-2,Cap,abc,USD,,,',
        'CSV-3,Yen thing,1500,JPY,,,',
        'CSV-4,Bad money,1.234,USD,,,',
        'CSV-5,Bad currency,1.00,ABC,,,',
        'CSV-KNOWN,Renamed,2.00,USD,,false,',
        'CSV-1,Duplicate,1.00,USD,,,',
        'CSV-6,Bad image,1.00,USD,,,ftp://x',
      ].join('\n');
      const r = await s.ok(s.admin.token, `mutation($w: ID!, $csv: String!) { importProducts(workspaceId: $w, csv: $csv) { imported rejected { line reason } } }`, { w: s.W.id, csv });
      expect(r.importProducts.imported).toBe(3);
      expect(r.importProducts.rejected.map((x: any) => x.line)).toEqual([3, 5, 6, 8, 9]);
      const list = await s.ok(s.admin.token, `query($w: ID!) { products(workspaceId: $w, first: 100) { edges { node { sku name priceAmount currency active } } } }`, { w: s.W.id });
      const bySku = new Map(list.products.edges.map((e: any) => [e.node.sku, e.node]));
      expect(bySku.get('CSV-1')).toMatchObject({ priceAmount: 1250, currency: 'USD' });
      expect(bySku.get('CSV-3')).toMatchObject({ priceAmount: 1500, currency: 'JPY' });
      expect(bySku.get('CSV-KNOWN')).toMatchObject({ name: 'Renamed', priceAmount: 200, active: false });
    });
  });

  describe('catalogues', () => {
    const sendCatalog = `mutation($t: ID!, $p: [ID!]!, $k: String) { sendCatalog(threadId: $t, productIds: $p, idempotencyKey: $k) { id threadId messageId productIds products { sku } } }`;

    it('a supervisor sends a catalogue through the channel and the products sent are recorded', async () => {
      const a = await s.product('CAT-A', 1250, { description: 'Blue' });
      const b = await s.product('CAT-B', 300);
      const thread = await s.thread('+15557000001', null);
      const before = s.channel.sent.length;
      const r = await s.ok(s.supervisor.token, sendCatalog, { t: thread, p: [a, b], k: 'catalog-key-0001' });
      expect(r.sendCatalog).toMatchObject({ threadId: thread, productIds: [a, b], products: [{ sku: 'CAT-A' }, { sku: 'CAT-B' }] });
      expect(s.channel.sent.length - before).toBe(1);
      expect(s.channel.sent.at(-1)!.body).toContain('(CAT-A): USD 12.50');
      expect(s.channel.sent.at(-1)!.body).toContain('(CAT-B): USD 3.00');
      const again = await s.ok(s.supervisor.token, sendCatalog, { t: thread, p: [a, b], k: 'catalog-key-0001' });
      expect(again.sendCatalog.id).toBe(r.sendCatalog.id);
      expect(s.channel.sent.length - before).toBe(1);
      const messages = await s.ok(s.supervisor.token, `query($t: ID!) { thread(id: $t) { messages(first: 10) { edges { node { id } } } } }`, { t: thread });
      expect(messages.thread.messages.edges.map((e: any) => e.node.id)).toContain(r.sendCatalog.messageId);
    });

    it('agents cannot send catalogues (FORBIDDEN), even in their own thread', async () => {
      const a = await s.product('CAT-C', 100);
      const thread = await s.thread('+15557000002', s.agent);
      expect(await s.code(s.agent.token, sendCatalog, { t: thread, p: [a] })).toBe('FORBIDDEN');
    });

    it('refuses inactive products, and products of another workspace as NOT_FOUND, sending nothing', async () => {
      const inactive = await s.product('CAT-OFF', 100, { active: false });
      const thread = await s.thread('+15557000003', null);
      const before = s.channel.sent.length;
      expect(await s.code(s.supervisor.token, sendCatalog, { t: thread, p: [inactive] })).toBe('BAD_USER_INPUT');
      const elsewhere = await s.ok(s.admin.token, createProduct, { w: s.sibling.id, i: { sku: 'ELSE-1', name: 'Else', priceAmount: 1, currency: 'USD' } }).catch(() => null);
      if (elsewhere) expect(await s.code(s.supervisor.token, sendCatalog, { t: thread, p: [elsewhere.createProduct.id] })).toBe('NOT_FOUND');
      expect(s.channel.sent.length).toBe(before);
    });
  });

  describe('orders', () => {
    it('an agent creates an order from a thread assigned to them: contact and thread linked, total computed by the server', async () => {
      const p = await s.product('ORD-A', 1999);
      const thread = await s.thread('+15557100001', s.agent);
      const r = await s.ok(s.agent.token, createOrder, { i: { threadId: thread, lines: [{ productId: p, quantity: 3 }, { description: 'Gift wrap', quantity: 1, unitAmount: 250 }] } });
      expect(r.createOrder).toMatchObject({ status: 'DRAFT', currency: 'USD', totalAmount: 3 * 1999 + 250, paidAmount: 0, balanceAmount: 6247, threadId: thread, createdById: s.agent.id });
      expect(r.createOrder.contactId).toBeTruthy();
      expect(r.createOrder.customerName).toBe('+15557100001');
      expect(r.createOrder.lines).toEqual([
        { description: expect.stringContaining('ORD-A'), quantity: 3, unitAmount: 1999, lineAmount: 5997, productId: p },
        { description: 'Gift wrap', quantity: 1, unitAmount: 250, lineAmount: 250, productId: null },
      ]);
    });

    it('sums exactly in integer minor units, beyond what floating point keeps (and refuses totals past 2^53)', async () => {
      const thread = await s.thread('+15557100002', s.agent);
      const r = await s.ok(s.agent.token, createOrder, { i: { threadId: thread, lines: [{ description: 'a', quantity: 3, unitAmount: 1_000_000_000_001 }, { description: 'b', quantity: 1, unitAmount: 7 }] } });
      expect(r.createOrder.totalAmount).toBe(3_000_000_000_010);
      expect(await s.code(s.agent.token, createOrder, { i: { threadId: thread, lines: [{ description: 'c', quantity: 100_000, unitAmount: Number.MAX_SAFE_INTEGER }] } })).toBe('BAD_USER_INPUT');
    });

    it("an agent cannot create an order in a thread they cannot see (NOT_FOUND)", async () => {
      const thread = await s.thread('+15557100003', s.otherAgent);
      expect(await s.code(s.agent.token, createOrder, { i: { threadId: thread, lines: [{ description: 'x', quantity: 1, unitAmount: 1 }] } })).toBe('NOT_FOUND');
    });

    it('createOrder with an idempotency key makes one order however often and however concurrently it is retried', async () => {
      const thread = await s.thread('+15557100004', s.agent);
      const input = { threadId: thread, idempotencyKey: 'order-key-000001', lines: [{ description: 'x', quantity: 2, unitAmount: 500 }] };
      const results = await Promise.all(Array.from({ length: 5 }, () => s.ok(s.agent.token, createOrder, { i: input })));
      expect(new Set(results.map((r) => r.createOrder.id)).size).toBe(1);
      const list = await s.ok(s.agent.token, `query($w: ID!) { orders(workspaceId: $w, first: 100) { edges { node { id threadId } } } }`, { w: s.W.id });
      expect(list.orders.edges.filter((e: any) => e.node.threadId === thread)).toHaveLength(1);
    });

    it('independent orders need the INDEPENDENT_ORDERS add-on or the ORDER_ADMIN role', async () => {
      const i = { workspaceId: s.W.id, customerName: 'Walk-in', lines: [{ description: 'Service', quantity: 1, unitAmount: 1000 }] };
      expect(await s.code(s.agent.token, createIndependent, { i })).toBe('FORBIDDEN');
      const a = await s.ok(s.independentAgent.token, createIndependent, { i });
      expect(a.createIndependentOrder).toMatchObject({ threadId: null, customerName: 'Walk-in', totalAmount: 1000 });
      await s.ok(s.orderAdmin.token, createIndependent, { i });
    });

    it('orders take the workspace currency; a product in another currency is BAD_USER_INPUT', async () => {
      const yen = await s.ok(s.admin.token, createProduct, { w: s.W.id, i: { sku: 'YEN-1', name: 'Yen', priceAmount: 500, currency: 'JPY' } });
      const thread = await s.thread('+15557100005', s.agent);
      expect(await s.code(s.agent.token, createOrder, { i: { threadId: thread, lines: [{ productId: yen.createProduct.id, quantity: 1 }] } })).toBe('BAD_USER_INPUT');
      const branch = s.org.workspace('Tokyo branch', s.W);
      await s.org.flush();
      await s.ok(s.admin.token, `mutation($w: ID!) { setOrderCurrency(workspaceId: $w, currency: "jpy") }`, { w: branch.id });
      expect(await s.code(s.agent.token, `mutation($w: ID!) { setOrderCurrency(workspaceId: $w, currency: "EUR") }`, { w: s.W.id })).toBe('FORBIDDEN');
      const o = await s.ok(s.admin.token, createIndependent, { i: { workspaceId: branch.id, lines: [{ description: 'x', quantity: 1, unitAmount: 5 }] } });
      expect(o.createIndependentOrder.currency).toBe('JPY');
    });

    it('moves DRAFT -> PLACED; placing twice or fulfilling an unpaid order is INVALID_TRANSITION', async () => {
      const thread = await s.thread('+15557100006', s.agent);
      const o = await s.ok(s.agent.token, createOrder, { i: { threadId: thread, lines: [{ description: 'x', quantity: 1, unitAmount: 100 }] } });
      const id = o.createOrder.id;
      expect(o.createOrder.viewerCan.place).toBe(true);
      expect((await s.ok(s.agent.token, `mutation($id: ID!) { placeOrder(id: $id) { status } }`, { id })).placeOrder.status).toBe('PLACED');
      expect(await s.code(s.agent.token, `mutation($id: ID!) { placeOrder(id: $id) { status } }`, { id })).toBe('INVALID_TRANSITION');
      expect(await s.code(s.orderAdmin.token, `mutation($id: ID!) { fulfillOrder(id: $id) { status } }`, { id })).toBe('INVALID_TRANSITION');
    });

    it('cancel is for order managers: agents are FORBIDDEN; a cancelled order moves nowhere (ORDER_CANCELLED)', async () => {
      const thread = await s.thread('+15557100007', s.agent);
      const o = await s.ok(s.agent.token, createOrder, { i: { threadId: thread, place: true, lines: [{ description: 'x', quantity: 1, unitAmount: 100 }] } });
      const id = o.createOrder.id;
      expect(o.createOrder.viewerCan.cancel).toBe(false);
      expect(await s.code(s.agent.token, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id })).toBe('FORBIDDEN');
      expect((await s.ok(s.orderAdmin.token, `mutation($id: ID!) { cancelOrder(id: $id) { status cancelledAt } }`, { id })).cancelOrder.status).toBe('CANCELLED');
      expect(await s.code(s.orderAdmin.token, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id })).toBe('ORDER_CANCELLED');
    });

    it('the independent-orders add-on manages only the orders its holder created', async () => {
      const mine = await s.ok(s.independentAgent.token, createIndependent, { i: { workspaceId: s.W.id, lines: [{ description: 'x', quantity: 1, unitAmount: 1 }] } });
      const thread = await s.thread('+15557100008', s.independentAgent);
      const other = await s.ok(s.stakeholder.token, createOrder, { i: { threadId: thread, lines: [{ description: 'y', quantity: 1, unitAmount: 1 }] } });
      expect(await s.code(s.independentAgent.token, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: other.createOrder.id })).toBe('FORBIDDEN');
      await s.ok(s.independentAgent.token, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: mine.createIndependentOrder.id });
    });

    it('soft delete hides the order from lists and lookups and is audited', async () => {
      const o = await s.ok(s.orderAdmin.token, createIndependent, { i: { workspaceId: s.W.id, lines: [{ description: 'x', quantity: 1, unitAmount: 1 }] } });
      const id = o.createIndependentOrder.id;
      expect(await s.code(s.agent.token, `mutation($id: ID!) { deleteOrder(id: $id) }`, { id })).toBe('FORBIDDEN');
      expect((await s.ok(s.orderAdmin.token, `mutation($id: ID!) { deleteOrder(id: $id) }`, { id })).deleteOrder).toBe(true);
      expect(await s.code(s.orderAdmin.token, `query($id: ID!) { order(id: $id) { id } }`, { id })).toBe('NOT_FOUND');
      const list = await s.ok(s.orderAdmin.token, `query($w: ID!) { orders(workspaceId: $w, first: 100) { edges { node { id } } } }`, { w: s.W.id });
      expect(list.orders.edges.map((e: any) => e.node.id)).not.toContain(id);
      const log = await s.ok(s.admin.token, `query($w: ID!) { auditLog(workspaceId: $w, first: 50) { edges { node { action targetId } } } }`, { w: s.W.id });
      expect(log.auditLog.edges.map((e: any) => e.node)).toContainEqual({ action: 'order.delete', targetId: id });
    });

    it('comments come from ORDERS_COMMENT holders who can see the order; auditors cannot comment', async () => {
      const thread = await s.thread('+15557100009', s.agent);
      const o = await s.ok(s.agent.token, createOrder, { i: { threadId: thread, lines: [{ description: 'x', quantity: 1, unitAmount: 1 }] } });
      const id = o.createOrder.id;
      const comment = `mutation($id: ID!, $b: String!) { commentOnOrder(id: $id, body: $b) { id authorId body } }`;
      await s.ok(s.agent.token, comment, { id, b: 'Customer asked for blue' });
      await s.ok(s.reconciler.token, comment, { id, b: 'Transfer pending' });
      expect(await s.code(s.auditor.token, comment, { id, b: 'no' })).toBe('FORBIDDEN');
      expect(await s.code(s.otherAgent.token, comment, { id, b: 'no' })).toBe('NOT_FOUND');
      const read = await s.ok(s.orderAdmin.token, `query($id: ID!) { order(id: $id) { comments { body } createdBy { name } } }`, { id });
      expect(read.order.comments.map((c: any) => c.body)).toEqual(['Customer asked for blue', 'Transfer pending']);
      expect(read.order.createdBy.name).toBe('Agent');
    });

    it('every order change is an order event on the log, written in the same transaction', async () => {
      const o = await s.ok(s.orderAdmin.token, createIndependent, { i: { workspaceId: s.W.id, place: true, lines: [{ description: 'x', quantity: 1, unitAmount: 1 }] } });
      const id = o.createIndependentOrder.id;
      await s.ok(s.orderAdmin.token, `mutation($id: ID!) { commentOnOrder(id: $id, body: "hi") { id } }`, { id });
      await s.ok(s.orderAdmin.token, `mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id });
      const rows = await s.server.app.orm.em.fork().getConnection().execute<Array<{ type: string; status: string }>>(
        `select type, payload->'order'->>'status' as status from events where payload->'order'->>'id' = ? order by xid, id`, [id]);
      expect(rows).toEqual([{ type: 'ORDER_CREATED', status: 'PLACED' }, { type: 'ORDER_COMMENTED', status: 'PLACED' }, { type: 'ORDER_UPDATED', status: 'CANCELLED' }]);
      // A refused change writes no event.
      expect(await s.code(s.orderAdmin.token, `mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id })).toBe('ORDER_CANCELLED');
      const after = await s.server.app.orm.em.fork().getConnection().execute(`select 1 from events where payload->'order'->>'id' = ?`, [id]);
      expect(after).toHaveLength(3);
    });
  });
});
