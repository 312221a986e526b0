import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Kind, parse, print, type DocumentNode } from 'graphql';
import { LiveConnection, type ConnectionChange } from './connection.js';
import { SwitchboardError, type GraphQLErrorShape } from './errors.js';
import { LiveSubscriptionImpl, type LiveSubscription } from './live-subscription.js';

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
  /**
   * Reconnection of the client's one websocket: first delay and cap in ms (exponential, with jitter), and how
   * many failed attempts in a row before every subscription ends with NETWORK_ERROR (default: no limit).
   */
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** A ping after this long without a message; no pong within as long again: reconnect (default 15 000; 0: off). */
  keepAliveMs?: number;
  /** Messages per second the client sends at most, resubscriptions included (default 30; the server allows 50). */
  maxMessagesPerSecond?: number;
  /** Hears the websocket's state: connecting, connected, reconnecting (with the close code), closed (with the error). */
  onConnectionChange?: (change: ConnectionChange) => void;
}

/** Variables argument: optional when the operation has none. */
type VariablesArg<V> = V extends Record<string, never> ? [variables?: V] : [variables: V];

export interface SubscribeOptions {
  /** Start after this cursor (a LiveEvent's `cursor` you stored); otherwise from now. */
  after?: string | null;
  /**
   * On a transient drop, resubscribe from the last cursor (default true). With false the subscription ends
   * with NETWORK_ERROR when the connection is lost, and the others on the client still resume.
   */
  resume?: boolean;
}

export interface SwitchboardClient {
  query<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, ...variables: VariablesArg<V>): Promise<R>;
  mutate<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, ...variables: VariablesArg<V>): Promise<R>;
  /**
   * A live subscription as an async iterator, carried on the client's one websocket. When the socket drops
   * (server restart, network, slow-consumer close 4008) the client reconnects once for all its subscriptions
   * and resubscribes each with `after` set to its own last cursor: no event lost or repeated. It ends only
   * when you end it, or with a SwitchboardError (FORBIDDEN, CURSOR_EXPIRED, UNAUTHENTICATED, ...).
   */
  subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V, options?: SubscribeOptions): LiveSubscription<R>;
  /** Ends every subscription and closes the websocket. */
  dispose(): Promise<void>;
}

function wsUrl(url: string): string {
  return url.replace(/^http/, 'ws');
}

/** Where the live event log stands (see `Query.liveCursor`). */
const LIVE_CURSOR = parse('query LiveCursor { liveCursor }') as TypedDocumentNode<{ liveCursor: string }, Record<string, never>>;

/** Whether the document's operation declares `$after` (only then does a resume send the cursor). */
function declaresAfter(document: DocumentNode): boolean {
  return document.definitions.some(
    (d) => d.kind === Kind.OPERATION_DEFINITION && (d.variableDefinitions ?? []).some((v) => v.variable.name.value === 'after'),
  );
}

export function createSwitchboardClient(options: SwitchboardClientOptions): SwitchboardClient {
  const credential = options.token ?? options.apiKey;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const retry = { initialDelayMs: 250, maxDelayMs: 5_000, maxAttempts: Infinity, ...options.retry };
  const backoff = (attempt: number) => Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5));
  let connection: LiveConnection | null = null;
  const live = (): LiveConnection =>
    (connection ??= new LiveConnection({
      url: wsUrl(options.url),
      webSocketImpl: options.webSocketImpl,
      connectionParams: credential ? { authorization: `Bearer ${credential}` } : {},
      retry,
      keepAliveMs: options.keepAliveMs ?? 15_000,
      maxMessagesPerSecond: options.maxMessagesPerSecond ?? 30,
      onChange: options.onConnectionChange,
    }));

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

  function subscribe<R>(document: TypedDocumentNode<R, any>, variables: Record<string, unknown>, opts: SubscribeOptions = {}): LiveSubscription<R> {
    const subscription = new LiveSubscriptionImpl<R>(live(), {
      query: print(document),
      variables,
      acceptsAfter: declaresAfter(document),
      after: opts.after ?? (typeof variables.after === 'string' ? variables.after : null),
      resume: opts.resume !== false,
      retryDelayMs: backoff,
    });
    if (!subscription.cursor && declaresAfter(document)) {
      // No position yet: start from where the log stands now, so a drop before the first event loses nothing.
      void execute<{ liveCursor: string }>(LIVE_CURSOR)
        .then(({ liveCursor }) => {
          subscription.cursor ??= liveCursor;
        })
        .catch(() => undefined) // an older server, or no network yet: subscribe from now, as before
        .finally(() => {
          if (!subscription.isDone) live().add(subscription);
        });
    } else {
      live().add(subscription);
    }
    return subscription;
  }

  return {
    query: (document, ...variables) => execute(document, variables[0] as Record<string, unknown> | undefined),
    mutate: (document, ...variables) => execute(document, variables[0] as Record<string, unknown> | undefined),
    subscribe: (document, variables, opts) => subscribe(document, variables, opts),
    async dispose() {
      connection?.dispose();
      connection = null;
    },
  };
}
