import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { buildASTSchema, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { VALIDATION_RULES } from '../../server/src/graphql/limits';
import { bootServer, type TestServer } from '../support/server';
import { HealthProbe } from './support';

/** `{ ...F<n> }` where F0 is `__typename` and each Fk spreads F(k-1) twice: 2^n fields, ~10 tokens a level. */
function fragmentBomb(levels: number): string {
  const fragments = ['fragment F0 on Query { __typename }'];
  for (let n = 1; n <= levels; n++) fragments.push(`fragment F${n} on Query { ...F${n - 1} ...F${n - 1} }`);
  return `{ ...F${levels} } ${fragments.join(' ')}`;
}

describe('query limits are linear in the document', () => {
  let server: TestServer;
  let base: string;
  beforeAll(async () => {
    server = await bootServer({ env: { GRAPHQL_INTROSPECTION: 'true' } });
    base = server.url.replace(/\/graphql$/, '');
  });
  afterAll(() => server.close());

  for (const levels of [24, 30]) {
    it(`refuses the 2^${levels} fragment bomb over HTTP with QUERY_TOO_COMPLEX (400) while /healthz answers`, async () => {
      const probe = new HealthProbe(base);
      probe.start();
      const t0 = performance.now();
      const { status, body } = await server.gql(fragmentBomb(levels));
      const ms = performance.now() - t0;
      const health = await probe.stop();
      console.log(`fragment bomb 2^${levels} over HTTP: refused in ${ms.toFixed(1)} ms; healthz ${health.probes} probes, max ${health.maxMs} ms`);
      expect(status).toBe(400);
      expect(body.errors?.map((e) => e.extensions?.code)).toContain('QUERY_TOO_COMPLEX');
      expect(body.data).toBeUndefined();
      expect(health.failures).toEqual([]);
      expect(health.probes).toBeGreaterThan(0);
    });
  }

  it('refuses the fragment bomb over graphql-ws with QUERY_TOO_COMPLEX', async () => {
    const client = server.wsClient();
    const t0 = performance.now();
    const codes = await new Promise<unknown[]>((resolve) => {
      client.subscribe(
        { query: fragmentBomb(30) },
        {
          next: (r) => resolve((r.errors ?? []).map((e) => (e.extensions as { code?: string } | undefined)?.code)),
          error: (e) => resolve((e as Array<{ extensions?: { code?: string } }>).map((x) => x.extensions?.code)),
          complete: () => resolve([]),
        },
      );
    });
    console.log(`fragment bomb 2^30 over graphql-ws: refused in ${(performance.now() - t0).toFixed(1)} ms`);
    expect(codes).toContain('QUERY_TOO_COMPLEX');
  });

  it('counts __typename: many of them through fragments exceed the cost limit', async () => {
    // 12 levels = 4096 __typename plus the spreads: over 10,000, with no field other than __typename.
    const { status, body } = await server.gql(fragmentBomb(13));
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    const small = await server.gql(fragmentBomb(3));
    expect(small.status).toBe(200);
    expect(small.body.data).toEqual({ __typename: 'Query' });
  });

  it('counts depth through fragments, inline fragments and __typename; introspection nests freely', async () => {
    // Our schema has no chain nine levels deep: check the rule on a recursive one.
    const schema = buildASTSchema(parse('type Query { a: A } type A { a: A, n: Int }'));
    const check = (doc: string) => validate(schema, parse(doc), [...specifiedRules, ...VALIDATION_RULES]).map((e) => e.message);
    expect(check('{ a { a { a { a { a { a { a { n } } } } } } } }')).toEqual([]);
    expect(check('{ a { a { a { a { a { a { a { a { n } } } } } } } } }')).toEqual(['Query depth 9 exceeds the limit of 8']);
    expect(check('{ a { a { a { a { a { a { a { a { __typename } } } } } } } } }')).toEqual(['Query depth 9 exceeds the limit of 8']);
    expect(check('{ a { ...X } } fragment X on A { a { ... on A { a { a { a { a { a { a { n } } } } } } } } }')).toEqual([
      'Query depth 9 exceeds the limit of 8',
    ]);
    // Introspection nests by its own shape (answered from the finite schema): it costs, but adds no depth.
    const intro = await server.gql(`{ __schema { types { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } } }`);
    expect(intro.status).toBe(200);
  });

  it('keeps the standard introspection query allowed', async () => {
    const { status, body } = await server.gql(getIntrospectionQuery());
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });
});
