/**
 * Ingest: persisted `sendMessage` mutations per second at concurrency 32 (delivery receipts included: the
 * sandbox channel reports SENT and DELIVERED for each), and the inbound path (`ingestInboundMessage` with an
 * API key, the signed webhook), driven over HTTP by a load client in a second process, against the minimum a
 * send must write as one raw transaction through the server's own pool at the same concurrency: the
 * event-writer lock, INSERT the message, UPDATE the thread, INSERT the event row.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { OrgBuilder } from '../tests/support/fixtures';
import { Role } from '../server/src/modules/identity/permissions';
import { median, p99, timed, type BenchContext, type BenchRow } from './lib/report';
import { createMigratedDatabase, sql, startInProcess } from './lib/setup';
import { TAKE_EVENT_WRITER_LOCK } from '../server/src/db/event-writer-lock';
import { postgresCpuByPid, postgresCpuSince } from './lib/cpu';

const CONCURRENCY = 32;
const THREADS = 256;
type Mode = 'send' | 'ingest' | 'webhook' | 'floor';
/**
 * `--ingest-modes=ingest,webhook` measures only those paths (with the raw baseline), so a `--cpu-prof` profile
 * of the run shows one path at a time. Default: all three.
 */
function modes(): Set<Mode> {
  const arg = process.argv.find((a) => a.startsWith('--ingest-modes='));
  return new Set((arg ? arg.slice('--ingest-modes='.length).split(',') : ['send', 'ingest', 'webhook', 'floor']) as Mode[]);
}

interface ClientResult {
  latencies: number[];
  elapsedMs: number;
  failures: number;
  firstError: string;
  cpuMs: number;
}

/** CPU per message of one phase, by process: this (server) process, every Postgres backend, the load client. */
interface CpuSplit {
  server: number;
  postgres: number;
  client: number;
}

/** Runs `phase` and returns what it cost each process per message (the client reports its own). */
async function cpuPerMessage(n: number, phase: () => Promise<number>): Promise<CpuSplit> {
  const server0 = process.cpuUsage();
  // Every Postgres process, not only this database's backends: the WAL writer's flushes are the commits' cost.
  const pg0 = postgresCpuByPid();
  const clientMs = await phase();
  const server = process.cpuUsage(server0);
  return { server: (server.user + server.system) / 1000 / n, postgres: postgresCpuSince(pg0, postgresCpuByPid()) / n, client: clientMs / n };
}
const fmtCpu = (c: CpuSplit) => `server ${c.server.toFixed(2)} + postgres ${c.postgres.toFixed(2)} + client ${c.client.toFixed(2)} ms`;

