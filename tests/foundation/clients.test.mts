import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core';
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../server/src/modules/identity/permissions.js';
import { OrgBuilder } from '../support/fixtures.js';
import { bootServer, type TestServer } from '../support/server.js';

/** The two GraphQL clients integrators reach for first, each with its defaults, against the real server. */
describe('urql and Apollo Client with their defaults', () => {
  let server: TestServer;
  let token: string;
  let workspaceId: string;

  beforeAll(async () => {
    server = await bootServer();
    const org = new OrgBuilder(server.app, 'Clients Org');
    const workspace = org.workspace('Front Desk');
    const agent = await org.user('Agent', [{ workspace, roles: [Role.AGENT] }]);
    token = (await org.login(agent)).token;
    workspaceId = workspace.id;
  });
  afterAll(() => server.close());

  const WORKSPACES = '{ workspaces { id name } }';

  it('urql: a query goes out as a GET with the Authorization header and is answered', async () => {
    const methods: string[] = [];
    const client = new UrqlClient({
      url: server.url,
      exchanges: [fetchExchange],
      fetchOptions: { headers: { authorization: `Bearer ${token}` } },
      fetch: (input, init) => {
        methods.push(init?.method ?? 'GET');
        return fetch(input, init);
      },
    });
    const result = await client.query(WORKSPACES, {}).toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data).toEqual({ workspaces: [{ id: workspaceId, name: 'Front Desk' }] });
    expect(methods).toEqual(['GET']);
  });

  it('Apollo Client: a query with the Authorization header is answered', async () => {
    const client = new ApolloClient({
      link: new HttpLink({ uri: server.url, headers: { authorization: `Bearer ${token}` } }),
      cache: new InMemoryCache(),
    });
    const result = await client.query({ query: gql(WORKSPACES) });
    expect(result.data.workspaces).toEqual([{ __typename: 'Workspace', id: workspaceId, name: 'Front Desk' }]);
    client.stop();
  });

  it('still refuses a simple cross-site request: a GET without such headers, a form POST, a text/plain POST', async () => {
    const query = encodeURIComponent('{ __typename }');
    const refusals = [
      await fetch(`${server.url}?query=${query}`),
      await fetch(`${server.url}?query=${query}`, { headers: { authorization: '' } }),
      await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `query=${query}` }),
      await fetch(server.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ __typename }' }) }),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
      expect(body.errors[0]!.message).toMatch(/Cross-Site Request Forgery/);
    }
  });
});
