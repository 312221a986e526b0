import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import type { ChannelProvider, OutboundSend, ReceiptListener } from '../../server/src/modules/inbox/channel';
import { applyParkedReceipts } from '../../server/src/modules/inbox/messaging.service';
import { PARKED_RECEIPT_TTL_MS, sweepParkedReceipts } from '../../server/src/modules/inbox/parked-receipts';
import { DeliveryStatus } from '../../server/src/modules/inbox/thread.entity';
import { TENANT_FILTER } from '../../server/src/db/tenant';
import { api, type Variables } from '../support/api';
import { eventually } from '../support/wait';

/**
 * A provider faster than the commit: it reports SENT and DELIVERED from inside `send()`, and returns only once
 * the server has taken both receipts in (parked, since the message is not committed yet), so the race the
 * broadcast sender and the plain send path used to lose is run every time, not by chance.
 */
function eagerProvider() {
  const listeners: ReceiptListener[] = [];
  const state = {
    eager: true,
    sent: [] as Array<OutboundSend & { providerMessageId: string }>,
    /** Resolves once both receipts of this provider id are parked (set once the server is up). */
    parked: null as null | ((organizationId: string, providerMessageId: string) => Promise<unknown>),
  };
  const provider: ChannelProvider = {
    name: 'eager',
    async send(message) {
      const providerMessageId = `eager_${randomUUID()}`;
      state.sent.push({ ...message, providerMessageId });
      if (state.eager) {
        for (const status of ['SENT', 'DELIVERED'] as const) for (const l of listeners) l({ organizationId: message.organizationId, providerMessageId, status });
        await state.parked?.(message.organizationId, providerMessageId);
      }
      return { providerMessageId };
    },
    onReceipt(listener) {
      listeners.push(listener);
    },
  };
  return { provider, state };
}

