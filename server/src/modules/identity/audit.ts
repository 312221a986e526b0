import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from './principal';
import { AuditLogEntry } from './team.entity';
import { Organization, Workspace } from './organization.entity';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';

export interface AuditInput {
  action: string;
  targetType: string;
  targetId: string;
  workspaceId?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

/** Who acted: a principal, or the system (sign-up, invitation acceptance by the invitee themselves). */
export interface Actor {
  organizationId: string;
  userId: string | null;
  apiKeyId?: string | null;
}

export function actorOf(principal: Principal): Actor {
  return { organizationId: principal.organizationId, userId: principal.userId, apiKeyId: principal.apiKeyId ?? null };
}

/** Appends an audit row inside the caller's transaction: the change and its record commit together. */
export function audit(em: EntityManager, actor: Actor, input: AuditInput): AuditLogEntry {
  const entry = em.create(AuditLogEntry, {
    organization: em.getReference(Organization, actor.organizationId),
    workspace: input.workspaceId ? em.getReference(Workspace, input.workspaceId) : null,
    actorUserId: actor.userId,
    actorApiKeyId: actor.apiKeyId ?? null,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    before: input.before ?? null,
    after: input.after ?? null,
  });
  em.persist(entry);
  return entry;
}

/**
 * The audit log, newest first. With a workspace: that workspace's entries (and those of workspaces below it);
 * without: the whole organization (organization-wide AUDIT_LOG_READ, checked by the directive).
 */
export async function listAuditLog(
  em: EntityManager,
  args: { workspaceId?: string | null; first?: number | null; after?: string | null },
): Promise<Connection<AuditLogEntry>> {
  const size = pageSize(args.first, 50);
  const after = decodeCursor(args.after, 2) as [string, string] | null;
  const where: Record<string, unknown> = {};
  if (args.workspaceId) {
    const descendants = await em.find(Workspace, { $or: [{ id: args.workspaceId }, { ancestorIds: { $contains: [args.workspaceId] } }] }, { fields: ['id'] });
    where.workspace = { $in: descendants.map((w) => w.id) };
  }
  if (after) {
    where.$or = [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }];
  }
  const rows = await em.find(AuditLogEntry, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1 });
  return toConnection(rows, size, (e) => [e.createdAt.toISOString(), e.id]);
}
