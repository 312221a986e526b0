import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { buildDeclaredSchema } from '../../../server/src/graphql/schema';
import { fieldAuth, type FieldAuth } from '../../../server/src/graphql/auth';
import { ROLE_PRESETS, Role, type Permission } from '../../../server/src/modules/identity/permissions';
import type { Workspace } from '../../../server/src/modules/identity/organization.entity';
import { ApiKey, Invitation } from '../../../server/src/modules/identity/credentials.entity';
import { AgentGroup } from '../../../server/src/modules/identity/team.entity';
import { hashToken, newToken } from '../../../server/src/modules/identity/secrets';
import { CustomRole, type User } from '../../../server/src/modules/identity/user.entity';
import { randomUUID } from 'node:crypto';
import { Contact, OptOut } from '../../../server/src/modules/inbox/contact.entity';
import { Thread } from '../../../server/src/modules/inbox/thread.entity';
import { KeywordRule, Tag, Template } from '../../../server/src/modules/inbox/catalogue.entity';
import { Campaign, CampaignGroup } from '../../../server/src/modules/campaigns/campaign.entity';
import { PhoneNumber } from '../../../server/src/modules/campaigns/phone-number.entity';
import { bootServer, type TestServer } from '../../support/server';
import { OrgBuilder } from '../../support/fixtures';
import { Order, OrderLine, OrderStatus, Payment, Product } from '../../../server/src/modules/commerce';
import { api, type GqlError, type GqlResponse } from '../../support/api';

/**
 * Every operation x every role preset x (own workspace, child, sibling, another organization), generated
 * from the schema's @auth metadata and checked against the catalogue (ROLE_PRESETS), not against the code
 * under test. A pair is "allowed" when the call passes authorization (it may still fail validation).
 *
 * The operations are dealt round-robin (sorted by name) into SHARDS files, which vitest runs in parallel
 * workers; together they check every pair exactly once (see `matrixOperations`).
 */
type Target = 'own' | 'child' | 'sibling' | 'otherOrg';
const TARGETS: Target[] = ['own', 'child', 'sibling', 'otherOrg'];
const DENIAL_CODES = new Set(['FORBIDDEN', 'UNAUTHENTICATED', 'NOT_FOUND']);
export const SHARDS = 4;

export interface MatrixOperation {
  kind: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  auth: FieldAuth;
}

/** Every operation under @auth, sorted by kind and name (the three public operations are left to the schema lint). */
export function matrixOperations(schema: GraphQLSchema): MatrixOperation[] {
  const out: MatrixOperation[] = [];
  for (const [kind, root] of [['query', schema.getQueryType()], ['mutation', schema.getMutationType()]] as const) {
    for (const field of Object.values(root!.getFields()).sort((x, y) => x.name.localeCompare(y.name))) {
      const auth = fieldAuth(schema, root!.name, field.name);
      if (auth) out.push({ kind, field, auth });
    }
  }
  return out;
}

/** How many (operation, role, target) pairs a list of operations makes. */
export function pairCount(operations: MatrixOperation[]): number {
  const roles = Object.values(Role).length;
  return operations.reduce((n, op) => n + roles * (typeof op.auth.scope === 'object' ? TARGETS.length : 1), 0);
}

function expected(role: Role, auth: FieldAuth, target: Target | null): boolean {
  const preset = ROLE_PRESETS[role];
  const holds = auth.requires.every((p: Permission) => preset.permissions.has(p));
  if (auth.requires.length === 0) return true;
  if (!holds) return false;
  const orgWide = role === Role.OWNER; // the matrix grants OWNER on the organization, every other role on "own"
  if (auth.scope === 'organization') return orgWide;
  if (auth.scope === 'anywhere' || target === null) return true;
  if (target === 'otherOrg') return false;
  return orgWide || target === 'own' || target === 'child';
}

function documentFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const defs = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection = isScalarType(named) || isEnumType(named) ? '' : ' { __typename }';
  return `${kind} Matrix${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
}

/** Is the whole request refused for its credential (a session that an earlier operation revoked)? */
function credentialRefused(res: GqlResponse): boolean {
  return !res.data && (res.errors ?? []).some((e) => !e.path && e.extensions?.code === 'UNAUTHENTICATED');
}

/** Defines the test for one shard of the matrix (shard counts from 1). */
export function describeMatrixShard(shard: number): void {
  describe(`permission matrix, shard ${shard} of ${SHARDS}`, () => {
    let server: TestServer;
    let a: OrgBuilder;
    let b: OrgBuilder;
    const ws = {} as Record<Target, Workspace>;
    const roleUsers = new Map<Role, User>();
    // One session per role, opened again only when an operation under test revoked it.
    const tokens = new Map<Role, string>();
    let seq = 0;

    beforeAll(async () => {
      server = await bootServer();
      a = new OrgBuilder(server.app, 'Matrix A');
      b = new OrgBuilder(server.app, 'Matrix B');
      ws.own = a.workspace('Own');
      ws.child = a.workspace('Child', ws.own);
      ws.sibling = a.workspace('Sibling');
      ws.otherOrg = b.workspace('Elsewhere');
      for (const role of Object.values(Role)) {
        roleUsers.set(role, await a.user(`role-${role}`, [{ workspace: role === Role.OWNER ? null : ws.own, roles: [role] }]));
      }
      // A second owner, so owner-on-owner operations are not refused as LAST_OWNER noise.
      await a.user('second-owner', [{ workspace: null, roles: [Role.OWNER] }]);
      await b.user('b-owner', [{ workspace: null, roles: [Role.OWNER] }]);
      await a.flush();
      await b.flush();
    });
    afterAll(() => server.close());

    function builderFor(target: Target): OrgBuilder {
      return target === 'otherOrg' ? b : a;
    }

    async function freshToken(role: Role): Promise<string> {
      const token = (await a.login(roleUsers.get(role)!)).token;
      tokens.set(role, token);
      return token;
    }

    /**
     * A fresh object of the given kind in the target workspace (mutations may consume or revoke it). Threads are
     * assigned to the caller, so an agent's visibility rule does not hide them: the matrix checks the directive.
     */
    async function objectIn(kind: string, target: Target, caller?: User): Promise<string> {
      const org = builderFor(target);
      const w = ws[target];
      const em = (org as unknown as { em: import('@mikro-orm/postgresql').EntityManager }).em;
      const n = ++seq;
      switch (kind) {
        case 'Workspace':
          return w.id;
        case 'Contact':
          return em.create(Contact, { organization: org.organization, workspace: w, phone: `+1555${String(n).padStart(7, '0')}` }).id;
        case 'Thread': {
          const contact = em.create(Contact, { organization: org.organization, workspace: w, phone: `+1666${String(n).padStart(7, '0')}` });
          return em.create(Thread, {
            organization: org.organization,
            workspace: w,
            contact,
            campaignId: randomUUID(),
            assigneeUser: target === 'otherOrg' ? null : (caller ?? null),
          }).id;
        }
        case 'OptOut':
          return em.create(OptOut, { organization: org.organization, workspace: w, address: `+1777${String(n).padStart(7, '0')}` }).id;
        case 'Tag':
          return em.create(Tag, { organization: org.organization, workspace: w, name: `tag-${n}` }).id;
        case 'Template':
          return em.create(Template, { organization: org.organization, workspace: w, name: `template-${n}`, body: 'Hello' }).id;
        case 'KeywordRule':
          return em.create(KeywordRule, { organization: org.organization, workspace: w, name: `rule-${n}`, phrases: ['x'], createdById: roleUsers.get(Role.OWNER)!.id }).id;
        case 'CustomRole':
          return em.create(CustomRole, { organization: org.organization, name: `custom-${n}`, permissions: [] }).id;
        case 'User':
          return (await org.user(`member-${n}`, [{ workspace: w, roles: [Role.VIEWER] }])).id;
        case 'AgentGroup':
          return em.create(AgentGroup, { organization: org.organization, workspace: w, name: `group-${n}` }).id;
        case 'ApiKey': {
          const creator = roleUsers.get(Role.OWNER)!;
          const owner = target === 'otherOrg' ? await org.user(`creator-${n}`, [{ workspace: null, roles: [Role.OWNER] }]) : creator;
          const token = newToken('apiKey');
          return em.create(ApiKey, { organization: org.organization, name: `key-${n}`, workspace: w, createdBy: owner, prefix: token.slice(0, 12), tokenHash: hashToken(token), permissions: [] }).id;
        }
        case 'Invitation': {
          const invitee = await org.user(`invitee-${n}`, [], 'INVITED' as never);
          const inviter = target === 'otherOrg' ? invitee : roleUsers.get(Role.OWNER)!;
          return em.create(Invitation, {
            organization: org.organization,
            email: invitee.email,
            user: invitee,
            workspace: w,
            roles: [Role.VIEWER],
            addOns: [],
            invitedBy: inviter,
            tokenHash: hashToken(newToken('invitation')),
            expiresAt: new Date(Date.now() + 86_400_000),
          }).id;
        }
        // Commerce: orders are the caller's own independent orders (an agent sees those), PLACED, with one line.
        case 'Product':
          return em.create(Product, { organization: org.organization, workspace: w, sku: `SKU-${n}`, name: `product-${n}`, priceAmount: 100, currency: 'USD' }).id;
        case 'Order':
          return commerceOrder(em, org, w, caller).id;
        case 'Payment': {
          const order = commerceOrder(em, org, w, caller);
          return em.create(Payment, { organization: org.organization, workspace: w, order, amount: 100, method: 'cash', recordedById: caller?.id ?? roleUsers.get(Role.OWNER)!.id }).id;
        }
        case 'CampaignGroup':
          return em.create(CampaignGroup, { organization: org.organization, workspace: w, name: `campaign-group-${n}` }).id;
        case 'Campaign':
          return em.create(Campaign, { organization: org.organization, workspace: w, name: `campaign-${n}`, messageTemplate: 'Hello', createdById: roleUsers.get(Role.OWNER)!.id }).id;
        case 'PhoneNumber':
          return em.create(PhoneNumber, { organization: org.organization, workspaceId: w.id, number: `+1555${String(n).padStart(7, '0')}`, displayName: `number-${n}` }).id;
        case 'Export': {
          // Exports are raw SQL rows (modules/reports/exports); one started by the caller, still QUEUED.
          const id = randomUUID();
          await server.app.orm.em.fork().getConnection().execute(
            `insert into exports (id, organization_id, workspace_id, created_by_id, kind, format) values (?, ?, ?, ?, 'CONTACTS', 'CSV')`,
            [id, org.organization.id, w.id, caller?.id ?? roleUsers.get(Role.OWNER)!.id],
          );
          return id;
        }
        default:
          throw new Error(`no fixture for ${kind}`);
      }
    }

    function commerceOrder(em: import('@mikro-orm/postgresql').EntityManager, org: OrgBuilder, w: Workspace, caller?: User): Order {
      const order = em.create(Order, { organization: org.organization, workspace: w, currency: 'USD', status: OrderStatus.PLACED, totalAmount: 1000, createdById: caller?.id ?? roleUsers.get(Role.OWNER)!.id });
      em.create(OrderLine, { organization: org.organization, workspace: w, order, position: 0, description: 'goods', quantity: 1, unitAmount: 1000 });
      return order;
    }

    /** An S3 destination of organization A (raw SQL, like exports: modules/reports/exports). */
    async function exportDestination(): Promise<string> {
      const id = randomUUID();
      await server.app.orm.em.fork().getConnection().execute(
        `insert into export_destinations (id, organization_id, name, region, bucket, access_key_id, secret_key_encrypted, created_by_id) values (?, ?, ?, 'us-east-1', 'matrix', 'key', 'not-a-secret', ?)`,
        [id, a.organization.id, `destination-${++seq}`, roleUsers.get(Role.OWNER)!.id],
      );
      return id;
    }

    /** A daily contacts export of the target workspace to a fresh destination of organization A. */
    async function exportSchedule(target: Target): Promise<string> {
      const id = randomUUID();
      await server.app.orm.em.fork().getConnection().execute(
        `insert into export_schedules (id, organization_id, workspace_id, destination_id, kind, format, every_hours, next_run_at, created_by_id) values (?, ?, ?, ?, 'CONTACTS', 'CSV', 24, now() + interval '1 day', ?)`,
        [id, a.organization.id, ws[target].id, await exportDestination(), roleUsers.get(Role.OWNER)!.id],
      );
      return id;
    }

    /** Builds variables for an operation: the scope argument points at the target, the rest is plausible input. */
    async function variablesFor(field: GraphQLField<unknown, unknown>, auth: FieldAuth, target: Target | null, caller: User) {
      const scope = typeof auth.scope === 'object' ? auth.scope : null;
      const scopeValue = !scope || target === null ? undefined : scope.object ? await objectIn(scope.object, target, caller) : ws[target].id;

      const valueFor = async (name: string, type: GraphQLInputType, path: string): Promise<unknown> => {
        if (scope && path === scope.arg) return scopeValue;
        const required = isNonNullType(type);
        const inner = getNullableType(type);
        if (!required && !isInputObjectType(inner)) return undefined;
        if (isListType(inner)) {
          if (name === 'addOns') return [];
          const item = await valueFor(name, inner.ofType as GraphQLInputType, `${path}[]`);
          return item === undefined ? [] : [item];
        }
        if (isInputObjectType(inner)) {
          const out: Record<string, unknown> = {};
          for (const f of Object.values(inner.getFields()) as GraphQLInputField[]) {
            const v = await valueFor(f.name, f.type, `${path}.${f.name}`);
            if (v !== undefined) out[f.name] = v;
          }
          return out;
        }
        if (isEnumType(inner)) {
          const preferred: Record<string, string> = { Role: 'VIEWER', Permission: 'WORKSPACE_READ', Availability: 'ONLINE' };
          return preferred[inner.name] ?? inner.getValues()[0]!.value;
        }
        if (isScalarType(inner)) {
          if (inner.name === 'ID') {
            const where = target === null || target === 'otherOrg' ? 'own' : target;
            // Organization-scoped deletes of raw-SQL export rows take the row's id: a row of the caller's org.
            if (name === 'id' && field.name === 'deleteExportDestination') return exportDestination();
            if (name === 'id' && field.name === 'deleteExportSchedule') return exportSchedule(where);
            // Phone numbers are named by workspace and id: one in the scope's workspace.
            if (name === 'id' && /PhoneNumber$/.test(field.name)) return objectIn('PhoneNumber', target ?? 'own');
            if (name === 'userId' || name === 'id') return objectIn('User', where);
            if (name === 'mergeId') return objectIn('Contact', where);
            if (name === 'tagId') return objectIn('Tag', where);
            if (name === 'productIds') return objectIn('Product', where);
            return ws.own.id;
          }
          if (inner.name === 'DateTimeISO') return new Date(Date.now() + 86_400_000).toISOString();
          if (inner.name === 'JSONObject') return {};
          if (inner.name === 'Int' || inner.name === 'SafeInt') return 5;
          if (inner.name === 'Boolean') return false;
          if (name === 'email') return `matrix-${++seq}@example.test`;
          if (name === 'password') return 'matrix password long enough';
          if (name === 'token') return 'sbi_not-a-token';
          return `Matrix ${++seq}`;
        }
        return undefined;
      };

      const variables: Record<string, unknown> = {};
      for (const arg of field.args as GraphQLArgument[]) {
        const v = await valueFor(arg.name, arg.type, arg.name);
        if (v !== undefined) variables[arg.name] = v;
      }
      return variables;
    }

    it('holds for every operation, role and workspace relation in this shard', async () => {
      const all = matrixOperations(buildDeclaredSchema());
      const mine = all.filter((_, i) => i % SHARDS === shard - 1);
      const profile = { fixtures: 0, request: 0 };
      const mismatches: string[] = [];
      let pairs = 0;
      for (const { kind, field, auth } of mine) {
        const document = documentFor(kind, field);
        const targeted = typeof auth.scope === 'object';
        // The operation's fixtures first, in one flush (each pair still gets objects of its own).
        let t0 = performance.now();
        const cases: Array<{ role: Role; target: Target | null; variables: Record<string, unknown> }> = [];
        for (const role of Object.values(Role)) {
          for (const target of targeted ? TARGETS : [null]) {
            cases.push({ role, target, variables: await variablesFor(field, auth, target, roleUsers.get(role)!) });
          }
        }
        await a.flush();
        await b.flush();
        profile.fixtures += performance.now() - t0;
        t0 = performance.now();
        for (const { role, target, variables } of cases) {
          let res = await api(server).as(tokens.get(role) ?? (await freshToken(role))).send(document, variables);
          // An earlier operation (a logout, a password change) may have revoked this role's session: open another.
          if (credentialRefused(res)) res = await api(server).as(await freshToken(role)).send(document, variables);
          const rootErrors = (res.errors ?? []).filter((e: GqlError) => e.path?.length === 1 || !e.path);
          const allowed = !rootErrors.some((e) => DENIAL_CODES.has(String(e.extensions?.code ?? '')));
          const want = expected(role, auth, target);
          pairs++;
          if (allowed !== want) {
            mismatches.push(`${kind} ${field.name} as ${role} on ${target ?? '-'}: expected ${want ? 'allowed' : 'denied'}, got ${JSON.stringify(rootErrors.map((e) => e.extensions?.code ?? e.message))}`);
          }
        }
        profile.request += performance.now() - t0;
        a.recycle(ws.own, ws.child, ws.sibling, ...roleUsers.values());
        b.recycle(ws.otherOrg);
      }
      console.log(
        `permission matrix, shard ${shard} of ${SHARDS}: ${pairs} of ${pairCount(all)} (operation, role, workspace) pairs checked, ${mismatches.length} mismatches` +
          ` (fixtures ${Math.round(profile.fixtures)} ms, requests ${Math.round(profile.request)} ms)`,
      );
      expect(mismatches).toEqual([]);
      expect(pairs).toBe(pairCount(mine));
    }, 300_000);
  });
}