describe('delivery receipts that arrive before their message is committed', () => {
  let server: TestServer;
  const { provider, state } = eagerProvider();
  let org: OrgBuilder;
  let W: Workspace;
  let marketer: FixtureUser, sup: FixtureUser;
  const RECIPIENTS = 50;
  const ok = (u: FixtureUser, q: string, v?: Variables) => api(server).as(u.token).ok<Record<string, any>>(q, v);
  const sql = <T>(text: string, params: unknown[] = []) => server.app.orm.em.fork().getConnection().execute<T[]>(text, params);
  const parkedCount = async (providerMessageId: string) =>
    Number((await sql<{ n: string }>(`select count(*) as n from parked_receipts where organization_id = ? and provider_message_id = ?`, [org.id, providerMessageId]))[0]!.n);
  const statusEvents = async (messageId: string): Promise<string[]> =>
    (await sql<{ status: string }>(
      `select payload->'message'->>'status' as status from events where organization_id = ? and type = 'MESSAGE_STATUS' and payload->'message'->>'id' = ? order by xid, id`,
      [org.id, messageId],
    )).map((r) => r.status);
  const em = () => {
    const e = server.app.orm.em.fork({ clear: true, useContext: false });
    e.setFilterParams(TENANT_FILTER, { organizationId: org.id });
    return e;
  };
  /** A plain outbound message whose provider did not report anything (state.eager off). */
  const quietMessage = async (phone: string): Promise<{ messageId: string }> => {
    state.eager = false;
    try {
      const r = await server.gql(`mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "quiet" }) { id } }`, { w: W.id, p: phone }, { token: sup.token });
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      return { messageId: state.sent.at(-1)!.messageId };
    } finally {
      state.eager = true;
    }
  };

  beforeAll(async () => {
    server = await bootServer({ channel: provider, sweepSnoozes: false, rollups: false, campaignSender: { ratePerSecond: 1000, batchSize: 7, leaseSeconds: 30 } });
    state.parked = (organizationId, providerMessageId) =>
      eventually(
        async () => Number((await sql<{ n: string }>(`select count(*) as n from parked_receipts where organization_id = ? and provider_message_id = ?`, [organizationId, providerMessageId]))[0]!.n),
        (n) => n === 2,
        { what: 'both early receipts to be parked', intervalMs: 10 },
      );
    org = new OrgBuilder(server.app, 'Early Receipts Co');
    W = org.workspace('West');
    marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
    sup = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  }, 120_000);
  afterAll(() => server.close());

  it('a broadcast whose provider reports SENT and DELIVERED before the outcome commits ends with every message DELIVERED', async () => {
    const group = (await ok(marketer, `mutation($w: ID!) { createCampaignGroup(workspaceId: $w, name: "All") { id } }`, { w: W.id })).createCampaignGroup.id;
    const csv = 'phone,firstName\n' + Array.from({ length: RECIPIENTS }, (_, i) => `+1555600${String(i).padStart(4, '0')},P${i}`).join('\n');
    await ok(marketer, `mutation($g: ID!, $csv: String!) { addContactsToCampaignGroup(groupId: $g, input: { csv: $csv }) { changed } }`, { g: group, csv });
    const id = (await ok(marketer, `mutation($w: ID!, $g: ID!) { createCampaign(workspaceId: $w, input: { name: "Fast", messageTemplate: "Hi {{contact.firstName}}", targetGroupIds: [$g] }) { id } }`, { w: W.id, g: group })).createCampaign.id;
    await ok(marketer, `mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id });
    const status = async () => (await ok(marketer, `query($id: ID!) { campaign(id: $id) { status } }`, { id })).campaign.status as string;
    await eventually(status, (s) => s === 'COMPLETED', { what: 'the campaign to complete', timeoutMs: 120_000 });

    const messages = await sql<{ id: string; status: string }>(
      `select m.id, m.status from campaign_recipients r join messages m on m.organization_id = r.organization_id and m.id = r.message_id where r.organization_id = ? and r.campaign_id = ?`,
      [org.id, id],
    );
    expect(messages.length).toBe(RECIPIENTS);
    expect(messages.filter((m) => m.status !== 'DELIVERED')).toEqual([]);
    for (const m of messages) expect(await statusEvents(m.id)).toEqual(['SENT', 'DELIVERED']);
    const [left] = await sql<{ n: string }>(`select count(*) as n from parked_receipts where organization_id = ?`, [org.id]);
    expect(Number(left!.n)).toBe(0);
  }, 180_000);

  it('a plain send whose receipts beat the write of its provider id ends DELIVERED too', async () => {
    const r = await server.gql(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15556019999", body: "fast" }) { id } }`, { w: W.id }, { token: sup.token });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    const sent = state.sent.at(-1)!;
    expect(await statusEvents(sent.messageId)).toEqual(['SENT', 'DELIVERED']);
    expect(await parkedCount(sent.providerMessageId)).toBe(0);
  });

  it('parks a receipt that matches no message and applies it, in order, when the message is written', async () => {
    const { messageId } = await quietMessage('+15556020001');
    const providerMessageId = `later_${randomUUID()}`;
    // DELIVERED before SENT, as providers sometimes report them: parked in arrival order.
    const applied = await server.app.services.messaging.applyReceipts(em(), org.id, [
      { providerMessageId, status: DeliveryStatus.DELIVERED },
      { providerMessageId, status: DeliveryStatus.SENT },
    ]);
    expect(applied).toEqual([false, false]);
    expect(await parkedCount(providerMessageId)).toBe(2);
    expect(await statusEvents(messageId)).toEqual([]);

    // The writer of the message: its provider id, and the parked receipts, in one transaction.
    const took = await em().transactional(async (tx) => {
      await tx.getConnection().execute(`update messages set provider_message_id = ? where organization_id = ? and id = ?`, [providerMessageId, org.id, messageId], 'run', tx.getTransactionContext());
      return applyParkedReceipts(tx, org.id, [providerMessageId], new Date());
    });
    expect(took).toBe(2);
    expect(await parkedCount(providerMessageId)).toBe(0);
    // DELIVERED overtaking SENT logs SENT first; the late SENT changes nothing: one event per step, as always.
    expect(await statusEvents(messageId)).toEqual(['SENT', 'DELIVERED']);
    const [row] = await sql<{ status: string }>(`select status from messages where organization_id = ? and id = ?`, [org.id, messageId]);
    expect(row!.status).toBe('DELIVERED');
  });

  it('discards parked receipts older than a day in the sweep, and keeps the recent ones', async () => {
    const old = `old_${randomUUID()}`;
    const recent = `recent_${randomUUID()}`;
    await server.app.services.messaging.applyReceipts(em(), org.id, [{ providerMessageId: old, status: DeliveryStatus.SENT }, { providerMessageId: recent, status: DeliveryStatus.SENT }]);
    await sql(`update parked_receipts set received_at = now() - interval '25 hours' where organization_id = ? and provider_message_id = ?`, [org.id, old]);
    expect(await sweepParkedReceipts(server.app.orm.em.fork(), new Date(Date.now() - PARKED_RECEIPT_TTL_MS))).toBeGreaterThanOrEqual(1);
    expect(await parkedCount(old)).toBe(0);
    expect(await parkedCount(recent)).toBe(1);

    // The expired receipt's message, written now, finds nothing to apply: it stays QUEUED.
    const { messageId } = await quietMessage('+15556020002');
    const took = await em().transactional(async (tx) => {
      await tx.getConnection().execute(`update messages set provider_message_id = ? where organization_id = ? and id = ?`, [old, org.id, messageId], 'run', tx.getTransactionContext());
      return applyParkedReceipts(tx, org.id, [old], new Date());
    });
    expect(took).toBe(0);
    const [row] = await sql<{ status: string }>(`select status from messages where organization_id = ? and id = ?`, [org.id, messageId]);
    expect(row!.status).toBe('QUEUED');
  });
});
