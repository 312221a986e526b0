/**
 * Campaign: a broadcast to N recipients (100k; 10k with --quick) through the sandbox channel, end to end
 * (`startCampaign` materialises the recipients, the sender sends them in batches, the campaign is COMPLETED),
 * in messages per second, against the raw INSERT of the same rows in the same run: per batch of the sender's
 * size, one transaction on the server's own pool inserting the threads and the messages (unnest arrays).
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { OrgBuilder } from '../tests/support/fixtures';
import { Role } from '../server/src/modules/identity/permissions';
import { SandboxProvider } from '../server/src/modules/inbox/channel';
import { renderFor } from '../server/src/modules/campaigns/template';
import { loadConfig } from '../server/src/config';
import { startSwitchboard } from '../server/src/app';
import { median, type BenchContext, type BenchRow } from './lib/report';
import { createMigratedDatabase, sql } from './lib/setup';

/** A Postgres text[] literal. */
const arr = (values: string[]) => `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
const TEMPLATE = 'Hi {{contact.firstName}}, the spring sale starts today: 20% off everything in store';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const recipients = ctx.quick ? 10_000 : 100_000;
  const rounds = ctx.quick ? 3 : 2;
  const batch = 1000;
  const url = await createMigratedDatabase(ctx.adminDatabaseUrl, 'switchboard_bench_campaign');
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', DATABASE_URL: url, LOG_LEVEL: 'silent', SEED_DEMO: 'false', CAMPAIGN_SEND_RATE: '1000000', CAMPAIGN_BATCH_SIZE: String(batch) });
  // Receipts held back: the figure is the send path, not the receipt path (the ingest row measures that).
  const app = await startSwitchboard(config, { logger: pino({ level: 'silent' }), migrate: false, channel: new SandboxProvider(null), rollups: false, sweepSnoozes: false });
  try {
    const org = new OrgBuilder(app, 'Campaign Co');
    const workspace = org.workspace('Retail');
    const marketer = await org.login(await org.user('Marketer', [{ workspace, roles: [Role.MARKETER] }]));
    const call = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
      const res = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${marketer.token}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data?: T; errors?: unknown };
      if (!body.data || body.errors) throw new Error(`bench call failed: ${JSON.stringify(body.errors)}`);
      return body.data;
    };
    const group = (await call<{ createCampaignGroup: { id: string } }>(`mutation($w: ID!) { createCampaignGroup(workspaceId: $w, name: "Everyone") { id } }`, { w: workspace.id })).createCampaignGroup.id;
    const contacts = await sql<{ id: string; first_name: string; phone: string }>(
      url,
      `with c as (
         insert into contacts (id, organization_id, workspace_id, first_name, phone)
         select gen_random_uuid(), $1, $2, 'Customer' || g, '+1555' || lpad(g::text, 7, '0') from generate_series(1, $3) g
         returning id, first_name, phone),
       m as (insert into campaign_group_members (id, organization_id, group_id, contact_id) select gen_random_uuid(), $1, $4, id from c)
       select * from c`,
      [org.id, workspace.id, recipients, group],
    );
    await sql(url, 'vacuum analyze');
    const knex = app.orm.em.getConnection().getKnex();

    const startMs: number[] = [];
    const broadcast = async (round: number): Promise<{ total: number; sending: number }> => {
      const id = (await call<{ createCampaign: { id: string } }>(`mutation($w: ID!, $g: ID!, $n: String!) { createCampaign(workspaceId: $w, input: { name: $n, messageTemplate: "${TEMPLATE}", targetGroupIds: [$g] }) { id } }`, { w: workspace.id, g: group, n: `Sale ${round}` })).createCampaign.id;
      const t0 = performance.now();
      await call(`mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id });
      const started = performance.now();
      startMs.push(started - t0);
      for (;;) {
        const [row] = await knex.raw<{ rows: Array<{ status: string }> }>(`select status from campaigns where id = ?`, [id]).then((r) => r.rows);
        if (row?.status === 'COMPLETED') break;
        if (performance.now() - t0 > 900_000) throw new Error(`broadcast ${round} did not complete within 15 minutes`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const ms = performance.now() - t0;
      const [sent] = await knex.raw<{ rows: Array<{ n: string }> }>(`select count(*) as n from campaign_recipients where campaign_id = ? and status = 'SENT'`, [id]).then((r) => r.rows);
      if (Number(sent!.n) !== recipients) throw new Error(`broadcast ${round} sent ${sent!.n} of ${recipients}`);
      return { total: (recipients / ms) * 1000, sending: (recipients / (performance.now() - started)) * 1000 };
    };
    // The same thread and message rows, inserted raw: one transaction per batch, set-based.
    const raw = async (): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < contacts.length; i += batch) {
        const slice = contacts.slice(i, i + batch);
        const threads = slice.map(() => randomUUID());
        const bodies = slice.map((c) => renderFor(TEMPLATE, { firstName: c.first_name, lastName: null, phone: c.phone, email: null, customFields: {} }));
        await knex.transaction(async (trx) => {
          await trx.raw(
            `insert into threads (id, created_at, organization_id, workspace_id, contact_id, status, last_activity_at, first_response_at, last_message_preview)
             select x.id, now(), ?, ?, x.contact_id, 'OPEN', now(), now(), x.preview from unnest(?::uuid[], ?::uuid[], ?::text[]) as x(id, contact_id, preview)`,
            [org.id, workspace.id, arr(threads), arr(slice.map((c) => c.id)), arr(bodies.map((b) => b.slice(0, 160)))],
          );
          await trx.raw(
            `insert into messages (id, created_at, organization_id, workspace_id, thread_id, direction, body, status, author_id, provider_message_id)
             select gen_random_uuid(), now(), ?, ?, x.thread_id, 'OUTBOUND', x.body, 'QUEUED', ?, x.pid from unnest(?::uuid[], ?::text[], ?::text[]) as x(thread_id, body, pid)`,
            [org.id, workspace.id, marketer.id, arr(threads), arr(bodies), arr(slice.map(() => `raw_${randomUUID()}`))],
          );
        });
      }
      return (contacts.length / (performance.now() - t0)) * 1000;
    };

    // Interleaved rounds, so drift on a noisy machine hits both sides alike.
    const sendRates: number[] = [];
    const totalRates: number[] = [];
    const rawRates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const r = await broadcast(round);
      sendRates.push(r.sending);
      totalRates.push(r.total);
      rawRates.push(await raw());
      ctx.log(
        `campaign round ${round + 1}/${rounds}: startCampaign ${(startMs.at(-1)! / 1000).toFixed(1)} s, sending ${r.sending.toFixed(0)} msg/s, start to COMPLETED ${r.total.toFixed(0)} msg/s; raw INSERT ${rawRates.at(-1)!.toFixed(0)} msg/s`,
      );
    }
    const baseline = `raw INSERT threads + messages, batches of ${batch}, same pool`;
    const row = (what: string, rates: number[], target: string, held: boolean): BenchRow => ({
      benchmark: 'campaign',
      case: `broadcast x${recipients / 1000}k, sandbox channel, ${what}, ${rounds} rounds`,
      unit: 'msg/s',
      median: median(rates),
      p99: null,
      baseline,
      baselineMedian: median(rawRates),
      baselineP99: null,
      ratio: median(rates) / median(rawRates),
      target,
      met: held ? median(rates) / median(rawRates) >= 0.5 : null,
    });
    return [row('sending (RUNNING to COMPLETED)', sendRates, '≥ 0.5x raw', true), row(`startCampaign included (median ${(median(startMs) / 1000).toFixed(1)} s)`, totalRates, '(informational)', false)];
  } finally {
    await app.stop();
  }
}
