import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../../observability/logger';
import { runDetached } from '../../observability/request-scope';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import { badInput } from '../../shared/errors';
import { Workspace } from '../identity';
import type { Principal } from '../identity';
import { readerOf } from './policy';
import { ReadAuditEntry } from './read-audit.entity';

/** What was read. */
export enum ReadAction {
  THREAD_MESSAGES = 'thread.messages',
  CONTACT = 'contact.read',
  CONVERSATION_REPORT = 'report.conversations',
  USAGE = 'report.usage',
  ORGANIZATION_USAGE = 'report.organizationUsage',
  PAYMENT_REPORT = 'report.payments',
  ORGANIZATION_REPORT = 'report.organizationConversations',
  /** Starting an export (the rows are read by its job). */
  EXPORT = 'export.start',
  /** Downloading an export's file through its one-time URL (recorded for the person who started it). */
  EXPORT_DOWNLOAD = 'export.download',
}

/** Who read, when there is no Principal at hand (a download authenticated by its one-time token). */
export interface Reader {
  organizationId: string;
  actorUserId: string;
  actorApiKeyId: string | null;
  sessionId: string | null;
}

interface PendingRead {
  id: string;
  organizationId: string;
  workspaceId: string | null;
  actorUserId: string;
  actorApiKeyId: string | null;
  sessionId: string | null;
  action: ReadAction;
  targetType: string;
  targetId: string;
  at: Date;
}

export interface ReadAuditOptions {
  /** How often the buffer is written (also when it holds `maxBatch` reads, and at shutdown). */
  flushMs?: number;
  maxBatch?: number;
  /** Reads older than this are deleted (hourly). */
  retentionDays?: number;
}

const COLUMNS = 10;
/** Reads kept in memory at most while the database refuses them; beyond that the oldest are dropped (and logged). */
const MAX_BUFFERED = 50_000;

/**
 * The audit of reads. A read is pushed onto an in-memory buffer (no I/O in the request that reads), and the
 * buffer is written with one multi-row INSERT per batch: every `flushMs`, whenever it reaches `maxBatch`, and
 * at shutdown. A process that dies hard loses at most its last `flushMs` of reads.
 */
export class ReadAuditRecorder {
  private buffer: PendingRead[] = [];
  private orm: MikroORM | null = null;
  private logger: Logger | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private maxBatch = 500;
  dropped = 0;

  /** Starts writing to the database (before this, reads are buffered). */
  start(orm: MikroORM, logger: Logger, opts: ReadAuditOptions = {}): void {
    this.orm = orm;
    this.logger = logger;
    this.maxBatch = opts.maxBatch ?? 500;
    this.timer = setInterval(() => void this.flush(), opts.flushMs ?? 1000);
    this.timer.unref();
    const retentionDays = opts.retentionDays ?? 365;
    this.pruneTimer = setInterval(() => {
      runDetached(() => prune(orm.em.fork(), retentionDays)).catch((err) => logger.warn({ err }, 'read audit pruning failed'));
    }, 3_600_000);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.flush();
    this.orm = null;
  }

  /** Records that `principal` read `target` (one call from a resolver; no I/O). Returns the target. */
  record<T>(principal: Principal | null, action: ReadAction, targetType: string, targetId: string, workspaceId: string | null, target?: T): T | undefined {
    if (principal) {
      if (this.buffer.length >= MAX_BUFFERED) {
        this.buffer.shift();
        this.dropped++;
      }
      this.buffer.push({ id: randomUUID(), organizationId: principal.organizationId, workspaceId, ...readerOf(principal), action, targetType, targetId, at: new Date() });
      if (this.buffer.length >= this.maxBatch) void this.flush();
    }
    return target;
  }

  /** Records a read by someone identified otherwise than by a principal (no I/O). */
  recordAs(reader: Reader, action: ReadAction, targetType: string, targetId: string, workspaceId: string | null): void {
    if (this.buffer.length >= MAX_BUFFERED) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push({ id: randomUUID(), ...reader, workspaceId, action, targetType, targetId, at: new Date() });
    if (this.buffer.length >= this.maxBatch) void this.flush();
  }

  /** Writes everything buffered so far; resolves once it is committed. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeAll());
    return this.flushing;
  }

  private async writeAll(): Promise<void> {
    const orm = this.orm;
    while (orm && this.buffer.length) {
      const batch = this.buffer.splice(0, this.maxBatch);
      try {
        await runDetached(() => insertBatch(orm.em.fork(), batch));
      } catch (err) {
        this.buffer.unshift(...batch);
        if (this.buffer.length > MAX_BUFFERED) {
          const over = this.buffer.length - MAX_BUFFERED;
          this.buffer.splice(0, over);
          this.dropped += over;
        }
        this.logger?.warn({ err: (err as Error).message, buffered: this.buffer.length }, 'could not write the read audit; will retry');
        return;
      }
    }
  }
}

async function insertBatch(em: EntityManager, batch: PendingRead[]): Promise<void> {
  const values = batch.map(() => `(${new Array(COLUMNS).fill('?').join(', ')})`).join(', ');
  await em.getConnection().execute(
    `insert into read_audit (id, organization_id, workspace_id, actor_user_id, actor_api_key_id, session_id, action, target_type, target_id, created_at) values ${values}`,
    batch.flatMap((r) => [r.id, r.organizationId, r.workspaceId, r.actorUserId, r.actorApiKeyId, r.sessionId, r.action, r.targetType, r.targetId, r.at]),
  );
}

async function prune(em: EntityManager, retentionDays: number): Promise<void> {
  await em.getConnection().execute(`delete from read_audit where created_at < now() - make_interval(days => ?)`, [retentionDays]);
}

export interface ReadAuditQuery {
  workspaceId?: string | null;
  actorUserId?: string | null;
  targetId?: string | null;
  action?: string | null;
  since?: Date | null;
  until?: Date | null;
  first?: number | null;
  after?: string | null;
}

/**
 * The audit of reads, newest first, keyset-paged like the audit log: a workspace's reads (and those of
 * workspaces below it), or the organization's (organization-wide AUDIT_LOG_READ, checked by the directive).
 */
export async function listReadAudit(em: EntityManager, q: ReadAuditQuery): Promise<Connection<ReadAuditEntry>> {
  const size = pageSize(q.first, 50);
  const after = decodeCursor(q.after, 2) as [string, string] | null;
  if (q.since && q.until && q.until < q.since) throw badInput('until is before since', { field: 'until' });
  const where: Record<string, unknown> = {};
  if (q.workspaceId) {
    const below = await em.find(Workspace, { $or: [{ id: q.workspaceId }, { ancestorIds: { $contains: [q.workspaceId] } }] }, { fields: ['id'] });
    where.workspaceId = { $in: below.map((w) => w.id) };
  }
  if (q.actorUserId) where.actorUserId = q.actorUserId;
  if (q.targetId) where.targetId = q.targetId;
  if (q.action) where.action = q.action;
  const createdAt: Record<string, Date> = {};
  if (q.since) createdAt.$gte = q.since;
  if (q.until) createdAt.$lt = q.until;
  if (Object.keys(createdAt).length) where.createdAt = createdAt;
  if (after) {
    where.$and = [{ $or: [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }] }];
  }
  const rows = await em.find(ReadAuditEntry, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1 });
  return toConnection(rows, size, (e) => [e.createdAt.toISOString(), e.id]);
}
