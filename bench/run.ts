/**
 * `npm run bench [-- --quick] [-- --only=ingest,inbox]`: every benchmark against its baseline from the same
 * run, printed as one table. A full run also rewrites the results section of docs/BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderTable, type BenchContext, type BenchRow } from './lib/report';
import { ROOT, sql } from './lib/setup';

/** In the order they run: the in-process ones first, the socket-heavy ones last. */
const BENCHMARKS = ['inbox', 'reports', 'authorisation', 'campaign', 'ingest', 'fanout', 'connect', 'memory'] as const;
const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

function parseArgs(argv: string[]): { quick: boolean; only: Set<string> | null; write: boolean } {
  const quick = argv.includes('--quick');
  const onlyArg = argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : null;
  return { quick, only, write: argv.includes('--write') || (!quick && !only) };
}

async function machine(adminUrl: string): Promise<string> {
  const [pgVersion] = await sql<{ server_version: string }>(adminUrl, 'show server_version');
  const cpu = os.cpus();
  return `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, Postgres ${pgVersion?.server_version}`;
}

function writeResults(section: string): void {
  const file = path.join(ROOT, 'docs/BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`;
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next = start >= 0 && end > start ? current.slice(0, start + START.length) + '\n' + section + '\n' + current.slice(end) : `${current}\n${START}\n${section}\n${END}\n`;
  fs.writeFileSync(file, next);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const ctx: BenchContext = {
    quick: args.quick,
    adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    log: (message) => process.stdout.write(`  ${message}\n`),
  };
  const rows: BenchRow[] = [];
  const failures: string[] = [];
  for (const name of BENCHMARKS) {
    if (args.only && !args.only.has(name)) continue;
    const file = path.join(__dirname, `${name}.js`);
    if (!fs.existsSync(file)) continue;
    process.stdout.write(`\n== ${name}\n`);
    const t0 = Date.now();
    try {
      const mod = (await import(file)) as { run(ctx: BenchContext): Promise<BenchRow[]> };
      const produced = await mod.run(ctx);
      rows.push(...produced);
      process.stdout.write(`${renderTable(produced)}\n  (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message}`);
      process.stdout.write(`  FAILED: ${(err as Error).stack ?? err}\n`);
    }
  }
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const header = [
    `Run: ${new Date().toISOString().slice(0, 10)}, \`${command}\`, ${seconds} s.`,
    `Machine: ${await machine(ctx.adminDatabaseUrl)}.`,
  ].join('\n');
  const table = renderTable(rows);
  process.stdout.write(`\n${header}\n\n${table}\n`);
  if (failures.length) process.stdout.write(`\nfailed: ${failures.join('; ')}\n`);
  if (args.write && !failures.length) {
    writeResults(`${header}\n\n${table}\n`);
    process.stdout.write('\nwrote docs/BENCHMARKS.md\n');
  }
  // Open handles (pools, sockets of a failed case) must not keep a finished run alive.
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
