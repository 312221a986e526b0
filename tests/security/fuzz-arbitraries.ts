import fc from 'fast-check';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import type { Principals, TenantIds } from './support';

export type Role = keyof Principals;
export const ROLES: readonly Role[] = ['anonymous', 'agent', 'viewer', 'admin', 'apiKey'];
export type OperationKind = 'query' | 'mutation' | 'subscription';

/** One generated call: what is sent, as whom, over which transport. */
export interface FuzzCall {
  kind: OperationKind | 'shape';
  field: string;
  query: string;
  variables: Record<string, unknown>;
  role: Role;
  transport: 'http' | 'ws';
}

/** 1 MB of text: over the body limit (413), and the largest thing a client can try. */
const ONE_MB = 'x'.repeat(1 << 20);
const LONG = 'y'.repeat(100_000);
const b64 = (s: string) => Buffer.from(s).toString('base64url');

const malformedIds = fc.constantFrom(
  '',
  'nope',
  '1',
  '-1',
  "' or 1=1 --",
  '00000000-0000-0000-0000-00000000000g',
  '00000000-0000-0000-0000-000000000000x',
  '{00000000-0000-0000-0000-000000000000}',
  '00000000000000000000000000000000',
  '00000000-0000-0000-0000-000000000000\u0000',
  ' 00000000-0000-0000-0000-000000000000',
  '\ud800',
);

const forgedCursors = fc.oneof(
  fc.constantFrom(
    b64('["not a date","00000000-0000-0000-0000-000000000000"]'),
    b64('["2026-11-30T00:00:00.000Z","nope"]'),
    b64('["294277-01-01T00:00:00.000Z","00000000-0000-0000-0000-000000000000"]'),
    b64('[1e400,"x"]'),
    b64('[null,null]'),
    b64('{"a":1}'),
    b64('1:2'),
    b64('18446744073709551616:1'),
    b64('99999999999999999999:99999999999999999999'),
    b64('1:2:3'),
    b64('-1:5'),
    '%%%',
    '',
  ),
  fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 40 })).map(([a, b]) => b64(JSON.stringify([a, b]))),
  fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 70n }), fc.bigInt({ min: -5n, max: 2n ** 70n })).map(([a, b]) => b64(`${a}:${b}`)),
);

/** Text a client could send: ordinary, empty, NUL, lone surrogates, SQL/LIKE metacharacters, long, 1 MB. */
const hostileStrings = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('', ' ', 'a\u0000b', '\u0000', '\ud800', '\udfff x', '%', '_', '\\', "'", '"); drop table users; --', '+15550001111', 'a@b.c', '+1', '0'.repeat(40), '€𝄞', 'me', 'unassigned'),
  },
  { weight: 1, arbitrary: fc.constant(LONG) },
  { weight: 1, arbitrary: forgedCursors },
);

const hostileInts = fc.oneof(
  fc.constantFrom(-1, 0, 1, 20, 100, 101, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 1e20, 1.5, -0),
  fc.integer({ min: -1000, max: 1000 }),
);

const dates = fc.oneof(
  fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('not a date', '294277-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2026-02-31T00:00:00Z', '', '1e10'),
);

const jsonObjects = fc.oneof(
  fc.constantFrom({}, { note: 'x' }, { n: 1, deep: { a: [1, 2, { b: null }] } }, { 'k\u0000': 'v' }, { v: '\u0000' }, { v: LONG }),
  fc.object({ maxDepth: 3, maxKeys: 4 }),
);

/** Values of the wrong type for anything: what a broken or hostile client sends. */
const wrongTyped = fc.constantFrom<unknown>(null, true, 3.25, -7, 'str', [], [1, 'a'], { a: 1 }, ONE_MB);

export interface ValueContext {
  ids: TenantIds;
}

