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

const primedKeys = new Map<string, string>();

/** A request's loader that also answers synchronously for what the request has read already. */
export interface PrimedLoader<K, V> {
  /** Remembers a value read by another statement (a page that read its rows' relations). */
  prime(key: K, value: V): void;
  /** Whether the request has the value already (primed, or loaded by a batch that primes what it read). */
  has(key: K): boolean;
  /** The primed value itself, or the batched load. */
  load(key: K): V | Promise<V>;
}

/**
 * `loaderFor` with primed values returned as plain values, not promises: a field whose value is already
 * known then completes with its object, where a promise makes graphql-js wait for every such field of every
 * row of a page (a promise per field, one per object, one per list). Keys not primed load as before.
 */
export function primedLoaderFor<K, V>(
  ctx: RequestContext,
  name: string,
  batch: (keys: readonly K[]) => Promise<ReadonlyMap<K, V> | Map<K, V>>,
  fallback: V,
): PrimedLoader<K, V> {
  // A page's rows call this for every field: the memo key is made once per name, not concatenated (and hashed) per call.
  let key = primedKeys.get(name);
  if (key === undefined) primedKeys.set(name, (key = `primed:${name}`));
  let loader = ctx.memo.get(key) as PrimedLoader<K, V> | undefined;
  if (!loader) {
    const values = new Map<K, V>();
    loader = {
      prime: (k, v) => {
        if (!values.has(k)) values.set(k, v);
      },
      has: (k) => values.has(k),
      load: (k) => (values.has(k) ? values.get(k)! : loaderFor(ctx, name, batch, fallback).load(k)),
    };
    ctx.memo.set(key, loader);
  }
  return loader;
}
