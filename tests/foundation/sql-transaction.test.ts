import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder } from '../support/fixtures';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { EVENT_WRITER_LOCK } from '../../server/src/db/event-writer-lock';
import { sqlQuery, sqlTransaction } from '../../server/src/db/sql-transaction';
import { appendEvents } from '../../server/src/realtime/event-log';
import { WAKE_CHANNEL_PREFIX } from '../../server/src/realtime/hub';
import { EventType, type NewEvent } from '../../server/src/realtime';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { Role } from '../../server/src/modules/identity/permissions';
import { until } from '../support/wait';

/**
 * The hot writes' transaction on a pool connection driven directly (db/sql-transaction.ts) keeps the
 * protocol of ORM transactions: the event-writer lock before anything else, nothing published before commit
 * or after a rollback, and a connection handed back to the pool clean whatever happened.
 */
describe('sqlTransaction', () => {
  let server: TestServer;
  let W: Workspace;
  let organizationId: string;
  let check: pg.Client;

  const marker = (name: string) => ({ thread: { id: name }, message: { body: name } }) as unknown as NewEvent['payload'];
  const event = (name: string): NewEvent => ({ organizationId, workspaceId: W.id, type: EventType.NOTE_ADDED, threadId: null, payload: marker(name) });
  const stored = async (name: string) =>
    Number((await check.query(`select count(*)::int as n from events where payload->'message'->>'body' = $1`, [name])).rows[0].n);

  beforeAll(async () => {
    server = await bootServer({ channel: new SandboxProvider(null), rollups: false, sweepSnoozes: false });
    const org = new OrgBuilder(server.app, 'Tx Co');
    W = org.workspace('West');
    await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]);
    await org.flush();
    organizationId = org.id;
    check = new pg.Client({ connectionString: server.db.url });
    await check.connect();
  });
  afterAll(async () => {
    await check?.end();
    await server?.close();
  });

  it('holds the event-writer lock from its first round trip until it ends', async () => {
    const held = await sqlTransaction(server.app.orm.em.fork(), (tx) =>
      tx.all<{ n: number }>(
        `select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and mode = 'ShareLock' and classid = ? and objid = ?`,
        [EVENT_WRITER_LOCK.classId, EVENT_WRITER_LOCK.objectId],
      ),
    );
    expect(held[0]!.n).toBe(1);
  });

  it('rolls back on a failed statement, and every pool connection is usable afterwards', async () => {
    const em = server.app.orm.em.fork();
    const failing = sqlTransaction(em, async (tx) => {
      await appendEvents(tx, [event('rolled-back')]);
      await tx.all('select 1 / 0 as boom', []);
    });
    await expect(failing).rejects.toMatchObject({ code: '22012' });
    expect(await stored('rolled-back')).toBe(0);
    // More transactions than the pool has connections, each on whatever connection it gets: none is left
    // inside the aborted transaction (it would answer "current transaction is aborted").
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => sqlTransaction(em, (tx) => tx.all<{ i: number }>('select ?::int as i', [i]))));
    expect(results.map((r) => r[0]!.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect((await sqlQuery<{ ok: number }>(em, 'select 1 as ok', []))[0]!.ok).toBe(1);
  });

  it('publishes wake-ups only after commit, never for a rolled-back transaction', async () => {
    const heard: number[] = [];
    const release = await server.app.bus.subscribe(WAKE_CHANNEL_PREFIX + W.id, () => {
      // When the wake-up arrives, what woke it is committed and visible to any connection.
      void stored('committed').then((n) => heard.push(n));
    });
    try {
      const em = server.app.orm.em.fork();
      await expect(
        sqlTransaction(em, async (tx) => {
          await appendEvents(tx, [event('never')]);
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      await sqlTransaction(em, (tx) => appendEvents(tx, [event('committed')]));
      await until(() => heard.length >= 1, 'the wake-up of the committed transaction');
      // Exactly the committed one woke it (the rolled-back one, published first, would have come first).
      expect(heard).toEqual([1]);
      expect(await stored('never')).toBe(0);
    } finally {
      await release();
    }
  });

  it('inside an ORM transaction joins it: the outer rollback undoes its writes', async () => {
    const em = server.app.orm.em.fork();
    await expect(
      em.transactional(async (outer) => {
        await sqlTransaction(outer, (tx) => appendEvents(tx, [event('joined')]));
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(await stored('joined')).toBe(0);
  });
});
