import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { api, type Variables } from '../support/api';
import { eventually } from '../support/wait';
import { Role } from '../../server/src/modules/identity/permissions';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { ManualClock } from '../../server/src/shared/clock';
import { quietHoursEndAt } from '../../server/src/modules/campaigns/schedule';

const CONTACTS = 20;

/** The jobs of a pg-boss queue for a campaign (none before pg-boss has created its schema). */
async function jobs(url: string, queue: string, campaignId: string, where = 'true'): Promise<Array<{ id: string; start_after: Date }>> {
  const [schema] = await query<{ t: string | null }>(url, `select to_regclass('pgboss.job') as t`);
  if (!schema?.t) return [];
  return query(url, `select id, start_after from pgboss.job where name = $1 and data ->> 'campaignId' = $2 and ${where}`, [queue, campaignId]);
}

async function query<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** An organization with one workspace (in `timeZone`), CONTACTS contacts in a group, and a marketer. */
async function fixture(server: TestServer, name: string, prefix: string, timeZone: string) {
  const org = new OrgBuilder(server.app, name);
  const W = org.workspace('West');
  const marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
  const ok = (s: TestServer, q: string, v?: Variables) => api(s).as(marketer.token).ok<Record<string, any>>(q, v);
  const group = (await ok(server, `mutation($w: ID!) { createCampaignGroup(workspaceId: $w, name: "All") { id } }`, { w: W.id })).createCampaignGroup.id as string;
  const csv = 'phone,firstName\n' + Array.from({ length: CONTACTS }, (_, i) => `${prefix}${String(i).padStart(4, '0')},P${i}`).join('\n');
  await ok(server, `mutation($g: ID!, $csv: String!) { addContactsToCampaignGroup(groupId: $g, input: { csv: $csv }) { changed } }`, { g: group, csv });
  await query(
    server.db.url,
    `insert into workspace_settings (id, organization_id, workspace_id, time_zone) values (gen_random_uuid(), $1, $2, $3)
     on conflict (organization_id, workspace_id) do update set time_zone = excluded.time_zone`,
    [org.id, W.id, timeZone],
  );
  return { org, W, marketer: marketer as FixtureUser, group, ok };
}

