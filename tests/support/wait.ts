/**
 * Waiting on signals instead of sleeping: poll a condition until it holds, with a generous but bounded
 * deadline (CI runs on a loaded 2-core machine, where a fixed sleep is either too short or wasted time).
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  opts: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what}; last value: ${JSON.stringify(value)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/** Resolves once `condition()` is true (checked every few milliseconds), or throws after the deadline. */
export function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  return eventually(() => condition(), Boolean, { what, timeoutMs, intervalMs: 10 }).then(() => undefined);
}
