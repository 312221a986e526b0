/**
 * Connect (issue #16): N authenticated graphql-ws connections, each with one subscription, opened from another
 * process against a fresh server, timed until the server reports all N subscriptions active; against a bare `ws`
 * server accepting the same N sockets from the same client in the same run. The sockets present 16 session
 * tokens, so the server authenticates once per session (ConnectionRegistry.resolve), not once per socket.
 */
import { postgresCpuByPid, postgresCpuSince, processCpuMs } from './lib/cpu';
import { ensureDataset, subscribeTarget } from './lib/dataset';
import type { BenchContext, BenchRow } from './lib/report';
import { MAIN_JS, spawnServer } from './lib/setup';
import { startBaseline, startClient, subscriptionsActive, SUBSCRIPTION } from './fanout';

// What a connect costs the server whatever the load.
const serverCpuMs = processCpuMs;

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  if (!MAIN_JS) throw new Error('build first');
  const dataset = await ensureDataset(ctx, 'quick');
  const { thread, tokens } = await subscribeTarget(dataset);
  const n = process.env.BENCH_CONNECT_N ? Number(process.env.BENCH_CONNECT_N) : ctx.quick ? 5_000 : 10_000;

  // Baseline: the bare ws server, fresh, the same client process type and the same parallelism.
  let baselineMs: number;
  // The bare server's CPU per socket: the floor of accepting a socket on this machine (upgrade, 101, ws state).
  let baselineCpu: number;
  {
    const server = await startBaseline();
    const client = startClient();
    try {
      const bareCpu0 = processCpuMs(server.pid);
      baselineMs = (await client.request({ cmd: 'connect', mode: 'bare', urls: [`ws://${server.url}/`], n, tokens: ['-'] })).connectMs!;
      baselineCpu = processCpuMs(server.pid) - bareCpu0;
      await client.request({ cmd: 'close' });
    } finally {
      client.stop();
      server.stop();
    }
  }

  let acked: number;
  let subscribed: number;
  let serverCpu: number;
  // Where the wall time goes on a shared 2-core machine: the load client and Postgres share the cores too.
  let clientCpu: number;
  let pgCpu: number;
  {
    const dbName = new URL(dataset.databaseUrl).pathname.slice(1);
    const env = { DATABASE_URL: dataset.databaseUrl, NODE_ENV: 'test', GRAPHQL_IDE: 'false', LOG_LEVEL: 'warn' };
    // BENCH_SERVER_ARGS: node flags for the server process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const server = await spawnServer(env, process.env.BENCH_SERVER_ARGS?.split(' ').filter(Boolean) ?? []);
    const client = startClient();
    try {
      // One request first: the clock starts on a warmed-up process, as for the baseline's.
      await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      const cpu0 = serverCpuMs(server.pid);
      const clientCpu0 = processCpuMs(client.pid);
      const pgCpu0 = postgresCpuByPid(dbName);
      const t0 = performance.now();
      acked = (await client.request({ cmd: 'connect', mode: 'graphql', urls: [server.url.replace(/^http/, 'ws')], n, tokens, query: SUBSCRIPTION, variables: { t: thread!.id } })).connectMs!;
      await subscriptionsActive([server], n, 50);
      subscribed = performance.now() - t0;
      serverCpu = serverCpuMs(server.pid) - cpu0;
      clientCpu = processCpuMs(client.pid) - clientCpu0;
      pgCpu = postgresCpuSince(pgCpu0, postgresCpuByPid(dbName));
      await client.request({ cmd: 'close' });
    } finally {
      client.stop();
      await server.stop();
    }
  }
  ctx.log(`connect N=${n}: all acknowledged in ${(acked / 1000).toFixed(1)} s, all subscribed in ${(subscribed / 1000).toFixed(1)} s (bare ws: ${(baselineMs / 1000).toFixed(1)} s, its server ${(baselineCpu / n).toFixed(2)} ms CPU per socket); server CPU ${(serverCpu / 1000).toFixed(1)} s, ${(serverCpu / n).toFixed(2)} ms per socket; load client CPU ${(clientCpu / 1000).toFixed(1)} s, Postgres CPU ${(pgCpu / 1000).toFixed(1)} s (backends on the bench database)`);
  return [
    {
      benchmark: 'connect',
      case: `N=${n} authenticated graphql-ws sockets, one subscription each, 16 sessions, until all subscribed`,
      unit: 'ms',
      median: subscribed,
      p99: null,
      baseline: 'bare ws connect',
      baselineMedian: baselineMs,
      baselineP99: null,
      ratio: subscribed / baselineMs,
      target: n >= 10_000 ? '< 15 s at 10k' : '(10k is the target)',
      met: n >= 10_000 ? subscribed < 15_000 : null,
    },
    {
      benchmark: 'connect',
      case: `server CPU per socket, connect + subscribe (N=${n}, /proc of the server process)`,
      unit: 'ms',
      median: serverCpu / n,
      p99: null,
      baseline: '-',
      baselineMedian: null,
      baselineP99: null,
      ratio: null,
      target: '(informational: less load-dependent than the wall time)',
      met: null,
    },
  ];
}
