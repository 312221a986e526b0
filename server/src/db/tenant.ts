import { Filter } from '@mikro-orm/core';

/**
 * The tenant predicate. Every tenant-owned entity carries it, on by default: a query that runs without
 * `em.setFilterParams(TENANT_FILTER, { organizationId })` throws instead of reading every organization's rows.
 * The few system paths that must look across tenants (login by email, token lookups, migrations) turn it
 * off explicitly with `filters: { [TENANT_FILTER]: false }`, and each says why.
 */
export const TENANT_FILTER = 'tenant';

export interface TenantFilterArgs {
  organizationId: string;
}

export function TenantScoped(): ClassDecorator {
  return Filter({
    name: TENANT_FILTER,
    default: true,
    cond: (args: TenantFilterArgs) => ({ organization: args.organizationId }),
  }) as ClassDecorator;
}

/** Options that switch the tenant filter off for one query; grep for it to find every cross-tenant read. */
export const CROSS_TENANT = { filters: { [TENANT_FILTER]: false } } as const;

/** A uuid[] parameter for raw SQL (knex would spread a JS array into a list). Ids are validated uuids. */
export function uuidArray(ids: readonly string[]): string {
  for (const id of ids) if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`not a uuid: ${id}`);
  return `{${ids.join(',')}}`;
}
