import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';

describe('the GraphQL IDE (offline)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer({ env: { GRAPHQL_IDE: 'true' } });
  });
  afterAll(() => server.close());

  it('serves GraphiQL to browsers from same-origin assets only, under a CSP', async () => {
    const res = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self' 'nonce-/);
    const html = await res.text();
    const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(srcs.length).toBeGreaterThanOrEqual(5);
    for (const src of srcs) {
      expect(src.startsWith('/graphql/ide/assets/')).toBe(true);
      const asset = await fetch(new URL(src, server.url));
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/text\/(javascript|css)/);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
    expect(html).toContain('graphqlWs.createClient');
  });

  it('refuses anything outside the asset list', async () => {
    for (const p of ['/graphql/ide/assets/..%2F..%2Fpackage.json', '/graphql/ide/assets/secret.js']) {
      expect((await fetch(new URL(p, server.url))).status).toBe(404);
    }
  });

  it('leaves non-browser GETs to Apollo', async () => {
    const res = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'text/html, application/json', 'apollo-require-preflight': 'true' },
    });
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('is off in production', async () => {
    const prod = await bootServer({ env: { NODE_ENV: 'production' } });
    try {
      const res = await fetch(prod.url, { headers: { accept: 'text/html' } });
      expect(res.headers.get('content-type') ?? '').not.toContain('text/html');
    } finally {
      await prod.close();
    }
  });
});
