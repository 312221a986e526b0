import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../server/src/shared/errors';
import { ROOT } from '../support/build';
import { bootServer, type TestServer } from '../support/server';

type Body = { errors?: Array<{ message: string; extensions?: { code?: string } }> };

/** Codes the HTTP layer and Apollo put on the wire are values of the one ErrorCode enum, and README lists them all. */
describe('error codes on the wire', () => {
  let server: TestServer;
  let production: TestServer;
  beforeAll(async () => {
    server = await bootServer();
    production = await bootServer({ env: { NODE_ENV: 'production', PUBLIC_URL: 'https://inbox.example.com' } });
  });
  afterAll(async () => {
    await server.close();
    await production.close();
  });

  const post = async (target: TestServer, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.status, body: (await res.json()) as Body };
  };

  it.each([
    ['a CSRF-blocked GET', async () => {
      const res = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`);
      return { status: res.status, body: (await res.json()) as Body };
    }, ErrorCode.BAD_REQUEST],
    ['malformed JSON', () => post(server, '{"query":'), ErrorCode.BAD_REQUEST],
    ['an operation name the document does not have', () => post(server, JSON.stringify({ query: 'query A { __typename }', operationName: 'B' })), ErrorCode.OPERATION_RESOLUTION_FAILURE],
    ['two operations and no operation name', () => post(server, JSON.stringify({ query: 'query A { __typename } query B { __typename }' })), ErrorCode.OPERATION_RESOLUTION_FAILURE],
    ['an unknown persisted query', () => post(server, JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } })), ErrorCode.PERSISTED_QUERY_NOT_FOUND],
  ])('%s answers with a code of the enum', async (_name, request, expected) => {
    const { status, body } = await request();
    const codes = (body.errors ?? []).map((e) => e.extensions?.code);
    expect(codes).toContain(expected);
    for (const code of codes) expect(Object.values(ErrorCode)).toContain(code);
    expect(status).toBeGreaterThanOrEqual(200);
    expect(status).toBeLessThan(500);
  });

  it('introspection in production is GRAPHQL_VALIDATION_FAILED, with INTROSPECTION_DISABLED beside it', async () => {
    const { status, body } = await post(production, JSON.stringify({ query: '{ __schema { queryType { name } } }' }));
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions).toEqual({ code: ErrorCode.GRAPHQL_VALIDATION_FAILED, validationErrorCode: 'INTROSPECTION_DISABLED' });
  });

  it('README lists every code of the enum', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Errors'));
    const missing = Object.values(ErrorCode).filter((code) => !section.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});
