/**
 * The cost of authorisation: the 50-thread page executed against the schema with every @auth check and
 * against the same schema built without them, same context and data, iterations interleaved.
 */
import { buildSchema } from '../server/src/graphql/schema';
import { ensureDataset, sessionFor } from './lib/dataset';
import { prepare, principalFor, run as runOperation } from './lib/execute';
import { median, p99, type BenchContext, type BenchRow } from './lib/report';
import { startInProcess } from './lib/setup';
import { THREAD_PAGE } from './inbox';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dataset = await ensureDataset(ctx, ctx.quick ? 'quick' : 'full');
  const app = await startInProcess(dataset.databaseUrl);
  try {
    const { token } = await sessionFor(dataset, 'supervisor-0@bench.test');
    const principal = await principalFor(app, token);
    const guarded = buildSchema();
    const open = buildSchema({ enforceAuth: false });
    const docGuarded = prepare(guarded, THREAD_PAGE);
    const docOpen = prepare(open, THREAD_PAGE);
    const variables = { w: dataset.workspaceIds[0], f: null };
    const iterations = ctx.quick ? 150 : 600;
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < iterations + 30; i++) {
      // Alternate which goes first, so neither always runs on a warmer cache.
      const order = i % 2 === 0 ? ([[guarded, docGuarded, on], [open, docOpen, off]] as const) : ([[open, docOpen, off], [guarded, docGuarded, on]] as const);
      for (const [schema, doc, sink] of order) {
        const t0 = performance.now();
        await runOperation(app, schema, doc, variables, principal);
        if (i >= 30) sink.push(performance.now() - t0);
      }
    }
    const ratio = median(on) / median(off);
    return [
      {
        benchmark: 'authorisation',
        case: `threads(first: 50) page, @auth on vs off`,
        unit: 'ms',
        median: median(on),
        p99: p99(on),
        baseline: 'same schema, no @auth',
        baselineMedian: median(off),
        baselineP99: p99(off),
        ratio,
        target: 'overhead < 10% (median)',
        met: ratio < 1.1,
      },
    ];
  } finally {
    await app.stop();
  }
}
