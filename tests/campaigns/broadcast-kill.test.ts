import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { spawnServer, waitForReady, type ServerProcess } from '../support/process';
import { api, type Variables } from '../support/api';
import { eventually } from '../support/wait';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { SANDBOX_SENDS_TABLE } from '../../server/src/modules/inbox/recording-sandbox';

const RECIPIENTS = 10_000;
const OPTED_OUT = 500;
const phoneOf = (i: number) => `+1555${String(1_000_000 + i).slice(1)}`;

/**
 * A 10,000-recipient broadcast (500 of them opted out, half in the workspace, half across the organization)
 * sent by the compiled server process, which is killed (SIGKILL) halfway and started again. The recording
 * sandbox channel writes every call it gets into the database, so "sent exactly once" is judged against what
 * the provider was asked to send, across the kill.
 */
describe('broadcast: a sender killed halfway', () => {
  let control: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let marketer: FixtureUser;
  let campaignId: string;
  const procs: ServerProcess[] = [];
  let db: pg.Pool;
  const ok = (u: FixtureUser, q: string, v?: Variables) => api(control).as(u.token).ok<Record<string, any>>(q, v);
  const one = async <T>(text: string, params: unknown[] = []): Promise<T> => (await db.query(text, params)).rows[0] as T;
  const spawnSender = () => {
    const p = spawnServer({
      DATABASE_URL: control.db.url,
      PORT: '0',
      SEED_DEMO: 'false',
      LOG_LEVEL: 'warn',
      SANDBOX_RECORD_SENDS: 'true',
      CAMPAIGN_SEND_RATE: '1000000',
      CAMPAIGN_BATCH_SIZE: '250',
      CAMPAIGN_LEASE_SECONDS: '3',
    });
    procs.push(p);
    return p;
  };
  const recorded = async () => {
    const exists = await one<{ t: string | null }>(`select to_regclass($1) as t`, [SANDBOX_SENDS_TABLE]);
    return exists.t ? Number((await one<{ n: string }>(`select count(*) as n from ${SANDBOX_SENDS_TABLE}`)).n) : 0;
  };
  const status = async () => (await one<{ status: string }>(`select status from campaigns where id = $1`, [campaignId])).status;

  beforeAll(async () => {
    // The control server composes and starts the campaign; it sends nothing (its sender is off).
    control = await bootServer({ campaignWorkers: false, channel: new SandboxProvider(null), sweepSnoozes: false, rollups: false });
    db = new pg.Pool({ connectionString: control.db.url, max: 2 });
    org = new OrgBuilder(control.app, 'Kill Co');
    W = org.workspace('West');
    marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
    const group = (await ok(marketer, `mutation($w: ID!) { createCampaignGroup(workspaceId: $w, name: "Everyone") { id } }`, { w: W.id })).createCampaignGroup.id as string;
    // The contacts, the group and the opt-outs, set-based (what is under test is the sending, not the import).
    const phones = `{${Array.from({ length: RECIPIENTS }, (_, i) => phoneOf(i)).join(',')}}`;
    await db.query(
      `with c as (
         insert into contacts (id, organization_id, workspace_id, first_name, phone)
         select gen_random_uuid(), $1, $2, 'P' || n, p from unnest($3::text[]) with ordinality as x(p, n) returning id)
       insert into campaign_group_members (id, organization_id, group_id, contact_id) select gen_random_uuid(), $1, $4, id from c`,
      [org.id, W.id, phones, group],
    );
    await db.query(
      `insert into opt_outs (id, organization_id, workspace_id, address)
       select gen_random_uuid(), $1, case when i % 2 = 0 then $2::uuid end, '+1555' || substr((1000000 + i)::text, 2) from generate_series(0, $3 - 1) as i`,
      [org.id, W.id, OPTED_OUT],
    );
    campaignId = (await ok(marketer, `mutation($w: ID!, $g: ID!) { createCampaign(workspaceId: $w, input: { name: "Ten thousand", messageTemplate: "Hi {{contact.firstName}}, doors open at 9", targetGroupIds: [$g] }) { id } }`, { w: W.id, g: group })).createCampaign.id;
    await ok(marketer, `mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id: campaignId });
  }, 180_000);

  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    await db?.end();
    await control?.close();
  });

  it('sends each reachable contact exactly once across a SIGKILL and a restart, and no opted-out one', { timeout: 300_000 }, async () => {
    // The first process resumes the RUNNING campaign at boot; it is killed once half the sends are recorded.
    const first = spawnSender();
    await waitForReady(first, 120_000);
    await eventually(recorded, (n) => n >= (RECIPIENTS - OPTED_OUT) / 2, { what: 'half the sends', timeoutMs: 120_000, intervalMs: 10 });
    first.proc.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const atKill = await recorded();
    const inFlight = Number((await one<{ n: string }>(`select count(*) as n from campaign_recipients where campaign_id = $1 and status = 'SENDING'`, [campaignId])).n);
    expect(atKill).toBeLessThan(RECIPIENTS - OPTED_OUT);
    expect(await status()).toBe('RUNNING');

    // The second process resumes where the first stopped (recipients it left SENDING once their lease runs out).
    const second = spawnSender();
    await waitForReady(second, 120_000);
    await eventually(status, (s) => s === 'COMPLETED', { what: 'the campaign to complete', timeoutMs: 180_000, intervalMs: 100 });

    const calls = await one<{ calls: string; phones: string; keys: string; phones_with_two_keys: string; opted_out_sent: string }>(
      `select count(*) as calls, count(distinct to_phone) as phones, count(distinct message_id) as keys,
              (select count(*) from (select to_phone from ${SANDBOX_SENDS_TABLE} group by to_phone having count(distinct message_id) > 1) t) as phones_with_two_keys,
              (select count(*) from ${SANDBOX_SENDS_TABLE} s join opt_outs o on o.address = s.to_phone) as opted_out_sent
         from ${SANDBOX_SENDS_TABLE}`,
    );
    console.log(`broadcast-kill: ${calls.calls} provider calls for ${calls.phones} phones; ${atKill} recorded at the kill, ${inFlight} recipients then SENDING (sent again with the same idempotency key)`);
    // Exactly the 9,500 reachable phones, each under one idempotency key (the message id): a call repeated after
    // the kill carries the key of the first, so the provider delivers it once.
    expect(Number(calls.phones)).toBe(RECIPIENTS - OPTED_OUT);
    expect(Number(calls.keys)).toBe(RECIPIENTS - OPTED_OUT);
    expect(Number(calls.phones_with_two_keys)).toBe(0);
    expect(Number(calls.opted_out_sent)).toBe(0);
    // Only what was in flight at the kill may have been asked for twice.
    expect(Number(calls.calls) - (RECIPIENTS - OPTED_OUT)).toBeLessThanOrEqual(inFlight);

    const ledger = await one<{ sent: string; skipped_ws: string; skipped_org: string; other: string; messages: string; threads: string }>(
      `select count(*) filter (where status = 'SENT') as sent,
              count(*) filter (where status = 'SKIPPED' and skip_reason = 'OPTED_OUT_WORKSPACE') as skipped_ws,
              count(*) filter (where status = 'SKIPPED' and skip_reason = 'OPTED_OUT_ORGANIZATION') as skipped_org,
              count(*) filter (where status not in ('SENT', 'SKIPPED')) as other,
              (select count(*) from messages m join threads t on t.id = m.thread_id where t.campaign_id = $1) as messages,
              (select count(*) from threads where campaign_id = $1) as threads
         from campaign_recipients where campaign_id = $1`,
      [campaignId],
    );
    expect(ledger).toEqual({ sent: String(RECIPIENTS - OPTED_OUT), skipped_ws: String(OPTED_OUT / 2), skipped_org: String(OPTED_OUT / 2), other: '0', messages: String(RECIPIENTS - OPTED_OUT), threads: String(RECIPIENTS - OPTED_OUT) });
    const progress = (await ok(marketer, `query($id: ID!) { campaignProgressNow(id: $id) { total sent queued skippedOptedOut status } }`, { id: campaignId })).campaignProgressNow;
    expect(progress).toEqual({ total: RECIPIENTS, sent: RECIPIENTS - OPTED_OUT, queued: 0, skippedOptedOut: OPTED_OUT, status: 'COMPLETED' });
  });
});
