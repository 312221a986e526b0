import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { codeOf } from '../support/api';
import { eventually } from '../support/wait';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { sign } from '../../server/src/modules/inbox/webhook';
import { callers, localDay, logHead, reportOrg, type ReportOrg } from './support';

const INGEST = `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`;
const REPORT = `query($w: ID!, $p: ReportPeriodInput!, $g: ReportGroupBy!, $f: ConversationReportFilter) {
  conversationReport(workspaceId: $w, period: $p, groupBy: $g, filter: $f) { rows { key threadsOpened messagesIn messagesOut } total { threadsOpened messagesIn } } }`;

/** A thread is one contact in one workspace over one channel. */
describe('channels', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let o: ReportOrg;
  let call: ReturnType<typeof callers>;
  const ingest = (from: string, body: string, ch?: string) =>
    call.ok(o.ingestKey, INGEST, { i: { workspaceId: o.W.id, from, body, ...(ch ? { channel: ch } : {}) } }).then((r) => r.ingestInboundMessage.threadId as string);
  const channelOf = async (threadId: string) => (await call.ok(o.supervisor.token, `query($t: ID!) { thread(id: $t) { id channel } }`, { t: threadId })).thread.channel;

  beforeAll(async () => {
    server = await bootServer({ channel });
    call = callers(server);
    o = await reportOrg(server, 'Channels Co');
  });
  afterAll(() => server.close());

  it('keeps a contact\'s conversations apart per channel, sms by default', async () => {
    const sms = await ingest('+15553400001', 'Hello by text');
    const whatsapp = await ingest('+15553400001', 'Hello on WhatsApp', 'whatsapp');
    expect(whatsapp).not.toBe(sms);
    expect(await ingest('+15553400001', 'Again by text', 'sms')).toBe(sms);
    expect(await ingest('+15553400001', 'Again on WhatsApp', 'whatsapp')).toBe(whatsapp);
    expect([await channelOf(sms), await channelOf(whatsapp)]).toEqual(['sms', 'whatsapp']);
  });

  it('starts an outbound thread on a channel; the contact\'s answer on that channel joins it', async () => {
    const started = await call.ok(o.agentA.token, `mutation($i: StartThreadInput!) { startThread(input: $i) { id channel } }`, {
      i: { workspaceId: o.W.id, phone: '+15553400002', body: 'Your order shipped', channel: 'whatsapp' },
    });
    expect(started.startThread.channel).toBe('whatsapp');
    expect(await ingest('+15553400002', 'Thanks!', 'whatsapp')).toBe(started.startThread.id);
    const bySms = await ingest('+15553400002', 'Thanks by text');
    expect(bySms).not.toBe(started.startThread.id);
    expect(await channelOf(bySms)).toBe('sms');
  });

  it('takes the channel from a signed webhook: the same thread as the API on that channel; a bad one is a 400', async () => {
    const { rotateWebhookSecret } = await call.ok(o.admin.token, `mutation($w: ID!) { rotateWebhookSecret(workspaceId: $w) { secret } }`, { w: o.W.id });
    const url = server.url.replace(/\/graphql$/, '/webhooks/inbound');
    const post = (payload: Record<string, unknown>) => {
      const body = JSON.stringify(payload);
      return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-workspace': o.W.id, 'x-switchboard-signature': sign(rotateWebhookSecret.secret, body) }, body });
    };
    const viaApi = await ingest('+15553400004', 'Hi', 'telegram');
    const hook = await post({ deliveryId: 'ch-1', from: '+15553400004', body: 'Hi again', channel: 'telegram' });
    expect(hook.status).toBe(200);
    expect(((await hook.json()) as { threadId: string }).threadId).toBe(viaApi);
    expect((await post({ deliveryId: 'ch-2', from: '+15553400004', body: 'Hi', channel: 'Tele gram' })).status).toBe(400);
  });

  it('refuses a channel that is not a short lowercase identifier', async () => {
    for (const bad of ['WhatsApp', 'sms!', '', 'x'.repeat(33)]) {
      expect(codeOf(await call.send(o.ingestKey, INGEST, { i: { workspaceId: o.W.id, from: '+15553400003', body: 'Hi', channel: bad } }))).toBe('BAD_USER_INPUT');
    }
    expect(codeOf(await call.send(o.agentA.token, `mutation($i: StartThreadInput!) { startThread(input: $i) { id } }`, {
      i: { workspaceId: o.W.id, phone: '+15553400003', body: 'Hi', channel: 'Fax Machine' },
    }))).toBe('BAD_USER_INPUT');
    const period = { from: localDay('America/Chicago', -1), to: localDay('America/Chicago', 1) };
    expect(codeOf(await call.send(o.admin.token, REPORT, { w: o.W.id, p: period, g: 'CHANNEL', f: { channels: ['SMS'] } }))).toBe('BAD_USER_INPUT');
  });

  it('reports per channel, and filters by channel', async () => {
    const head = await logHead(server.app.orm);
    await eventually(() => server.app.rollups!.position(), (p) => p.xid === head.xid && p.id === head.id, { what: 'the rollup worker caught up with the log' });
    const period = { from: localDay('America/Chicago', -1), to: localDay('America/Chicago', 1) };
    const r = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: period, g: 'CHANNEL' });
    const rows = Object.fromEntries(r.conversationReport.rows.map((row: any) => [row.key, [row.threadsOpened, row.messagesIn, row.messagesOut]]));
    // sms: the first contact's thread (2 in) and the second's (1 in); whatsapp: one inbound-opened (2 in), one started (1 in, 1 out).
    // telegram: one thread, by the API and the webhook (2 in).
    expect(rows).toEqual({ sms: [2, 3, 0], telegram: [1, 2, 0], whatsapp: [2, 3, 1] });
    expect(r.conversationReport.total).toEqual({ threadsOpened: 5, messagesIn: 8 });
    const only = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: period, g: 'AGENT', f: { channels: ['whatsapp'] } });
    expect(only.conversationReport.total).toEqual({ threadsOpened: 2, messagesIn: 3 });
  });
});
