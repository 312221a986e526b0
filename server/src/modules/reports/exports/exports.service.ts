import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import PgBoss from 'pg-boss';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { TENANT_FILTER } from '../../../db/tenant';
import type { Logger } from '../../../observability/logger';
import { runDetached } from '../../../observability/request-scope';
import { appendEvent, EXPORT_PROGRESS, type ExportProgressState } from '../../../realtime';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../../graphql/pagination';
import { badInput, DomainError, ErrorCode, forbidden, notFound } from '../../../shared/errors';
import { actorOf, audit, type Principal } from '../../identity';
import { ReadAction, type ReadAuditRecorder } from '../read-audit';
import type { ReportService } from '../reports.service';
import { encoderFor, ExportFormat } from './format';
import { KIND_PERMISSIONS, sourceFor, validateParams, type ExportKind, type ExportParams } from './sources';
import { decryptSecret, encryptSecret } from './secrets';

export const EXPORT_QUEUE = 'report-export';
/**
 * A job still active after this long is presumed dead (its process crashed) and pg-boss hands it out again; a
 * RUNNING export is taken over only then (a job that fails in our code marks its export FAILED itself).
 */
const JOB_EXPIRE_SECONDS = 3600;
const PGBOSS_SCHEMA = 'pgboss';

export enum ExportStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  DONE = 'DONE',
  FAILED = 'FAILED',
  /** DONE, never downloaded, and kept past EXPORT_RETENTION_HOURS: its file was deleted. */
  EXPIRED = 'EXPIRED',
}

