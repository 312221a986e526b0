/**
 * Server-side execution of one operation, as the HTTP path runs it minus the socket: the app's request
 * context (a fresh EntityManager fork per operation, the principal already authenticated) and graphql-js
 * `execute` on a parsed, validated document.
 */
import { execute, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Switchboard } from '../../server/src/app';
import type { Principal } from '../../server/src/modules/identity/principal';
import { buildContext } from '../../server/src/http/request-context';
import pino from 'pino';

const logger = pino({ level: 'silent' });

export async function principalFor(app: Switchboard, token: string): Promise<Principal> {
  const principal = await app.services.authentication.authenticate(app.orm.em.fork({ clear: true, useContext: false }), token);
  if (!principal) throw new Error('the bench session did not authenticate');
  return principal;
}

export function prepare(schema: GraphQLSchema, source: string): DocumentNode {
  const document = parse(source);
  const errors = validate(schema, document);
  if (errors.length) throw new Error(`invalid bench operation: ${errors.map((e) => e.message).join('; ')}`);
  return document;
}

/** Runs the operation once; throws on any error, so a benchmark never times a failure. */
export async function run(app: Switchboard, schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, principal: Principal): Promise<unknown> {
  const contextValue = await buildContext({ orm: app.orm, services: app.services, logger }, { requestId: 'bench', clientAddress: '127.0.0.1', token: null, principal });
  const result = await execute({ schema, document, variableValues: variables, contextValue });
  if (result.errors?.length) throw new Error(`bench operation failed: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.data;
}
