import pino from 'pino';
import WebSocket from 'ws';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import type { ExecutionResult } from 'graphql';
import { loadConfig } from '../../server/src/config';
import { startSwitchboard, type StartOptions, type Switchboard } from '../../server/src/app';
import { createTestDatabase, type TestDatabase } from './db';
import { TEST_REDIS_URL } from './services';
import { QueryLog } from './query-log';
import { fetchRetryingConnect } from './fetch';

export interface TestServer {
  app: Switchboard;
  db: TestDatabase;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  wsUrl: string;
  /** POSTs one operation; returns the HTTP status and the parsed body. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: { token?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: ExecutionResult<T> & { errors?: Array<{ message: string; extensions?: { code?: string } }> } }>;
  /** The SQL statements run per request id, when booted with `recordQueries` (see api.ts `statements`). */
  queries?: QueryLog;
  /** A graphql-ws client on this server (closed with the server). */
  wsClient(opts?: Partial<ClientOptions>): Client;
  close(): Promise<void>;
}

export interface BootOptions extends Partial<StartOptions> {
  /** Use the machine's Redis as the event bus (default: in-process). */
  redis?: boolean;
  env?: Record<string, string>;
  /** Reuse a database (several servers on one database); default: a fresh clone. */
  db?: TestDatabase;
  /** Record every SQL statement with the request it ran for (`server.queries`). */
  recordQueries?: boolean;
}

/** Boots the real server (HTTP + graphql-ws) on an ephemeral port against a database of its own. */
export async function bootServer(opts: BootOptions = {}): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: db.url,
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    ...(opts.redis ? { REDIS_URL: TEST_REDIS_URL } : {}),
    ...opts.env,
  });
  const queries = opts.recordQueries ? new QueryLog() : undefined;
  const onQuery = queries || opts.onQuery
    ? (sql: string, requestId: string | undefined) => {
        queries?.record(sql, requestId);
        opts.onQuery?.(sql, requestId);
      }
    : undefined;
  const app = await startSwitchboard(config, {
    logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    clock: opts.clock,
    onQuery,
    channel: opts.channel,
    sweepSnoozes: opts.sweepSnoozes,
    rollups: opts.rollups,
    campaignWorkers: opts.campaignWorkers,
    campaignSender: opts.campaignSender,
    migrate: false,
  });
  const url = app.url;
  const wsUrl = url.replace(/^http/, 'ws');
  const clients = new Set<Client>();
  return {
    app,
    db,
    url,
    wsUrl,
    queries,
    async gql(query, variables, o = {}) {
      const res = await fetchRetryingConnect(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...o.headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as never };
    },
    wsClient(clientOpts = {}) {
      const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, ...clientOpts });
      clients.add(client);
      return client;
    },
    async close() {
      await Promise.allSettled([...clients].map((c) => c.dispose()));
      await app.stop();
      if (!opts.db) await db.drop();
    },
  };
}

/** Collects a subscription's results until `count` arrived or `timeoutMs` passed. */
export function subscribeOnce<T = unknown>(client: Client, query: string, variables?: Record<string, unknown>): Promise<ExecutionResult<T>> {
  return new Promise((resolve, reject) => {
    let result: ExecutionResult<T> | undefined;
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => (result = value as ExecutionResult<T>),
        error: reject,
        complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
      },
    );
  });
}