export interface ExportRecord {
  id: string;
  organizationId: string;
  workspaceId: string;
  createdById: string;
  kind: ExportKind;
  format: ExportFormat;
  params: ExportParams;
  status: ExportStatus;
  rowsWritten: number;
  bytesWritten: number;
  error: string | null;
  destinationId: string | null;
  scheduleId: string | null;
  objectKey: string | null;
  downloadExpiresAt: Date | null;
  downloadedAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface ExportDestinationRecord {
  id: string;
  name: string;
  endpoint: string | null;
  region: string;
  bucket: string;
  prefix: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  createdAt: Date;
}

export interface ExportScheduleRecord {
  id: string;
  workspaceId: string;
  destinationId: string;
  kind: ExportKind;
  format: ExportFormat;
  params: ExportParams;
  everyHours: number;
  periodDays: number | null;
  nextRunAt: Date;
  lastExportId: string | null;
  createdAt: Date;
}

export interface StartExportInput {
  workspaceId: string;
  kind: ExportKind;
  format: ExportFormat;
  params: ExportParams;
}

export interface DestinationInput {
  name: string;
  endpoint?: string | null;
  region: string;
  bucket: string;
  prefix?: string | null;
  forcePathStyle?: boolean | null;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface ScheduleInput {
  workspaceId: string;
  destinationId: string;
  kind: ExportKind;
  format: ExportFormat;
  params: ExportParams;
  /** How often (hours); a report kind covers the `periodDays` local days before the run. */
  everyHours: number;
  periodDays?: number | null;
  firstRunAt?: Date | null;
}

export interface ExportRuntimeOptions {
  orm: MikroORM;
  logger: Logger;
  databaseUrl: string;
  dir: string;
  urlTtlMinutes: number;
  publicUrl: string;
  secretsKey: string | undefined;
  readAudit: ReadAuditRecorder;
  /** How often due schedules are looked for and stale files removed (0: never by timer; tests call them). */
  scheduleEveryMs?: number;
  /** A finished export's file is kept this long for its download. */
  retentionHours: number;
  /** Progress events at most this often per export. */
  progressEveryMs?: number;
}

interface ExportRow {
  id: string;
  organization_id: string;
  workspace_id: string;
  created_by_id: string;
  created_by_api_key_id: string | null;
  session_id: string | null;
  kind: string;
  format: string;
  params: ExportParams;
  status: string;
  rows_written: string;
  bytes_written: string;
  error: string | null;
  destination_id: string | null;
  schedule_id: string | null;
  object_key: string | null;
  download_token_hash: string | null;
  download_expires_at: Date | null;
  downloaded_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Raw rows carry timestamps as the driver gives them (strings here): every one becomes a Date. */
function date(value: Date | string | null | undefined): Date | null {
  if (value === undefined) return null;
  return value === null ? null : new Date(value);
}

function toRecord(r: ExportRow): ExportRecord {
  return {
    id: r.id, organizationId: r.organization_id, workspaceId: r.workspace_id, createdById: r.created_by_id, kind: r.kind as ExportKind,
    format: r.format as ExportFormat, params: r.params, status: r.status as ExportStatus, rowsWritten: Number(r.rows_written),
    bytesWritten: Number(r.bytes_written), error: r.error, destinationId: r.destination_id, scheduleId: r.schedule_id, objectKey: r.object_key,
    downloadExpiresAt: date(r.download_expires_at), downloadedAt: date(r.downloaded_at), createdAt: date(r.created_at)!, startedAt: date(r.started_at), finishedAt: date(r.finished_at),
  };
}

function destinationOf(r: Record<string, any>): ExportDestinationRecord {
  return { id: r.id, name: r.name, endpoint: r.endpoint, region: r.region, bucket: r.bucket, prefix: r.prefix, forcePathStyle: r.force_path_style, accessKeyId: r.access_key_id, createdAt: date(r.created_at)! };
}

function scheduleOf(r: Record<string, any>): ExportScheduleRecord {
  return {
    id: r.id, workspaceId: r.workspace_id, destinationId: r.destination_id, kind: r.kind, format: r.format, params: r.params,
    everyHours: r.every_hours, periodDays: r.params?.periodDays ?? null, nextRunAt: date(r.next_run_at)!, lastExportId: r.last_export_id, createdAt: date(r.created_at)!,
  };
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

function exec<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T> {
  return em.getConnection().execute(sql, params, 'all', em.getTransactionContext()) as Promise<T>;
}

/** Why a download is refused (the HTTP route turns these into 404 or 410). */
export type DownloadRefusal = 'NOT_FOUND' | 'USED' | 'EXPIRED';

export interface DownloadClaim {
  file: string;
  fileName: string;
  contentType: string;
}

/**
 * Exports: a mutation writes the export row (QUEUED), its audit row and its first progress event in one
 * transaction and sends a pg-boss job; the job (any process) streams the rows page by page (keyset, one short
 * statement per page) through an encoder into a file under EXPORT_DIR, with a progress event at most every
 * `progressEveryMs`, then marks it DONE or FAILED. The creator then asks for a one-time download URL (a random
 * token, stored hashed, expiring); the HTTP route claims the token atomically, streams the file and deletes it.
 * An export with a destination (a scheduled one) is uploaded to S3 instead (multipart, streamed from the file).
 */
export class ExportService {
  private rt: ExportRuntimeOptions | null = null;
  private starting: Promise<PgBoss> | null = null;
  private stopped = false;
  private scheduleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly reports: ReportService) {}

  private get runtime(): ExportRuntimeOptions {
    if (!this.rt) throw new DomainError(ErrorCode.UNAVAILABLE, 'Exports are not running on this server');
    return this.rt;
  }

  /** Starts the runtime: resumes unfinished exports (their jobs are in pg-boss already) and the schedule timer. */
  async start(opts: ExportRuntimeOptions): Promise<void> {
    this.rt = opts;
    this.stopped = false;
    const pending = await opts.orm.em.fork().getConnection().execute<Array<{ n: string }>>(
      `select (select count(*) from exports where status in ('QUEUED', 'RUNNING')) + (select count(*) from export_schedules) as n`,
    );
    if (Number(pending[0]?.n ?? 0) > 0) {
      await this.queue();
      // A QUEUED export whose job was never sent (the queue was down at its start) gets one now; one whose job
      // exists is not run twice (the job's singleton key, and the run's claim of a QUEUED row).
      const queued = await opts.orm.em.fork().getConnection().execute<Array<{ id: string; organization_id: string }>>(
        `select id, organization_id from exports where status = 'QUEUED' and created_at < now() - interval '1 minute' limit 1000`,
      );
      for (const q of queued) await this.enqueue(q.id, q.organization_id);
    }
    const every = opts.scheduleEveryMs ?? 60_000;
    if (every > 0) {
      this.scheduleTimer = setInterval(() => {
        void runDetached(() => this.runDueSchedules()).catch((err) => opts.logger.warn({ err }, 'scheduled exports failed; will retry'));
        void runDetached(() => this.expireFiles()).catch((err) => opts.logger.warn({ err }, 'removing stale export files failed; will retry'));
      }, every);
      this.scheduleTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.scheduleTimer) clearInterval(this.scheduleTimer);
    if (this.starting) {
      const boss = await this.starting.catch(() => null);
      await boss?.stop({ graceful: true, wait: true, timeout: 5_000 });
    }
    this.starting = null;
  }

  /** pg-boss, started on first use (a server that never exports runs no queue). */
  private queue(): Promise<PgBoss> {
    this.starting ??= (async () => {
      const rt = this.runtime;
      const boss = new PgBoss({ connectionString: rt.databaseUrl, schema: PGBOSS_SCHEMA, max: 2, supervise: true, schedule: false });
      boss.on('error', (err) => rt.logger.warn({ err }, 'pg-boss error (exports)'));
      await boss.start();
      await boss.createQueue(EXPORT_QUEUE);
      await boss.work<{ exportId: string; organizationId: string }>(EXPORT_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) await runDetached(() => this.run(job.data.exportId, job.data.organizationId));
      });
      return boss;
    })();
    return this.starting;
  }

