/**
 * Durations are kept as a fixed histogram per rollup row, so a median or p90 over any set of rows is the
 * element-wise sum of their histograms (exact counts, approximate values: linear within one bucket).
 * Upper edges in seconds; the last bucket is open-ended.
 */
export const BUCKET_UPPER_SECONDS = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400, 172_800, 604_800] as const;
export const BUCKETS = BUCKET_UPPER_SECONDS.length + 1;

export function emptyHistogram(): number[] {
  return new Array<number>(BUCKETS).fill(0);
}

export function bucketOf(ms: number): number {
  const s = Math.max(0, ms) / 1000;
  const i = BUCKET_UPPER_SECONDS.findIndex((upper) => s < upper);
  return i === -1 ? BUCKETS - 1 : i;
}

/** The q-quantile (0..1) in seconds, interpolated inside its bucket; null for an empty histogram. */
export function quantileSeconds(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : BUCKET_UPPER_SECONDS[i - 1]!;
      const upper = BUCKET_UPPER_SECONDS[i];
      if (upper === undefined) return lower;
      return lower + ((upper - lower) * Math.max(0, rank - seen)) / n;
    }
    seen += n;
  }
  return BUCKET_UPPER_SECONDS[BUCKET_UPPER_SECONDS.length - 1]!;
}
