import pg from 'pg';
import type { Client } from 'graphql-ws';
import type { Hub } from '../../server/src/realtime/hub';
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

/**
 * With SB_HUB_AUDIT=1: the events of the log the hub has passed (at or below its head) without reading
 * them, each with the read that jumped over it and the read before, so a lost event names the read whose
 * safe line was wrong (its snapshot, its floor, the transactions it took for running non-writers).
 */
export async function hubSkips(hub: Hub, databaseUrl: string): Promise<string> {
  if (!hub.audit?.length) return 'no hub audit (SB_HUB_AUDIT=1)';
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const start = hub.audit[0]!.after;
  const head = hub.head();
  const rows = await c.query<{ xid: string; id: string }>(
    `select xid::text as xid, id::text as id from events where (xid, id) > ($1::xid8, $2::bigint) and (xid, id) <= ($3::xid8, $4::bigint) order by events.xid, events.id`,
    [start.xid, start.id, head.xid, head.id],
  );
  await c.end();
  const read = new Set(hub.audit.flatMap((r) => r.returned));
  const skipped = rows.rows.filter((r) => !read.has(`${r.xid}:${r.id}`));
  if (!skipped.length) return `the hub read every event it passed (${rows.rows.length} events, ${hub.audit.length} reads)`;
  const key = (c: { xid: string; id: string }) => [BigInt(c.xid), BigInt(c.id)] as const;
  const after = (a: { xid: string; id: string }, b: { xid: string; id: string }) => {
    const [ax, ai] = key(a);
    const [bx, bi] = key(b);
    return ax > bx || (ax === bx && ai > bi);
  };
  return skipped
    .slice(0, 5)
    .map((s) => {
      const i = hub.audit!.findIndex((r) => r.returned.some((x) => { const [xid, id] = x.split(':'); return after({ xid: xid!, id: id! }, s); }) || after(r.after, s));
      return `hub skipped ${s.xid}:${s.id}; read ${i}: ${JSON.stringify({ ...hub.audit![i], returned: hub.audit![i]?.returned.slice(0, 3) })}; read before: ${JSON.stringify({ ...hub.audit![i - 1], returned: hub.audit![i - 1]?.returned.slice(-3) })}`;
    })
    .join('\n');
}
