import { describe, expect, it } from 'vitest';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { MetadataStorage } from '@mikro-orm/core';
import { buildDeclaredSchema, printSdl } from '../../server/src/graphql/schema';
import { hasAuth, isExempt } from '../../server/src/graphql/auth';
import { ENTITIES } from '../../server/src/db/entities';
import { TENANT_FILTER } from '../../server/src/db/tenant';

const PUBLIC_OPERATIONS = ['Mutation.signUp', 'Mutation.login', 'Mutation.acceptInvitation', 'Mutation.requestPasswordReset', 'Mutation.resetPassword'];

function fieldsWithoutAuth(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const typeGuarded = hasAuth(type.extensions) || isExempt(type.extensions);
    for (const field of Object.values(type.getFields())) {
      if (!typeGuarded && !hasAuth(field.extensions) && !isExempt(field.extensions)) missing.push(`${type.name}.${field.name}`);
    }
  }
  return missing;
}

describe('every field is guarded', () => {
  const schema = buildDeclaredSchema();

  it('has @auth (on the field or its type) or an explicit, reasoned @Public on every field', () => {
    expect(fieldsWithoutAuth(schema)).toEqual([]);
  });

  it('leaves only signUp, login, acceptInvitation and the password reset pair open among the operations', () => {
    const open: string[] = [];
    for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
      if (!root) continue;
      for (const field of Object.values(root.getFields())) {
        if (!hasAuth(field.extensions) && !hasAuth(root.extensions)) open.push(`${root.name}.${field.name}`);
      }
    }
    expect(open.sort()).toEqual([...PUBLIC_OPERATIONS].sort());
  });

  it('prints @auth in the SDL on every guarded operation', () => {
    const sdl = printSdl(schema);
    for (const name of ['users', 'auditLog', 'inviteUser', 'deactivateUser', 'createApiKey']) {
      expect(sdl).toMatch(new RegExp(`\\b${name}\\([^)]*\\)[^\\n]*@auth\\(requires: \\[`, 's'));
    }
  });
});

describe('tenancy at the data layer', () => {
  /**
   * The only indexes that may not lead with organization_id, each for a rule that is global by nature:
   * an email logs in to one account across the whole service (login finds the tenant by it).
   */
  const CROSS_TENANT_INDEXES = ['users_login_email_unique'];
  /**
   * Excluded explicitly: pg-boss's own schema (`pgboss`, server/src/modules/campaigns/sender.ts). Its job tables
   * belong to the queue library, not to a tenant (a job carries a campaign id and its organization id only, and
   * every row it leads to is read through the tenant filter), and it manages their indexes itself. The checks
   * below walk ENTITIES, which never lists them.
   */
  const EXCLUDED_SCHEMAS = ['pgboss'];

  it('puts the tenant filter on every entity that has an organization', async () => {
    const { MikroORM } = await import('@mikro-orm/postgresql');
    const orm = await MikroORM.init({ entities: ENTITIES, dbName: 'unused', connect: false, allowGlobalContext: true });
    try {
      const unfiltered: string[] = [];
      for (const meta of Object.values(orm.getMetadata().getAll())) {
        if (meta.embeddable || meta.abstract || meta.pivotTable) continue;
        if (!meta.properties.organization) continue;
        if (!meta.filters[TENANT_FILTER]?.default) unfiltered.push(meta.className);
      }
      expect(unfiltered).toEqual([]);
      // organization_id leads every index of tenant tables (the filter's predicate and the distribution key).
      const badIndexes: string[] = [];
      for (const meta of Object.values(orm.getMetadata().getAll())) {
        if (!meta.properties.organization) continue;
        for (const idx of [...meta.indexes, ...meta.uniques]) {
          if (idx.expression) {
            // Raw index definitions must lead with the column too.
            if (!/\(\s*"organization_id"/.test(String(idx.expression)) && !CROSS_TENANT_INDEXES.some((name) => String(idx.expression).includes(`"${name}"`))) {
              badIndexes.push(`${meta.className}: ${idx.expression}`);
            }
            continue;
          }
          const props = [idx.properties].flat();
          if (props[0] !== 'organization') badIndexes.push(`${meta.className}(${props.join(',')})`);
        }
      }
      expect(badIndexes).toEqual([]);
      expect(Object.values(orm.getMetadata().getAll()).filter((m) => m.schema && EXCLUDED_SCHEMAS.includes(m.schema))).toEqual([]);
    } finally {
      await orm.close();
    }
    void MetadataStorage;
  });
});
