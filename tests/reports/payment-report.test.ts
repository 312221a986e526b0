import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { codeOf } from '../support/api';
import { eventually } from '../support/wait';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { callers, localDay } from './support';

const ROW = 'key currency orders orderedAmount paidAmount outstandingAmount payments pendingPaymentAmount reconciledPaymentAmount rejectedPaymentAmount';
const REPORT = `query($w: ID!, $p: ReportPeriodInput!, $g: PaymentReportGroupBy!, $f: PaymentReportFilter) {
  paymentReport(workspaceId: $w, period: $p, groupBy: $g, filter: $f) { workspaceIds groupBy rows { ${ROW} } totals { ${ROW} } } }`;

/** The payment report: orders and payments through commerce's API, summed per currency in minor units. */
describe('the payment report', () => {
  let server: TestServer;
  let W: Workspace;
  let Below: Workspace;
  let admin: FixtureUser;
  let stakeholder: FixtureUser;
  let reporter: FixtureUser;
  let period: { from: string; to: string };
  const ok = (t: string, q: string, v?: Record<string, unknown>) => callers(server).ok(t, q, v);
  const send = (t: string, q: string, v?: Record<string, unknown>) => callers(server).send(t, q, v);

  async function order(w: Workspace, amount: number, place = true): Promise<string> {
    return (await ok(admin.token, `mutation($w: ID!, $a: SafeInt!, $p: Boolean) { createIndependentOrder(input: { workspaceId: $w, place: $p, lines: [{ description: "Item", quantity: 1, unitAmount: $a }] }) { id } }`,
      { w: w.id, a: amount, p: place })).createIndependentOrder.id;
  }
  async function payment(orderId: string, amount: number): Promise<string> {
    return (await ok(admin.token, `mutation($o: ID!, $a: SafeInt!) { recordPayment(input: { orderId: $o, amount: $a, method: "transfer" }) { id } }`, { o: orderId, a: amount })).recordPayment.id;
  }

  beforeAll(async () => {
    server = await bootServer({ channel: new SandboxProvider(null), rollups: false });
    const org = new OrgBuilder(server.app, 'Payments Co');
    W = org.workspace('Shop');
    Below = org.workspace('Shop annex', W);
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    stakeholder = await org.login(await org.user('Stakeholder', [{ workspace: W, roles: [Role.STAKEHOLDER] }]));
    reporter = await org.login(await org.user('Reporter', [{ workspace: W, roles: [Role.STAKEHOLDER], addOns: [AddOn.PAYMENT_REPORTS] }]));
    period = { from: localDay('UTC', -1), to: localDay('UTC', 1) };
    await ok(admin.token, `mutation($w: ID!) { setOrderCurrency(workspaceId: $w, currency: "EUR") }`, { w: Below.id });
    const paid = await order(W, 1000);
    await ok(admin.token, `mutation($id: ID!) { reconcilePayment(id: $id) { status } }`, { id: await payment(paid, 1000) });
    const partly = await order(W, 2500);
    await payment(partly, 500);
    const rejected = await payment(partly, 700);
    await ok(admin.token, `mutation($id: ID!) { rejectPayment(id: $id, reason: "bounced") { status } }`, { id: rejected });
    await order(Below, 4000);
    await order(W, 999, false);
  });
  afterAll(() => server.close());

  it('totals orders and payments per currency, never adding currencies together', async () => {
    const r = (await ok(admin.token, REPORT, { w: W.id, p: period, g: 'CURRENCY', f: { subtree: true } })).paymentReport;
    expect(r.workspaceIds.sort()).toEqual([W.id, Below.id].sort());
    expect(r.totals).toEqual([
      { key: 'EUR', currency: 'EUR', orders: 1, orderedAmount: 4000, paidAmount: 0, outstandingAmount: 4000, payments: 0, pendingPaymentAmount: 0, reconciledPaymentAmount: 0, rejectedPaymentAmount: 0 },
      { key: 'USD', currency: 'USD', orders: 2, orderedAmount: 3500, paidAmount: 1000, outstandingAmount: 2500, payments: 3, pendingPaymentAmount: 500, reconciledPaymentAmount: 1000, rejectedPaymentAmount: 700 },
    ]);
  });

  it('groups by order status and filters by status and workspace', async () => {
    const byStatus = (await ok(admin.token, REPORT, { w: W.id, p: period, g: 'STATUS', f: { subtree: true } })).paymentReport.rows;
    expect(byStatus.map((row: any) => [row.key, row.currency, row.orders])).toEqual([['PAID', 'USD', 1], ['PLACED', 'EUR', 1], ['REJECTED', 'USD', 1]]);
    const onlyPaid = (await ok(admin.token, REPORT, { w: W.id, p: period, g: 'CURRENCY', f: { statuses: ['PAID'] } })).paymentReport.totals;
    expect(onlyPaid.map((t: any) => [t.currency, t.orders, t.orderedAmount])).toEqual([['USD', 1, 1000]]);
    const withDrafts = (await ok(admin.token, REPORT, { w: W.id, p: period, g: 'CURRENCY', f: { statuses: ['DRAFT', 'PLACED', 'PAID', 'REJECTED'] } })).paymentReport.totals;
    expect(withDrafts.map((t: any) => [t.currency, t.orders])).toEqual([['USD', 3]]);
    const lastYear = { from: localDay('UTC', -400), to: localDay('UTC', -300) };
    expect((await ok(admin.token, REPORT, { w: W.id, p: lastYear, g: 'DAY' })).paymentReport.rows).toEqual([]);
  });

  it('refuses an unknown status', async () => {
    const r = await send(admin.token, REPORT, { w: W.id, p: period, g: 'DAY', f: { statuses: ['LOST'] } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.extensions).toMatchObject({ reason: 'UNKNOWN_STATUS' });
  });

  it('takes REPORTS_PAYMENTS: a stakeholder gets it with the PAYMENT_REPORTS add-on only', async () => {
    expect(codeOf(await send(stakeholder.token, REPORT, { w: W.id, p: period, g: 'DAY' }))).toBe('FORBIDDEN');
    const r = (await ok(reporter.token, REPORT, { w: W.id, p: period, g: 'AGENT' })).paymentReport;
    expect(r.rows.map((row: any) => row.key)).toEqual([admin.id]);
  });

  it('exports as CSV for the add-on holder, and records the read', async () => {
    const started = (await ok(reporter.token, `mutation($i: StartExportInput!) { startExport(input: $i) { id } }`, {
      i: { workspaceId: W.id, kind: 'PAYMENT_REPORT', format: 'CSV', period, paymentGroupBy: 'DAY' },
    })).startExport;
    const done = await eventually(
      async () => (await ok(reporter.token, `query($id: ID!) { export(id: $id) { status rowsWritten } }`, { id: started.id })).export,
      (e) => e.status === 'DONE' || e.status === 'FAILED',
      { what: 'the payment export', intervalMs: 100 },
    );
    expect(done).toEqual({ status: 'DONE', rowsWritten: 1 });
    await server.app.services.readAudit.flush();
    const reads = await server.app.orm.em.fork().getConnection().execute<Array<{ action: string }>>(`select action from read_audit where actor_user_id = ?`, [reporter.id]);
    expect(reads.map((a) => a.action)).toEqual(expect.arrayContaining(['report.payments', 'export.start']));
  });
});
