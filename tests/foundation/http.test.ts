import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';

describe('one HTTP server: /graphql, health, metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer();
  });
  afterAll(() => server.close());

  const base = () => server.url.replace(/\/graphql$/, '');

  it('answers { __typename } over POST', async () => {
    const { status, body } = await server.gql('{ __typename }');
    expect(status).toBe(200);
    expect(body).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers GET queries that carry a CSRF preflight header, and refuses simple GETs', async () => {
    const url = `${server.url}?query=${encodeURIComponent('{ __typename }')}`;
    const ok = await fetch(url, { headers: { 'apollo-require-preflight': 'true', accept: 'application/json' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } });
    const simple = await fetch(url, { headers: { accept: 'application/json' } });
    expect(simple.status).toBe(400);
  });

  it('echoes or assigns a request id', async () => {
    const res = await fetch(`${base()}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const other = await fetch(`${base()}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports health and readiness', async () => {
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', checks: { database: 'up', eventBus: 'up' } });
  });

  it('exposes Prometheus metrics per operation and for websockets', async () => {
    await server.gql('query Probe { __typename }');
    const text = await (await fetch(`${base()}/metrics`)).text();
    expect(text).toMatch(/switchboard_graphql_operations_total\{operation="Probe",type="query",outcome="ok"\} \d+/);
    expect(text).toContain('switchboard_graphql_operation_duration_seconds_bucket');
    expect(text).toContain('switchboard_websocket_connections');
    expect(text).toContain('switchboard_active_subscriptions');
  });

  describe('bad input gets a 4xx with a code, never a 5xx', () => {
    const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(server.url, { method: 'POST', headers, body });

    it('malformed JSON', async () => {
      const res = await post('{"query": ');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
    });

    it('a body over 1 MB', async () => {
      const res = await post(JSON.stringify({ query: `{ __typename } #${'x'.repeat(1_100_000)}` }));
      expect(res.status).toBe(413);
    });

    it('a syntax error', async () => {
      const { status, body } = await server.gql('{ __typename ');
      expect(status).toBe(400);
      expect(body.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    });

    it('a document over the token limit', async () => {
      const { status, body } = await server.gql(`{ ${'__typename '.repeat(1500)} }`);
      expect(status).toBe(400);
      expect(body.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    });

    it('too many aliases', async () => {
      const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: __typename`).join(' ');
      const { status, body } = await server.gql(`{ ${aliases} }`);
      expect(status).toBe(400);
      expect(body.errors![0]!.extensions!.code).toBe('QUERY_TOO_COMPLEX');
    });

    it('an unknown field', async () => {
      const { status, body } = await server.gql('{ nope }');
      expect(status).toBe(400);
      expect(body.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    });

    it('batched requests are refused', async () => {
      const res = await post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
      expect(res.status).toBe(400);
    });

    it('an unknown route', async () => {
      expect((await fetch(`${base()}/nope`)).status).toBe(404);
    });
  });
});
