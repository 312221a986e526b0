import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, ErrorCode } from '../../shared/errors';
import type { Clock } from '../../shared/clock';
import { CROSS_TENANT, TENANT_FILTER } from '../../db/tenant';
import { PasswordResetToken } from './accounts.entity';
import { audit } from './audit';
import { checkPassword, LOGIN_WINDOW_SECONDS, normalizeEmail, type AuthenticationService } from './authentication.service';
import type { Mailer } from './mailer';
import { hashPassword, hashToken, newToken } from './secrets';
import type { Throttle } from './throttle';
import { User, UserStatus } from './user.entity';

export const PASSWORD_RESET_TTL_MS = 3_600_000;
const RESET_REQUESTS_PER_ACCOUNT = 5;
const RESET_REQUESTS_PER_ADDRESS = 50;
const RESETS_PER_ADDRESS = 30;

const invalidToken = () =>
  new DomainError(ErrorCode.INVALID_CREDENTIALS, 'This password reset link is invalid, already used or expired: request a new one');

/**
 * "Forgot my password": a one-time token mailed to the account's address (through the mail outbox), stored
 * as its SHA-256, valid one hour, single use. A reset ends every session of the user.
 */
export class PasswordResetService {
  constructor(
    private readonly clock: Clock,
    private readonly mailer: Mailer,
    private readonly throttle: Throttle,
    private readonly authentication: AuthenticationService,
    private readonly publicUrl: string,
  ) {}

  private resetUrl(token: string): string {
    return `${this.publicUrl.replace(/\/$/, '')}/reset-password#token=${token}`;
  }

  /**
   * Mails a reset link if an active account has this address. The answer is the same either way (and the
   * send happens after the answer's work, not awaited), so it never tells whether an account exists.
   */
  async request(em: EntityManager, input: { email: string; clientAddress: string }): Promise<void> {
    const email = normalizeEmail(input.email);
    await this.throttle.hit(em, `reset:account:${email}`, RESET_REQUESTS_PER_ACCOUNT, LOGIN_WINDOW_SECONDS);
    await this.throttle.hit(em, `reset:address:${input.clientAddress}`, RESET_REQUESTS_PER_ADDRESS, LOGIN_WINDOW_SECONDS);
    // Cross-tenant by necessity: the email is what tells us the tenant.
    const user = await em.findOne(User, { email, passwordHash: { $ne: null } }, CROSS_TENANT); // the one account that logs in with it
    if (!user || user.status !== UserStatus.ACTIVE) return;
    const organizationId = user.organization.id;
    em.setFilterParams(TENANT_FILTER, { organizationId });
    const token = newToken('passwordReset');
    const mail = await em.transactional(async (tx) => {
      tx.create(PasswordResetToken, {
        organization: organizationId,
        user: user.id,
        tokenHash: hashToken(token),
        expiresAt: new Date(this.clock.now().getTime() + PASSWORD_RESET_TTL_MS),
      });
      return this.mailer.queue(tx, {
        organizationId,
        to: email,
        subject: 'Reset your Switchboard password',
        body:
          `Someone (hopefully you) asked to reset the password of ${email}. Within one hour, open ${this.resetUrl(token)} ` +
          `or call the resetPassword mutation with this token: ${token}\nIf it was not you, ignore this mail: nothing changes.`,
      });
    });
    void this.mailer.flush(mail);
  }

  /** Sets a new password with a reset token; the token is spent and every session of the user ends. */
  async reset(em: EntityManager, input: { token: string; newPassword: string; clientAddress: string }): Promise<{ organizationId: string; userId: string }> {
    await this.throttle.hit(em, `reset:use:address:${input.clientAddress}`, RESETS_PER_ADDRESS, LOGIN_WINDOW_SECONDS);
    checkPassword(input.newPassword);
    const passwordHash = await hashPassword(input.newPassword);
    return em.transactional(async (tx) => {
      // Cross-tenant by necessity: the token is what tells us the tenant. Locked: two uses race, one wins.
      const row = await tx.findOne(
        PasswordResetToken,
        { tokenHash: hashToken(input.token) },
        { ...CROSS_TENANT, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!row || row.usedAt || row.expiresAt.getTime() <= this.clock.now().getTime()) throw invalidToken();
      const organizationId = row.organization.id;
      tx.setFilterParams(TENANT_FILTER, { organizationId });
      const user = await tx.findOne(User, { id: row.user.id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!user || user.status !== UserStatus.ACTIVE) throw invalidToken();
      const now = this.clock.now();
      user.passwordHash = passwordHash;
      user.passwordChangedAt = now;
      // This token and any other outstanding one for the user: a reset spends them all.
      await tx.nativeUpdate(PasswordResetToken, { user: user.id, usedAt: null }, { usedAt: now });
      const revokedSessions = await this.authentication.revokeSessionsOf(tx, user.id);
      // The mailbox is proof enough: guesses made at the account before the reset no longer lock its owner out.
      await this.throttle.clear(tx, `login:account:${user.email}`);
      audit(tx, { organizationId, userId: user.id }, {
        action: 'user.password.reset',
        targetType: 'User',
        targetId: user.id,
        after: { revokedSessions },
      });
      return { organizationId, userId: user.id };
    });
  }
}
