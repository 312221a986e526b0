import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';

type Body = { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

/** First messages from a new number arriving at once on two processes make one contact and one thread. */
describe('concurrent first messages from a new number', () => {
  let a: TestServer, b: TestServer;
  let W: Workspace;
  let key: string;

  beforeAll(async () => {
    a = await bootServer({ channel: new SandboxProvider(null) });
    b = await bootServer({ db: a.db, channel: new SandboxProvider(null) });
    const org = new OrgBuilder(a.app, 'Race Co');
    W = org.workspace('West');
    const admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    const r = await a.gql(`mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gw", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id }, { token: admin.token });
    key = (r.body.data as any).createApiKey.secret;
  }, 120_000);
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const ingest = (server: TestServer, from: string, body: string) =>
    server.gql(`mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { messageId threadId duplicate } }`, { i: { workspaceId: W.id, from, body } }, { token: key });

  it('10 at once, alternating between two servers: one contact, one thread, every message kept', async () => {
    const from = '+15558880001';
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => ingest(i % 2 ? b : a, from, `hello #${i}`)));
    for (const r of results) expect((r.body as Body).errors, JSON.stringify(r.body)).toBeUndefined();
    const threadIds = new Set(results.map((r) => (r.body.data as any).ingestInboundMessage.threadId));
    expect(threadIds.size).toBe(1);

    const conn = a.app.orm.em.getConnection();
    const contacts = await conn.execute(`select id from contacts where workspace_id = ? and phone = ?`, [W.id, from]);
    expect(contacts).toHaveLength(1);
    const threads = await conn.execute(`select id from threads where workspace_id = ? and contact_id = ?`, [W.id, contacts[0]!.id]);
    expect(threads).toHaveLength(1);
    const messages = await conn.execute(`select id from messages where thread_id = ? and direction = 'INBOUND'`, [threads[0]!.id]);
    expect(messages).toHaveLength(10);
  }, 120_000);

  it('several new numbers at once stay apart', async () => {
    const numbers = ['+15558880101', '+15558880102', '+15558880103'];
    const results = await Promise.all(numbers.flatMap((n, j) => [0, 1, 2, 3].map((i) => ingest((i + j) % 2 ? b : a, n, `hi ${i}`))));
    for (const r of results) expect((r.body as Body).errors, JSON.stringify(r.body)).toBeUndefined();
    const conn = a.app.orm.em.getConnection();
    const rows = await conn.execute(
      `select c.phone, count(distinct c.id) as contacts, count(distinct t.id) as threads from contacts c join threads t on t.contact_id = c.id
        where c.workspace_id = ? and c.phone = any(?::text[]) group by c.phone order by c.phone`,
      [W.id, `{${numbers.join(',')}}`],
    );
    expect(rows.map((r: any) => [r.phone, Number(r.contacts), Number(r.threads)])).toEqual(numbers.map((n) => [n, 1, 1]));
  }, 120_000);
});
