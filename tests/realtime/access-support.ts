import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestServer } from '../support/server';
import { until as waitUntil } from '../support/wait';

/** One socket (a graphql-ws client that connects at once and stays on one connection), and what happened to it. */
export interface Socket {
  client: Client;
  /** How many times it connected: 1 means every operation ran on the same socket. */
  connects: number;
  closeCode: number | null;
  dispose(): Promise<void>;
}

export function openSocket(server: TestServer, token: string): Socket {
  const socket: Socket = {
    connects: 0,
    closeCode: null,
    client: undefined as unknown as Client,
    dispose: async () => {
      await socket.client.dispose();
    },
  };
  socket.client = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
    connectionParams: { authorization: `Bearer ${token}` },
    on: {
      connected: () => socket.connects++,
      closed: (e) => (socket.closeCode = (e as { code?: number })?.code ?? null),
    },
  });
  return socket;
}

/** Readable text for whatever graphql-ws hands an error sink: GraphQL errors, or the socket's close event. */
export function describeError(e: unknown): string {
  if (Array.isArray(e)) return JSON.stringify(e);
  const close = e as { code?: number; reason?: string; message?: string };
  if (typeof close?.code === 'number') return `close ${close.code} ${close.reason ?? ''}`;
  return String(close?.message ?? e);
}

export interface Live<T = any> {
  events: T[];
  /** Field errors carried with data (e.g. a body hidden by @auth). */
  fieldErrors: unknown[];
  error: string | null;
  endedAt: number | null;
  completed: boolean;
  dispose(): void;
}

export function subscribe<T = any>(socket: Socket, query: string, variables: Record<string, unknown>, pick: (data: any) => T): Live<T> {
  const live: Live<T> = { events: [], fieldErrors: [], error: null, endedAt: null, completed: false, dispose: () => undefined };
  live.dispose = socket.client.subscribe(
    { query, variables },
    {
      next: (r) => {
        if (r.errors?.length && !r.data) {
          live.error = JSON.stringify(r.errors);
          live.endedAt ??= Date.now();
          return;
        }
        if (r.errors?.length) live.fieldErrors.push(...r.errors);
        live.events.push(pick(r.data));
      },
      error: (e) => {
        live.error = describeError(e);
        live.endedAt ??= Date.now();
      },
      complete: () => {
        live.completed = true;
        live.endedAt ??= Date.now();
      },
    },
  );
  return live;
}

/** One operation (query or mutation) over the socket: its result, or the error that ended it. */
export function operate(socket: Socket, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: any; errors?: unknown; error?: string }> {
  return new Promise((resolve) => {
    let result: { data?: any; errors?: unknown } | undefined;
    socket.client.subscribe(
      { query, variables },
      {
        next: (r) => (result = r as never),
        error: (e) => resolve({ error: describeError(e) }),
        complete: () => resolve(result ?? { error: 'completed without a result' }),
      },
    );
  });
}

/** Polls a condition until it holds (a signal), failing with `what` after a generous deadline. */
export function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  return waitUntil(condition, what, timeoutMs);
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
