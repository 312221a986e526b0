import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { RollupWorker } from '../../server/src/modules/reports';
import { burst, logHead, quiet, reportOrg, rollupTotals, scan, type ReportOrg } from './support';

/** The worker's cursor moves with its counters: a crash between them loses nothing and counts nothing twice. */
describe('the rollup worker', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let o: ReportOrg;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    // The server's own worker is off: this file drives workers by hand.
    server = await bootServer({ channel, rollups: false });
    o = await reportOrg(server, 'Crash Co');
    await burst(server, o, channel, 10, 0);
    await quiet(server.app.orm);
  });
  afterAll(() => server.close());

  /** Drains until the cursor reaches the log's head (a read may stop early while another writer holds the safe line). */
  const drainAll = async (w: RollupWorker) => {
    for (;;) {
      await w.drain();
      const [at, head] = [await w.position(), await logHead(server.app.orm)];
      if (at.xid === head.xid && at.id === head.id) return;
    }
  };

  it('rolls back the counters of a batch that crashes before its cursor moves', async () => {
    let batches = 0;
    const crashing = new RollupWorker(server.app.orm, logger, {
      batchSize: 10,
      beforeCommit: () => {
        if (++batches === 3) throw new Error('crash between the counters and the cursor');
      },
    });
    await expect(drainAll(crashing)).rejects.toThrow(/crash/);
    const position = await crashing.position();
    const [passed] = await server.app.orm.em.fork().getConnection().execute<Array<{ n: string; messages: string }>>(
      `select count(*) as n, count(*) filter (where type in ('THREAD_CREATED', 'MESSAGE_ADDED') and organization_id = ?) as messages
         from events where (xid, id) <= (?::xid8, ?::bigint)`,
      [o.org.id, position.xid, position.id],
    );
    // The cursor covers exactly the committed batches, and the counters exactly the events below the cursor.
    expect(Number(passed!.n)).toBe(crashing.applied);
    expect(crashing.applied).toBeGreaterThan(0);
    const totals = await rollupTotals(server.app.orm, o.org.id);
    expect(totals.messagesIn + totals.messagesOut).toBe(Number(passed!.messages));
    expect(position).not.toEqual(await logHead(server.app.orm));
  });

  it('resumes after the crash where the last committed batch ended: totals equal the scan', async () => {
    const restarted = new RollupWorker(server.app.orm, logger, { batchSize: 7 });
    await drainAll(restarted);
    const head = await logHead(server.app.orm);
    expect(await restarted.position()).toEqual(head);
    expect(await rollupTotals(server.app.orm, o.org.id)).toEqual({ ...(await scan(server.app.orm, o.org.id)), resolutionMs: expect.any(Number) });
  });

  it('counts each event once when two workers race over the same log', async () => {
    await burst(server, o, channel, 8, 100);
    await quiet(server.app.orm);
    const one = new RollupWorker(server.app.orm, logger, { batchSize: 3 });
    const two = new RollupWorker(server.app.orm, logger, { batchSize: 4 });
    await Promise.all([drainAll(one), drainAll(two)]);
    expect(await one.position()).toEqual(await logHead(server.app.orm));
    expect(await rollupTotals(server.app.orm, o.org.id)).toEqual({ ...(await scan(server.app.orm, o.org.id)), resolutionMs: expect.any(Number) });
  });

  it('stops cleanly and applies nothing after stop', async () => {
    const w = new RollupWorker(server.app.orm, logger, { pollMs: 10 });
    w.start();
    await w.stop();
    expect(await w.drain()).toBe(0);
  });
});