  private async enqueue(exportId: string, organizationId: string): Promise<void> {
    if (this.stopped) return;
    const boss = await this.queue();
    await boss.send(EXPORT_QUEUE, { exportId, organizationId }, { singletonKey: exportId, retryLimit: 2, retryDelay: 2, expireInSeconds: JOB_EXPIRE_SECONDS });
  }

  private tenantEm(organizationId: string): EntityManager {
    const em = this.runtime.orm.em.fork({ clear: true, useContext: false });
    em.setFilterParams(TENANT_FILTER, { organizationId });
    return em;
  }

  // ---- starting and reading exports ----

  /** Checks what reading the same data through the API takes, in the export's workspace. */
  assertMayExport(principal: Principal, workspaceId: string, kind: ExportKind): void {
    const missing = KIND_PERMISSIONS[kind].filter((p) => !principal.access.can(p, workspaceId));
    if (missing.length) throw forbidden(`Exporting ${kind} also takes ${missing.join(', ')} in this workspace`);
  }

  async startExport(em: EntityManager, principal: Principal, input: StartExportInput): Promise<ExportRecord> {
    this.assertMayExport(principal, input.workspaceId, input.kind);
    validateParams(input.kind, input.params);
    const record = await this.insertExport(em, { ...input, principal, destinationId: null, scheduleId: null });
    this.runtime.readAudit.record(principal, ReadAction.EXPORT, 'Export', record.id, input.workspaceId);
    // The export is committed: if the queue cannot take its job now, the next boot sends it (start()).
    await this.enqueue(record.id, principal.organizationId).catch((err) => this.runtime.logger.warn({ err, exportId: record.id }, 'could not enqueue an export; it stays QUEUED'));
    return record;
  }

