/**
 * Fan-out: one `sendMessage` delivered to N authenticated graphql-ws subscribers of a thread, end to end,
 * against a bare `ws` server broadcasting the same payload to the same N sockets; plus two server processes
 * sharing Postgres and Redis. Memory per idle subscribed connection is measured on the way (RSS delta).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ensureDataset, sessionFor, type Dataset } from './lib/dataset';
import { median, p99, type BenchContext, type BenchRow } from './lib/report';
import { MAIN_JS, ROOT, rssKb, spawnServer, sql, type ServerProcess } from './lib/setup';
import type { ClientCommand, ClientReply } from './load-client';

export const SUBSCRIPTION = `subscription($t: ID!) { threadEvents(threadId: $t) { cursor type message { id body status } } }`;
const SEND = `mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`;
const RAISE_FILES = 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"';

export interface LoadClient {
  request(command: ClientCommand): Promise<ClientReply & { ok: true }>;
  stop(): void;
  /** The client's node process (bash execs it). */
  pid: number;
}

/** The load client as its own process, file limit raised, talking over IPC. */
export function startClient(): LoadClient {
  const proc: ChildProcess = spawn('bash', ['-c', RAISE_FILES, process.execPath, path.join(__dirname, 'load-client.js')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let chain = Promise.resolve() as Promise<unknown>;
  return {
    request: (command) => {
      const next = chain.then(
        () =>
          new Promise<ClientReply & { ok: true }>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`load client: no reply to ${command.cmd} in 180 s`)), 180_000);
            proc.once('message', (reply: ClientReply) => {
              clearTimeout(timer);
              if (reply.ok) resolve(reply);
              else reject(new Error(`load client: ${reply.error}`));
            });
            proc.send(command);
          }),
      );
      chain = next.catch(() => undefined);
      return next;
    },
    stop: () => proc.kill('SIGTERM'),
    pid: proc.pid!,
  };
}

/** The bare ws server as its own process. */
export async function startBaseline(): Promise<{ url: string; pid: number; stop(): void }> {
  const proc = spawn('bash', ['-c', RAISE_FILES, process.execPath, path.join(__dirname, 'ws-baseline.js')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', () => reject(new Error('ws baseline exited')));
  });
  return { url: `127.0.0.1:${port}`, pid: proc.pid!, stop: () => proc.kill('SIGTERM') };
}

