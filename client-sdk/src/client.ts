import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { SwitchboardError, type GraphQLErrorShape } from './errors.js';

export interface SwitchboardClientOptions {
  /** The GraphQL endpoint, e.g. https://switchboard.example.com/graphql (the websocket URL is derived). */
  url: string;
  /** A session token from login, or an API key (both are bearer credentials). */
  token?: string;
  apiKey?: string;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Defaults to globalThis.WebSocket; on Node 20 pass `WebSocket` from the `ws` package. */
  webSocketImpl?: unknown;
  /** Reconnection backoff for subscriptions: first delay and cap, in ms. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
}

/** Variables argument: optional when the operation has none. */
type VariablesArg<V> = V extends Record<string, never> ? [variables?: V] : [variables: V];

export interface SubscribeOptions {
  /** Resume after this cursor (otherwise: from now). */
  after?: string | null;
  /** Reconnect and resume after the last cursor seen when the connection drops (default true). */
  resume?: boolean;
}

export interface SwitchboardClient {
  query<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, ...variables: VariablesArg<V>): Promise<R>;
  mutate<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, ...variables: VariablesArg<V>): Promise<R>;
  /**
   * A live subscription as an async iterator. When the connection drops it reconnects with backoff and
   * subscribes again with `after` set to the last event's cursor, so no event is lost or repeated.
   */
  subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V, options?: SubscribeOptions): AsyncIterableIterator<R>;
  /** Closes the websocket. */
  dispose(): Promise<void>;
}

function wsUrl(url: string): string {
  return url.replace(/^http/, 'ws');
}

/** Finds the `cursor` of a subscription payload ({ threadEvents: { cursor } }). */
function cursorOf(data: unknown): string | null {
  if (!data || typeof data !== 'object') return null;
  for (const value of Object.values(data as Record<string, unknown>)) {
    if (value && typeof value === 'object' && typeof (value as { cursor?: unknown }).cursor === 'string') return (value as { cursor: string }).cursor;
  }
  return null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createSwitchboardClient(options: SwitchboardClientOptions): SwitchboardClient {
  const credential = options.token ?? options.apiKey;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const retry = { initialDelayMs: 250, maxDelayMs: 5_000, maxAttempts: Infinity, ...options.retry };
  let ws: WsClient | null = null;

  const socket = (): WsClient => {
    ws ??= createClient({
      url: wsUrl(options.url),
      webSocketImpl: options.webSocketImpl,
      lazy: true,
      // The SDK resumes subscriptions itself (with the last cursor); graphql-ws would replay the old variables.
      retryAttempts: 0,
      connectionParams: credential ? { authorization: `Bearer ${credential}` } : {},
    });
    return ws;
  };

  async function execute<R>(document: TypedDocumentNode<R, any>, variables?: Record<string, unknown>): Promise<R> {
    let response: Response;
    try {
      response = await doFetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(credential ? { authorization: `Bearer ${credential}` } : {}) },
        body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
      });
    } catch (err) {
      throw new SwitchboardError('NETWORK_ERROR', (err as Error).message);
    }
    let body: { data?: R | null; errors?: GraphQLErrorShape[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new SwitchboardError('NETWORK_ERROR', `Unexpected response (HTTP ${response.status})`, [], response.status);
    }
    // Partial data (a field the viewer may not read) is returned; a failed operation throws.
    const rootFailed = !body.data || (body.errors ?? []).some((e) => (e.path?.length ?? 0) <= 1);
    if (body.errors?.length && rootFailed) throw SwitchboardError.from(body.errors, response.status);
    return body.data as R;
  }

  function subscribe<R>(document: TypedDocumentNode<R, any>, variables: Record<string, unknown>, opts: SubscribeOptions = {}): AsyncIterableIterator<R> {
    const query = print(document);
    const queue: R[] = [];
    const waiting: Array<{ resolve: (r: IteratorResult<R>) => void; reject: (e: unknown) => void }> = [];
    let lastCursor = opts.after ?? (variables.after as string | undefined) ?? null;
    let done = false;
    let failure: unknown = null;
    let unsubscribe: (() => void) | null = null;

    const push = (value: R) => {
      const cursor = cursorOf(value);
      if (cursor) lastCursor = cursor;
      const w = waiting.shift();
      if (w) w.resolve({ value, done: false });
      else queue.push(value);
    };
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      failure = error ?? null;
      unsubscribe?.();
      for (const w of waiting.splice(0)) (error ? w.reject(error) : w.resolve({ value: undefined as never, done: true }));
    };

    const run = async () => {
      let attempt = 0;
      while (!done) {
        const outcome = await new Promise<'complete' | 'dropped' | SwitchboardError>((resolve) => {
          const vars = { ...variables, ...(lastCursor ? { after: lastCursor } : {}) };
          unsubscribe = socket().subscribe<R>(
            { query, variables: vars },
            {
              next: (result) => {
                attempt = 0;
                if (result.errors?.length && !result.data) resolve(SwitchboardError.from(result.errors as GraphQLErrorShape[]));
                else push(result.data as R);
              },
              error: (err) => {
                // An array of GraphQL errors is the server refusing; 44xx closes are the credential; the rest is
                // the connection, which a reconnect may fix.
                if (Array.isArray(err)) resolve(SwitchboardError.from(err as GraphQLErrorShape[]));
                else if (typeof (err as { code?: unknown })?.code === 'number' && (err as { code: number }).code >= 4400 && (err as { code: number }).code < 4500) {
                  const code = (err as { code: number }).code;
                  resolve(new SwitchboardError(code === 4401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', `The server closed the connection (${code})`));
                } else resolve('dropped');
              },
              complete: () => resolve('complete'),
            },
          );
        });
        if (done) return;
        if (outcome === 'complete') return finish();
        if (outcome instanceof SwitchboardError) {
          // Access ended, cursor expired, bad input: not something a reconnect fixes.
          return finish(outcome);
        }
        if (opts.resume === false || ++attempt > retry.maxAttempts) return finish(new SwitchboardError('NETWORK_ERROR', 'The connection was lost'));
        const delay = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
        await sleep(delay);
        // The old socket is gone; the next subscribe opens a fresh one.
        const old = ws;
        ws = null;
        void old?.dispose();
      }
    };
    void run();

    return {
      next() {
        if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
        if (done) return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined as never, done: true });
        return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
      },
      return() {
        finish();
        return Promise.resolve({ value: undefined as never, done: true });
      },
      throw(error?: unknown) {
        finish(error);
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return {
    query: (document, ...variables) => execute(document, variables[0] as Record<string, unknown> | undefined),
    mutate: (document, ...variables) => execute(document, variables[0] as Record<string, unknown> | undefined),
    subscribe: (document, variables, opts) => subscribe(document, variables, opts),
    async dispose() {
      await ws?.dispose();
      ws = null;
    },
  };
}
