import DataLoader from 'dataloader';
import type { RequestContext } from './context';

/**
 * A DataLoader per request (and per delivered event), memoised in the context: list fields resolve in one
 * query per page instead of one per row.
 */
export function loaderFor<K, V>(
  ctx: RequestContext,
  name: string,
  batch: (keys: readonly K[]) => Promise<ReadonlyMap<K, V> | Map<K, V>>,
  fallback: V,
): DataLoader<K, V> {
  const key = `loader:${name}`;
  let loader = ctx.memo.get(key) as DataLoader<K, V> | undefined;
  if (!loader) {
    loader = new DataLoader<K, V>(async (keys) => {
      const found = await batch(keys);
      return keys.map((k) => found.get(k) ?? fallback);
    });
    ctx.memo.set(key, loader);
  }
  return loader;
}