/** Waits until the servers report at least `n` active subscriptions in total (from /metrics). */
export async function subscriptionsActive(servers: ServerProcess[], n: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    let total = 0;
    for (const s of servers) {
      const text = await (await fetch(s.url.replace(/\/graphql$/, '/metrics'))).text();
      total += Number(/^switchboard_active_subscriptions(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    }
    if (total >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${total} of ${n} subscriptions active after 60 s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The RSS of a process once it has settled (sampled until two readings a second apart agree within 1%). */
export async function settledRss(pid: number): Promise<number> {
  let previous = rssKb(pid);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = rssKb(pid);
    if (Math.abs(now - previous) / previous < 0.01) return now;
    previous = now;
  }
  return previous;
}

async function rounds(client: LoadClient, count: number, trigger: (marker: string) => ClientCommand & { cmd: 'round' }): Promise<{ latencies: number[]; missing: number }> {
  const latencies: number[] = [];
  let missing = 0;
  for (let r = -1; r < count; r++) {
    const reply = await client.request(trigger(`fanout-${randomUUID()}`));
    if (r >= 0) {
      latencies.push(...reply.latencies!);
      missing += reply.missing!;
    }
    // Let the previous round's delivery receipts (two more events) pass before the next send.
    await new Promise((res) => setTimeout(res, 1_200));
  }
  return { latencies, missing };
}

interface Series {
  /** Per size: latencies over all rounds and sockets, and sockets that missed a round. */
  bySize: Map<number, { latencies: number[]; missing: number }>;
  /** RSS growth per connection from none to the largest size, in KB, of the first process. */
  kbPerConnection: number;
  connectMs: number;
}

/** The bare ws server holding 1k, then 5k, then 10k sockets (growing), a few broadcasts at each size. */
async function bareSeries(sizes: number[], roundCount: number, payloadFor: (marker: string) => string): Promise<Series> {
  const server = await startBaseline();
  const client = startClient();
  try {
    const before = await settledRss(server.pid);
    const bySize = new Map<number, { latencies: number[]; missing: number }>();
    let connectMs = 0;
    for (const n of sizes) {
      connectMs += (await client.request({ cmd: 'connect', mode: 'bare', urls: [`ws://${server.url}/`], n, tokens: ['-'] })).connectMs!;
      bySize.set(
        n,
        await rounds(client, roundCount, (marker) => ({
          cmd: 'round',
          marker,
          trigger: { url: `http://${server.url}/broadcast`, body: JSON.stringify({ payload: payloadFor(marker) }) },
        })),
      );
    }
    const after = await settledRss(server.pid);
    await client.request({ cmd: 'close' });
    return { bySize, kbPerConnection: (after - before) / sizes.at(-1)!, connectMs };
  } finally {
    client.stop();
    server.stop();
  }
}

/** Switchboard server process(es) with 1k, then 5k, then 10k subscribers of one thread (growing). */
async function switchboardSeries(
  dataset: Dataset,
  sizes: number[],
  roundCount: number,
  setup: { threadId: string; tokens: string[]; senderToken: string; processes: number; redisUrl: string },
): Promise<Series> {
  const env = { DATABASE_URL: dataset.databaseUrl, ...(setup.processes > 1 ? { REDIS_URL: setup.redisUrl } : {}), NODE_ENV: 'test', GRAPHQL_IDE: 'false', LOG_LEVEL: 'warn' };
  const servers: ServerProcess[] = [];
  for (let i = 0; i < setup.processes; i++) servers.push(await spawnServer(env));
  const client = startClient();
  try {
    // One request first, so the measured RSS is of a warmed-up process.
    await fetch(servers[0]!.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    const before = await settledRss(servers[0]!.pid);
    const urls = servers.map((s) => s.url.replace(/^http/, 'ws'));
    const bySize = new Map<number, { latencies: number[]; missing: number }>();
    let connectMs = 0;
    let after = before;
    for (const n of sizes) {
      connectMs += (await client.request({ cmd: 'connect', mode: 'graphql', urls, n, tokens: setup.tokens, query: SUBSCRIPTION, variables: { t: setup.threadId } })).connectMs!;
      await subscriptionsActive(servers, n);
      if (n === sizes.at(-1)) after = await settledRss(servers[0]!.pid);
      bySize.set(
        n,
        await rounds(client, roundCount, (marker) => ({
          cmd: 'round',
          marker,
          trigger: { url: servers[0]!.url, token: setup.senderToken, body: JSON.stringify({ query: SEND, variables: { t: setup.threadId, b: marker } }) },
        })),
      );
    }
    await client.request({ cmd: 'close' });
    return { bySize, kbPerConnection: (after - before) / (sizes.at(-1)! / setup.processes), connectMs };
  } finally {
    client.stop();
    for (const s of servers) await s.stop();
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  if (!MAIN_JS) throw new Error('build first');
  const dataset = await ensureDataset(ctx, 'quick');
  const [thread] = await sql<{ id: string }>(
    dataset.databaseUrl,
    `select t.id from threads t join contacts c on c.id = t.contact_id
      where t.organization_id = $1 and t.workspace_id = $2 and t.status = 'OPEN' and c.phone not like '%0000' order by t.id desc limit 1`,
    [dataset.organizationId, dataset.workspaceIds[0]],
  );
  const tokens: string[] = [];
  for (let i = 0; i < 16; i++) tokens.push((await sessionFor(dataset, 'supervisor-0@bench.test')).token);
  const sender = await sessionFor(dataset, 'owner@bench.test');
  const setup = { threadId: thread!.id, tokens, senderToken: sender.token, processes: 1, redisUrl: ctx.redisUrl };
  // The same shape and size as Switchboard's `next` message for the event.
  const payloadFor = (marker: string) =>
    JSON.stringify({ id: '1', type: 'next', payload: { data: { threadEvents: { cursor: 'MTIzNDU2Nzg5OjEyMzQ1Njc4', type: 'MESSAGE_ADDED', message: { id: randomUUID(), body: marker, status: 'QUEUED' } } } } });

  const roundCount = ctx.quick ? 5 : 20;
  // BENCH_FANOUT_N=10000 narrows a development run to some sizes (the two-process case is then skipped).
  const sizes = process.env.BENCH_FANOUT_N ? process.env.BENCH_FANOUT_N.split(',').map(Number) : [1_000, 5_000, 10_000];
  const rows: BenchRow[] = [];
  const base = await bareSeries(sizes, roundCount, payloadFor);
  const subject = await switchboardSeries(dataset, sizes, roundCount, setup);
  ctx.log(`fan-out: connecting ${sizes.at(-1)} subscribers took ${(subject.connectMs / 1000).toFixed(0)} s (bare ws: ${(base.connectMs / 1000).toFixed(1)} s)`);
  const row = (caseName: string, s: { latencies: number[]; missing: number }, b: { latencies: number[] }, target: string, met: boolean | null): BenchRow => ({
    benchmark: 'fan-out',
    case: `${caseName}, ${roundCount} rounds${s.missing ? `, ${s.missing} missed` : ''}`,
    unit: 'ms',
    median: median(s.latencies),
    p99: p99(s.latencies),
    baseline: 'bare ws broadcast',
    baselineMedian: median(b.latencies),
    baselineP99: p99(b.latencies),
    ratio: p99(s.latencies) / p99(b.latencies),
    target,
    met,
  });
  for (const n of sizes) {
    const s = subject.bySize.get(n)!;
    const b = base.bySize.get(n)!;
    const ratio = p99(s.latencies) / p99(b.latencies);
    ctx.log(`fan-out N=${n}: p99 ${p99(s.latencies).toFixed(1)} ms vs bare ws ${p99(b.latencies).toFixed(1)} ms`);
    rows.push(row(`N=${n}, one process`, s, b, n === 10_000 ? 'p99 ≤ 2x bare ws' : '(10k is the target)', n === 10_000 ? ratio <= 2 && s.missing === 0 : null));
  }
  const memory = { subject: subject.kbPerConnection, baseline: base.kbPerConnection, n: sizes.at(-1)! };
  if (process.env.BENCH_FANOUT_N) return [...rows, memoryRow(memory)];

  rows.push(memoryRow(memory));
  const n2 = ctx.quick ? 5_000 : 10_000;
  try {
    const base2 = await bareSeries([n2], roundCount, payloadFor);
    const two = await switchboardSeries(dataset, [n2], roundCount, { ...setup, processes: 2 });
    ctx.log(`fan-out N=${n2}, two processes: p99 ${p99(two.bySize.get(n2)!.latencies).toFixed(1)} ms vs bare ws ${p99(base2.bySize.get(n2)!.latencies).toFixed(1)} ms`);
    rows.push(row(`N=${n2}, two processes + Redis`, two.bySize.get(n2)!, base2.bySize.get(n2)!, '(informational)', null));
  } catch (err) {
    // The one-process rows stand on their own; say what failed instead of losing them.
    ctx.log(`fan-out N=${n2}, two processes: FAILED (${(err as Error).message})`);
  }
  return rows;
}

function memoryRow(memory: { subject: number; baseline: number; n: number }): BenchRow {
  return {
    benchmark: 'memory',
    case: `RSS per idle subscribed connection, N=${memory.n}`,
    unit: 'KB',
    median: memory.subject,
    p99: null,
    baseline: 'bare ws socket',
    baselineMedian: memory.baseline,
    baselineP99: null,
    ratio: memory.subject / memory.baseline,
    target: '≤ 3x bare ws',
    met: memory.subject / memory.baseline <= 3,
  };
}
