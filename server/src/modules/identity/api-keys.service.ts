import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, notFound } from '../../shared/errors';
import type { Principal } from './principal';
import type { Clock } from '../../shared/clock';
import { actorOf, audit } from './audit';
import { checkName } from '../../shared/input';
import { ApiKey } from './credentials.entity';
import { Organization, Workspace } from './organization.entity';
import { ORGANIZATION_PERMISSIONS, type Permission } from './permissions';
import { assertMayCreateApiKey } from './policy';
import { hashToken, newToken } from './secrets';
import { User } from './user.entity';
import { AccessChangeKind, recordAccessChange } from '../../realtime';

/** Integrator credentials: one workspace, a subset of the creator's permissions, shown once, revocable. */
export class ApiKeyService {
  constructor(private readonly clock: Clock) {}

  async create(
    em: EntityManager,
    principal: Principal,
    input: { workspaceId: string; name: string; permissions: Permission[] },
  ): Promise<{ apiKey: ApiKey; secret: string }> {
    const name = checkName(input.name, 'name', 100);
    const permissions = [...new Set(input.permissions)];
    if (!permissions.length) throw badInput('An API key needs at least one permission', { field: 'permissions' });
    const orgOnly = permissions.filter((p) => ORGANIZATION_PERMISSIONS.has(p));
    if (orgOnly.length) throw badInput('API keys hold workspace permissions only', { field: 'permissions', invalid: orgOnly });
    assertMayCreateApiKey(principal.access, input.workspaceId, permissions);
    const secret = newToken('apiKey');
    const apiKey = await em.transactional(async (tx) => {
      const workspace = await tx.findOne(Workspace, { id: input.workspaceId });
      if (!workspace) throw notFound('Workspace');
      const key = tx.create(ApiKey, {
        organization: tx.getReference(Organization, principal.organizationId),
        name,
        workspace,
        createdBy: tx.getReference(User, principal.userId),
        prefix: secret.slice(0, 12),
        tokenHash: hashToken(secret),
        permissions,
      });
      audit(tx, actorOf(principal), { action: 'apiKey.create', targetType: 'ApiKey', targetId: key.id, workspaceId: input.workspaceId, after: { name, permissions } });
      return key;
    });
    return { apiKey, secret };
  }

  async revoke(em: EntityManager, principal: Principal, id: string): Promise<ApiKey> {
    return em.transactional(async (tx) => {
      const key = await tx.findOne(ApiKey, { id });
      if (!key) throw notFound('API key');
      if (key.revokedAt) return key;
      key.revokedAt = this.clock.now();
      audit(tx, actorOf(principal), { action: 'apiKey.revoke', targetType: 'ApiKey', targetId: id, workspaceId: key.workspaceId });
      await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.API_KEY_REVOKED, apiKeyId: id });
      return key;
    });
  }

  async list(em: EntityManager, workspaceId: string): Promise<ApiKey[]> {
    return em.find(ApiKey, { workspace: workspaceId }, { orderBy: { createdAt: 'desc', id: 'desc' } });
  }
}
