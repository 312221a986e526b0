import type { Client } from 'graphql-ws';
import { until } from '../support/wait';

export interface Stream<T = any> {
  events: T[];
  errors: unknown[];
  /** Errors that came with data (a field that failed): printed on a timeout, so a null field is not mistaken for a skip. */
  fieldErrors: unknown[];
  /** Every event received, before the `keep` filter: what the exactly-once check compares with the log. */
  received: T[];
  completed: boolean;
  dispose(): void;
  /** Resolves when `n` events arrived (or rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<T[]>;
  waitForEnd(timeoutMs?: number): Promise<void>;
}

/** Collects a subscription's events; delivery-status events are left out unless asked for (they arrive on their own clock). */
export function collect<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  pick: (data: any) => T,
  keep: (event: any) => boolean = (e) => e?.type !== 'MESSAGE_STATUS',
): Stream<T> {
  const stream: Stream<T> = {
    events: [],
    errors: [],
    fieldErrors: [],
    received: [],
    completed: false,
    dispose: () => undefined,
    waitFor: (n, timeoutMs = 10_000) =>
      until(() => stream.events.length >= n, `${n} events`, timeoutMs).then(
        () => stream.events,
        () => {
          throw new Error(`got ${stream.events.length} of ${n} events; errors: ${JSON.stringify(stream.errors)}; field errors: ${JSON.stringify(stream.fieldErrors)}`);
        },
      ),
    waitForEnd: (timeoutMs = 5_000) => until(() => stream.completed || stream.errors.length > 0, 'the stream to end', timeoutMs),
  };
  stream.dispose = client.subscribe(
    { query, variables },
    {
      next: (r) => {
        if (r.errors?.length && !r.data) stream.errors.push(r.errors);
        else {
          const event = pick(r.data);
          stream.received.push(event);
          if (keep(event)) stream.events.push(event);
        }
        if (r.errors?.length && r.data) stream.fieldErrors.push(...r.errors);
      },
      error: (e) => stream.errors.push(e),
      complete: () => (stream.completed = true),
    },
  );
  return stream;
}

/**
 * The exactly-once check of a live stream against the log: the cursors received are the log's cursors of the
 * expected events, each once, in log (commit-safe) order; no gap, no duplicate. Says what is wrong.
 */
export function exactlyOnceProblems(received: Array<{ cursor: string }>, expected: string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const e of received) seen.set(e.cursor, (seen.get(e.cursor) ?? 0) + 1);
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([c]) => c);
  if (duplicates.length) problems.push(`duplicates: ${duplicates.slice(0, 5).join(', ')}`);
  const missing = expected.filter((c) => !seen.has(c));
  if (missing.length) problems.push(`missing ${missing.length}: ${missing.slice(0, 5).join(', ')}`);
  const wanted = new Set(expected);
  const order = received.map((e) => e.cursor).filter((c) => wanted.has(c));
  const firstOut = order.findIndex((c, i) => i > 0 && expected.indexOf(c) < expected.indexOf(order[i - 1]!));
  if (firstOut >= 0) problems.push(`out of log order at ${order[firstOut]}`);
  return problems;
}
