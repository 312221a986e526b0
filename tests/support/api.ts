import { expect } from 'vitest';
import type { TestServer } from './server';
import { QueryLog } from './query-log';

export interface GqlError {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GqlResponse<T = any> {
  status: number;
  data?: T | null;
  errors?: GqlError[];
}

export type Variables = Record<string, unknown>;

/** One caller (a session token, an API key secret, or nobody) talking to a test server over HTTP. */
export interface Caller {
  /** Sends one operation; returns the status and body without judging them. */
  send<T = any>(doc: string, vars?: Variables, opts?: { requestId?: string; headers?: Record<string, string> }): Promise<GqlResponse<T>>;
  /** Sends one operation, asserts it has no error, returns its data. */
  ok<T = any>(doc: string, vars?: Variables): Promise<T>;
  /** Sends one operation, asserts its first error has `code`, returns the errors. */
  denied(doc: string, vars: Variables | undefined, code: string): Promise<GqlError[]>;
  /**
   * Sends one operation that must succeed, and returns the SQL statements run for this request alone (the
   * server must be booted with `recordQueries`); background traffic of the same process is not counted.
   */
  statements<T = any>(doc: string, vars?: Variables): Promise<{ data: T; statements: string[] }>;
}

/** The first error's code, if any. */
export function codeOf(res: { errors?: GqlError[] }): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

/** `api(server).as(token).ok(doc, vars)`; `as()` with no token calls anonymously. */
export function api(server: TestServer) {
  return {
    as(token?: string | { token: string }): Caller {
      const bearer = typeof token === 'string' ? token : token?.token;
      const caller: Caller = {
        async send(doc, vars, opts = {}) {
          const headers = { ...opts.headers, ...(opts.requestId ? { 'x-request-id': opts.requestId } : {}) };
          const r = await server.gql(doc, vars, { token: bearer, headers });
          return { status: r.status, data: r.body.data as never, errors: r.body.errors as GqlError[] | undefined };
        },
        async ok(doc, vars) {
          const r = await caller.send(doc, vars);
          expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
          return r.data as never;
        },
        async denied(doc, vars, code) {
          const r = await caller.send(doc, vars);
          expect(codeOf(r), JSON.stringify(r.errors)).toBe(code);
          return r.errors!;
        },
        async statements(doc, vars) {
          if (!server.queries) throw new Error('boot the server with { recordQueries: true } to count statements');
          const requestId = QueryLog.newRequestId();
          const r = await caller.send(doc, vars, { requestId });
          expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
          return { data: r.data as never, statements: server.queries.take(requestId) };
        },
      };
      return caller;
    },
  };
}
