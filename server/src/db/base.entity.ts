import { randomUUID } from 'node:crypto';
import { ManyToOne, OptionalProps, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import type { Organization } from '../modules/identity/organization.entity';

/** Ids are random UUIDs made in the process (no round trip, no guessable sequence). */
export abstract class BaseEntity<Optional extends string = never> {
  /** Properties `em.create` may omit: defaults and derived getters. */
  [OptionalProps]?: 'id' | 'createdAt' | Optional;

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}

/**
 * Owned by one organization. `organization_id` is the tenant filter's predicate today and the
 * distribution key (Citus) tomorrow, so it leads every index of these tables.
 */
export abstract class TenantEntity<Optional extends string = never> extends BaseEntity<'organizationId' | Optional> {
  @ManyToOne('Organization', { ref: true, deleteRule: 'cascade', index: false })
  organization!: Ref<Organization>;

  get organizationId(): string {
    return this.organization.id;
  }
}