  private async insertExport(
    em: EntityManager,
    input: StartExportInput & { principal: { organizationId: string; userId: string; apiKeyId?: string; sessionId?: string } | null; createdById?: string; destinationId: string | null; scheduleId: string | null },
  ): Promise<ExportRecord> {
    const organizationId = input.principal?.organizationId ?? (em.getFilterParams(TENANT_FILTER) as { organizationId: string }).organizationId;
    return em.transactional(async (tx) => {
      const [row] = await exec<ExportRow[]>(
        tx,
        `insert into exports (id, organization_id, workspace_id, created_by_id, created_by_api_key_id, session_id, kind, format, params, destination_id, schedule_id)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?) returning *`,
        [randomUUID(), organizationId, input.workspaceId, input.principal?.userId ?? input.createdById, input.principal?.apiKeyId ?? null, input.principal?.sessionId ?? null,
          input.kind, input.format, JSON.stringify(input.params), input.destinationId, input.scheduleId],
      );
      const record = toRecord(row!);
      audit(tx, { organizationId, userId: record.createdById, apiKeyId: input.principal?.apiKeyId ?? null }, {
        action: 'export.start', targetType: 'Export', targetId: record.id, workspaceId: input.workspaceId,
        after: { kind: input.kind, format: input.format, params: input.params, destinationId: input.destinationId, scheduleId: input.scheduleId } as Record<string, unknown>,
      });
      await this.progressEvent(tx, record);
      return record;
    });
  }

  private async progressEvent(tx: EntityManager, r: ExportRecord): Promise<void> {
    const state: ExportProgressState = { exportId: r.id, status: r.status, rowsWritten: r.rowsWritten, bytesWritten: r.bytesWritten, error: r.error };
    await appendEvent(tx, { organizationId: r.organizationId, workspaceId: r.workspaceId, type: EXPORT_PROGRESS, payload: { export: state } });
  }

  async get(em: EntityManager, id: string): Promise<ExportRecord | null> {
    const organizationId = (em.getFilterParams(TENANT_FILTER) as { organizationId: string }).organizationId;
    const [row] = await exec<ExportRow[]>(em, `select * from exports where organization_id = ? and id = ?`, [organizationId, id]);
    return row ? toRecord(row) : null;
  }

  async list(em: EntityManager, organizationId: string, workspaceId: string, first: number | null, after: string | null): Promise<Connection<ExportRecord>> {
    const size = pageSize(first);
    const cursor = decodeCursor(after, 2);
    const rows = await exec<ExportRow[]>(
      em,
      `select * from exports where organization_id = ? and workspace_id = ?
          and (?::timestamptz is null or (date_trunc('milliseconds', created_at), id) < (?::timestamptz, ?::uuid))
        order by date_trunc('milliseconds', created_at) desc, id desc limit ?`,
      [organizationId, workspaceId, cursor?.[0] ?? null, cursor?.[0] ?? null, cursor?.[1] ?? null, size + 1],
    );
    return toConnection(rows.map(toRecord), size, (r) => [r.createdAt.toISOString(), r.id]);
  }

  /**
   * A one-time download URL for a finished export, for the person who started it: a new random token (its
   * SHA-256 stored, replacing any earlier one), valid for EXPORT_URL_TTL_MINUTES and for one download.
   */
  async createDownloadUrl(em: EntityManager, principal: Principal, id: string): Promise<{ url: string; path: string; expiresAt: Date }> {
    const rt = this.runtime;
    const found = await this.get(em, id);
    if (!found) throw notFound('Export');
    if (found.createdById !== principal.userId) throw forbidden('Only the person who started an export downloads it');
    if (found.destinationId) throw new DomainError(ErrorCode.CONFLICT, 'This export went to its destination bucket; it has no download');
    if (found.status !== ExportStatus.DONE) throw new DomainError(ErrorCode.CONFLICT, `The export is ${found.status}; a download exists once it is DONE`, { status: found.status });
    if (found.downloadedAt) throw new DomainError(ErrorCode.CONFLICT, 'This export was downloaded already; start a new one', { reason: 'USED' });
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + rt.urlTtlMinutes * 60_000);
    await em.transactional(async (tx) => {
      await exec(tx, `update exports set download_token_hash = ?, download_expires_at = ? where organization_id = ? and id = ?`, [hash(token), expiresAt, found.organizationId, id]);
      audit(tx, actorOf(principal), { action: 'export.downloadUrl', targetType: 'Export', targetId: id, workspaceId: found.workspaceId });
    });
    const p = `/exports/${found.organizationId}/${id}/${token}`;
    return { url: new URL(p, rt.publicUrl).toString(), path: p, expiresAt };
  }