/** A value for an input type: mostly hostile, sometimes valid (real ids, valid enums) to reach deeper code. */
export function valueFor(type: GraphQLInputType, name: string, ctx: ValueContext, depth = 0): fc.Arbitrary<unknown> {
  const nullable = !isNonNullType(type);
  const inner = getNullableType(type) as GraphQLInputType;
  let arb: fc.Arbitrary<unknown>;
  if (isListType(inner)) {
    const item = valueFor(inner.ofType as GraphQLInputType, name, ctx, depth + 1);
    arb = fc.oneof({ weight: 5, arbitrary: fc.array(item, { maxLength: 3 }) }, { weight: 1, arbitrary: item }, { weight: 1, arbitrary: fc.array(item, { minLength: 200, maxLength: 300 }) });
  } else if (isInputObjectType(inner)) {
    const fields = Object.values(inner.getFields());
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of fields) record[f.name] = depth > 3 ? fc.constant(null) : valueFor(f.type, f.name, ctx, depth + 1);
    const required = fields.filter((f) => isNonNullType(f.type)).map((f) => f.name);
    arb = fc.oneof(
      { weight: 8, arbitrary: fc.record(record, { requiredKeys: required as never[] }) },
      { weight: 1, arbitrary: fc.record(record).map((r) => ({ ...r, unknownField: 'x' })) },
    );
  } else if (isEnumType(inner)) {
    const values = inner.getValues().map((v) => v.value as string);
    arb = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: fc.constantFrom('NOPE', values[0]!.toLowerCase(), '') });
  } else if (isScalarType(inner)) {
    switch (inner.name) {
      case 'ID':
        arb = fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(ctx.ids.workspaceId, ctx.ids.threadId, ctx.ids.contactId, ctx.ids.tagId, ctx.ids.otherUserId, ctx.ids.organizationId) },
          { weight: 2, arbitrary: fc.uuid() },
          { weight: 3, arbitrary: malformedIds },
        );
        break;
      case 'String':
        arb = name === 'after' ? fc.oneof(forgedCursors, hostileStrings) : hostileStrings;
        break;
      case 'Int':
      case 'SafeInt':
        arb = hostileInts;
        break;
      case 'Float':
        arb = fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(1e308, -1e308, 0.1));
        break;
      case 'Boolean':
        arb = fc.boolean();
        break;
      case 'DateTimeISO':
        arb = dates;
        break;
      case 'JSONObject':
        arb = jsonObjects;
        break;
      default:
        arb = hostileStrings;
    }
  } else {
    arb = fc.constant(null);
  }
  return fc.oneof({ weight: 12, arbitrary: arb }, { weight: nullable ? 2 : 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: wrongTyped });
}

/** A selection for an output type: every argument-free leaf, a connection's edges, one level of objects. */
export function selectionFor(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (!isObjectType(named) && !isInterfaceType(named)) return ' { __typename }';
  const parts = ['__typename'];
  for (const f of Object.values(named.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type))) continue;
    const fieldNamed = getNamedType(f.type);
    if (isLeafType(fieldNamed)) parts.push(f.name);
    else if (depth < 2) parts.push(`${f.name}${selectionFor(f.type, depth + 1)}`);
  }
  return ` { ${parts.join(' ')} }`;
}

