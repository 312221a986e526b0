/**
 * Ingest: persisted `sendMessage` mutations per second at concurrency 32, driven over HTTP by a load client in
 * a second process, against the raw insert of the same message rows through the server's own pg pool.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { OrgBuilder } from '../tests/support/fixtures';
import { Role } from '../server/src/modules/identity/permissions';
import { median, p99, timed, type BenchContext, type BenchRow } from './lib/report';
import { createMigratedDatabase, sql, startInProcess } from './lib/setup';

const CONCURRENCY = 32;
const THREADS = 256;

interface ClientResult {
  latencies: number[];
  elapsedMs: number;
  failures: number;
  firstError: string;
}

async function runClient(job: Record<string, unknown>): Promise<ClientResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(__dirname, 'ingest-client.js'), JSON.stringify(job)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  return JSON.parse(stdout) as ClientResult;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const url = await createMigratedDatabase(ctx.adminDatabaseUrl, 'switchboard_bench_ingest');
  const app = await startInProcess(url);
  try {
    const org = new OrgBuilder(app, 'Ingest Co');
    const workspace = org.workspace('Dispatch');
    const sender = await org.login(await org.user('Sender', [{ workspace, roles: [Role.SUPERVISOR] }]));
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
    const conn = app.orm.em.getConnection();
    const insertRaw = (i: number, round: number) =>
      conn.execute(
        `insert into messages (id, created_at, organization_id, workspace_id, thread_id, direction, body, status, author_id, idempotency_key)
         values (gen_random_uuid(), now(), ?, ?, ?, 'OUTBOUND', ?, 'QUEUED', ?, ?)`,
        [org.id, workspace.id, threadIds[i % threadIds.length], `Your order ${i} is on its way`, sender.id, `raw-${round}-${i}`],
      );

    await runClient({ url: app.url, token: sender.token, threadIds, count: 300, concurrency: CONCURRENCY, tag: 'warm' });
    await timed(300, CONCURRENCY, (i) => insertRaw(i, -1));

    // Interleaved rounds, so drift on a noisy machine hits both sides alike.
    const sendRates: number[] = [];
    const rawRates: number[] = [];
    const sendLatencies: number[] = [];
    const rawLatencies: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const result = await runClient({ url: app.url, token: sender.token, threadIds, count, concurrency: CONCURRENCY, tag: `r${round}` });
      if (result.failures) throw new Error(`${result.failures} sendMessage calls failed: ${result.firstError}`);
      sendRates.push((count / result.elapsedMs) * 1000);
      sendLatencies.push(...result.latencies);
      const t0 = performance.now();
      rawLatencies.push(...(await timed(count, CONCURRENCY, (i) => insertRaw(i, round))));
      rawRates.push((count / (performance.now() - t0)) * 1000);
      ctx.log(`ingest round ${round + 1}/${rounds}: sendMessage ${sendRates.at(-1)!.toFixed(0)}/s, raw insert ${rawRates.at(-1)!.toFixed(0)}/s`);
    }
    const rate = median(sendRates);
    const rawRate = median(rawRates);
    return [
      {
        benchmark: 'ingest',
        case: `sendMessage, concurrency ${CONCURRENCY}, ${rounds}x${count}`,
        unit: 'msg/s',
        median: rate,
        p99: null,
        baseline: 'raw INSERT, same pg pool',
        baselineMedian: rawRate,
        baselineP99: null,
        ratio: rate / rawRate,
        target: '≥ 0.33x raw',
        met: rate / rawRate >= 1 / 3,
      },
      {
        benchmark: 'ingest',
        case: `sendMessage latency, concurrency ${CONCURRENCY}`,
        unit: 'ms',
        median: median(sendLatencies),
        p99: p99(sendLatencies),
        baseline: 'raw INSERT, same pg pool',
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