  /**
   * Claims a download: exactly one request per token gets the file (an atomic UPDATE ... WHERE downloaded_at
   * IS NULL); the read audit records it for the person who started the export.
   */
  async claimDownload(organizationId: string, id: string, token: string): Promise<DownloadClaim | DownloadRefusal> {
    const rt = this.runtime;
    const conn = rt.orm.em.fork().getConnection();
    const [row] = await conn.execute<ExportRow[]>(
      `update exports set downloaded_at = now()
        where organization_id = ? and id = ? and status = 'DONE' and download_token_hash = ? and downloaded_at is null and download_expires_at > now()
        returning *`,
      [organizationId, id, hash(token)],
    );
    if (!row) {
      const [seen] = await conn.execute<ExportRow[]>(`select * from exports where organization_id = ? and id = ? and download_token_hash = ?`, [organizationId, id, hash(token)]);
      if (!seen) return 'NOT_FOUND';
      return seen.downloaded_at ? 'USED' : 'EXPIRED';
    }
    rt.readAudit.recordAs(
      { organizationId, actorUserId: row.created_by_id, actorApiKeyId: row.created_by_api_key_id, sessionId: row.session_id },
      ReadAction.EXPORT_DOWNLOAD, 'Export', id, row.workspace_id,
    );
    const encoder = encoderFor(row.format as ExportFormat, []);
    return { file: this.filePath(organizationId, id, row.format as ExportFormat), fileName: `${row.kind.toLowerCase()}-${id}.${encoder.extension}`, contentType: encoder.contentType };
  }

  /** After the one download: the file is gone (a second use was refused before reaching here). */
  async removeFile(file: string): Promise<void> {
    await rm(file, { force: true });
  }

  filePath(organizationId: string, id: string, format: ExportFormat): string {
    return path.join(this.runtime.dir, organizationId, `${id}.${encoderFor(format, []).extension}`);
  }

  // ---- the job ----

  /** Runs one export to its end (DONE or FAILED); a retry after a crash starts the file again. */
  async run(exportId: string, organizationId: string): Promise<void> {
    const rt = this.runtime;
    const em = this.tenantEm(organizationId);
    const claimed = await em.transactional(async (tx) => {
      const [row] = await exec<ExportRow[]>(
        tx,
        `update exports set status = 'RUNNING', started_at = now(), rows_written = 0, bytes_written = 0
          where organization_id = ? and id = ?
            and (status = 'QUEUED' or (status = 'RUNNING' and started_at < now() - make_interval(secs => ?)))
          returning *`,
        [organizationId, exportId, JOB_EXPIRE_SECONDS - 60],
      );
      if (row) await this.progressEvent(tx, toRecord(row));
      return row ? toRecord(row) : null;
    });
    if (!claimed) return;
    const file = this.filePath(organizationId, exportId, claimed.format);
    // A run of its own: a retry never writes into a file an earlier run (presumed dead) might still hold.
    const partial = `${file}.${randomUUID()}.part`;
    let rows = 0;
    let bytes = 0;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const source = sourceFor(claimed.kind, claimed.params, {
        em: () => this.tenantEm(organizationId),
        reports: this.reports,
        organizationId,
        workspaceId: claimed.workspaceId,
      });
      const encoder = encoderFor(claimed.format, source.columns);
      const out = createWriteStream(partial, { highWaterMark: 1024 * 1024 });
      const write = async (chunk: string) => {
        if (!chunk) return;
        bytes += Buffer.byteLength(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      };
      let lastProgress = Date.now();
      try {
        await write(encoder.header());
        for await (const page of source.pages()) {
          if (this.stopped) throw new Error('the server stopped during the export');
          for (const row of page) await write(encoder.row(row));
          rows += page.length;
          if (Date.now() - lastProgress >= (rt.progressEveryMs ?? 500)) {
            lastProgress = Date.now();
            await this.update(organizationId, exportId, { status: ExportStatus.RUNNING, rows, bytes });
          }
        }
      } finally {
        out.end();
        await once(out, 'close');
      }
      await rename(partial, file);
      let objectKey: string | null = null;
      if (claimed.destinationId) {
        objectKey = await this.upload(em, claimed, file);
        await rm(file, { force: true });
      }
      await this.update(organizationId, exportId, { status: ExportStatus.DONE, rows, bytes, objectKey });
    } catch (err) {
      await rm(partial, { force: true }).catch(() => undefined);
      const message = err instanceof DomainError ? err.message : 'The export failed; start it again';
      rt.logger.warn({ err, exportId }, 'export failed');
      await this.update(organizationId, exportId, { status: ExportStatus.FAILED, rows, bytes, error: message });
    }
  }

