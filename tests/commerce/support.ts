import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { api, codeOf, type GqlResponse, type Variables } from '../support/api';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';

/** One commerce shop: a workspace W (and a sibling), a user per role of seed 003, add-ons included. */
export interface Shop {
  server: TestServer;
  channel: SandboxProvider;
  org: OrgBuilder;
  W: Workspace;
  sibling: Workspace;
  admin: FixtureUser;
  supervisor: FixtureUser;
  agent: FixtureUser;
  otherAgent: FixtureUser;
  independentAgent: FixtureUser;
  reconciler: FixtureUser;
  orderAdmin: FixtureUser;
  stakeholder: FixtureUser;
  auditor: FixtureUser;
  siblingSupervisor: FixtureUser;
  send<T = any>(token: string, doc: string, vars?: Variables): Promise<GqlResponse<T>>;
  ok(token: string, doc: string, vars?: Variables): Promise<Record<string, any>>;
  code(token: string, doc: string, vars?: Variables): Promise<string | undefined>;
  /** A thread with the contact's inbound message, assigned to `assignee` (null: unassigned). */
  thread(phone: string, assignee: FixtureUser | null): Promise<string>;
  product(sku: string, priceAmount: number, extra?: Record<string, unknown>): Promise<string>;
}

export async function openShop(): Promise<Shop> {
  const channel = new SandboxProvider(null);
  const server = await bootServer({ channel });
  const org = new OrgBuilder(server.app, 'Shop Co');
  const W = org.workspace('Store');
  const sibling = org.workspace('Other store');
  const u = async (label: string, roles: Role[], addOns: AddOn[] = [], ws: Workspace = W) => org.login(await org.user(label, [{ workspace: ws, roles, addOns }]));
  const shop = {
    server,
    channel,
    org,
    W,
    sibling,
    admin: await u('Admin', [Role.ADMIN]),
    supervisor: await u('Supervisor', [Role.SUPERVISOR]),
    agent: await u('Agent', [Role.AGENT]),
    otherAgent: await u('Other agent', [Role.AGENT]),
    independentAgent: await u('Independent agent', [Role.AGENT], [AddOn.INDEPENDENT_ORDERS]),
    reconciler: await u('Reconciler', [Role.SUPERVISOR], [AddOn.PAYMENT_RECONCILE]),
    orderAdmin: await u('Order admin', [Role.ORDER_ADMIN]),
    stakeholder: await u('Stakeholder', [Role.STAKEHOLDER]),
    auditor: await u('Auditor', [Role.AUDITOR]),
    siblingSupervisor: await u('Sibling supervisor', [Role.SUPERVISOR], [], sibling),
  } as Shop;
  shop.send = (token, doc, vars) => api(server).as(token).send(doc, vars);
  shop.ok = (token, doc, vars) => api(server).as(token).ok<Record<string, any>>(doc, vars);
  shop.code = async (token, doc, vars) => codeOf(await api(server).as(token).send(doc, vars));
  let seq = 0;
  shop.thread = async (phone, assignee) => {
    const t = await shop.ok(shop.supervisor.token, `mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "Hello from the shop" }) { id } }`, { w: W.id, p: phone });
    const id = t.startThread.id as string;
    if (assignee) await shop.ok(shop.supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: id, u: assignee.id });
    return id;
  };
  shop.product = async (sku, priceAmount, extra = {}) => {
    const p = await shop.ok(shop.admin.token, `mutation($w: ID!, $i: ProductInput!) { createProduct(workspaceId: $w, input: $i) { id } }`, {
      w: W.id,
      i: { sku, name: `Product ${sku} ${++seq}`, priceAmount, currency: 'USD', ...extra },
    });
    return p.createProduct.id as string;
  };
  return shop;
}

export const ORDER_FIELDS = `id status currency totalAmount paidAmount balanceAmount threadId contactId customerName createdById
  lines { description quantity unitAmount lineAmount productId }
  viewerCan { place cancel fulfill delete comment recordPayment reopen }`;
