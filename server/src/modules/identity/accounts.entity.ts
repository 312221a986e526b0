import { Entity, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { User } from './user.entity';

/** A one-time password reset link: only its SHA-256 is stored; single use, short-lived. */
@TenantScoped()
@Entity({ tableName: 'password_reset_tokens' })
@Index({ properties: ['organization', 'user'] })
export class PasswordResetToken extends TenantEntity<'usedAt'> {
  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade', index: false })
  user!: Ref<User>;

  @Unique()
  @Property({ length: 64 })
  tokenHash!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  usedAt: Date | null = null;
}

/**
 * A device (browser, app install) where the user has logged in before. It presents its device token at the
 * next login and is throttled on its own counter: someone else's failed guesses never lock it out.
 */
@TenantScoped()
@Entity({ tableName: 'known_devices' })
@Index({ properties: ['organization', 'user'] })
export class KnownDevice extends TenantEntity<'lastUsedAt'> {
  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade', index: false })
  user!: Ref<User>;

  @Unique()
  @Property({ length: 64 })
  tokenHash!: string;

  @Property({ type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null = null;
}
