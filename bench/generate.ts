/** `node dist/bench/generate.js [--quick]`: builds (or reuses) the benchmark data set and prints its size. */
import { ensureDataset } from './lib/dataset';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const dataset = await ensureDataset(
    {
      quick,
      adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      log: (m) => process.stdout.write(`${m}\n`),
    },
    quick ? 'quick' : 'full',
  );
  process.stdout.write(`${JSON.stringify(dataset.counts)} ${dataset.generatedMs === null ? '(reused)' : `generated in ${(dataset.generatedMs / 1000).toFixed(0)} s`}\n`);
}

main().catch((err) => {
  process.stderr.write(`generate: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