  private async update(organizationId: string, id: string, u: { status: ExportStatus; rows: number; bytes: number; error?: string; objectKey?: string | null }): Promise<void> {
    const em = this.tenantEm(organizationId);
    await em.transactional(async (tx) => {
      const done = u.status === ExportStatus.DONE || u.status === ExportStatus.FAILED;
      const [row] = await exec<ExportRow[]>(
        tx,
        `update exports set status = ?, rows_written = ?, bytes_written = ?, error = ?, object_key = coalesce(?, object_key),
                finished_at = case when ? then now() else finished_at end
          where organization_id = ? and id = ? returning *`,
        [u.status, u.rows, u.bytes, u.error ?? null, u.objectKey ?? null, done, organizationId, id],
      );
      if (row) await this.progressEvent(tx, toRecord(row));
    });
  }

  /**
   * Exports finished more than EXPORT_RETENTION_HOURS ago and never downloaded become EXPIRED and lose their
   * file (a system pass over all organizations, in batches; each batch with its progress events).
   */
  async expireFiles(): Promise<number> {
    const rt = this.runtime;
    let total = 0;
    for (;;) {
      const em = rt.orm.em.fork({ clear: true, useContext: false });
      const expired = await em.transactional(async (tx) => {
        const rows = await exec<ExportRow[]>(
          tx,
          `update exports set status = 'EXPIRED' where id in (
             select id from exports where status = 'DONE' and downloaded_at is null and destination_id is null
                and finished_at < now() - make_interval(hours => ?) limit 200 for update skip locked)
           returning *`,
          [rt.retentionHours],
        );
        for (const r of rows) await this.progressEvent(tx, toRecord(r));
        return rows;
      });
      for (const r of expired) await rm(this.filePath(r.organization_id, r.id, r.format as ExportFormat), { force: true });
      total += expired.length;
      if (expired.length < 200) return total;
    }
  }

  // ---- destinations (S3-compatible) and schedules ----

  private requireKey(): string {
    const key = this.runtime.secretsKey;
    if (!key) throw new DomainError(ErrorCode.UNAVAILABLE, 'Export destinations need EXPORT_SECRETS_KEY on the server');
    return key;
  }

