import 'reflect-metadata';
import { GraphQLSchema, lexicographicSortSchema, type GraphQLEnumType } from 'graphql';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { buildSchemaSync, type NonEmptyArray } from 'type-graphql';
import '../modules/identity/enums';
import '../modules/identity/scopes';
import { IdentityResolver } from '../modules/identity/identity.resolver';
import { InvitationFieldsResolver, TeamResolver } from '../modules/identity/team.resolver';
import { ApiKeyResolver } from '../modules/identity/api-keys.resolver';
import { AgentGroupResolver } from '../modules/identity/agent-groups.resolver';
import { WorkspaceResolver } from '../modules/identity/workspaces.resolver';
import { CustomRoleResolver } from '../modules/identity/custom-roles.resolver';
import '../modules/inbox/scopes';
import { InboxResolver } from '../modules/inbox/inbox.resolver';
import { ContactResolver } from '../modules/inbox/contacts.resolver';
import { CatalogueResolver } from '../modules/inbox/catalogue.resolver';
import { DashboardSubscriptionResolver, SubscriptionResolver } from '../realtime/subscriptions.resolver';
import { LivePositionResolver } from '../realtime/position.resolver';
import { COMMERCE_RESOLVERS } from '../modules/commerce';
import { ReportsResolver } from '../modules/reports';
import { CampaignGroupResolver, CampaignResolver, PeerToPeerResolver, PhoneNumberResolver, ShortcodeResolver } from '../modules/campaigns';
import { applyAuth, authDirective } from './auth';
import { withStrictIds } from './input-guards';

const RESOLVERS: NonEmptyArray<Function> = [
  IdentityResolver,
  TeamResolver,
  InvitationFieldsResolver,
  ApiKeyResolver,
  AgentGroupResolver,
  WorkspaceResolver,
  CustomRoleResolver,
  InboxResolver,
  ContactResolver,
  CatalogueResolver,
  SubscriptionResolver,
  DashboardSubscriptionResolver,
  LivePositionResolver,
  ...COMMERCE_RESOLVERS,
  ReportsResolver,
  CampaignGroupResolver,
  CampaignResolver,
  PeerToPeerResolver,
  ShortcodeResolver,
  PhoneNumberResolver,
];

/** The schema as declared, with the @auth directive defined but not yet enforced. */
export function buildDeclaredSchema(): GraphQLSchema {
  const built = buildSchemaSync({
    resolvers: RESOLVERS,
    validate: false,
    // Every subscription brings its own `subscribe` (the event log's live streams); topics are never used.
    pubSub: {
      publish: () => undefined,
      subscribe: () => {
        throw new Error('topic subscriptions are not used: subscriptions read the event log');
      },
    },
    // Dates cross the wire as ISO strings (graphql-scalars DateTimeISO, type-graphql 2's default).
    emitSchemaFile: false,
  });
  const permission = built.getType('Permission') as GraphQLEnumType;
  const config = built.toConfig();
  return new GraphQLSchema({ ...config, directives: [...config.directives, authDirective(permission)] });
}

/**
 * The schema the server runs: every @auth enforced, and ID input parsed strictly (UUIDs only). The printed SDL
 * is the same. `enforceAuth: false` exists for the benchmark baseline only.
 */
export function buildSchema(opts: { enforceAuth?: boolean } = {}): GraphQLSchema {
  const declared = buildDeclaredSchema();
  return withStrictIds(opts.enforceAuth === false ? declared : applyAuth(declared));
}

/** The SDL committed at schema/schema.graphql: sorted, with directives. */
export function printSdl(schema: GraphQLSchema = buildDeclaredSchema()): string {
  return printSchemaWithDirectives(lexicographicSortSchema(schema)) + '\n';
}
