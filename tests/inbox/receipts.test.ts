import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { TENANT_FILTER } from '../../server/src/db/tenant';
import { DeliveryStatus } from '../../server/src/modules/inbox/thread.entity';
import { eventually } from '../support/wait';

/** Delivery receipts applied at the same moment, in any order: every step is one event, in order, never backwards. */
describe('delivery receipts applied concurrently', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let org: OrgBuilder;
  let W: Workspace;
  let sup: FixtureUser;

  beforeAll(async () => {
    server = await bootServer({ channel });
    org = new OrgBuilder(server.app, 'Receipts Co');
    W = org.workspace('West');
    sup = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  });
  afterAll(() => server.close());

  const apply = (providerMessageId: string, status: DeliveryStatus) => {
    const em = server.app.orm.em.fork({ clear: true, useContext: false });
    em.setFilterParams(TENANT_FILTER, { organizationId: org.id });
    return server.app.services.messaging.applyReceipt(em, providerMessageId, status);
  };
  const statusEvents = async (messageId: string): Promise<string[]> => {
    const rows = await server.app.orm.em.getConnection().execute<Array<{ status: string }>>(
      `select payload->'message'->>'status' as status from events where organization_id = ? and type = 'MESSAGE_STATUS' and payload->'message'->>'id' = ? order by xid, id`,
      [org.id, messageId],
    );
    return rows.map((r) => r.status);
  };

  it('logs SENT then DELIVERED for every message, whichever receipt wins the race', async () => {
    const sends: Array<{ messageId: string; providerMessageId: string }> = [];
    for (let i = 0; i < 7; i++) {
      const r = await server.gql(`mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "hello" }) { id } }`, { w: W.id, p: `+1555333000${i + 1}` }, { token: sup.token });
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      const sent = channel.sent[channel.sent.length - 1]!;
      sends.push({ messageId: sent.messageId, providerMessageId: sent.providerMessageId });
    }
    // DELIVERED is fired first for odd messages, SENT first for even ones; all at once.
    await Promise.all(
      sends.flatMap(({ providerMessageId }, i) =>
        i % 2 ? [apply(providerMessageId, DeliveryStatus.DELIVERED), apply(providerMessageId, DeliveryStatus.SENT)] : [apply(providerMessageId, DeliveryStatus.SENT), apply(providerMessageId, DeliveryStatus.DELIVERED)],
      ),
    );
    for (const { messageId } of sends) expect(await statusEvents(messageId)).toEqual(['SENT', 'DELIVERED']);
    const statuses = await server.app.orm.em.getConnection().execute<Array<{ status: string }>>(
      `select status from messages where id = any(?::uuid[])`,
      [`{${sends.map((s) => s.messageId).join(',')}}`],
    );
    expect(statuses.map((s) => s.status)).toEqual(sends.map(() => 'DELIVERED'));
  }, 120_000);

  it('concurrent sends get their provider ids written together, each answering with its id stored; receipts reported at once land on every one', async () => {
    const threads: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await server.gql<{ startThread: { id: string } }>(`mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "hi" }) { id } }`, { w: W.id, p: `+155544410${String(i).padStart(2, '0')}` }, { token: sup.token });
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      threads.push(r.body.data!.startThread.id);
    }
    channel.flushReceipts();
    const before = channel.sent.length;
    const sent = await Promise.all(
      threads.map((t, i) => server.gql<{ sendMessage: { id: string } }>(`mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t, b: `batch ${i}` }, { token: sup.token })),
    );
    for (const r of sent) expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    const ids = sent.map((r) => r.body.data!.sendMessage.id);
    // Every send answered only once its provider id was stored.
    const stored = await server.app.orm.em.getConnection().execute<Array<{ id: string; provider_message_id: string | null }>>(
      `select id, provider_message_id from messages where id = any(?::uuid[])`,
      [`{${ids.join(',')}}`],
    );
    const byId = new Map(channel.sent.slice(before).map((s) => [s.messageId, s.providerMessageId]));
    expect(stored.map((m) => m.provider_message_id).sort()).toEqual(ids.map((id) => byId.get(id)).sort());
    channel.flushReceipts();
    for (const id of ids) {
      await eventually(() => statusEvents(id), (s) => s.length === 2, { what: `the receipts of ${id}` });
      expect(await statusEvents(id)).toEqual(['SENT', 'DELIVERED']);
    }
  }, 120_000);

  it('a late or repeated receipt changes nothing and logs nothing', async () => {
    const r = await server.gql(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15553339999", body: "hi" }) { id } }`, { w: W.id }, { token: sup.token });
    expect(r.body.errors).toBeUndefined();
    const sent = channel.sent[channel.sent.length - 1]!;
    expect(await apply(sent.providerMessageId, DeliveryStatus.DELIVERED)).toBe(true);
    expect(await apply(sent.providerMessageId, DeliveryStatus.SENT)).toBe(false);
    expect(await apply(sent.providerMessageId, DeliveryStatus.DELIVERED)).toBe(false);
    expect(await apply(sent.providerMessageId, DeliveryStatus.FAILED)).toBe(false);
    expect(await statusEvents(sent.messageId)).toEqual(['SENT', 'DELIVERED']);
  });

  it('applies a batch of receipts as one transaction, in order per message: SENT never lost behind DELIVERED', async () => {
    const sends: Array<{ messageId: string; providerMessageId: string }> = [];
    for (let i = 0; i < 4; i++) {
      const r = await server.gql(`mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "batch" }) { id } }`, { w: W.id, p: `+1555444000${i + 1}` }, { token: sup.token });
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      const sent = channel.sent[channel.sent.length - 1]!;
      sends.push({ messageId: sent.messageId, providerMessageId: sent.providerMessageId });
    }
    const em = server.app.orm.em.fork({ clear: true, useContext: false });
    em.setFilterParams(TENANT_FILTER, { organizationId: org.id });
    // One batch: in order for the first two, DELIVERED first for the others, and a repeat and an unknown id.
    const applied = await server.app.services.messaging.applyReceipts(em, org.id, [
      { providerMessageId: sends[0]!.providerMessageId, status: DeliveryStatus.SENT },
      { providerMessageId: sends[1]!.providerMessageId, status: DeliveryStatus.SENT },
      { providerMessageId: sends[0]!.providerMessageId, status: DeliveryStatus.DELIVERED },
      { providerMessageId: sends[2]!.providerMessageId, status: DeliveryStatus.DELIVERED },
      { providerMessageId: sends[2]!.providerMessageId, status: DeliveryStatus.SENT },
      { providerMessageId: sends[3]!.providerMessageId, status: DeliveryStatus.FAILED, error: 'unreachable' },
      { providerMessageId: sends[1]!.providerMessageId, status: DeliveryStatus.SENT },
      { providerMessageId: 'sbx_unknown', status: DeliveryStatus.SENT },
    ]);
    expect(applied).toEqual([true, true, true, true, false, true, false, false]);
    expect(await statusEvents(sends[0]!.messageId)).toEqual(['SENT', 'DELIVERED']);
    expect(await statusEvents(sends[1]!.messageId)).toEqual(['SENT']);
    expect(await statusEvents(sends[2]!.messageId)).toEqual(['SENT', 'DELIVERED']);
    expect(await statusEvents(sends[3]!.messageId)).toEqual(['SENT', 'FAILED']);
    const rows = await server.app.orm.em.getConnection().execute<Array<{ id: string; status: string; error: string | null }>>(
      `select id, status, error from messages where id = any(?::uuid[])`,
      [`{${sends.map((s) => s.messageId).join(',')}}`],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(sends.map((s) => byId.get(s.messageId)!.status)).toEqual(['DELIVERED', 'SENT', 'DELIVERED', 'FAILED']);
    expect(byId.get(sends[3]!.messageId)!.error).toBe('unreachable');
  });

  it('coalesces receipts reported together by the channel and applies each in order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await server.gql(`mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "flush" }) { id } }`, { w: W.id, p: `+1555555000${i + 1}` }, { token: sup.token });
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      ids.push(channel.sent[channel.sent.length - 1]!.messageId);
    }
    // Every held receipt (SENT then DELIVERED per message) is reported in one tick: one batch.
    channel.flushReceipts();
    for (const id of ids) await eventually(() => statusEvents(id), (events) => events.length === 2, { what: 'both receipts of a message' });
    for (const id of ids) expect(await statusEvents(id)).toEqual(['SENT', 'DELIVERED']);
  });
});