  async createDestination(em: EntityManager, principal: Principal, input: DestinationInput): Promise<ExportDestinationRecord> {
    const key = this.requireKey();
    if (!input.name.trim() || input.name.length > 100) throw badInput('A name of 1 to 100 characters', { field: 'input.name' });
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(input.bucket)) throw badInput('Not an S3 bucket name', { field: 'input.bucket' });
    if (input.endpoint) {
      let url: URL | null = null;
      try {
        url = new URL(input.endpoint);
      } catch {
        url = null;
      }
      if (!url || !['http:', 'https:'].includes(url.protocol)) throw badInput('The endpoint must be an http(s) URL', { field: 'input.endpoint' });
    }
    if (!input.accessKeyId.trim() || !input.secretAccessKey) throw badInput('Both keys are needed', { field: 'input.secretAccessKey' });
    return em.transactional(async (tx) => {
      const [row] = await exec<Array<Record<string, any>>>(
        tx,
        `insert into export_destinations (id, organization_id, name, endpoint, region, bucket, prefix, force_path_style, access_key_id, secret_key_encrypted, created_by_id)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`,
        [randomUUID(), principal.organizationId, input.name.trim(), input.endpoint ?? null, input.region, input.bucket, input.prefix ?? '', input.forcePathStyle ?? false,
          input.accessKeyId, encryptSecret(input.secretAccessKey, key), principal.userId],
      );
      audit(tx, actorOf(principal), { action: 'exportDestination.create', targetType: 'ExportDestination', targetId: row!.id, workspaceId: null, after: { name: input.name, bucket: input.bucket, endpoint: input.endpoint ?? null } });
      return destinationOf(row!);
    });
  }

  async deleteDestination(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const rows = await exec<unknown[]>(tx, `delete from export_destinations where organization_id = ? and id = ? returning id`, [principal.organizationId, id]);
      if (!rows.length) throw notFound('Export destination');
      audit(tx, actorOf(principal), { action: 'exportDestination.delete', targetType: 'ExportDestination', targetId: id, workspaceId: null });
      return true;
    });
  }

  async destinations(em: EntityManager, organizationId: string): Promise<ExportDestinationRecord[]> {
    const rows = await exec<Array<Record<string, any>>>(em, `select * from export_destinations where organization_id = ? order by created_at, id limit 100`, [organizationId]);
    return rows.map(destinationOf);
  }

  async createSchedule(em: EntityManager, principal: Principal, input: ScheduleInput): Promise<ExportScheduleRecord> {
    validateParams(input.kind, { ...input.params, period: input.periodDays ? { from: '2000-01-01', to: '2000-01-01' } : input.params.period });
    if (!Number.isInteger(input.everyHours) || input.everyHours < 1 || input.everyHours > 24 * 31) throw badInput('everyHours is 1 to 744', { field: 'input.everyHours' });
    if (input.periodDays != null && (input.periodDays < 1 || input.periodDays > 366)) throw badInput('periodDays is 1 to 366', { field: 'input.periodDays' });
    const [dest] = await exec<unknown[]>(em, `select id from export_destinations where organization_id = ? and id = ?`, [principal.organizationId, input.destinationId]);
    if (!dest) throw notFound('Export destination');
    const [ws] = await exec<unknown[]>(em, `select id from workspaces where organization_id = ? and id = ?`, [principal.organizationId, input.workspaceId]);
    if (!ws) throw notFound('Workspace');
    return em.transactional(async (tx) => {
      const [row] = await exec<Array<Record<string, any>>>(
        tx,
        `insert into export_schedules (id, organization_id, workspace_id, destination_id, kind, format, params, every_hours, next_run_at, created_by_id)
         values (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?) returning *`,
        [randomUUID(), principal.organizationId, input.workspaceId, input.destinationId, input.kind, input.format,
          JSON.stringify({ ...input.params, periodDays: input.periodDays ?? null }), input.everyHours, input.firstRunAt ?? new Date(), principal.userId],
      );
      audit(tx, actorOf(principal), { action: 'exportSchedule.create', targetType: 'ExportSchedule', targetId: row!.id, workspaceId: input.workspaceId, after: { kind: input.kind, everyHours: input.everyHours } });
      return scheduleOf(row!);
    }).then(async (s) => {
      await this.queue();
      return s;
    });
  }

  async schedules(em: EntityManager, organizationId: string): Promise<ExportScheduleRecord[]> {
    const rows = await exec<Array<Record<string, any>>>(em, `select * from export_schedules where organization_id = ? order by created_at, id limit 100`, [organizationId]);
    return rows.map(scheduleOf);
  }

  async deleteSchedule(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const rows = await exec<Array<{ workspace_id: string }>>(tx, `delete from export_schedules where organization_id = ? and id = ? returning workspace_id`, [principal.organizationId, id]);
      if (!rows.length) throw notFound('Export schedule');
      audit(tx, actorOf(principal), { action: 'exportSchedule.delete', targetType: 'ExportSchedule', targetId: id, workspaceId: rows[0]!.workspace_id });
      return true;
    });
  }

  /**
   * Starts an export for every schedule that is due (a system pass over all organizations, like the campaign
   * sender's resume): each schedule row is locked (skip locked) and moved to its next run in the same
   * transaction that writes its export, so two processes never start one run twice. Returns the exports started.
   */
  async runDueSchedules(): Promise<string[]> {
    const rt = this.runtime;
    const started: Array<{ id: string; organizationId: string }> = [];
    for (;;) {
      const em = rt.orm.em.fork({ clear: true, useContext: false });
      const one = await em.transactional(async (tx) => {
        const [s] = await exec<Array<Record<string, any>>>(
          tx,
          `select * from export_schedules where next_run_at <= now() order by next_run_at limit 1 for update skip locked`,
          [],
        );
        if (!s) return null;
        const params: ExportParams & { periodDays?: number | null } = { ...s.params };
        if (params.periodDays) {
          // The local days before today, in UTC days (a workspace's own zone shifts a report by its offset at most).
          const to = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
          const from = new Date(Date.now() - params.periodDays * 86_400_000).toISOString().slice(0, 10);
          params.period = { from, to };
        }
        tx.setFilterParams(TENANT_FILTER, { organizationId: s.organization_id });
        const record = await this.insertExport(tx, {
          workspaceId: s.workspace_id, kind: s.kind, format: s.format, params, principal: null, createdById: s.created_by_id, destinationId: s.destination_id, scheduleId: s.id,
        });
        await exec(tx, `update export_schedules set next_run_at = greatest(next_run_at + make_interval(hours => every_hours), now()), last_export_id = ? where id = ?`, [record.id, s.id]);
        return { id: record.id, organizationId: s.organization_id as string };
      });
      if (!one) break;
      started.push(one);
    }
    for (const s of started) await this.enqueue(s.id, s.organizationId);
    return started.map((s) => s.id);
  }

  /** Streams the finished file to the destination bucket as a multipart upload; returns the object key. */
  private async upload(em: EntityManager, r: ExportRecord, file: string): Promise<string> {
    const [d] = await exec<Array<Record<string, any>>>(em, `select * from export_destinations where organization_id = ? and id = ?`, [r.organizationId, r.destinationId]);
    if (!d) throw new DomainError(ErrorCode.NOT_FOUND, 'The destination of this export was deleted');
    const client = new S3Client({
      region: d.region,
      endpoint: d.endpoint ?? undefined,
      forcePathStyle: d.force_path_style,
      credentials: { accessKeyId: d.access_key_id, secretAccessKey: decryptSecret(d.secret_key_encrypted, this.requireKey()) },
      // Checksums only where the API requires them: S3-compatible stores (MinIO, older Ceph, s3rver) refuse the rest.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      const key = `${d.prefix}${r.workspaceId}/${r.kind.toLowerCase()}/${r.createdAt.toISOString().slice(0, 10)}-${r.id}.${path.extname(file).slice(1)}`;
      const size = (await stat(file)).size;
      const upload = new Upload({
        client,
        params: { Bucket: d.bucket, Key: key, Body: createReadStream(file), ContentType: encoderFor(r.format, []).contentType, ContentLength: size },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
      });
      await upload.done();
      return key;
    } finally {
      client.destroy();
    }
  }
}
