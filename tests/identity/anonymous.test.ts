import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
  type IntrospectionQuery,
} from 'graphql';
import { bootServer, type TestServer } from '../support/server';

const PUBLIC = new Set(['Mutation.signUp', 'Mutation.login', 'Mutation.acceptInvitation', 'Mutation.requestPasswordReset', 'Mutation.resetPassword']);

/** A syntactically valid value for any input type (what it means does not matter: the call must be refused first). */
function sample(type: GraphQLInputType): unknown {
  const inner = getNullableType(type);
  if (isListType(inner)) return [sample(inner.ofType as GraphQLInputType)];
  if (isInputObjectType(inner)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(inner.getFields())) if (isNonNullType(f.type)) out[f.name] = sample(f.type);
    return out;
  }
  if (isEnumType(inner)) return inner.getValues()[0]!.value;
  if (isScalarType(inner)) {
    if (inner.name === 'ID') return randomUUID();
    if (inner.name === 'Int' || inner.name === 'Float' || inner.name === 'SafeInt') return 1;
    if (inner.name === 'Boolean') return true;
    if (inner.name === 'DateTimeISO') return new Date().toISOString();
    if (inner.name === 'JSONObject') return {};
    return 'x';
  }
  return null;
}

describe('without a token', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer({ env: { GRAPHQL_INTROSPECTION: 'true' } });
  });
  afterAll(() => server.close());

  it('no operation but signUp, login, acceptInvitation and the password reset pair is reachable (from introspection)', async () => {
    const intro = await server.gql<IntrospectionQuery>(getIntrospectionQuery());
    const schema = buildClientSchema(intro.body.data!);
    const reachable: string[] = [];
    let checked = 0;
    for (const [kind, root] of [['query', schema.getQueryType()], ['mutation', schema.getMutationType()], ['subscription', schema.getSubscriptionType()]] as const) {
      if (!root) continue;
      for (const field of Object.values(root.getFields())) {
        const name = `${root.name}.${field.name}`;
        const defs = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
        const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
        const named = getNamedType(field.type);
        const selection = isScalarType(named) || isEnumType(named) ? '' : ' { __typename }';
        const doc = `${kind}${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
        const variables = Object.fromEntries(field.args.map((a) => [a.name, sample(a.type)]));
        checked++;
        if (kind === 'subscription') {
          const client = server.wsClient();
          const code = await new Promise<string | undefined>((resolve) => {
            client.subscribe({ query: doc, variables }, {
              next: (r) => resolve((r.errors?.[0]?.extensions as { code?: string } | undefined)?.code),
              error: (e) => resolve(((e as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code) ?? 'ERROR'),
              complete: () => resolve(undefined),
            });
          });
          if (code !== 'UNAUTHENTICATED') reachable.push(name);
          continue;
        }
        const res = await server.gql(doc, variables);
        const code = res.body.errors?.[0]?.extensions?.code;
        if (PUBLIC.has(name)) {
          expect(code).not.toBe('UNAUTHENTICATED');
        } else if (code !== 'UNAUTHENTICATED') {
          reachable.push(`${name} (${code ?? 'answered'})`);
        }
      }
    }
    console.log(`anonymous calls: ${checked} operations checked`);
    expect(reachable).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});