async function runClient(job: Record<string, unknown>): Promise<ClientResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(__dirname, 'ingest-client.js'), JSON.stringify(job)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  return JSON.parse(stdout) as ClientResult;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  // SB_BENCH_INGEST_DB: another name, so two checkouts can run this bench at once without dropping each other's database.
  const url = await createMigratedDatabase(ctx.adminDatabaseUrl, process.env.SB_BENCH_INGEST_DB ?? 'switchboard_bench_ingest');
  const app = await startInProcess(url);
  try {
    const org = new OrgBuilder(app, 'Ingest Co');
    const workspace = org.workspace('Dispatch');
    const sender = await org.login(await org.user('Sender', [{ workspace, roles: [Role.SUPERVISOR] }]));
    const admin = await org.login(await org.user('Admin', [{ workspace, roles: [Role.ADMIN] }]));
    const adminCall = async (query: string) => {
      const res = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` }, body: JSON.stringify({ query, variables: { w: workspace.id } }) });
      const body = (await res.json()) as { data?: Record<string, { secret: string }>; errors?: unknown };
      if (!body.data) throw new Error(`bench setup failed: ${JSON.stringify(body.errors)}`);
      return Object.values(body.data)[0]!.secret;
    };
    const ingestKey = await adminCall(`mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "bench gateway", permissions: [MESSAGES_INGEST] }) { secret } }`);
    const webhookSecret = await adminCall(`mutation($w: ID!) { rotateWebhookSecret(workspaceId: $w) { secret } }`);
    // Many threads, so concurrent sends do not queue on one thread's row lock.
    const threadIds = (
      await sql<{ id: string }>(
        url,
        `with c as (
           insert into contacts (id, created_at, updated_at, organization_id, workspace_id, phone, custom_fields)
           select gen_random_uuid(), now(), now(), $1, $2, '+1555' || lpad(g::text, 7, '0'), '{}' from generate_series(1, $3) g
           returning id, organization_id, workspace_id)
         insert into threads (id, created_at, organization_id, workspace_id, contact_id, status, archived, needs_response, last_activity_at)
         select gen_random_uuid(), now(), organization_id, workspace_id, id, 'OPEN', false, true, now() from c returning id`,
        [org.id, workspace.id, THREADS],
      )
    ).map((r) => r.id);

    const count = ctx.quick ? 600 : 2_000;
    const rounds = ctx.quick ? 2 : 3;
    const phones = Array.from({ length: THREADS }, (_, i) => `+1555${String(i + 1).padStart(7, '0')}`);
    const knex = app.orm.em.getConnection().getKnex();
    // The minimum a send writes, as one transaction on the server's pool (every event writer takes the lock).
    const insertRaw = (i: number, round: number) =>
      knex.transaction(async (trx) => {
        const threadId = threadIds[i % threadIds.length]!;
        const body = `Your order ${i} is on its way`;
        await trx.raw(TAKE_EVENT_WRITER_LOCK);
        await trx.raw(
          `insert into messages (id, created_at, organization_id, workspace_id, thread_id, direction, body, status, author_id, idempotency_key)
           values (gen_random_uuid(), now(), ?, ?, ?, 'OUTBOUND', ?, 'QUEUED', ?, ?)`,
          [org.id, workspace.id, threadId, body, sender.id, `raw-${round}-${i}`],
        );
        await trx.raw(`update threads set last_activity_at = now(), last_message_preview = ?, needs_response = false where organization_id = ? and id = ?`, [body, org.id, threadId]);
        await trx.raw(`insert into events (organization_id, workspace_id, type, thread_id, payload) values (?, ?, 'MESSAGE_ADDED', ?, ?::jsonb)`, [
          org.id,
          workspace.id,
          threadId,
          JSON.stringify({ message: { id: `raw-${round}-${i}`, body } }),
        ]);
      });

    await runClient({ url: app.url, token: sender.token, threadIds, count: 300, concurrency: CONCURRENCY, tag: 'warm' });
    await timed(300, CONCURRENCY, (i) => insertRaw(i, -1));
    // A serving database has statistics; this one was created a moment ago. Without them the planner picks any
    // index with the right leading columns (the inbound path's external-id probe scanned a workspace's messages).
    await sql(url, 'analyze');

    // Interleaved rounds, so drift on a noisy machine hits both sides alike.
    const sendRates: number[] = [];
    const ingestRates: number[] = [];
    const webhookRates: number[] = [];
    const rawRates: number[] = [];
    const sendLatencies: number[] = [];
    const rawLatencies: number[] = [];
    const inboundCount = Math.round(count / 2);
    const cpu: Record<Mode | 'raw', CpuSplit[]> = { send: [], ingest: [], webhook: [], floor: [], raw: [] };
    const floorRates: number[] = [];
    const rateOf = async (n: number, job: Record<string, unknown> & { mode: Mode }) => {
      let result: ClientResult | undefined;
      cpu[job.mode].push(
        await cpuPerMessage(n, async () => {
          result = await runClient({ url: app.url, threadIds, count: n, concurrency: CONCURRENCY, ...job });
          return result.cpuMs;
        }),
      );
      if (result!.failures) throw new Error(`${result!.failures} ${String(job.mode)} calls failed: ${result!.firstError}`);
      return { rate: (n / result!.elapsedMs) * 1000, latencies: result!.latencies };
    };
    const only = modes();
    for (let round = 0; round < rounds; round++) {
      if (only.has('send')) {
        const send = await rateOf(count, { mode: 'send', token: sender.token, tag: `r${round}` });
        sendRates.push(send.rate);
        sendLatencies.push(...send.latencies);
      }
      // The receipts of those sends are part of their cost: let them land before the next measurement.
      if (only.has('ingest')) ingestRates.push((await rateOf(inboundCount, { mode: 'ingest', token: ingestKey, workspaceId: workspace.id, phones, tag: `r${round}` })).rate);
      if (only.has('webhook')) webhookRates.push((await rateOf(inboundCount, { mode: 'webhook', token: '', workspaceId: workspace.id, secret: webhookSecret, phones, tag: `r${round}` })).rate);
      // Not a target: the floor under every GraphQL request (authentication, Express, Apollo), for the reading.
      if (only.has('floor')) floorRates.push((await rateOf(count, { mode: 'floor', token: sender.token, tag: `r${round}` })).rate);
      const t0 = performance.now();
      cpu.raw.push(
        await cpuPerMessage(count, async () => {
          rawLatencies.push(...(await timed(count, CONCURRENCY, (i) => insertRaw(i, round))));
          return 0;
        }),
      );
      rawRates.push((count / (performance.now() - t0)) * 1000);
      ctx.log(
        `ingest round ${round + 1}/${rounds}: sendMessage ${sendRates.at(-1)?.toFixed(0) ?? '-'}/s, ingestInboundMessage ${ingestRates.at(-1)?.toFixed(0) ?? '-'}/s, webhook ${webhookRates.at(-1)?.toFixed(0) ?? '-'}/s, GraphQL floor ${floorRates.at(-1)?.toFixed(0) ?? '-'}/s, raw send transaction ${rawRates.at(-1)!.toFixed(0)}/s`,
      );
    }
    for (const mode of ['send', 'ingest', 'webhook', 'floor', 'raw'] as const) {
      for (const [round, split] of cpu[mode].entries()) ctx.log(`ingest CPU per message, ${mode} round ${round + 1}: ${fmtCpu(split)}`);
    }
    const rawRate = median(rawRates);
    const baseline = 'raw send transaction (lock, INSERT message, UPDATE thread, INSERT event), same pool';
    const throughput = (name: string, rates: number[]): BenchRow => ({
      benchmark: 'ingest',
      case: `${name}, concurrency ${CONCURRENCY}, ${rounds} rounds`,
      unit: 'msg/s',
      median: median(rates),
      p99: null,
      baseline,
      baselineMedian: rawRate,
      baselineP99: null,
      ratio: median(rates) / rawRate,
      target: '≥ 0.5x raw',
      met: median(rates) / rawRate >= 0.5,
    });
    const rows: BenchRow[] = [];
    if (only.has('send')) rows.push(throughput(`sendMessage (receipts included) x${count}`, sendRates));
    if (only.has('ingest')) rows.push(throughput(`ingestInboundMessage x${inboundCount}`, ingestRates));
    if (only.has('webhook')) rows.push(throughput(`signed inbound webhook x${inboundCount}`, webhookRates));
    if (only.has('floor')) rows.push({ ...throughput(`GraphQL request floor: { __typename } with a session x${count}`, floorRates), target: '(informational)', met: null });
    if (!only.has('send')) return rows;
    return [
      ...rows,
      {
        benchmark: 'ingest',
        case: `sendMessage latency, concurrency ${CONCURRENCY}`,
        unit: 'ms',
        median: median(sendLatencies),
        p99: p99(sendLatencies),
        baseline,
        baselineMedian: median(rawLatencies),
        baselineP99: p99(rawLatencies),
        ratio: p99(sendLatencies) / p99(rawLatencies),
        target: '(informational)',
        met: null,
      },
    ];
  } finally {
    await app.stop();
  }
}
