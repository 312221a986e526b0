import type { Client } from 'graphql-ws';

export interface Stream<T = any> {
  events: T[];
  errors: unknown[];
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
    completed: false,
    dispose: () => undefined,
    waitFor: (n, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (stream.events.length >= n) return resolve(stream.events);
          if (Date.now() - started > timeoutMs) return reject(new Error(`got ${stream.events.length} of ${n} events; errors: ${JSON.stringify(stream.errors)}`));
          setTimeout(check, 10);
        };
        check();
      }),
    waitForEnd: (timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (stream.completed || stream.errors.length) return resolve();
          if (Date.now() - started > timeoutMs) return reject(new Error('the stream did not end'));
          setTimeout(check, 10);
        };
        check();
      }),
  };
  stream.dispose = client.subscribe(
    { query, variables },
    {
      next: (r) => {
        if (r.errors?.length && !r.data) stream.errors.push(r.errors);
        else {
          const event = pick(r.data);
          if (keep(event)) stream.events.push(event);
        }
        if (r.errors?.length && r.data) (stream as unknown as { fieldErrors?: unknown[] }).fieldErrors = [...((stream as any).fieldErrors ?? []), ...r.errors];
      },
      error: (e) => stream.errors.push(e),
      complete: () => (stream.completed = true),
    },
  );
  return stream;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
