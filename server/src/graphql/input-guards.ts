import {
  GraphQLError,
  GraphQLID,
  GraphQLScalarType,
  GraphQLSchema,
  type GraphQLNamedType,
  type GraphQLObjectType,
  Kind,
  type ASTVisitor,
  type ValidationRule,
} from 'graphql';
import { rewireTypes } from '@graphql-tools/utils';
import { ErrorCode, badInput } from '../shared/errors';
import { codedError } from './errors';

/** Every id this API hands out is a random UUID (db/base.entity.ts); nothing else can name a row. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

function parseId(value: unknown): string {
  if (!isUuid(value)) throw badInput('Not a valid id: ids are UUIDs');
  return value;
}

/**
 * The built-in ID with strict input: anything but a UUID is BAD_USER_INPUT while variables and literals are
 * coerced, before a resolver (or SQL) sees it. Output is unchanged, and the SDL still says `ID`.
 */
export const StrictID = new GraphQLScalarType({
  name: 'ID',
  description: GraphQLID.description,
  serialize: GraphQLID.serialize,
  parseValue: parseId,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badInput('Not a valid id: ids are UUID strings');
    return parseId(ast.value);
  },
});

/**
 * The schema with ID input parsed by StrictID. (mapSchema leaves built-in scalars alone, so the type map is
 * rewired by hand: every reference to `ID` now points at StrictID; resolvers and extensions are kept.)
 */
export function withStrictIds(schema: GraphQLSchema): GraphQLSchema {
  const config = schema.toConfig();
  const types: Record<string, GraphQLNamedType> = {};
  for (const type of config.types) types[type.name] = type.name === 'ID' ? StrictID : type;
  if (!types.ID) return schema;
  const rewired = rewireTypes(types, config.directives);
  const root = (type: GraphQLObjectType | null | undefined) => (type ? (rewired.typeMap[type.name] as GraphQLObjectType) : undefined);
  return new GraphQLSchema({
    ...config,
    query: root(config.query),
    mutation: root(config.mutation),
    subscription: root(config.subscription),
    types: Object.values(rewired.typeMap),
    directives: rewired.directives,
  });
}

/** Postgres text cannot hold U+0000 (nor jsonb "\u0000"): refused at the edge, never sent to SQL. */
export function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => containsNul(v, depth + 1));
  for (const [k, v] of Object.entries(value)) if (k.includes('\u0000') || containsNul(v, depth + 1)) return true;
  return false;
}

const NUL_MESSAGE = 'Text may not contain the NUL character (U+0000)';

/** The refusal of variables holding NUL; `http` gives Apollo the status (it strips the key from the answer). */
export function nulError(opts: { http?: boolean } = {}): GraphQLError {
  return codedError(ErrorCode.BAD_USER_INPUT, NUL_MESSAGE, { httpStatus: opts.http ? 400 : undefined });
}

/** String literals in the document (arguments, input fields, defaults) may not hold NUL. */
export const noNulLiteralsRule: ValidationRule = (ctx): ASTVisitor => ({
  StringValue(node) {
    if (node.value.includes('\u0000')) ctx.reportError(codedError(ErrorCode.BAD_USER_INPUT, NUL_MESSAGE, { nodes: node }));
  },
});
