import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import S3rver from 's3rver';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { bootServer, type TestServer } from '../support/server';
import { codeOf } from '../support/api';
import { eventually } from '../support/wait';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { Role } from '../../server/src/modules/identity/permissions';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { callers } from './support';

const CONTACTS = 8000;
const BUCKET = 'switchboard-exports';

/** Scheduled exports go to an S3-compatible bucket: a real s3rver on a free port, the real SDK (no mock). */
describe('scheduled exports to S3', () => {
  let server: TestServer;
  let s3: S3rver;
  let dir: string;
  let endpoint: string;
  let owner: FixtureUser;
  let admin: FixtureUser;
  let W: Workspace;
  let organizationId: string;
  const call = () => callers(server);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
    s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
    const { port } = await s3.run();
    endpoint = `http://127.0.0.1:${port}`;
    server = await bootServer({ channel: new SandboxProvider(null), rollups: false, env: { EXPORT_SECRETS_KEY: randomBytes(32).toString('base64') } });
    const org = new OrgBuilder(server.app, 'Bucket Co');
    W = org.workspace('Depot');
    owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    organizationId = org.id;
    // About 8 MB of CSV: the upload takes two multipart parts (5 MB each at most).
    await server.app.orm.em.fork().getConnection().execute(
      `insert into contacts (id, organization_id, workspace_id, phone, first_name, custom_fields, created_at, updated_at)
       select gen_random_uuid(), ?, ?, '+1888' || lpad(i::text, 7, '0'), 'Pat ' || i, jsonb_build_object('notes', repeat('y', 1000)), now(), now()
         from generate_series(1, ${CONTACTS}) as i`,
      [organizationId, W.id],
    );
  }, 120_000);
  afterAll(async () => {
    await server.close();
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  });

  const DEST = `mutation($i: ExportDestinationInput!) { createExportDestination(input: $i) { id name bucket endpoint accessKeyId forcePathStyle } }`;
  const destination = () => ({ name: 'Archive', endpoint, region: 'us-east-1', bucket: BUCKET, prefix: 'sb/', forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

  it('lets only an owner (EXPORTS_CONFIGURE) configure destinations and schedules', async () => {
    expect(codeOf(await call().send(admin.token, DEST, { i: destination() }))).toBe('FORBIDDEN');
    expect(codeOf(await call().send(admin.token, `{ exportDestinations { id } }`))).toBe('FORBIDDEN');
    expect(codeOf(await call().send(admin.token, `{ exportSchedules { id } }`))).toBe('FORBIDDEN');
  });

  it('stores the secret key encrypted and never returns it', async () => {
    const d = (await call().ok(owner.token, DEST, { i: destination() })).createExportDestination;
    expect(d).toMatchObject({ name: 'Archive', bucket: BUCKET, accessKeyId: 'S3RVER', forcePathStyle: true });
    const fields = (await call().ok(owner.token, `{ __type(name: "ExportDestination") { fields { name } } }`)).__type.fields.map((f: any) => f.name);
    expect(fields.filter((f: string) => /secret/i.test(f))).toEqual([]);
    const [row] = await server.app.orm.em.fork().getConnection().execute<Array<{ secret_key_encrypted: string }>>(`select secret_key_encrypted from export_destinations where id = ?`, [d.id]);
    expect(row!.secret_key_encrypted).toMatch(/^v1\./);
    expect(row!.secret_key_encrypted).not.toContain('S3RVER');
  });

  it('runs a due schedule: the export streams into the bucket as a multipart upload, and the next run moves on', async () => {
    const d = (await call().ok(owner.token, `{ exportDestinations { id } }`)).exportDestinations[0];
    const schedule = (await call().ok(owner.token, `mutation($i: ExportScheduleInput!) { createExportSchedule(input: $i) { id everyHours nextRunAt } }`, {
      i: { workspaceId: W.id, destinationId: d.id, kind: 'CONTACTS', format: 'CSV', everyHours: 24 },
    })).createExportSchedule;
    const started = await server.app.services.exports.runDueSchedules();
    expect(started).toHaveLength(1);
    const done = await eventually(
      async () => (await call().ok(owner.token, `query($id: ID!) { export(id: $id) { status rowsWritten bytesWritten objectKey scheduleId destinationId error viewerCan { download } } }`, { id: started[0] })).export,
      (e) => e.status === 'DONE' || e.status === 'FAILED',
      { what: 'the scheduled export to finish', timeoutMs: 120_000, intervalMs: 200 },
    );
    expect(done).toMatchObject({ status: 'DONE', rowsWritten: CONTACTS, scheduleId: schedule.id, destinationId: d.id, viewerCan: { download: false } });
    expect(done.objectKey).toMatch(new RegExp(`^sb/${W.id}/contacts/\\d{4}-\\d{2}-\\d{2}-${started[0]}\\.csv$`));

    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sb/' }));
      expect(listed.Contents?.map((c) => c.Key)).toEqual([done.objectKey]);
      expect(listed.Contents![0]!.Size).toBe(done.bytesWritten);
      expect(done.bytesWritten).toBeGreaterThan(5 * 1024 * 1024);
      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: done.objectKey }));
      const text = await object.Body!.transformToString();
      const lines = text.trimEnd().split('\r\n');
      expect(lines[0]).toBe('id,firstName,lastName,phone,email,customFields,mergedIntoId,createdAt,updatedAt');
      expect(lines).toHaveLength(CONTACTS + 1);
    } finally {
      client.destroy();
    }
    // The file went to the bucket; nothing is left to download locally, and the schedule's next run is a day on.
    expect(codeOf(await call().send(owner.token, `mutation($id: ID!) { createExportDownloadUrl(exportId: $id) { path } }`, { id: started[0] }))).toBe('CONFLICT');
    expect(await server.app.services.exports.runDueSchedules()).toEqual([]);
    const after = (await call().ok(owner.token, `{ exportSchedules { id nextRunAt lastExportId } }`)).exportSchedules[0];
    expect(after.lastExportId).toBe(started[0]);
    expect(new Date(after.nextRunAt).getTime() - new Date(schedule.nextRunAt).getTime()).toBe(24 * 3_600_000);
  });

  it('refuses a schedule for a missing destination and a destination with a bad endpoint, changing nothing', async () => {
    const r = await call().send(owner.token, `mutation($i: ExportScheduleInput!) { createExportSchedule(input: $i) { id } }`, {
      i: { workspaceId: W.id, destinationId: '00000000-0000-4000-8000-000000000000', kind: 'CONTACTS', format: 'CSV', everyHours: 24 },
    });
    expect(codeOf(r)).toBe('NOT_FOUND');
    expect(codeOf(await call().send(owner.token, DEST, { i: { ...destination(), endpoint: 'ftp://nowhere' } }))).toBe('BAD_USER_INPUT');
    expect((await call().ok(owner.token, `{ exportDestinations { id } }`)).exportDestinations).toHaveLength(1);
  });
});
