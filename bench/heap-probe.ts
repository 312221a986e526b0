/**
 * What an idle subscribed socket costs on the server's heap: one server process started with
 * `--heapsnapshot-signal=SIGUSR2`, a heap snapshot with one subscribed socket and another with N more (the
 * fan-out bench's subscription, the same load client), and the difference per socket by object type and
 * constructor. Also prints the RSS difference per socket. Development tool (not part of `npm run bench`):
 *   node dist/bench/heap-probe.js [N=2000]
 */
import fs from 'node:fs';
import path from 'node:path';
import { ensureDataset, subscribeTarget } from './lib/dataset';
import { ROOT, spawnServer } from './lib/setup';
import { SUBSCRIPTION, settledRss, startClient, subscriptionsActive } from './fanout';
import type { BenchContext } from './lib/report';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[][] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count per "type:name" of every node in a snapshot file. */
function aggregate(file: string): Map<string, { size: number; count: number }> {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    let name = snap.strings[snap.nodes[i + nameAt]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (type === 'code' || type === 'hidden' || type === 'array') name = name.slice(0, 40);
    const key = `${type}:${name.slice(0, 80)}`;
    const entry = out.get(key) ?? { size: 0, count: 0 };
    entry.size += snap.nodes[i + sizeAt]!;
    entry.count++;
    out.set(key, entry);
  }
  return out;
}

async function snapshot(pid: number, label: string): Promise<string> {
  const before = new Set(fs.readdirSync(ROOT).filter((f) => f.endsWith('.heapsnapshot')));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const made = fs.readdirSync(ROOT).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!made) continue;
    const file = path.join(ROOT, made);
    const size = fs.statSync(file).size;
    await new Promise((r) => setTimeout(r, 1_500));
    if (fs.statSync(file).size === size && size > 0) {
      const target = `/tmp/heap-probe-${label}.heapsnapshot`;
      fs.renameSync(file, target);
      return target;
    }
  }
  throw new Error('no heap snapshot written');
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const ctx: BenchContext = {
    quick: true,
    adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    log: (m) => process.stdout.write(`  ${m}\n`),
  };
  const dataset = await ensureDataset(ctx, 'quick');
  const { thread, tokens } = await subscribeTarget(dataset);
  const server = await spawnServer({ DATABASE_URL: dataset.databaseUrl, GRAPHQL_IDE: 'false' }, ['--heapsnapshot-signal=SIGUSR2']);
  const client = startClient();
  try {
    const url = server.url.replace(/^http/, 'ws');
    const connect = (total: number) => client.request({ cmd: 'connect', mode: 'graphql', urls: [url], n: total, tokens, query: SUBSCRIPTION, variables: { t: thread!.id } });
    await connect(16);
    await subscriptionsActive([server], 16);
    const rssA = await settledRss(server.pid);
    const a = aggregate(await snapshot(server.pid, 'a'));
    await connect(16 + n);
    await subscriptionsActive([server], 16 + n);
    const rssB = await settledRss(server.pid);
    const b = aggregate(await snapshot(server.pid, 'b'));
    const rows: Array<{ key: string; size: number; count: number }> = [];
    let total = 0;
    for (const [key, vb] of b) {
      const va = a.get(key) ?? { size: 0, count: 0 };
      const size = vb.size - va.size;
      total += size;
      rows.push({ key, size, count: vb.count - va.count });
    }
    for (const [key, va] of a) if (!b.has(key)) total -= va.size;
    rows.sort((x, y) => y.size - x.size);
    process.stdout.write(`N=${n}: heap ${(total / n / 1024).toFixed(2)} KB per socket; RSS ${((rssB - rssA) / n).toFixed(2)} KB per socket\n`);
    for (const row of rows.slice(0, 60)) {
      process.stdout.write(`${(row.size / n).toFixed(0).padStart(6)} B  ${(row.count / n).toFixed(2).padStart(6)} /socket  ${row.key}\n`);
    }
  } finally {
    await client.request({ cmd: 'close' }).catch(() => undefined);
    client.stop();
    await server.stop();
  }
  process.exit(0);
}

void main();
