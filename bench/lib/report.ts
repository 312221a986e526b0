/** One printed row: a measurement, the baseline measured in the same run, and the target it is held to. */
export interface BenchRow {
  /** fan-out, ingest, inbox, memory, authorisation */
  benchmark: string;
  /** What was measured, e.g. "N=10000, one process" or "threads(first: 50) status=OPEN". */
  case: string;
  unit: string;
  median: number;
  p99: number | null;
  baseline: string;
  baselineMedian: number | null;
  baselineP99: number | null;
  /** Measured / baseline on the figure the target names (p99 for latency, median for throughput). */
  ratio: number | null;
  target: string;
  met: boolean | null;
  note?: string;
}

export interface BenchContext {
  quick: boolean;
  /** Postgres server URL with the maintenance database (the bench creates its own databases next to it). */
  adminDatabaseUrl: string;
  redisUrl: string;
  log(message: string): void;
}

/** The q-quantile (0..1) by nearest rank of an unsorted sample. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: readonly number[]) => quantile(values, 0.5);
export const p99 = (values: readonly number[]) => quantile(values, 0.99);

/** Runs `fn` `count` times with at most `concurrency` in flight; returns each call's duration in ms. */
export async function timed(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const durations: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await fn(i);
        durations.push(performance.now() - t0);
      }
    }),
  );
  return durations;
}

const fmt = (n: number | null, unit = '') => (n === null || Number.isNaN(n) ? '-' : `${n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)}${unit}`);

/** A Markdown table (also readable as plain text on a terminal). */
export function renderTable(rows: readonly BenchRow[]): string {
  const header = ['benchmark', 'case', 'median', 'p99', 'baseline', 'baseline median', 'baseline p99', 'ratio', 'target', 'met'];
  const lines = rows.map((r) => [
    r.benchmark,
    r.case,
    `${fmt(r.median)} ${r.unit}`,
    r.p99 === null ? '-' : `${fmt(r.p99)} ${r.unit}`,
    r.baseline,
    r.baselineMedian === null ? '-' : `${fmt(r.baselineMedian)} ${r.unit}`,
    r.baselineP99 === null ? '-' : `${fmt(r.baselineP99)} ${r.unit}`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target,
    r.met === null ? '-' : r.met ? 'yes' : 'NO',
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}