/** GraphQL literal syntax for a JSON-ish value (strings as JSON strings; enums bare when they look like one). */
function literal(value: unknown, enumLike: boolean): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return enumLike && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '0';
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, enumLike)).join(', ')}]`;
  return `{ ${Object.entries(value as Record<string, unknown>)
    .filter(([k]) => /^[_A-Za-z][_0-9A-Za-z]*$/.test(k))
    .map(([k, v]) => `${k}: ${literal(v, false)}`)
    .join(', ')} }`;
}

function argCall(field: GraphQLField<unknown, unknown>, ctx: ValueContext): fc.Arbitrary<{ defs: string[]; args: string[]; variables: Record<string, unknown> }> {
  const perArg = field.args.map((a: GraphQLArgument) =>
    fc.record({
      mode: fc.constantFrom('variable', 'variable', 'variable', 'variable', 'literal', 'omit', 'wrongDecl'),
      value: valueFor(a.type, a.name, ctx),
    }).map(({ mode, value }) => ({ arg: a, mode, value })),
  );
  return fc.tuple(...perArg).map((chosen) => {
    const defs: string[] = [];
    const args: string[] = [];
    const variables: Record<string, unknown> = {};
    for (const { arg, mode, value } of chosen) {
      if (mode === 'omit') continue;
      if (mode === 'literal') {
        args.push(`${arg.name}: ${literal(value, isEnumType(getNamedType(arg.type)))}`);
        continue;
      }
      defs.push(`$${arg.name}: ${mode === 'wrongDecl' ? 'String' : arg.type.toString()}`);
      args.push(`${arg.name}: $${arg.name}`);
      if (value !== undefined) variables[arg.name] = value;
    }
    return { defs, args, variables };
  });
}

/** Every root field as a generator of calls to it. */
export function rootFieldCalls(schema: GraphQLSchema, ctx: ValueContext): Array<{ kind: OperationKind; field: string; arb: fc.Arbitrary<Omit<FuzzCall, 'role' | 'transport'>> }> {
  const out: Array<{ kind: OperationKind; field: string; arb: fc.Arbitrary<Omit<FuzzCall, 'role' | 'transport'>> }> = [];
  for (const [kind, root] of [['query', schema.getQueryType()], ['mutation', schema.getMutationType()], ['subscription', schema.getSubscriptionType()]] as const) {
    if (!root) continue;
    for (const field of Object.values(root.getFields())) {
      const selection = selectionFor(field.type);
      const arb = argCall(field, ctx).map(({ defs, args, variables }) => ({
        kind,
        field: field.name,
        query: `${kind} Fuzz${defs.length ? `(${defs.join(', ')})` : ''} { r: ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`,
        variables,
      }));
      out.push({ kind, field: field.name, arb });
    }
  }
  return out;
}

function bomb(levels: number, field = '__typename'): string {
  const fragments = [`fragment F0 on Query { ${field} }`];
  for (let n = 1; n <= levels; n++) fragments.push(`fragment F${n} on Query { ...F${n - 1} ...F${n - 1} }`);
  return `{ ...F${levels} } ${fragments.join(' ')}`;
}

/** Documents whose shape is the attack: bombs, depth, width, aliases, directives, cycles, garbage. */
export const shapeAttacks: fc.Arbitrary<Omit<FuzzCall, 'role' | 'transport'>> = fc
  .oneof(
    fc.integer({ min: 8, max: 40 }).map((n) => bomb(n)),
    fc.integer({ min: 8, max: 30 }).map((n) => bomb(n, 'me { user { id } }')),
    fc.integer({ min: 1, max: 40 }).map((n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`),
    fc.integer({ min: 1, max: 120 }).map((n) => `{ __typename ${'@include(if: true) '.repeat(n)} }`),
    fc.integer({ min: 1, max: 12 }).map((n) => `{ __schema { types { ${'fields { type { '.repeat(n)}name${' } }'.repeat(n)} } } }`),
    fc.integer({ min: 100, max: 2000 }).map((n) => `{ ${'__typename '.repeat(n)} }`),
    fc.integer({ min: 1, max: 3 }).map((n) => `{ threads(workspaceId: "00000000-0000-0000-0000-000000000000", first: ${10 ** (n * 4)}) { edges { node { messages(first: 100) { edges { cursor } } } } } }`),
    fc.constantFrom(
      'fragment A on Query { ...B } fragment B on Query { ...A } { ...A }',
      '{ ...Missing }',
      '{ nope }',
      'query A { __typename } query B { __typename }',
      '{ __typename',
      '',
      '   ',
      '\u0000',
      'subscription { __typename }',
      'mutation { __typename }',
      '{ me { user { memberships { customRoleIds } } } }',
      '{ threads(workspaceId: "00000000-0000-0000-0000-000000000000", first: 99999999999999999999) { edges { cursor } } }',
      '{ __type(name: "\u0000") { name } }',
      '{ me { __typename } } { me { __typename } }',
    ),
    fc.string({ maxLength: 200 }),
  )
  .map((query) => ({ kind: 'shape' as const, field: '(shape)', query, variables: {} }));