describe('scheduled broadcasts', () => {
  const servers: TestServer[] = [];
  let db: TestDatabase | undefined;
  afterAll(async () => {
    for (const s of servers) await s.close();
    await db?.drop();
  });

  it('a SCHEDULED campaign starts by itself at its start time, also when the process that scheduled it has stopped', { timeout: 180_000 }, async () => {
    db = await createTestDatabase();
    const first = new SandboxProvider(null);
    const a = await bootServer({ db, channel: first });
    servers.push(a);
    const f = await fixture(a, 'Schedule Co', '+1555630', 'UTC');
    // Far enough ahead that creating and scheduling it on a loaded machine (seen: over 4 s) ends before it is due.
    const startAt = new Date(Date.now() + 15_000);
    const id = (await f.ok(a, `mutation($w: ID!, $g: ID!, $at: DateTimeISO!) { createCampaign(workspaceId: $w, input: { name: "Later", messageTemplate: "Doors open, {{contact.firstName}}", targetGroupIds: [$g], startAt: $at }) { id } }`, { w: f.W.id, g: f.group, at: startAt.toISOString() })).createCampaign.id as string;
    expect((await f.ok(a, `mutation($id: ID!) { scheduleCampaign(id: $id) { status } }`, { id })).scheduleCampaign.status).toBe('SCHEDULED');
    // The start is a pg-boss job due at the start time, in the database.
    const [job] = await eventually(() => jobs(db!.url, 'campaign-start', id), (rows) => rows.length === 1, { what: 'the start job' });
    expect(job!.start_after.toISOString()).toBe(startAt.toISOString());

    // The process that scheduled it stops; another one, started later, starts the campaign at its time.
    await a.close();
    servers.length = 0;
    const second = new SandboxProvider(null);
    const b = await bootServer({ db, channel: second });
    servers.push(b);
    const status = async () => (await f.ok(b, `query($id: ID!) { campaign(id: $id) { status startedAt } }`, { id })).campaign as { status: string; startedAt: string | null };
    const done = await eventually(status, (c) => c.status === 'COMPLETED', { what: 'the scheduled campaign to start and complete', timeoutMs: 120_000, intervalMs: 100 });
    expect(new Date(done.startedAt!).getTime()).toBeGreaterThanOrEqual(startAt.getTime());
    expect(first.sent.filter((s) => s.body.startsWith('Doors open'))).toHaveLength(0);
    const sent = second.sent.filter((s) => s.body.startsWith('Doors open'));
    expect(new Set(sent.map((s) => s.to)).size).toBe(CONTACTS);
    expect(sent).toHaveLength(CONTACTS);
  });

  it('a pause stops sending within the batch in flight; resume continues where it stopped, each contact once', { timeout: 180_000 }, async () => {
    const channel = new SandboxProvider(null);
    const s = await bootServer({ channel, campaignSender: { ratePerSecond: 20, batchSize: 5, leaseSeconds: 2 } });
    servers.push(s);
    const f = await fixture(s, 'Pause Co', '+1555650', 'UTC');
    const id = (await f.ok(s, `mutation($w: ID!, $g: ID!) { createCampaign(workspaceId: $w, input: { name: "Slow", messageTemplate: "Slowly, {{contact.firstName}}", targetGroupIds: [$g] }) { id } }`, { w: f.W.id, g: f.group })).createCampaign.id as string;
    const mine = () => channel.sent.filter((m) => m.body.startsWith('Slowly'));
    await f.ok(s, `mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id });
    await eventually(() => mine().length, (n) => n >= 5, { what: 'the first sends' });
    await f.ok(s, `mutation($id: ID!) { pauseCampaign(id: $id) { status } }`, { id });
    const ledger = async () => (await query<{ sending: string; sent: string }>(s.db.url, `select count(*) filter (where status = 'SENDING') as sending, count(*) filter (where status = 'SENT') as sent from campaign_recipients where campaign_id = $1`, [id]))[0]!;
    // The sender lets go: nothing left in flight, and the provider was asked for exactly what the ledger says was sent.
    const settled = await eventually(ledger, (l) => l.sending === '0', { what: 'the batch in flight to settle' });
    expect(Number(settled.sent)).toBeLessThan(CONTACTS);
    expect(mine()).toHaveLength(Number(settled.sent));

    await f.ok(s, `mutation($id: ID!) { resumeCampaign(id: $id) { status } }`, { id });
    const status = async () => (await f.ok(s, `query($id: ID!) { campaign(id: $id) { status } }`, { id })).campaign.status as string;
    await eventually(status, (x) => x === 'COMPLETED', { what: 'the resumed campaign to complete', timeoutMs: 60_000 });
    expect(mine()).toHaveLength(CONTACTS);
    expect(new Set(mine().map((m) => m.to)).size).toBe(CONTACTS);
  });

  it('quiet hours in the workspace time zone hold sending until they end, then it resumes', { timeout: 180_000 }, async () => {
    const clock = new ManualClock(new Date());
    const channel = new SandboxProvider(null);
    const s = await bootServer({ clock, channel });
    servers.push(s);
    // Quiet from an hour ago to an hour from now, Tokyo time (UTC+9, no daylight saving).
    const tz = 'Asia/Tokyo';
    const hhmm = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
    const quietStart = hhmm(new Date(clock.now().getTime() - 3_600_000));
    const quietEnd = hhmm(new Date(clock.now().getTime() + 3_600_000));
    const f = await fixture(s, 'Quiet Co', '+1555640', tz);
    const id = (await f.ok(s, `mutation($w: ID!, $g: ID!, $qs: String!, $qe: String!) { createCampaign(workspaceId: $w, input: { name: "Night", messageTemplate: "Quiet please, {{contact.firstName}}", targetGroupIds: [$g], quietHoursStart: $qs, quietHoursEnd: $qe }) { id } }`, { w: f.W.id, g: f.group, qs: quietStart, qe: quietEnd })).createCampaign.id as string;
    await f.ok(s, `mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id });

    // The sender defers the campaign to the end of the quiet hours (a job due then) and sends nothing.
    const expected = quietHoursEndAt(quietStart, quietEnd, tz, clock.now())!;
    expect(expected.getTime()).toBeGreaterThan(clock.now().getTime());
    const deferred = () => jobs(s.db.url, 'campaign-send', id, `state = 'created' and start_after > now()`);
    const [job] = await eventually(deferred, (rows) => rows.length === 1, { what: 'the send to be deferred to the end of quiet hours' });
    expect(job!.start_after.toISOString()).toBe(expected.toISOString());
    expect(channel.sent.filter((m) => m.body.startsWith('Quiet please'))).toHaveLength(0);
    const progress = async () => (await f.ok(s, `query($id: ID!) { campaignProgressNow(id: $id) { sent queued status } }`, { id })).campaignProgressNow;
    expect(await progress()).toEqual({ sent: 0, queued: CONTACTS, status: 'RUNNING' });

    // The quiet hours end (the clock moves past them; the job comes due): sending resumes and completes.
    clock.advance(expected.getTime() - clock.now().getTime() + 60_000);
    await query(s.db.url, `update pgboss.job set start_after = now() where id = $1`, [job!.id]);
    await eventually(progress, (p) => p.status === 'COMPLETED', { what: 'the campaign to complete after quiet hours', timeoutMs: 60_000 });
    expect(await progress()).toEqual({ sent: CONTACTS, queued: 0, status: 'COMPLETED' });
    expect(new Set(channel.sent.filter((m) => m.body.startsWith('Quiet please')).map((m) => m.to)).size).toBe(CONTACTS);
  });
});
